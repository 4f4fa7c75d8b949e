// Lingua console: polls /api/state every second, follows captions over Server-Sent Events.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const COLORS = { stt_final: "#2b6cb0", mt: "#d69e2e", tts_first_audio: "#805ad5", speech_end_to_first_audio: "#e53e3e" };
const LABELS = { stt_final: "STT final", mt: "MT", tts_first_audio: "TTS first audio", speech_end_to_first_audio: "speech end → first audio" };
const HISTORY_S = 120;
const MAX_LINES = 60;
const rooms = new Map(); // id -> {data, history, columns: Map(lang -> lines), el}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function room(id) {
  if (!rooms.has(id)) rooms.set(id, { data: null, history: [], columns: new Map(), el: null });
  return rooms.get(id);
}

async function poll() {
  try {
    const response = await fetch("/api/state", { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    if (response.status === 401) throw new Error("token refused (401)");
    const state = await response.json();
    const seen = new Set();
    for (const data of state.rooms) {
      const r = room(data.id);
      r.data = data;
      r.history.push({ t: state.time, latency: data.latency });
      while (r.history.length && r.history[0].t < state.time - HISTORY_S) r.history.shift();
      seen.add(data.id);
    }
    for (const id of [...rooms.keys()]) if (!seen.has(id)) { rooms.get(id).el?.remove(); rooms.delete(id); }
    document.getElementById("updated").textContent = "updated " + new Date(state.time * 1000).toLocaleTimeString();
    render(state.stages);
  } catch (error) {
    const c = document.getElementById("connection");
    c.textContent = String(error.message || error);
    c.className = "status off";
  }
}

function caption(c) {
  const r = room(c.room);
  if (!r.columns.has(c.language)) r.columns.set(c.language, []);
  const lines = r.columns.get(c.language);
  const key = c.speaker_id + "#" + c.utterance;
  const line = lines.find((l) => l.key === key);
  if (!line) {
    lines.push({ key, speaker: c.speaker_name, text: c.text, final: c.final });
    if (lines.length > MAX_LINES) lines.shift();
  } else if (!line.final || c.language === c.source) {
    line.text = c.text; // a partial forming, or the transcript's final replacing it
    line.final = c.final;
  } else {
    line.text += " " + c.text; // the next translated piece of the same utterance
  }
  renderCaptions(r);
}

function connect() {
  const events = new EventSource("/api/events?token=" + encodeURIComponent(token));
  const status = document.getElementById("connection");
  events.onopen = () => { status.textContent = "live"; status.className = "status on"; };
  events.onerror = () => { status.textContent = "reconnecting…"; status.className = "status off"; };
  events.addEventListener("caption", (e) => caption(JSON.parse(e.data)));
  events.addEventListener("stage", () => poll());
}

function render(stages) {
  const main = document.getElementById("rooms");
  main.querySelector(".empty")?.remove();
  for (const r of rooms.values()) {
    if (!r.data) continue;
    if (!r.el) {
      r.el = el("section", { class: "room", "data-room": r.data.id },
        el("h2", {}, ""),
        el("div", { class: "top" },
          el("div", {}, el("h3", {}, "Participants"), el("ul", { class: "people" })),
          el("div", { class: "chart" }, el("h3", {}, "Latency p50 (solid) / p95 (dashed), ms"), el("canvas", { width: 720, height: 170 }),
            el("table", { class: "lat" }))),
        el("h3", {}, "Live captions"),
        el("div", { class: "captions" }));
      main.append(r.el);
    }
    renderHeader(r);
    renderPeople(r);
    renderLatency(r, stages);
    renderCaptions(r);
  }
}

function renderHeader(r) {
  const d = r.data;
  const h2 = r.el.querySelector("h2");
  h2.replaceChildren(d.display_name || d.name, el("small", {}, d.name + (d.pin ? " · PIN" : "") + (d.languages.length ? " · " + d.languages.join(", ") : "")));
  const down = d.stages.filter((s) => !s.available);
  const stages = el("span", { class: "stages" }, down.length ? "" : "stages up");
  for (const s of down) stages.append(el("span", { class: "down", title: s.message }, s.stage + " down "));
  h2.append(stages);
}

function renderPeople(r) {
  const ul = r.el.querySelector("ul.people");
  const people = r.data.participants;
  if (!people.length) { ul.replaceChildren(el("li", { class: "empty" }, "nobody here")); return; }
  ul.replaceChildren(...people.map((p) => el("li", { class: p.talking ? "talking" : "", "data-participant": p.id },
    el("span", { class: "dot" }), el("span", { class: "name" }, p.name), el("span", { class: "lang" }, p.language),
    el("span", { class: "tag state" }, p.talking ? "talking" : p.muted ? "muted" : "listening"),
    el("span", { class: "tag" }, p.transport + " · " + p.id))));
}

function renderLatency(r, stages) {
  const canvas = r.el.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = { l: 44, r: 8, t: 8, b: 18 };
  ctx.clearRect(0, 0, w, h);
  const now = r.history.length ? r.history[r.history.length - 1].t : Date.now() / 1000;
  let top = 500;
  for (const point of r.history) for (const s of stages) if (point.latency[s]) top = Math.max(top, point.latency[s].p95_ms);
  top = Math.ceil(top / 250) * 250;
  const first = r.history.length ? r.history[0].t : now;
  const span = Math.min(HISTORY_S, Math.max(30, now - first)); // the window grows to HISTORY_S
  const x = (t) => pad.l + (w - pad.l - pad.r) * (1 - (now - t) / span);
  const y = (ms) => h - pad.b - (h - pad.t - pad.b) * (ms / top);
  ctx.font = "11px sans-serif"; ctx.fillStyle = "#6b7385"; ctx.strokeStyle = "#e2e6ec"; ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const ms = (top * i) / 4;
    ctx.beginPath(); ctx.moveTo(pad.l, y(ms)); ctx.lineTo(w - pad.r, y(ms)); ctx.stroke();
    ctx.fillText(String(Math.round(ms)), 4, y(ms) + 4);
  }
  ctx.fillText("-" + Math.round(span) + " s", pad.l, h - 4); ctx.fillText("now", w - pad.r - 22, h - 4);
  for (const s of stages) {
    for (const [field, dash] of [["p50_ms", []], ["p95_ms", [4, 3]]]) {
      ctx.beginPath(); ctx.setLineDash(dash); ctx.strokeStyle = COLORS[s] || "#333"; ctx.lineWidth = 2;
      let started = false;
      for (const point of r.history) {
        const v = point.latency[s];
        if (!v) continue;
        if (started) ctx.lineTo(x(point.t), y(v[field])); else { ctx.moveTo(x(point.t), y(v[field])); started = true; }
      }
      ctx.stroke();
    }
  }
  ctx.setLineDash([]);
  const table = r.el.querySelector("table.lat");
  const rows = [el("tr", {}, el("th", {}, "stage"), el("th", {}, "n"), el("th", {}, "p50"), el("th", {}, "p95"), el("th", {}, "max"))];
  for (const s of stages) {
    const v = r.data.latency[s];
    rows.push(el("tr", { "data-stage": s },
      el("td", {}, el("span", { class: "swatch", style: "background:" + (COLORS[s] || "#333") }), LABELS[s] || s),
      el("td", {}, v ? String(v.count) : "–"), el("td", {}, v ? v.p50_ms.toFixed(0) : "–"),
      el("td", {}, v ? v.p95_ms.toFixed(0) : "–"), el("td", {}, v ? v.max_ms.toFixed(0) : "–")));
  }
  table.replaceChildren(...rows);
}

function renderCaptions(r) {
  if (!r.el) return;
  const box = r.el.querySelector(".captions");
  const languages = [];
  for (const p of r.data?.participants || []) if (!languages.includes(p.language)) languages.push(p.language);
  for (const lang of r.columns.keys()) if (!languages.includes(lang)) languages.push(lang);
  languages.sort();
  if (!languages.length) { box.replaceChildren(el("p", { class: "empty" }, "no captions yet")); return; }
  box.replaceChildren(...languages.map((lang) => {
    const lines = r.columns.get(lang) || [];
    const column = el("div", { class: "column", "data-language": lang }, el("h3", {}, lang));
    for (const l of lines) {
      column.append(el("div", { class: "line " + (l.final ? "final" : "partial") },
        el("span", { class: "who" }, l.speaker + ":"), el("span", { class: "text" }, l.text)));
    }
    return column;
  }));
  for (const column of box.children) column.scrollTop = column.scrollHeight;
}

connect();
poll();
setInterval(poll, 1000);
