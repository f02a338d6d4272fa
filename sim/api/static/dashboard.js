// The feedertwin live dashboard: reads the site through /api/v1, then follows /api/v1/stream.
//
// Authentication: the API token the user enters is kept in sessionStorage (this tab only, gone
// when it closes) and sent as "Authorization: Bearer" on every request, the stream included: the
// stream is read with fetch() and a small server-sent-events parser rather than EventSource,
// which cannot send headers, so the token never appears in a URL. Without a token the page reads
// what the site file makes public ([api] public).
//
// Live updates: each stream event names what changed (event, decision, action, ...); the parts of
// the page it touches are re-read from the read endpoints (updates that come together cause one
// read; a late answer never replaces a newer one), so the numbers shown are the API's own.
//
// The power chart: the last hours are read once from /api/v1/site/power (one point per control
// tick, from the store), then each `decision` update appends the tick's site_power it carries.
"use strict";

const TOKEN_KEY = "feedertwin.api-token";
const HISTORY_HOURS = 6;           // the power chart shows the last 6 hours
const RECONNECT_MS = 3000;         // wait before reopening a stream that ended
const BATCH_MS = 150;              // updates that come together cause one re-read
const PARTS_BY_KIND = {            // stream event kind -> the parts of the page it changes
  event: ["site", "chargers"],
  decision: ["site", "setpoints", "feeder"],
  action: ["site", "chargers", "setpoints"],
  command: [],
  log: [],
  dropped: ["site", "chargers", "setpoints", "feeder", "power"],
};

const $ = (id) => document.getElementById(id);
const state = { site: null, chargers: [], setpoints: null, feeder: null, history: [] };
const pending = new Set();
let batchTimer = null;

// -- the API --------------------------------------------------------------------------------------

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function headers(extra) {
  const h = Object.assign({ Accept: "application/json" }, extra || {});
  if (token()) h.Authorization = "Bearer " + token();
  return h;
}

