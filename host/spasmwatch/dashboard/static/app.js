// spasmwatch dashboard: history, compare, notes and the live view; talks only to the server that served it.
"use strict";

const KINDS = ["twitch", "tonic", "clonus"];
const COLORS = {twitch: "#56b4e9", tonic: "#d55e00", clonus: "#5e3c99", fault: "#555555"};
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, text) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
let INFO = null;
const charts = {};

async function api(path, opts) {
  const r = await fetch(path, opts);
  const body = await r.json().catch(() => ({error: `HTTP ${r.status}`}));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

// ---- formatting -------------------------------------------------------------------------------------------

function fmtDur(s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}
const fmtNum = (v, d = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
const fmtTime = (t) => new Date(t * 1000).toLocaleString([], {dateStyle: "short", timeStyle: "medium"});
const fmtClock = (t) => new Date(t * 1000).toLocaleTimeString();
function isoDay(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}
const parseDay = (s) => { const [y, m, d] = s.split("-").map(Number); return new Date(y, m - 1, d, 12); };
const addDays = (s, n) => { const d = parseDay(s); d.setDate(d.getDate() + n); return isoDay(d); };

function card(key, label, value) {
  const c = el("div", {class: "card", "data-key": key});
  c.append(el("div", {class: "v"}, value), el("div", {class: "k"}, label));
  return c;
}

function table(node, head, rows) {
  node.replaceChildren();
  const tr = el("tr");
  head.forEach((h) => tr.append(el("th", {}, h)));
  node.append(tr);
  for (const r of rows) {
    const row = el("tr");
    r.forEach((c) => row.append(el("td", {}, c)));
    node.append(row);
  }
}

function chName(device, ch) {
  const d = (INFO.devices || []).find((x) => x.id === device);
  return d && d.channels[ch] ? d.channels[ch] : `ch ${ch}`;
}

// ---- charts ---------------------------------------------------------------------------------------------

// note markers: DOM elements over the plot (visible, hoverable, and countable by a test)
function markNotes(u, notes) {
  u.over.querySelectorAll(".note-marker").forEach((m) => m.remove());
  for (const n of notes || []) {
    const x = u.valToPos(n.at, "x");
    if (!(x >= 0 && x <= u.over.clientWidth)) continue;
    const m = el("div", {class: "note-marker", title: `${fmtTime(n.at)} ${n.kind}: ${n.text}`, "data-note": n.id});
    m.style.left = `${x}px`;
    m.append(el("span", {}, n.text));
    u.over.append(m);
  }
}

function shadeSpans(spans) {
  return (u) => {
    const {ctx, bbox} = u;
    ctx.save();
    ctx.fillStyle = "#e8f4e8";
    for (const [a, b] of spans) {
      const x0 = u.valToPos(a, "x", true), x1 = u.valToPos(b, "x", true);
      ctx.fillRect(x0, bbox.top, Math.max(1, x1 - x0), bbox.height);
    }
    ctx.restore();
  };
}

function makeChart(id, opts, data, notes) {
  if (charts[id]) charts[id].destroy();
  const node = $(id);
  node.replaceChildren();
  const width = Math.max(300, node.clientWidth || 900);
  opts = {width, height: 220, ...opts};
  opts.hooks = {...(opts.hooks || {}), draw: [(u) => markNotes(u, notes)]};
  charts[id] = new uPlot(opts, data, node);
  return charts[id];
}

const bars = (uPlot.paths && uPlot.paths.bars) ? uPlot.paths.bars({size: [0.8, 40]}) : undefined;

function rateChart(h) {
  const xs = h.days.map((d) => d.start + 43200);  // the middle of each day
  const rate = h.days.map((d) => d.rate_h);
  const mon = h.days.map((d) => (d.monitored_s === null ? null : d.monitored_s / 3600));
  makeChart("h-rate", {
    legend: {live: false},
    scales: {x: {time: true, range: [h.start, h.end]}, rate: {range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)]},
             hours: {range: [0, 24]}},
    axes: [{}, {scale: "rate", label: "spasms / monitored h"},
           {scale: "hours", side: 1, label: "monitored h", grid: {show: false}}],
    series: [{}, {label: "spasms per monitored hour", scale: "rate", fill: "#5e3c9955", stroke: "#5e3c99",
                  paths: bars, points: {show: false}},
             {label: "monitored hours", scale: "hours", stroke: "#2a9d3a", width: 2, spanGaps: false}],
  }, [xs, rate, mon], h.notes);
}

