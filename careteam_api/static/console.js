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

  async function send(method, url, body) {
    const resp = await fetch(url, { method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body || {}) });
    if (resp.status === 401) { window.location = "/login?next=" + encodeURIComponent(location.pathname); }
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(typeof data.detail === "string" ? data.detail : "request failed (" + resp.status + ")");
    return data;
  }
  const post = (url, body) => send("POST", url, body);

  // --- the queue: claim (row) and acknowledge (panel) in two clicks, a running review timer, the evidence
  // and the patient's context beside the queue.
  function node(tag, attrs, text, parent) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    if (text !== undefined && text !== null) n.textContent = text;
    if (parent) parent.appendChild(n);
    return n;
  }
  const words = (s) => String(s).replace(/_/g, " ");
  const when = (iso) => iso.slice(0, 16).replace("T", " ") + " UTC";
  const ACTIVE = ["open", "claimed", "acknowledged", "snoozed"];
  const SNOOZES = [["1h", "1 hour"], ["4h", "4 hours"], ["24h", "24 hours"], ["3d", "3 days"]];
  const VALUE_NAMES = { systolic_mmhg: "SBP", diastolic_mmhg: "DBP", pulse_bpm: "pulse", glucose_mg_dl: "glucose mg/dL",
                        weight_kg: "weight kg", bmi: "BMI" };

  function dl(parent, pairs) {
    const list = node("dl", { class: "kv" }, null, parent);
    for (const [k, v] of pairs) { node("dt", {}, k, list); node("dd", {}, v, list); }
    return list;
  }

  function evidenceTable(parent, evidence) {
    if (!evidence.length) { node("p", {}, "No evidence recorded.", parent); return; }
    const table = node("table", { class: "list evidence" }, null, parent);
    node("caption", { class: "sr-only" }, "Readings and facts that made the alert fire", table);
    const head = node("tr", {}, null, node("thead", {}, null, table));
    for (const h of ["Measured", "Reading", "Value"]) node("th", { scope: "col" }, h, head);
    const body = node("tbody", {}, null, table);
    for (const e of evidence) {
      const tr = node("tr", {}, null, body);
      node("td", {}, when(e.observed_at), tr);
      const shown = e.reading
        ? words(e.reading.kind) + ": " + Object.entries(e.reading.values).map(([m, v]) => `${VALUE_NAMES[m] || words(m)} ${v}`).join(", ")
        : e.key;
      node("td", {}, shown, tr);
      node("td", {}, e.value === null ? "" : String(e.value), tr);
    }
  }

  function alertSection(alert, canWork) {
    const sec = node("section", { class: "alert-detail", "aria-labelledby": "alert-title", "data-alert": String(alert.alert_id) });
    node("h2", { id: "alert-title", tabindex: "-1" }, `${alert.priority} alert: ${words(alert.rule)}`, sec);
    if (alert.explanation.summary) node("p", { class: "summary" }, alert.explanation.summary, sec);
    node("p", { class: "alert-state" }, `State: ${words(alert.state)} · opened ${when(alert.opened_at)}`, sec);
    const timer = node("p", { class: "timer", role: "timer", "aria-live": "off" }, null, sec);
    if (canWork && ACTIVE.includes(alert.state)) {
      const form = node("form", { class: "alert-actions" }, null, sec);
      node("label", { for: "alert-note" }, "Note: what you did (goes into the time log)", form);
      node("textarea", { id: "alert-note", class: "note", rows: "2", maxlength: "2000" }, null, form);
      const buttons = node("div", { class: "buttons" }, null, form);
      node("button", { type: "submit", class: "ack" }, "Acknowledge", buttons);
      node("button", { type: "button", class: "resolve secondary" }, "Resolve", buttons);
      node("button", { type: "button", class: "escalate secondary" }, "Escalate", buttons);
      const snooze = node("span", { class: "snooze-group" }, null, buttons);
      node("label", { for: "snooze-preset", class: "sr-only" }, "Snooze for", snooze);
      const select = node("select", { id: "snooze-preset" }, null, snooze);
      for (const [v, label] of SNOOZES) node("option", { value: v }, label, select);
      node("button", { type: "button", class: "snooze secondary" }, "Snooze", snooze);
    }
    node("p", { class: "result", role: "status", "aria-live": "polite" }, null, sec);
    node("h3", {}, "Why it fired", sec);
    const ex = alert.explanation;
    const pairs = [["Rule", words(ex.rule)]];
    if (ex.source) pairs.push(["Source", ex.source]);
    for (const [k, v] of Object.entries(ex.parameters)) pairs.push([words(k), String(v)]);
    const shown = (v) => typeof v === "object" ? JSON.stringify(v) : /^\d{4}-\d\d-\d\dT/.test(String(v)) ? when(String(v)) : String(v);
    for (const [k, v] of Object.entries(ex.window)) pairs.push(["window: " + words(k), shown(v)]);
    dl(sec, pairs);
    node("h3", {}, `Triggering readings (${alert.evidence.length})`, sec);
    evidenceTable(sec, alert.evidence);
    const history = node("details", {}, null, sec);
    node("summary", {}, "History", history);
    const ol = node("ol", { class: "history" }, null, history);
    for (const ev of alert.events) node("li", {}, `${when(ev.at)} ${words(ev.action)}${ev.note ? ": " + ev.note : ""}`, ol);
    return { sec, timer };
  }

  function setupQueue() {
    const context = document.getElementById("context");
    if (!context || !document.querySelector("table.queue")) return;
    const canWork = context.dataset.canWork === "true";
    let tick = null;

    function stopTimer() { if (tick) clearInterval(tick); tick = null; }
    function startTimer(timer, elapsedSeconds) {
      stopTimer();
      const base = Date.now() - elapsedSeconds * 1000;
      const show = () => {
        const s = Math.floor((Date.now() - base) / 1000);
        timer.textContent = `Reviewing ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
      };
      show(); tick = setInterval(show, 1000);
    }

    async function loadContext(row, holder) {
      if (!row.dataset.patient) { holder.replaceChildren(); return; }
      const resp = await fetch(`/patients/${row.dataset.patient}/context`, { credentials: "same-origin" });
      holder.innerHTML = resp.ok ? await resp.text() : "<p>Could not load the patient.</p>";
    }

    async function open(row, focus) {
      for (const r of document.querySelectorAll("tr.selected")) r.classList.remove("selected");
      row.classList.add("selected");
      stopTimer();
      context.replaceChildren(node("p", { role: "status" }, "Loading the alert…"));
      const resp = await fetch(`/api/v1/alerts/${row.dataset.alert}`, { credentials: "same-origin" });
      if (resp.status === 401) { window.location = "/login?next=/queue"; return; }
      if (!resp.ok) { context.replaceChildren(node("p", { class: "error" }, `Could not load the alert (${resp.status}).`)); return; }
      const alert = await resp.json();
      const { sec, timer } = alertSection(alert, canWork);
      const holder = node("div", { class: "patient-context" });
      context.replaceChildren(sec, holder);
      if (alert.review) startTimer(timer, alert.review.elapsed_seconds);
      wireActions(row, sec, timer, holder);
      await loadContext(row, holder);
      const target = focus === "note" ? sec.querySelector("#alert-note") : null;
      (target || sec.querySelector("#alert-title")).focus();
    }

    function setRowState(row, state) {
      row.querySelector(".state").textContent = state;
      const claim = row.querySelector(".claim");
      if (claim) claim.disabled = state !== "open";
    }

    function wireActions(row, sec, timer, holder) {
      const form = sec.querySelector("form.alert-actions");
      if (!form) return;
      const result = sec.querySelector(".result");
      const note = sec.querySelector("#alert-note");
      const id = row.dataset.alert;
      const buttons = () => form.querySelectorAll("button, select, textarea");
      async function act(action, body, done) {
        for (const b of buttons()) b.disabled = true;
        try {
          const data = await post(`/api/v1/alerts/${id}/${action}`, body);
          done(data);
        } catch (e) {
          result.textContent = e.message; result.classList.add("error");
          for (const b of buttons()) b.disabled = false;
        }
      }
      function credited(data, verb) {
        stopTimer();
        const entry = data.time_entry;
        result.classList.remove("error");
        result.textContent = entry
          ? `${verb}. ${entry.minutes} min credited to ${entry.program.toUpperCase()} (time entry ${entry.entry_id}).`
          : `${verb}. Under 30 seconds of review: no time credited.`;
        timer.textContent = entry ? `${entry.minutes} min logged` : "";
        timer.classList.add("credited");
        form.hidden = true;
        setRowState(row, data.alert.state);
        sec.querySelector(".alert-state").textContent = `State: ${words(data.alert.state)}`;
        loadContext(row, holder);  // this month's minutes now include the entry
        result.setAttribute("tabindex", "-1"); result.focus();
      }
      function needNote() {
        if (note.value.trim()) return false;
        result.textContent = "Write a note saying what you did first."; result.classList.add("error");
        note.focus();
        return true;
      }
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        if (!needNote()) act("acknowledge", { note: note.value }, (d) => credited(d, "Acknowledged"));
      });
      form.querySelector(".resolve").addEventListener("click", () => {
        if (!needNote()) act("resolve", { note: note.value }, (d) => credited(d, "Resolved"));
      });
      form.querySelector(".escalate").addEventListener("click", () => act("escalate", { note: note.value || null }, (d) => {
        result.classList.remove("error");
        result.textContent = `Escalated to level ${d.alert.escalation_level}.`;
        for (const b of buttons()) b.disabled = false;
      }));
      form.querySelector(".snooze").addEventListener("click", () => {
        const preset = sec.querySelector("#snooze-preset").value;
        act("snooze", { preset, note: note.value || null }, (d) => {
          stopTimer(); timer.textContent = "";
          result.classList.remove("error");
          result.textContent = `Snoozed until ${when(d.alert.snoozed_until)}.`;
          form.hidden = true;
          setRowState(row, d.alert.state);
        });
      });
    }

    for (const row of document.querySelectorAll("tr[data-alert]")) {
      const show = row.querySelector(".show-context");
      if (show) show.addEventListener("click", () => open(row, "title"));
      const claim = row.querySelector(".claim");
      if (claim) claim.addEventListener("click", async () => {
        claim.disabled = true;
        try {
          const data = await post(`/api/v1/alerts/${row.dataset.alert}/claim`);
          setRowState(row, data.alert.state + " (you)");
          await open(row, "note");
        } catch (e) {
          context.replaceChildren(node("p", { class: "error", role: "alert" }, e.message));
          claim.disabled = false;
        }
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => { setupTrends(); setupQueue(); });
})();