// A request to the API; resolves to the JSON body, rejects with the problem document's detail.
async function api(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = headers(opts.headers);
  const response = await fetch(path, opts);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : response.statusText;
    const error = new Error(`${response.status}: ${detail}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// Each part of the page: where it is read, and how the answer is kept.
const READERS = {
  site: ["/api/v1/site", (body) => { state.site = body; }],
  chargers: ["/api/v1/chargers", (body) => { state.chargers = body.chargers; }],
  setpoints: ["/api/v1/setpoints", (body) => { state.setpoints = body; }],
  feeder: ["/api/v1/feeder", (body) => { state.feeder = body; }],
  power: [`/api/v1/site/power?hours=${HISTORY_HOURS}`, keepHistory],
};
const asked = {};  // part -> number of the latest read asked for
const shown = {};  // part -> number of the read whose answer is shown

// Read one part; an answer older than one already shown is dropped (reads can overtake each other).
async function read(name) {
  const n = (asked[name] || 0) + 1;
  asked[name] = n;
  const [path, keep] = READERS[name];
  const body = await api(path);
  if (n > (shown[name] || 0)) {
    shown[name] = n;
    keep(body);
  }
}

// Re-read the named parts (all of them by default) and redraw.
async function reload(parts) {
  const names = parts || Object.keys(READERS);
  const results = await Promise.allSettled(names.map(read));
  const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
  say(failed.length ? failed[0] + (failed[0].startsWith("401") ? " (enter an API token above)" : "") : "");
  render();
}

function schedule(parts) {
  parts.forEach((p) => pending.add(p));
  if (batchTimer === null && pending.size) {
    batchTimer = setTimeout(() => {
      batchTimer = null;
      const parts = [...pending];
      pending.clear();
      reload(parts);
    }, BATCH_MS);
  }
}

// -- the stream -----------------------------------------------------------------------------------

let streamAbort = null;

function setLive(stateName) {
  const badge = $("live-status");
  badge.dataset.state = stateName;
  badge.textContent = stateName;
}

// Read /api/v1/stream until it ends, then reopen it (re-reading everything: updates may be lost).
async function follow() {
  if (streamAbort) streamAbort.abort();
  const abort = new AbortController();
  streamAbort = abort;
  try {
    const response = await fetch("/api/v1/stream", { headers: headers({ Accept: "text/event-stream" }),
                                                     signal: abort.signal, cache: "no-store" });
    if (!response.ok) {  // e.g. 401: show what is public, wait for a token (useToken follows again)
      setLive(`no stream (${response.status})`);
      reload();
      if (response.status === 401 || response.status === 403) return;
      throw new Error(`stream: ${response.status}`);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let kind = "message";
    let data = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, "");
        buffer = buffer.slice(newline + 1);
        if (line === ": connected") { setLive("live"); reload(); }
        else if (line.startsWith("event: ")) kind = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
        else if (line === "") {
          if (data) {
            if (kind === "decision") appendPower(data);
            schedule(PARTS_BY_KIND[kind] || []);
          }
          kind = "message";
          data = "";
        }
      }
    }
  } catch (error) {
    if (abort.signal.aborted) return;
    say(error.message);
  }
  if (streamAbort !== abort) return;
  setLive("reconnecting");
  setTimeout(() => { if (streamAbort === abort) follow(); }, RECONNECT_MS);
}

// -- drawing --------------------------------------------------------------------------------------

function say(text) { $("message").textContent = text; }

function fixed(value, digits) { return value === null || value === undefined ? "-" : Number(value).toFixed(digits); }

function cell(row, field, text) {
  const td = document.createElement("td");
  td.dataset.field = field;
  td.textContent = text;
  row.appendChild(td);
}

// The stored power history (columns: one entry per tick); points the stream appended after the
// read began are kept, so a late answer never drops a newer tick.
function keepHistory(body) {
  const points = body.t_s.map((t, i) => ({ t_s: t, import_kw: body.import_kw[i], limit_kw: body.import_limit_kw[i] }));
  const lastRead = points.length ? points[points.length - 1].t_s : -Infinity;
  state.history = points.concat(state.history.filter((p) => p.t_s > lastRead));
  trimHistory();
}

// A `decision` update's site power (its data: {"t_s": ..., "data": {"site_power": {...}, ...}}).
function appendPower(text) {
  let update;
  try { update = JSON.parse(text); } catch (error) { return; }
  const power = update.data && update.data.site_power;
  const last = state.history[state.history.length - 1];
  if (!power || (last && update.t_s <= last.t_s)) return;
  state.history.push({ t_s: update.t_s, import_kw: power.import_kw, limit_kw: power.import_limit_kw });
  trimHistory();
}

function trimHistory() {
  const last = state.history[state.history.length - 1];
  while (last && state.history[0].t_s < last.t_s - HISTORY_HOURS * 3600) state.history.shift();
}

function render() {
  const site = state.site;
  if (site) {
    $("mode").textContent = site.mode;
    $("import-now-kw").textContent = fixed(site.import_now_kw, 1);
    $("charging-kw").textContent = fixed(site.charging_power_kw, 1);
    $("base-load-kw").textContent = fixed(site.base_load_kw, 1);
    $("import-limit-kw").textContent = fixed(site.import_limit_kw, 1);
    $("n-online").textContent = site.n_online;
    $("n-chargers").textContent = site.n_chargers;
    $("n-sessions").textContent = site.n_sessions_open;
    $("mode-switch").disabled = !token();
    $("mode-switch").textContent = "switch to " + otherMode(site.mode);
  }
  renderChargers();
  drawChart($("power-chart"), state.history);
  renderFeeder();
}

function renderChargers() {
  const latest = state.setpoints && state.setpoints.latest;
  const setpoints = {};
  if (latest) latest.setpoints.forEach((s) => { setpoints[s.charger_id] = s; });
  const body = $("chargers").tBodies[0];
  body.replaceChildren(...state.chargers.map((c) => {
    const row = document.createElement("tr");
    row.dataset.chargerId = c.charger_id;
    row.className = c.online ? "online" : "offline";
    const connectors = c.connectors.filter((k) => k.connector_id !== 0 || c.connectors.length === 1);
    const s = setpoints[c.charger_id] || {};
    cell(row, "charger", c.charger_id);
    cell(row, "online", c.online ? "yes" : "no");
    cell(row, "state", connectors.map((k) => k.status).join(", ") || "-");
    cell(row, "power", fixed(c.power_now_kw, 1));
    cell(row, "current", fixed(c.current_now_a, 1));
    // above the setpoint: what active control would cut (in shadow mode nothing is sent)
    row.lastChild.classList.toggle("over-setpoint", s.setpoint_a != null && c.current_now_a > s.setpoint_a + 0.5);
    cell(row, "setpoint", fixed(s.setpoint_a, 1));
    cell(row, "limit", fixed(s.limit_a, 1));
    cell(row, "session", c.open_session_ids.join(", ") || "-");
    return row;
  }));
}

// The site's import (a step line: it holds until the next reading) and its limit, over time.
function drawChart(canvas, history) {
  canvas.dataset.points = history.length;  // how many ticks it shows (tests read it)
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, left = 48, bottom = 20, top = 8;
  g.clearRect(0, 0, w, h);
  g.font = "11px sans-serif";
  g.fillStyle = "#555";
  if (!history.length) { g.fillText("waiting for the site's power", left, h / 2); return; }
  const t1 = history[history.length - 1].t_s, t0 = Math.min(history[0].t_s, t1 - 60);
  const yMax = Math.max(1, ...history.map((p) => Math.max(p.import_kw || 0, p.limit_kw || 0))) * 1.1;
  const x = (t) => left + (w - left - 4) * (t - t0) / (t1 - t0);
  const y = (kw) => top + (h - top - bottom) * (1 - kw / yMax);
  g.strokeStyle = "#ccc";
  g.beginPath(); g.moveTo(left, top); g.lineTo(left, h - bottom); g.lineTo(w, h - bottom); g.stroke();
  g.fillText(yMax.toFixed(0) + " kW", 2, top + 8);
  g.fillText("0", left - 12, h - bottom);
  g.fillText(new Date(t0 * 1000).toLocaleTimeString(), left, h - 4);
  g.fillText(new Date(t1 * 1000).toLocaleTimeString(), w - 70, h - 4);
  const line = (key, colour, dash) => {
    g.strokeStyle = colour; g.setLineDash(dash); g.lineWidth = 2; g.beginPath();
    history.forEach((p, i) => {
      if (p[key] === null) return;
      if (i === 0) g.moveTo(x(p.t_s), y(p[key]));
      else { g.lineTo(x(p.t_s), y(history[i - 1][key] ?? p[key])); g.lineTo(x(p.t_s), y(p[key])); }
    });
    g.lineTo(x(t1), y(history[history.length - 1][key] ?? 0));
    g.stroke(); g.setLineDash([]);
  };
  if (history.some((p) => p.limit_kw !== null)) line("limit_kw", "#c0392b", [6, 4]);
  line("import_kw", "#2c6fbb", []);
}

// The feeder's lowest and highest voltage as marks on a scale, the allowed band shaded.
function renderFeeder() {
  const feeder = state.feeder;
  const grid = feeder && feeder.state;
  $("feeder-none").hidden = Boolean(feeder && feeder.has_grid);
  $("feeder").hidden = !(feeder && feeder.has_grid);
  if (!feeder || !feeder.has_grid) return;
  const band = [Number(document.body.dataset.vmMinPu), Number(document.body.dataset.vmMaxPu)];
  $("band-pu").textContent = band.map((v) => v.toFixed(2)).join(" to ");
  $("vm-min-pu").textContent = fixed(grid && grid.vm_min_pu, 3);
  $("vm-max-pu").textContent = fixed(grid && grid.vm_max_pu, 3);
  $("line-loading").textContent = fixed(grid && grid.max_line_loading_percent, 0);
  $("trafo-loading").textContent = fixed(grid && grid.max_trafo_loading_percent, 0);
  const svg = $("voltage-band"), ns = "http://www.w3.org/2000/svg";
  const lo = band[0] - 0.05, hi = band[1] + 0.05;
  const x = (pu) => 10 + 580 * (Math.min(hi, Math.max(lo, pu)) - lo) / (hi - lo);
  const add = (name, attrs, text) => {
    const el = document.createElementNS(ns, name);
    Object.entries(attrs).forEach(([k, v]) => el.setAttribute(k, v));
    if (text) el.textContent = text;
    svg.appendChild(el);
  };
  svg.replaceChildren();
  add("rect", { x: 10, y: 20, width: 580, height: 16, class: "scale" });
  add("rect", { x: x(band[0]), y: 20, width: x(band[1]) - x(band[0]), height: 16, class: "band" });
  add("text", { x: x(band[0]), y: 54, "text-anchor": "middle" }, band[0].toFixed(2));
  add("text", { x: x(band[1]), y: 54, "text-anchor": "middle" }, band[1].toFixed(2));
  if (!grid) return;
  [["min", grid.vm_min_pu], ["max", grid.vm_max_pu]].forEach(([name, pu]) => {
    if (pu === null) return;
    const outside = pu < band[0] || pu > band[1];
    add("line", { x1: x(pu), x2: x(pu), y1: 12, y2: 44, class: outside ? "mark outside" : "mark" });
    add("text", { x: x(pu), y: 10, "text-anchor": "middle" }, `${name} ${pu.toFixed(3)}`);
  });
}

// -- the mode switch ------------------------------------------------------------------------------

function otherMode(mode) { return mode === "active" ? "shadow" : "active"; }

function askModeSwitch() {
  if (!state.site) return;
  const target = otherMode(state.site.mode);
  $("mode-question").textContent = target === "active"
    ? `Switch ${state.site.name} to ACTIVE? The strategy's limits will be sent to the chargers.`
    : `Switch ${state.site.name} to SHADOW? Limits are then recorded only; chargers keep their last profile until it expires.`;
  $("mode-confirm").dataset.target = target;
  $("mode-dialog").showModal();
}

async function switchMode() {
  const target = $("mode-confirm").dataset.target;
  $("mode-dialog").close();
  try {
    await api("/api/v1/site/mode", { method: "PUT", headers: { "Content-Type": "application/json" },
                                     body: JSON.stringify({ mode: target }) });
    $("mode-message").textContent = `switched to ${target}`;
  } catch (error) {
    $("mode-message").textContent = `mode not switched: ${error.message}`;
  }
  reload(["site"]);
}

// -- start ----------------------------------------------------------------------------------------

function useToken(event) {
  event.preventDefault();
  const value = $("token").value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  $("token").value = "";
  follow();
}

document.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", useToken);
  $("token-forget").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); follow(); });
  $("mode-switch").addEventListener("click", askModeSwitch);
  $("mode-cancel").addEventListener("click", () => $("mode-dialog").close());
  $("mode-confirm").addEventListener("click", switchMode);
  follow();
});