function timelineChart(h) {
  const rows = [];
  const key = (e) => `${e.device}:${e.ch}`;
  for (const e of h.episodes.concat(h.faults)) if (!rows.includes(key(e))) rows.push(key(e));
  rows.sort();
  const all = h.episodes.concat(h.faults).filter((e) => e.t !== null).sort((a, b) => a.t - b.t);
  const xs = all.map((e) => e.t);
  const series = KINDS.concat(["fault"]).map((k) => all.map((e) => ((e.kind || "twitch") === k ? rows.indexOf(key(e)) : null)));
  const several = new Set(rows.map((r) => r.split(":")[0])).size > 1;
  const label = (i) => {
    const [dev, ch] = rows[i].split(/:(?=[^:]*$)/);
    return (several ? `${dev}: ` : "") + chName(dev, Number(ch));
  };
  makeChart("h-timeline", {
    height: 90 + 45 * Math.max(1, rows.length),
    legend: {show: false},
    scales: {x: {time: true, range: [h.start, h.end]}, y: {range: [-0.6, Math.max(1, rows.length) - 0.4]}},
    axes: [{}, {splits: () => rows.map((_, i) => i), values: (u, ticks) => ticks.map((t) => (rows[t] ? label(t) : "")),
                size: 110}],
    series: [{}].concat(KINDS.concat(["fault"]).map((k) => ({
      label: k, stroke: COLORS[k], paths: () => null, points: {show: true, size: k === "fault" ? 9 : 7, fill: COLORS[k]},
    }))),
    hooks: {drawClear: [shadeSpans(h.spans)]},
  }, [xs, ...series], h.notes);
}

function histChart(id, hist, label, fmtEdge) {
  const n = hist.edges.length;
  const xs = hist.edges.map((_, i) => i);
  // stacked: each series is the sum of itself and the kinds drawn after it, drawn from the largest down
  const cum = [];
  let run = new Array(n).fill(0);
  for (const k of KINDS.slice().reverse()) {
    run = run.map((v, i) => v + hist.counts[k][i]);
    cum.unshift({k, vals: run.slice()});
  }
  makeChart(id, {
    width: Math.max(300, ($(id).clientWidth || 450)),
    scales: {x: {time: false, range: [-0.6, n - 0.4]}, y: {range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)]}},
    // bins are labelled by their lower edge; the first one, from 0, by the edge it stays under
    axes: [{splits: () => xs, values: (u, t) => t.map((i) => (i === 0 ? `<${fmtEdge(hist.edges[1], false)}` :
                                                              fmtEdge(hist.edges[i], i === n - 1))), size: 40},
           {label: "episodes", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]}],
    series: [{label}].concat(cum.map(({k}) => ({label: k, stroke: COLORS[k], fill: COLORS[k], paths: bars,
                                                points: {show: false}}))),
    legend: {live: false},
  }, [xs, ...cum.map((c) => c.vals)], []);
}

