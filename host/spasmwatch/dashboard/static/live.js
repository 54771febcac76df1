// spasmwatch dashboard: the Live tab and the start-up (common.js and pages.js first).
"use strict";

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
    ...KINDS.map((k) => card(`today-${k}`, `${kindLabel(k)} today`, String(c.today[k] || 0))),
  );
  $("live-events").replaceChildren(...(s.recent.length ? s.recent.map((e) => {
    const li = el("li", {class: "live-event", "data-kind": e.kind || "open", "data-id": String(e.id)});
    const kind = el("b", {class: "kind"}, e.kind ? kindLabel(e.kind) : "in progress");
    kind.style.color = kindColor(e.kind);  // CSSOM: the page's CSP refuses style attributes
    li.append(kind,
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
    const wait = $("live-env-wait");
    if (wait) wait.remove();  // the first channel's trace replaces the "waiting" line
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

// the "loading" placeholders say why nothing comes instead (live view off, the server unreachable)
function liveUnavailable(why) {
  document.querySelectorAll("#tab-live [data-loading]").forEach((e) => { e.textContent = why; });
}

async function liveSnapshot() {
  try {
    LIVE.snap = await api("/api/live");
  } catch (e) {
    if (!LIVE.snap) liveUnavailable(`cannot load the live view: ${e.message}`);
    return;
  }
  if (!LIVE.snap.enabled) { $("live-off").hidden = false; liveUnavailable("live view off"); return; }
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
  setKinds(INFO);
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
  $("n-cancel").addEventListener("click", () => stopEditing());
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
