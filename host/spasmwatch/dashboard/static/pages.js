// spasmwatch dashboard: the History, Compare and Notes tabs (common.js first).
"use strict";

// ---- history ---------------------------------------------------------------------------------------------

function periodRange() {
  const p = $("h-period").value;
  let a = $("h-date").value || INFO.today;
  if (p === "day") return [a, a];
  if (p === "week") {
    const d = parseDay(a);
    const monday = addDays(a, -((d.getDay() + 6) % 7));
    return [monday, addDays(monday, 6)];
  }
  if (p === "month") {
    a = a.slice(0, 8) + "01";
    const d = parseDay(a);
    return [a, isoDay(new Date(d.getFullYear(), d.getMonth() + 1, 0, 12))];
  }
  return [a, $("h-to").value || a];
}

function shiftPeriod(sign) {
  const p = $("h-period").value;
  const [a, b] = periodRange();
  if (p === "month") {
    const d = parseDay(a);
    $("h-date").value = isoDay(new Date(d.getFullYear(), d.getMonth() + sign, 1, 12));
  } else {
    const n = Math.round((parseDay(b) - parseDay(a)) / 864e5) + 1;
    $("h-date").value = addDays(a, sign * n);
    if (p === "custom") $("h-to").value = addDays(b, sign * n);
  }
  loadHistory();
}

function filters(prefix) {
  const q = new URLSearchParams();
  const dev = $(`${prefix}-device`).value;
  if (dev) q.set("device", dev);
  const ch = $(`${prefix}-channel`) ? $(`${prefix}-channel`).value : "";
  if (ch !== "") q.set("channel", ch);
  return q;
}

let historyAsked = 0;

async function loadHistory() {
  const [a, b] = periodRange();
  const q = filters("h");
  q.set("from", a);
  q.set("to", b);
  const asked = ++historyAsked;
  let h;
  try {
    h = await api(`/api/history?${q}`);
  } catch (e) {
    if (asked === historyAsked) $("h-range").textContent = `error: ${e.message}`;
    return;
  }
  if (asked !== historyAsked) return;  // a later choice was made meanwhile: its answer is the one to show
  window.lastHistory = h;
  $("h-range").textContent = `${a} to ${b}: ${h.days.length} day(s), times in this browser's time zone`;
  const t = h.totals;
  const s = $("h-summary");
  s.replaceChildren(
    card("episodes", "spasm episodes", String(t.episodes)),
    card("monitored", "monitored time", t.monitored_s === null ? "not recorded" : fmtDur(t.monitored_s)),
    card("rate", "spasms per monitored hour", fmtNum(t.rate_h)),
    card("spasm_time", "time in spasm", `${fmtDur(t.spasm_s)}${t.spasm_pct === null ? "" : ` (${fmtNum(t.spasm_pct)} %)`}`),
    card("median_duration", "median duration", fmtDur(t.median_duration_s)),
    card("median_strength", "median strength (× rest)", fmtNum(t.median_peak_x)),
    ...KINDS.map((k) => card(`kind-${k}`, kindLabel(k), String(t.by_kind[k]))),
    card("faults", "sensor faults", String(t.faults)),
    card("gaps", "data gaps", String(t.gaps)),
  );
  rateChart(h);
  timelineChart(h);
  histChart("h-dur", h.duration_hist, "duration", durEdge);
  histChart("h-str", h.strength_hist, "strength", strEdge);
  $("h-sensor-note").textContent = INFO.clinical_note;
  table($("h-clinical"), INFO.day_heads,
        h.days.map((d) => [d.day, d.monitored_s === null ? "?" : fmtDur(d.monitored_s), String(d.episodes),
                           fmtNum(d.rate_h), d.band_level === null ? `– (${d.band})` : d.band, fmtDur(d.spasm_s),
                           ...d.clonus_classes.map(String), String(d.faults), String(d.gaps)]));
  const fg = h.faults.map((f) => [fmtTime(f.t), `sensor fault: ${f.detail || "fault"}`, f.state === "closed" ? fmtDur(f.d) : "still open",
                                  chName(f.device, f.ch)])
    .concat(h.gaps.map((g) => [fmtTime(g.t), `data gap: ${g.kind}`, g.end ? fmtDur(g.end - g.t) : "–", g.detail || ""]));
  table($("h-faults"), ["time", "what", "duration", "detail"], fg.length ? fg : [["none", "", "", ""]]);
}