const durEdge = (v, last) => (v < 60 ? `${v}s` : `${v / 60}m`) + (last ? "+" : "");
const strEdge = (v, last) => `${v}×` + (last ? "+" : "");

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
    ...KINDS.map((k) => card(`kind-${k}`, k, String(t.by_kind[k]))),
    card("faults", "sensor faults", String(t.faults)),
    card("gaps", "data gaps", String(t.gaps)),
  );
  rateChart(h);
  timelineChart(h);
  histChart("h-dur", h.duration_hist, "duration", durEdge);
  histChart("h-str", h.strength_hist, "strength", strEdge);
  $("h-sensor-note").textContent = `Frequency band (Penn-Spasm-Frequency-Scale-style) and clonus duration classes ` +
    `(SCATS-style): ${INFO.sensor_note}. A band needs an hour of monitoring that day.`;
  table($("h-clinical"), ["day", "monitored", "episodes", "per monitored h", "frequency band", "time in spasm",
                          "clonus < 3 s", "3–10 s", "> 10 s", "faults", "gaps"],
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
}

// ---- compare ---------------------------------------------------------------------------------------------

function setCompareInputs(r) {
  $("c-a-from").value = r.a.first; $("c-a-to").value = r.a.last;
  $("c-b-from").value = r.b.first; $("c-b-to").value = r.b.last;
}

let compareAsked = 0;

async function loadCompare(useDefault) {
  const q = filters("c");
  if (!useDefault) for (const k of ["a-from", "a-to", "b-from", "b-to"]) q.set(k.replace("-", "_"), $(`c-${k}`).value);
  const asked = ++compareAsked;
  let r;
  try {
    r = await api(`/api/compare?${q}`);
  } catch (e) {
    if (asked === compareAsked) $("c-title").textContent = e.message;
    return;
  }
  if (asked !== compareAsked) return;  // superseded by a later request
  window.lastCompare = r;
  setCompareInputs(r);
  const A = r.a, B = r.b;
  $("c-title").textContent = `before: ${A.first} to ${A.last} (${A.days} days) · after: ${B.first} to ${B.last} (${B.days} days)`;
  const pct = (v) => (v === null ? "–" : `${v.toFixed(1)} %`);
  const rows = [
    ["spasm episodes", String(A.episodes), String(B.episodes)],
    ["monitored time", fmtDur(A.monitored_s), fmtDur(B.monitored_s)],
    ["spasms per monitored hour", fmtNum(A.rate_h, 2), fmtNum(B.rate_h, 2)],
    ["time in spasm", `${fmtDur(A.spasm_s)} (${pct(A.spasm_pct)})`, `${fmtDur(B.spasm_s)} (${pct(B.spasm_pct)})`],
    ["median duration", fmtDur(A.median_duration_s), fmtDur(B.median_duration_s)],
    ["median strength (× rest)", fmtNum(A.median_peak_x), fmtNum(B.median_peak_x)],
    ...KINDS.map((k) => [`${k} share`, pct(A.kind_pct[k]), pct(B.kind_pct[k])]),
    ["days with ≥ 1 h monitored", String(A.daily_rates.length), String(B.daily_rates.length)],
  ];
  const t = $("c-table");
  table(t, ["", "before", "after"], rows);
  t.querySelectorAll("tr").forEach((tr, i) => { if (i) tr.setAttribute("data-key", ["episodes", "monitored", "rate", "spasm_time",
    "median_duration", "median_strength", "share-twitch", "share-tonic", "share-clonus", "days"][i - 1]); });
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
             {label: "after", stroke: "#5e3c99", width: 2, points: {show: true, size: 6}}],
    legend: {live: false},
  }, [xs, pick(A), pick(B)], []);
}

// ---- notes -----------------------------------------------------------------------------------------------

async function loadNotes() {
  const notes = await api("/api/notes");
  table($("n-list"), ["time", "kind", "note"], notes.slice().reverse().map((n) => [fmtTime(n.at), n.kind, n.text]));
}

