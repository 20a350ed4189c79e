// The console's only script: trend charts drawn as SVG from /api/v1/.../trends, and the queue's actions.
// No library, nothing fetched from outside the server.
"use strict";
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;
  const COLORS = { systolic_mmhg: "#0b5394", diastolic_mmhg: "#6a1b9a", pulse_bpm: "#1b5e20",
                   glucose_mg_dl: "#0b5394", weight_kg: "#0b5394" };
  const CHARTS = [
    { title: "Blood pressure (mmHg)", metrics: ["systolic_mmhg", "diastolic_mmhg"] },
    { title: "Pulse (beats/min)", metrics: ["pulse_bpm"] },
    { title: "Glucose (mg/dL)", metrics: ["glucose_mg_dl"] },
    { title: "Weight (kg)", metrics: ["weight_kg"] },
  ];
  const DAY = 86400000;

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVGNS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  // Mean over the 7 days ending at each point, weighted by the number of readings in each bucket.
  function rollingMean(points) {
    return points.map((p, i) => {
      let sum = 0, n = 0;
      for (let j = i; j >= 0 && p.time - points[j].time < 7 * DAY; j--) { sum += points[j].mean * points[j].count; n += points[j].count; }
      return { time: p.time, value: sum / n };
    });
  }

  function drawChart(spec, data, start, end) {
    const series = spec.metrics.map((m) => data.series.find((s) => s.metric === m)).filter(Boolean);
    if (!series.length) return null;
    const limits = data.limits.filter((l) => spec.metrics.includes(l.metric));
    const W = 720, H = 220, L = 44, R = 12, T = 14, B = 26;
    let lo = Infinity, hi = -Infinity;
    for (const s of series) for (const p of s.points) { lo = Math.min(lo, p.min); hi = Math.max(hi, p.max); }
    for (const l of limits) { lo = Math.min(lo, l.value); hi = Math.max(hi, l.value); }
    const pad = (hi - lo) * 0.08 || 5; lo -= pad; hi += pad;
    const x = (t) => L + ((t - start) / (end - start)) * (W - L - R);
    const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    const fig = document.createElement("figure"); fig.className = "chart";
    const cap = document.createElement("figcaption"); cap.textContent = spec.title; fig.appendChild(cap);
    let count = 0;
    for (const s of series) count += s.points.length;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "trend", role: "img",
      "aria-label": `${spec.title}: ${count} periods with readings`, "data-points": String(count),
      "data-metrics": spec.metrics.join(" ") }, fig);
    el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }, svg);
    el("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }, svg);
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      el("text", { x: 2, y: y(v) + 4 }, svg).textContent = v.toFixed(hi - lo < 20 ? 1 : 0);
    }
    for (let i = 0; i <= 4; i++) {
      const t = start + ((end - start) * i) / 4;
      const label = el("text", { x: x(t) - 20, y: H - 8 }, svg);
      label.textContent = new Date(t).toISOString().slice(5, 10);
    }
    for (const l of limits) {
      const line = el("line", { x1: L, x2: W - R, y1: y(l.value), y2: y(l.value), class: `limit-${l.priority}` }, svg);
      el("title", {}, line).textContent = `${l.metric.replace(/_/g, " ")} ${l.bound === "upper" ? "≥" : "<"} ${l.value} (${l.priority}, ${l.source.replace("_", " ")})`;
    }
    for (const s of series) {
      const pts = s.points.map((p) => ({ ...p, time: Date.parse(p.t) }));
      const color = COLORS[s.metric];
      const top = pts.map((p) => `${x(p.time)},${y(p.max)}`);
      const bottom = pts.slice().reverse().map((p) => `${x(p.time)},${y(p.min)}`);
      el("polygon", { points: top.concat(bottom).join(" "), class: "band", fill: color }, svg);
      for (const p of pts) {
        const dot = el("circle", { cx: x(p.time), cy: y(p.mean), r: 2.6, fill: color, class: "reading" }, svg);
        el("title", {}, dot).textContent = `${p.t.slice(0, 16)}: mean ${p.mean.toFixed(1)}, ${p.min}–${p.max}, ${p.count} readings`;
      }
      const mean7 = rollingMean(pts).map((p) => `${x(p.time)},${y(p.value)}`).join(" ");
      el("polyline", { points: mean7, class: "mean7", stroke: color }, svg);
    }
    for (const a of data.alerts || []) {
      if (!spec.metrics.includes(a.metric)) continue;
      const t = Math.max(start, Date.parse(a.first_seen)), cx = x(t);
      const m = el("polygon", { points: `${cx - 6},${T + 10} ${cx + 6},${T + 10} ${cx},${T}`, class: "marker" }, svg);
      el("title", {}, m).textContent = `${a.priority} alert: ${a.summary || a.rule} (${a.state})`;
    }
    const details = document.createElement("details");
    const summary = document.createElement("summary"); summary.textContent = "Data table"; details.appendChild(summary);
    const table = document.createElement("table"); table.className = "list";
    table.innerHTML = "<thead><tr><th scope='col'>Period</th><th scope='col'>Measure</th><th scope='col'>Mean</th><th scope='col'>Min</th><th scope='col'>Max</th><th scope='col'>Readings</th></tr></thead>";
    const body = document.createElement("tbody");
    for (const s of series) for (const p of s.points) {
      const tr = document.createElement("tr");
      for (const v of [p.t.slice(0, 16), s.metric.replace(/_/g, " "), p.mean.toFixed(1), p.min, p.max, p.count]) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    table.appendChild(body); details.appendChild(table); fig.appendChild(details);
    return fig;
  }

  async function loadTrends(root, days) {
    const status = document.getElementById("trend-status");
    const list = document.getElementById("chart-list");
    const bucket = days <= 7 ? "hour" : days <= 120 ? "day" : "week";
    status.textContent = "Loading trends…";
    const resp = await fetch(`/api/v1/patients/${root.dataset.patient}/trends?days=${days}&bucket=${bucket}`,
                             { credentials: "same-origin" });
    if (resp.status === 401) { window.location = "/login?next=" + encodeURIComponent(location.pathname); return; }
    if (!resp.ok) { status.textContent = "Could not load trends (" + resp.status + ")."; return; }
    const data = await resp.json();
    const start = Date.parse(data.start), end = Date.parse(data.end);
    list.replaceChildren();
    let drawn = 0;
    for (const spec of CHARTS) {
      const fig = drawChart(spec, data, start, end);
      if (fig) { list.appendChild(fig); drawn++; }
    }
    status.textContent = drawn ? `Showing the last ${days} days, ${ {hour: "hourly", day: "daily", week: "weekly"}[bucket]}.` : `No readings in the last ${days} days.`;
  }

  function setupTrends() {
    const root = document.getElementById("trends");
    if (!root) return;
    for (const b of root.querySelectorAll(".zoom button")) {
      b.addEventListener("click", () => {
        for (const other of root.querySelectorAll(".zoom button")) other.setAttribute("aria-pressed", String(other === b));
        loadTrends(root, Number(b.dataset.days));
      });
    }
    loadTrends(root, 90);
  }

  async function post(url, body) {
    const resp = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body || {}) });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.detail || "request failed (" + resp.status + ")");
    return data;
  }

  function setupQueue() {
    const context = document.getElementById("context");
    for (const row of document.querySelectorAll("tr[data-alert]")) {
      const id = row.dataset.alert;
      const show = row.querySelector(".show-context");
      if (show) show.addEventListener("click", async () => {
        for (const r of document.querySelectorAll("tr.selected")) r.classList.remove("selected");
        row.classList.add("selected");
        const resp = await fetch(`/patients/${row.dataset.patient}/context`, { credentials: "same-origin" });
        context.innerHTML = resp.ok ? await resp.text() : "<p>Could not load the patient.</p>";
      });
      const timer = row.querySelector(".timer");
      let started = null, tick = null;
      const claim = row.querySelector(".claim");
      if (claim) claim.addEventListener("click", async () => {
        try {
          await post(`/api/v1/alerts/${id}/claim`);
          row.querySelector(".state").textContent = "claimed";
          claim.disabled = true; started = Date.now();
          tick = setInterval(() => {
            const s = Math.floor((Date.now() - started) / 1000);
            timer.textContent = `reviewing ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
          }, 1000);
          if (show) show.click();
        } catch (e) { timer.textContent = e.message; }
      });
      const ack = row.querySelector(".ack");
      if (ack) ack.addEventListener("click", async () => {
        try {
          const note = row.querySelector(".note").value;
          const result = await post(`/api/v1/alerts/${id}/acknowledge`, { note });
          clearInterval(tick);
          row.querySelector(".state").textContent = "acknowledged";
          ack.disabled = true;
          const minutes = result.time_entry ? result.time_entry.minutes : null;
          timer.textContent = minutes !== null ? `${minutes} min logged` : "acknowledged";
        } catch (e) { timer.textContent = e.message; }
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => { setupTrends(); setupQueue(); });
})();