function fillDevices() {
  for (const id of ["h-device", "c-device"]) {
    const s = $(id);
    s.replaceChildren(el("option", {value: ""}, "all"));
    for (const d of INFO.devices) s.append(el("option", {value: d.id}, d.label));
  }
  fillChannels();
}

function fillChannels() {
  const s = $("h-channel");
  s.replaceChildren(el("option", {value: ""}, "all"));
  const d = INFO.devices.find((x) => x.id === $("h-device").value);
  if (d) d.channels.forEach((c, i) => s.append(el("option", {value: String(i)}, c)));
  // the detector's one setting, in the user's terms: what the device's onset threshold allows at rest
  const known = (d ? [d] : INFO.devices).filter((x) => x.sensitivity);
  $("h-sensitivity").textContent = known.length
    ? "detector sensitivity: " + known.map((x) => (d ? "" : x.label + ": ") + x.sensitivity).join("; ") : "";
}

// ---- compare ---------------------------------------------------------------------------------------------

function setCompareInputs(r) {
  // split at a note's time, both periods hold part of the note's day; typed dates are whole days, so the
  // inputs offer the 14 whole days before the note's day and 14 from it
  const cut = r.split === null || r.split === undefined ? 0 : 1;
  $("c-a-from").value = r.a.first; $("c-a-to").value = cut ? addDays(r.a.last, -1) : r.a.last;
  $("c-b-from").value = r.b.first; $("c-b-to").value = cut ? addDays(r.b.last, -1) : r.b.last;
}

let compareAsked = 0;

async function loadCompare(useDefault) {
  const q = filters("c");
  if (!useDefault) for (const k of ["a-from", "a-to", "b-from", "b-to"]) q.set(k.replace("-", "_"), $(`c-${k}`).value);
  const asked = ++compareAsked;
  const typed = ["a-from", "a-to", "b-from", "b-to"].map((k) => $(`c-${k}`).value).join();
  let r;
  try {
    r = await api(`/api/compare?${q}`);
  } catch (e) {
    if (asked === compareAsked) $("c-title").textContent = e.message;
    return;
  }
  if (asked !== compareAsked) return;  // superseded by a later request
  const retyped = ["a-from", "a-to", "b-from", "b-to"].map((k) => $(`c-${k}`).value).join() !== typed;
  if (useDefault && retyped) return;  // dates typed while the default was on its way: they come next
  window.lastCompare = r;
  setCompareInputs(r);
  const A = r.a, B = r.b;
  $("c-title").textContent = r.split === null || r.split === undefined ?
    `before: ${A.first} to ${A.last} (${A.days} days) · after: ${B.first} to ${B.last} (${B.days} days)` :
    `before: ${fmtTime(A.start)} to ${fmtTime(A.end)} · after: ${fmtTime(B.start)} to ${fmtTime(B.end)} ` +
    `(split at the note's time)`;
  const pct = (v) => (v === null ? "–" : `${v.toFixed(1)} %`);
  const rows = [
    ["spasm episodes", String(A.episodes), String(B.episodes)],
    ["monitored time", fmtDur(A.monitored_s), fmtDur(B.monitored_s)],
    ["spasms per monitored hour", fmtNum(A.rate_h, 2), fmtNum(B.rate_h, 2)],
    ["time in spasm", `${fmtDur(A.spasm_s)} (${pct(A.spasm_pct)})`, `${fmtDur(B.spasm_s)} (${pct(B.spasm_pct)})`],
    ["median duration", fmtDur(A.median_duration_s), fmtDur(B.median_duration_s)],
    ["median strength (× rest)", fmtNum(A.median_peak_x), fmtNum(B.median_peak_x)],
    ...KINDS.map((k) => [`${kindLabel(k)} share`, pct(A.kind_pct[k]), pct(B.kind_pct[k])]),
    ["days with ≥ 1 h monitored", String(A.daily_rates.length), String(B.daily_rates.length)],
  ];
  const t = $("c-table");
  table(t, ["", "before", "after"], rows);
  const keys = ["episodes", "monitored", "rate", "spasm_time", "median_duration", "median_strength",
                ...KINDS.map((k) => `share-${k}`), "days"];
  t.querySelectorAll("tr").forEach((tr, i) => { if (i) tr.setAttribute("data-key", keys[i - 1]); });
  const test = (x, what) => (x.p === null ? `${what}: no test (${x.reason}).` :
    `${what}: ${x.test}, p = ${x.p.toPrecision(2)}.`);
  $("c-test").textContent = `${test(r.rate_test, "Spasms per monitored hour per day")} ${test(r.spasm_time_test, "Share of monitored time in spasm per day")}`;
  $("c-caveat").textContent = r.caveat;
  const n = Math.max(A.daily.length, B.daily.length);
  const xs = Array.from({length: n}, (_, i) => i + 1);
  const pick = (P) => xs.map((i) => (P.daily[i - 1] ? P.daily[i - 1].rate_h : null));
  makeChart("c-chart", {
    height: 200,
    scales: {x: {time: false, range: [0.5, n + 0.5]}, y: {range: (u, lo, hi) => [0, Math.max(1, hi * 1.15)]}},
    axes: [{label: "day of the period"}, {label: "per monitored h"}],
    series: [{label: "day"}, {label: "before", stroke: "#888", width: 1.5, points: {show: true, size: 6}},
             {label: "after", stroke: INFO.all_color, width: 2, points: {show: true, size: 6}}],
    legend: {live: false},
  }, [xs, pick(A), pick(B)], []);
}