async function addNote(ev) {
  ev.preventDefault();
  const at = $("n-at").value;
  const body = {text: $("n-text").value, kind: $("n-kind").value};
  if (at) body.at = Math.round(new Date(at).getTime() / 1000);  // the browser's local time
  try {
    const n = await api("/api/notes", {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
    $("n-msg").textContent = `added: ${n.text}`;
    $("n-text").value = "";
    INFO = await api("/api/info");
    await loadNotes();
  } catch (e) {
    $("n-msg").textContent = `error: ${e.message}`;
  }
}

// ---- live ------------------------------------------------------------------------------------------------

const LIVE = {env: {}, snap: null, source: null, chart: {}, dirty: false};
const ENV_WINDOW_S = 30;

function liveRender() {
  const s = LIVE.snap;
  if (!s) return;
  const st = s.state;
  const conn = $("conn");
  conn.className = st.connected ? "up" : "down";
  conn.textContent = st.connected ? `${st.device_label || st.device_id} on ${st.port}` : (st.waiting || "no board");
  $("live-state").replaceChildren(
    card("connection", "connection", st.connected ? "connected" : "not connected"),
    card("device", "device", st.device_label || st.device_id || "–"),
    card("firmware", "firmware / boot", `${st.fw || "?"} / ${st.boot || "?"}`),
    card("device_state", "device state", st.device_state || "–"),
    card("link", "link", `${st.messages} msgs, ${st.lost} lost, ${st.reconnects} reconnects`),
  );
  const now = Date.now() / 1000;
  const open = s.open || [];
  const nowBox = $("live-now");
  nowBox.className = open.length ? "live-now active" : "live-now";
  const idle = st.connected ? "No episode in progress." : `Not connected: ${st.waiting || st.last_error || "waiting for the board"}`;
  nowBox.replaceChildren(...(open.length ? open.map((o) => el("div", {class: "episode-now", "data-ch": o.ch},
    `Episode in progress on ${o.name}: ${(o.elapsed_s + Math.max(0, now - o.at)).toFixed(1)} s`)) : [el("span", {}, idle)]));
  const c = s.counts;
  $("live-counts").replaceChildren(
    card("hour", "episodes this hour", String(c.hour.total)),
    card("today", "episodes today", String(c.today.total)),
    ...KINDS.map((k) => card(`today-${k}`, `${k} today`, String(c.today[k] || 0))),
  );
  $("live-events").replaceChildren(...(s.recent.length ? s.recent.map((e) => {
    const li = el("li", {class: "live-event", "data-kind": e.kind || "open", "data-id": String(e.id)});
    li.append(el("b", {class: `k-${e.kind || "twitch"}`}, e.kind || "in progress"),
              document.createTextNode(` ${fmtClock(e.t)} · ${chName(e.device, e.ch)} · ${e.d === null ? "…" : fmtDur(e.d)}` +
                                      (e.peak_x ? ` · ${e.peak_x.toFixed(1)}× rest` : "") + (e.detail ? ` · ${e.detail}` : "")));
    return li;
  }) : [el("li", {}, "none yet")]));
  $("live-notices").textContent = (s.notices || []).slice(-3).join(" · ");
}

function envChart(ch) {
  const box = $("live-env");
  let holder = $(`env-${ch}`);
  if (!holder) {
    holder = el("div", {id: `env-${ch}`, class: "chart"});
    box.append(el("div", {class: "note"}, LIVE.snap ? (LIVE.snap.channels.find((c) => c.ch === ch) || {name: `ch ${ch}`}).name : `ch ${ch}`), holder);
  }
  if (!LIVE.chart[ch]) {
    LIVE.chart[ch] = new uPlot({
      width: Math.max(300, holder.clientWidth || 900), height: 160, legend: {live: false},
      // a fixed window ending now: the trace scrolls, and a quiet board shows as a flat line, not a zoom
      scales: {x: {time: true, range: () => { const t = Date.now() / 1000; return [t - ENV_WINDOW_S, t]; }},
               y: {range: (u, lo, hi) => [0, Math.max(1, hi * 1.15)]}},
      axes: [{}, {label: "ADC counts"}],
      series: [{}, {label: "envelope", stroke: "#222", width: 1.5, points: {show: false}},
               {label: "floor", stroke: "#2a9d3a", dash: [4, 4], points: {show: false}},
               {label: "off", stroke: "#e0a800", dash: [6, 3], points: {show: false}},
               {label: "on", stroke: "#c0392b", dash: [6, 3], points: {show: false}}],
    }, [[], [], [], [], []], holder);
  }
  return LIVE.chart[ch];
}

function envDraw() {
  if (!LIVE.dirty && !Object.keys(LIVE.env).length) return;
  LIVE.dirty = false;
  const now = Date.now() / 1000;
  for (const [ch, pts] of Object.entries(LIVE.env)) {
    while (pts.length && pts[0][0] < now - ENV_WINDOW_S) pts.shift();
    const u = envChart(Number(ch));
    u.setData([pts.map((p) => p[0]), pts.map((p) => p[1]), pts.map((p) => p[2]), pts.map((p) => p[3]), pts.map((p) => p[4])]);
  }
}

async function liveSnapshot() {
  try {
    LIVE.snap = await api("/api/live");
  } catch (e) {
    return;
  }
  if (!LIVE.snap.enabled) { $("live-off").hidden = false; return; }
  for (const [ch, pts] of Object.entries(LIVE.snap.env || {})) LIVE.env[ch] = pts;
  LIVE.dirty = true;
  liveRender();
}

function liveConnect() {
  if (LIVE.source || !INFO.live) return;
  const src = new EventSource("/api/live/stream");
  LIVE.source = src;
  src.onopen = () => liveSnapshot();  // a (re)opened stream: resync from the server (and its store)
  src.onmessage = (m) => {
    const item = JSON.parse(m.data);
    if (item.type === "env") {
      const pts = LIVE.env[item.ch] || (LIVE.env[item.ch] = []);
      for (const p of item.points) pts.push(p);
      LIVE.dirty = true;
    } else {
      liveSnapshot();  // an event, a state change or a notice: the snapshot has the store's counts
    }
  };
}

// ---- start -----------------------------------------------------------------------------------------------

function showTab(name) {
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll("section.tab").forEach((s) => s.classList.toggle("active", s.id === `tab-${name}`));
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  if (name === "history") loadHistory();
  if (name === "compare") loadCompare(!$("c-a-from").value);
  if (name === "notes") loadNotes();
  if (name === "live") { liveSnapshot(); liveConnect(); }
}

async function start() {
  INFO = await api("/api/info");
  fillDevices();
  $("h-date").value = INFO.last_day || INFO.today;
  document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
  $("h-period").addEventListener("change", () => { $("h-to-wrap").hidden = $("h-period").value !== "custom"; loadHistory(); });
  for (const id of ["h-date", "h-to", "h-channel"]) $(id).addEventListener("change", loadHistory);
  $("h-device").addEventListener("change", () => { fillChannels(); loadHistory(); });
  $("h-prev").addEventListener("click", () => shiftPeriod(-1));
  $("h-next").addEventListener("click", () => shiftPeriod(1));
  $("c-go").addEventListener("click", () => loadCompare(false));
  $("c-note").addEventListener("click", () => loadCompare(true));
  $("n-form").addEventListener("submit", addNote);
  setInterval(envDraw, 250);
  setInterval(() => { if (LIVE.snap && LIVE.snap.enabled) liveRender(); }, 1000);  // the episode in progress grows
  if (INFO.live) liveConnect();
  window.addEventListener("hashchange", () => {
    const t = location.hash.slice(1);
    if (["live", "history", "compare", "notes"].includes(t)) showTab(t);
  });
  const tab = location.hash.slice(1);
  showTab(["live", "history", "compare", "notes"].includes(tab) ? tab : (INFO.live ? "live" : "history"));
  document.body.setAttribute("data-ready", "1");
}

start();
