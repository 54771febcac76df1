// spasmwatch dashboard, shared part: fetching, formatting, charts (uPlot); talks only to the server that served it.
"use strict";

// The spasm kinds come from the server (spasmcore.kinds, in /api/info): no name, label or colour is written here.
let KINDS = [];  // the episode kinds' names, in display order
const KIND = {};  // name -> row: label, color, clinical, about
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, text) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
let INFO = null;
const charts = {};

// the kinds table: rows by name, CSS variables --kind-<name> for the stylesheet, the legend's swatches
function setKinds(info) {
  KINDS = info.episodes;
  for (const k of info.kinds) {
    KIND[k.name] = k;
    document.documentElement.style.setProperty(`--kind-${k.name}`, k.color);
  }
  const legend = $("h-legend");
  legend.querySelectorAll(".kind-swatch").forEach((s) => s.remove());
  legend.prepend(...info.kinds.map((k) => {
    const s = el("span", {class: "kind-swatch", "data-kind": k.name, title: k.about});
    const swatch = el("i");
    swatch.style.background = `var(--kind-${k.name})`;  // CSSOM: the page's CSP refuses style attributes
    s.append(swatch, k.label);
    return s;
  }));
}
// an episode still in progress (no kind yet) is drawn as the table's "open" kind
const kindOf = (e) => e.kind || INFO.open;
const kindColor = (name) => (KIND[name || INFO.open] ? KIND[name || INFO.open].color : INFO.unknown_color);
const kindLabel = (name) => (KIND[name] ? KIND[name].label : name);

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
    series: [{}, {label: "spasms per monitored hour", scale: "rate", fill: `${INFO.all_color}55`, stroke: INFO.all_color,
                  paths: bars, points: {show: false}},
             {label: "monitored hours", scale: "hours", stroke: "#2a9d3a", width: 2, spanGaps: false}],
  }, [xs, rate, mon], h.notes);
}

// a y axis as wide as its longest label (measured in the axis font), at most 40 % of the chart: a fixed width
// cut long muscle names ("sim0history: left calf") at the plot's edge
function labelWidth(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  if (cycleNum > 1) return axis._size;  // uPlot asks again while settling: keep the first answer
  const longest = (values || []).reduce((a, v) => (String(v).length > a.length ? String(v) : a), "");
  u.ctx.font = axis.font[0];
  const text = u.ctx.measureText(longest).width / (window.devicePixelRatio || 1);
  return Math.min(Math.ceil(text + axis.ticks.size + axis.gap + 8), Math.round(0.4 * u.width));
}

function timelineChart(h) {
  const rows = [];
  const key = (e) => `${e.device}:${e.ch}`;
  for (const e of h.episodes.concat(h.faults)) if (!rows.includes(key(e))) rows.push(key(e));
  rows.sort();
  const all = h.episodes.concat(h.faults).filter((e) => e.t !== null).sort((a, b) => a.t - b.t);
  const xs = all.map((e) => e.t);
  const shown = KINDS.concat([INFO.fault]);
  const series = shown.map((k) => all.map((e) => (kindOf(e) === k ? rows.indexOf(key(e)) : null)));
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
                size: labelWidth}],
    series: [{}].concat(shown.map((k) => ({
      label: kindLabel(k), stroke: kindColor(k), paths: () => null,
      points: {show: true, size: k === INFO.fault ? 9 : 7, fill: kindColor(k)},
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
    series: [{label}].concat(cum.map(({k}) => ({label: kindLabel(k), stroke: kindColor(k), fill: kindColor(k), paths: bars,
                                                points: {show: false}}))),
    legend: {live: false},
  }, [xs, ...cum.map((c) => c.vals)], []);
}

const durEdge = (v, last) => (v < 60 ? `${v}s` : `${v / 60}m`) + (last ? "+" : "");
const strEdge = (v, last) => `${v}×` + (last ? "+" : "");