// ---- notes -----------------------------------------------------------------------------------------------

// a datetime-local value (the browser's local time) of unix seconds, "" for a time no calendar holds
function localInput(t) {
  const d = new Date(t * 1000);
  if (isNaN(d.getTime())) return "";
  const p = (n) => String(n).padStart(2, "0");
  return `${isoDay(d)}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

let editing = null;  // the note being edited in the form, or null when the form adds one

function editNote(n) {
  editing = n;
  $("n-text").value = n.text;
  $("n-kind").value = n.kind;
  $("n-at").value = n.at === null ? "" : localInput(n.at);
  $("n-add").textContent = "Save changes";
  $("n-cancel").hidden = false;
  $("n-msg").textContent = `editing note ${n.id}`;
  $("n-text").focus();
}

function stopEditing(msg) {
  editing = null;
  $("n-text").value = "";
  $("n-add").textContent = "Add note";
  $("n-cancel").hidden = true;
  $("n-msg").textContent = msg || "";
}

async function deleteNote(n, button) {
  if (button.dataset.armed !== "1") {  // a second click confirms: no modal dialog
    button.dataset.armed = "1";
    button.textContent = "really delete?";
    return;
  }
  try {
    await api(`/api/notes/${n.id}`, {method: "DELETE"});
    if (editing && editing.id === n.id) stopEditing();
    $("n-msg").textContent = `deleted: ${n.text}`;
    INFO = await api("/api/info");
    await loadNotes();
  } catch (e) {
    $("n-msg").textContent = `error: ${e.message}`;
  }
}

async function loadNotes() {
  const notes = (await api("/api/notes")).slice().reverse();
  const t = $("n-list");
  table(t, ["time", "kind", "note", ""], notes.map((n) => [n.at === null ? "?" : fmtTime(n.at), n.kind, n.text, ""]));
  t.querySelectorAll("tr").forEach((tr, i) => {
    if (!i) return;
    const n = notes[i - 1];
    tr.setAttribute("data-note", String(n.id));
    const cell = tr.lastChild;
    const edit = el("button", {type: "button", class: "n-edit"}, "edit");
    edit.addEventListener("click", () => editNote(n));
    const del = el("button", {type: "button", class: "n-delete"}, "delete");
    del.addEventListener("click", () => deleteNote(n, del));
    cell.append(edit, " ", del);
  });
}

async function addNote(ev) {
  ev.preventDefault();
  const at = $("n-at").value;
  const body = {text: $("n-text").value, kind: $("n-kind").value};
  if (at) body.at = Math.round(new Date(at).getTime() / 1000);  // the browser's local time
  const was = editing;
  try {
    const n = await api(was ? `/api/notes/${was.id}` : "/api/notes", {method: was ? "PATCH" : "POST",
      headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
    if (was) stopEditing(`saved: ${n.text}`);
    else {
      $("n-msg").textContent = `added: ${n.text}`;
      $("n-text").value = "";
    }
    INFO = await api("/api/info");
    await loadNotes();
  } catch (e) {
    $("n-msg").textContent = `error: ${e.message}`;
  }
}
