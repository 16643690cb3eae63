// The admin page: sign in, then draw what /admin/live pushes each second.
// No library: the tables are DOM, the charts SVG paths.
"use strict";

const $ = (sel) => document.querySelector(sel);
const SVG = "http://www.w3.org/2000/svg";
let live = null;

// post sends a POST with the header the server asks of every POST (CSRF).
async function post(path, body, type) {
  const headers = { "X-Wsfleet-Admin": "1" };
  if (type) headers["Content-Type"] = type;
  const r = await fetch(path, { method: "POST", headers, body, credentials: "same-origin" });
  let data = {};
  try { data = await r.json(); } catch (e) { /* not JSON */ }
  return { status: r.status, data };
}

function show(signedIn, who) {
  $("#login-view").hidden = signedIn;
  $("#main-view").hidden = !signedIn;
  $("#logout").hidden = !signedIn;
  $("#who").textContent = signedIn ? "session " + who : "";
  if (signedIn) connect(); else { $("#state").textContent = "signed out"; if (live) live.close(); }
}

async function checkSession() {
  const r = await fetch("session", { credentials: "same-origin" });
  if (r.ok) { show(true, (await r.json()).session); } else { show(false); }
}

function connect() {
  if (live && live.readyState <= 1) return;
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/admin/live";
  live = new WebSocket(url);
  live.onopen = () => { $("#state").textContent = "live"; };
  live.onmessage = (ev) => render(JSON.parse(ev.data));
  live.onclose = () => {
    $("#state").textContent = "disconnected, retrying…";
    setTimeout(() => { if (!$("#main-view").hidden) checkSession(); }, 2000);
  };
}

function fmtNum(n) { return n >= 100 ? Math.round(n).toString() : (Math.round(n * 10) / 10).toString(); }
function fmtBytes(b) { return b > 1 << 20 ? (b / (1 << 20)).toFixed(1) + " MiB" : Math.round(b / 1024) + " KiB"; }
function fmtAge(s) {
  s = Math.floor(s);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60) + "s";
  return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m";
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}

function render(snap) {
  $("#state").textContent = snap.error ? "query failed: " + snap.error : "live · " + new Date(snap.time).toLocaleTimeString();
  const hosts = $("#hosts tbody"), workers = $("#workers tbody");
  hosts.replaceChildren(); workers.replaceChildren();
  let nHosts = 0, nWorkers = 0, conns = 0, inS = 0, outS = 0;
  for (const h of snap.hosts) {
    const tr = document.createElement("tr");
    tr.dataset.node = h.node;
    if (h.gone) tr.className = "gone"; else nHosts++;
    cell(tr, h.node);
    cell(tr, h.gone ? "gone" : "up", "state" + (h.gone ? "" : " up"));
    cell(tr, h.leader ? "★ leader" : "");
    cell(tr, h.version || "");
    cell(tr, h.gone ? "" : fmtAge(h.uptime_seconds));
    cell(tr, h.gone ? "" : h.workers + "/" + h.count);
    cell(tr, h.gone ? "" : h.connections);
    hosts.appendChild(tr);
    if (h.gone) continue;
    conns += h.connections;
    for (const w of h.worker_rows || []) {
      nWorkers++; inS += w.in_per_sec; outS += w.out_per_sec;
      const wr = document.createElement("tr");
      wr.dataset.pid = w.pid;
      cell(wr, h.node); cell(wr, w.pid); cell(wr, w.state); cell(wr, w.connections);
      cell(wr, fmtNum(w.in_per_sec)); cell(wr, fmtNum(w.out_per_sec)); cell(wr, fmtBytes(w.rss_bytes)); cell(wr, w.restarts);
      workers.appendChild(wr);
    }
  }
  $("#total-hosts").textContent = nHosts;
  $("#total-workers").textContent = nWorkers;
  $("#total-conns").textContent = conns;
  $("#total-in").textContent = fmtNum(inS);
  $("#total-out").textContent = fmtNum(outS);
  const rooms = $("#rooms tbody");
  rooms.replaceChildren();
  for (const r of snap.rooms || []) {
    const tr = document.createElement("tr");
    tr.dataset.room = r.room;
    cell(tr, r.room); cell(tr, r.count);
    rooms.appendChild(tr);
  }
  if (!(snap.rooms || []).length) { const tr = document.createElement("tr"); cell(tr, "no rooms", "muted"); rooms.appendChild(tr); }
  const s = snap.series || [];
  chart($("#chart-conns"), s, [{ get: (p) => p.c, area: true }]);
  chart($("#chart-msgs"), s, [{ get: (p) => p.i }, { get: (p) => p.o, cls: "line out" }]);
  closesChart(s);
}

// chart draws lines over the last 15 minutes (a shorter history fills the
// width, down to a minute); the newest point is on the right. lines are
// {get, cls, color, area}; data-last holds the first line's last value
// (tests read it).
function chart(svg, series, lines) {
  // Drawn in the element's own pixels, so that text is not stretched.
  const W = svg.clientWidth || 600, H = svg.clientHeight || 150, N = Math.min(900, Math.max(60, series.length));
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  let top = 1;
  for (const p of series) for (const l of lines) top = Math.max(top, l.get(p));
  top = niceTop(top);
  svg.replaceChildren();
  for (const frac of [0.5, 1]) {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", 2); t.setAttribute("y", H - frac * (H - 12) + 10);
    t.textContent = fmtNum(top * frac);
    svg.appendChild(t);
  }
  const x = (i) => W - (series.length - 1 - i) * (W / (N - 1));
  const y = (v) => H - (v / top) * (H - 12);
  for (const l of lines) {
    if (series.length === 0) continue;
    let d = "";
    series.forEach((p, i) => { d += (i ? "L" : "M") + x(i).toFixed(1) + "," + y(l.get(p)).toFixed(1); });
    if (l.area) {
      const a = document.createElementNS(SVG, "path");
      a.setAttribute("d", d + "L" + x(series.length - 1).toFixed(1) + "," + H + "L" + x(0).toFixed(1) + "," + H + "Z");
      a.setAttribute("class", "area");
      svg.appendChild(a);
    }
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    path.setAttribute("class", l.cls || "line");
    if (l.color) path.style.stroke = l.color;
    svg.appendChild(path);
  }
  svg.dataset.points = series.length;
  svg.dataset.last = series.length && lines.length ? lines[0].get(series[series.length - 1]) : "";
}

const PALETTE = ["#15803d", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9f1239", "#475569"];

// closesChart draws handshake failures and one line per close code seen.
function closesChart(series) {
  const codes = [...new Set(series.flatMap((p) => Object.keys(p.x || {})))].sort();
  const lines = [{ get: (p) => p.f, cls: "line", color: "#b91c1c" }];
  const legend = $("#closes-legend");
  legend.replaceChildren();
  const item = (text, color) => {
    const s = document.createElement("span");
    s.className = "legend"; s.style.color = color; s.textContent = text;
    legend.appendChild(s);
  };
  item("handshake failures", "#b91c1c");
  codes.forEach((code, i) => {
    const color = PALETTE[i % PALETTE.length];
    lines.push({ get: (p) => (p.x && p.x[code]) || 0, color });
    item("close " + code, color);
  });
  chart($("#chart-closes"), series, lines);
}

function niceTop(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function result(el, r, okText) {
  el.className = "result " + (r.status === 200 ? "ok" : "bad");
  el.textContent = r.status === 200 ? okText : (r.data.error || "failed: " + r.status);
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const r = await post("login", new URLSearchParams({ password: $("#password").value }), "application/x-www-form-urlencoded");
  $("#password").value = "";
  if (r.status === 200) { $("#login-error").textContent = ""; show(true, r.data.session); return; }
  $("#login-error").textContent = r.data.error || "sign-in failed (" + r.status + ")";
});

$("#logout").addEventListener("click", async () => { await post("logout"); show(false); });

$("#pub-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const kind = $("#pub-kind").value, body = { data: $("#pub-text").value };
  if (kind !== "all") body[kind] = $("#pub-name").value;
  const r = await post("publish", JSON.stringify(body), "application/json");
  result($("#pub-result"), r, "published to " + (kind === "all" ? "everyone" : kind + " " + body[kind]));
});

$("#close-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = { conn: $("#close-conn").value.trim(), code: parseInt($("#close-code").value, 10) || 1000, reason: $("#close-reason").value };
  const r = await post("close", JSON.stringify(body), "application/json");
  result($("#close-result"), r, "closed " + body.conn + " with " + body.code);
});

$("#search-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const tbody = $("#search-results tbody");
  tbody.replaceChildren();
  const r = await fetch("search?q=" + encodeURIComponent($("#search-q").value.trim()), { credentials: "same-origin" });
  const data = await r.json();
  if (!r.ok) { const tr = document.createElement("tr"); cell(tr, data.error || r.status, "error"); tbody.appendChild(tr); return; }
  if (data.found.length === 0) { const tr = document.createElement("tr"); cell(tr, "not connected"); tbody.appendChild(tr); return; }
  for (const f of data.found) {
    const tr = document.createElement("tr");
    tr.dataset.conn = f.conn;
    cell(tr, f.conn); cell(tr, "host " + f.node + ", worker " + f.pid);
    cell(tr, f.user ? "user " + f.user : ""); cell(tr, f.remote || ""); cell(tr, f.since ? "since " + new Date(f.since).toLocaleTimeString() : "");
    cell(tr, f.rooms && f.rooms.length ? "rooms " + f.rooms.join(", ") : "");
    tbody.appendChild(tr);
  }
});

$("#reload").addEventListener("click", () => { $("#reload-confirm-box").hidden = false; });
$("#reload-cancel").addEventListener("click", () => { $("#reload-confirm-box").hidden = true; });
$("#reload-confirm").addEventListener("click", async () => {
  $("#reload-confirm-box").hidden = true;
  const r = await post("reload");
  result($("#reload-result"), r, "reload started");
});

checkSession();
