// devenv ui: a plain script (no build step, no library). The page arrives with the stack's state
// in it (#initial); live changes come over one EventSource (/api/events), logs over another
// (/api/logs); actions are fetch POSTs with a JSON body (the token travels as a same-site cookie).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "style") Object.assign(node.style, v);  // CSSOM: allowed by the page's CSP
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const state = {
  services: null, revealed: null, tab: "services", logSource: null, logLines: [],
  openEnv: new Set(),  // services whose env names are unfolded (kept across live updates)
};

// -- server calls --------------------------------------------------------------------------------

async function getJSON(path) {
  const r = await fetch(path, { headers: { accept: "application/json" } });
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

async function post(path, body = {}) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
  return data.result;
}

function say(text, level = "") {
  const a = $("#action");
  a.textContent = text;
  a.dataset.level = level;
}

// ``label`` is the server's own name for the action (web.py's _label): the event stream announces
// the same action to every open page, in the same words.
async function act(label, path, body, { confirmText } = {}) {
  if (confirmText && !window.confirm(confirmText)) return null;
  say(`${label}…`, "wait");
  try {
    const result = await post(path, body);
    say(`${label}: done`, "ok");
    return result;
  } catch (e) {
    say(`${label}: ${e.message}`, "bad");
    return null;
  }
}

// -- services ------------------------------------------------------------------------------------

function fmtDuration(s) {
  if (s === null || s === undefined || s < 0) return "–";
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

function renderServices(snap) {
  state.services = snap;
  const tbody = $("#services tbody");
  if (!snap) return;
  const rows = snap.services.map((s) => {
    const health = s.why ? s.why : s.level === "ok" ? "answers" : s.health || s.state;
    const [imageName, imageTag] = (s.image || "–").split(/:(?=[^:/]*$)/);
    const env = Object.entries(s.env || {});
    const shown = state.revealed ? state.revealed.env : null;
    const envList = env.length
      ? el("details", { class: "env", open: state.openEnv.has(s.name),
          ontoggle: (ev) => state.openEnv[ev.target.open ? "add" : "delete"](s.name) },
          el("summary", { text: `${env.length} env name${env.length === 1 ? "" : "s"}` }),
          el("dl", {}, env.map(([k, v]) => [
            el("dt", { text: k }),
            el("dd", {}, el("code", { text: shown && k in shown ? shown[k] : v })),
          ])))
      : null;
    return el("tr", { "data-service": s.name, "data-level": s.level, "data-state": s.state },
      el("td", {}, el("strong", { text: s.name }), el("div", { class: "role", text: s.role }),
        el("div", { class: "image", title: s.image }, el("code", { text: imageName }),
          imageTag ? el("code", { class: "tag", text: `:${imageTag}` }) : null)),
      el("td", {}, el("span", { class: "pill state", "data-level": s.level,
        text: s.health ? `${s.state} · ${s.health}` : s.state })),
      el("td", { class: "health" },
        el("div", { text: health }),
        s.probe ? el("div", { class: "probe", title: `the container's healthcheck at ${s.probe_at}`,
          text: `last check: ${s.probe}` }) : null),
      el("td", { class: "address" }, el("code", { text: s.url }), envList),
      el("td", { class: "uptime", "data-started": s.started_at ?? "" },
        s.started_at ? fmtDuration(Date.now() / 1000 - s.started_at) : "–"),
      el("td", { text: s.startup_s === null ? "–" : `${s.startup_s.toFixed(1)} s` }),
      el("td", {}, el("button", { type: "button", class: "restart", "data-service": s.name,
        onclick: () => act(`restart ${s.name}`, "/api/actions/restart", { service: s.name }),
        text: "restart" })),
    );
  });
  tbody.replaceChildren(...rows);
  $("#api-url").textContent = snap.api_url || "";
  $("#anon-key").textContent = snap.anon_key || "–";
  const bad = snap.services.filter((s) => s.level === "bad").length;
  const waiting = snap.services.filter((s) => s.level === "wait").length;
  const overall = $("#overall");
  overall.dataset.level = bad ? "bad" : waiting ? "wait" : "ok";
  overall.textContent = bad ? `${bad} not healthy` : waiting ? `${waiting} starting`
    : `${snap.services.length} healthy`;
  document.title = `${bad ? "✗" : "✓"} devenv · ${snap.project}`;
  $("#services-error").hidden = true;
  renderLogPicker();
}

function tickUptimes() {
  const now = Date.now() / 1000;
  for (const td of $$("#services td.uptime")) {
    const t = parseFloat(td.dataset.started);
    if (!Number.isNaN(t)) td.textContent = fmtDuration(now - t);
  }
}

async function reveal() {
  const btn = $("#btn-reveal");
  if (state.revealed) {
    state.revealed = null;
    btn.textContent = "show secrets";
    renderServices(state.services);
    return;
  }
  const result = await act("show secrets", "/api/reveal", {});
  if (!result) return;
  state.revealed = result;
  btn.textContent = "hide secrets";
  renderServices(state.services);
  for (const s of state.services.services) state.openEnv.add(s.name);
  renderServices(state.services);
}

// -- waterfall -----------------------------------------------------------------------------------

function renderTrace(trace) {
  const box = $("#waterfall");
  if (!trace || !trace.spans || !trace.spans.length) {
    box.replaceChildren(el("p", { class: "empty", text: "no trace yet: run `devenv up`" }));
    return;
  }
  const total = trace.total_s || Math.max(...trace.spans.map((s) => s.end_s)) || 1;
  const lanes = trace.lanes || [...new Set(trace.spans.map((s) => s.lane))];
  const began = trace.began ? new Date(trace.began * 1000).toLocaleString() : "";
  const axis = el("div", { class: "wf-axis" }, [0, 0.25, 0.5, 0.75, 1].map((f) =>
    el("span", { style: { left: `${f * 100}%` }, text: `${(f * total).toFixed(2)} s` })));
  const rows = lanes.map((lane) => {
    const spans = trace.spans.filter((s) => s.lane === lane);
    return el("div", { class: "wf-row", "data-lane": lane },
      el("div", { class: "wf-lane", text: lane }),
      el("div", { class: "wf-track" }, spans.map((s) => el("div", {
        class: "wf-bar", "data-phase": s.phase.split(" ")[0],
        style: {
          left: `${(s.start_s / total) * 100}%`,
          width: `${Math.max(0.4, ((s.end_s - s.start_s) / total) * 100)}%`,
        },
        title: `${lane} ${s.phase}: ${(s.end_s - s.start_s).toFixed(3)} s (from ${s.start_s.toFixed(3)} s)`,
      }, el("span", { text: s.phase })))));
  });
  const phases = [...new Set(trace.spans.map((s) => s.phase.split(" ")[0]))];
  const legend = el("div", { class: "wf-legend" }, phases.map((p) =>
    el("span", {}, el("i", { class: "wf-bar", "data-phase": p }), p)));
  box.replaceChildren(
    el("p", { class: "hint", text: `up at ${began}: ${total.toFixed(2)} s in all` }),
    el("div", { class: "wf" }, el("div", { class: "wf-row wf-head" }, el("div", { class: "wf-lane" }),
      axis), rows),
    legend);
}

// -- logs ----------------------------------------------------------------------------------------

function renderLogPicker() {
  const box = $("#log-services");
  if (!state.services || box.childElementCount) return;
  box.replaceChildren(...state.services.services.map((s) =>
    el("label", { class: "chip" }, el("input", { type: "checkbox", value: s.name,
      onchange: followLogs }), s.name)));
}

const MAX_LINES = 5000;

function followLogs() {
  if (state.logSource) state.logSource.close();
  state.logSource = null;
  state.logLines = [];
  $("#log-lines").replaceChildren();
  const chosen = $$("#log-services input:checked").map((i) => i.value);
  if (!chosen.length) return;
  const qs = chosen.map((s) => `service=${encodeURIComponent(s)}`).join("&");
  const src = new EventSource(`/api/logs?${qs}&tail=200`);
  src.addEventListener("lines", (ev) => addLines(JSON.parse(ev.data)));
  state.logSource = src;
}

function lineNode(l, query) {
  const text = l.m;
  const node = el("div", { class: "line", "data-service": l.s },
    el("span", { class: "t", text: l.t ? l.t.slice(11, 23) : "" }),
    el("span", { class: "s", text: l.s }));
  if (query) {
    const i = text.toLowerCase().indexOf(query);
    node.append(text.slice(0, i), el("mark", { text: text.slice(i, i + query.length) }),
      text.slice(i + query.length));
  } else node.append(text);
  return node;
}

function addLines(rows) {
  state.logLines.push(...rows);
  const extra = state.logLines.length - MAX_LINES;
  if (extra > 0) state.logLines.splice(0, extra);
  const query = $("#log-search").value.trim().toLowerCase();
  const box = $("#log-lines");
  const nodes = rows.filter((l) => !query || l.m.toLowerCase().includes(query))
    .map((l) => lineNode(l, query));
  box.append(...nodes);
  while (box.childElementCount > MAX_LINES) box.firstElementChild.remove();
  if ($("#log-follow").checked) box.scrollTop = box.scrollHeight;
}

function filterLogs() {
  const query = $("#log-search").value.trim().toLowerCase();
  const box = $("#log-lines");
  box.replaceChildren(...state.logLines.filter((l) => !query || l.m.toLowerCase().includes(query))
    .map((l) => lineNode(l, query)));
  if ($("#log-follow").checked) box.scrollTop = box.scrollHeight;
}

// -- mail ----------------------------------------------------------------------------------------

function renderMail(data) {
  const err = $("#mail-error");
  if (data.error) { err.textContent = data.error; err.hidden = false; return; }
  err.hidden = true;
  const list = data.messages || [];
  $("#mail-count").textContent = list.length ? String(list.length) : "";
  $("#mail-list").replaceChildren(...(list.length ? list.map((m) => el("li", { class: "mail", "data-id": m.id },
    el("div", { class: "head" }, el("strong", { text: m.subject || "(no subject)" }),
      el("span", { class: "hint", text: ` to ${m.to.join(", ")} · ${new Date(m.created).toLocaleString()}` })),
    m.auth_link ? el("div", {}, el("span", { class: "label", text: "auth link " }),
      el("a", { class: "auth-link", href: m.auth_link, target: "_blank", rel: "noreferrer noopener",
        text: m.auth_link })) : null,
    (m.links || []).filter((u) => u !== m.auth_link).length
      ? el("details", {}, el("summary", { text: "other links" }), el("ul", {},
          m.links.filter((u) => u !== m.auth_link).map((u) => el("li", {}, el("a", {
            href: u, target: "_blank", rel: "noreferrer noopener", text: u })))))
      : null,
  )) : [el("li", { class: "empty", text: "no mail yet" })]));
}

// -- the Fireworks mock --------------------------------------------------------------------------

function renderJournal(data) {
  const err = $("#journal-error");
  if (data.error) { err.textContent = data.error; err.hidden = false; return; }
  err.hidden = true;
  const entries = data.entries || [];
  $("#journal-count").textContent = data.total ? String(data.total) : "";
  $("#journal tbody").replaceChildren(...entries.map((e) => {
    const level = e.status >= 400 || e.error ? "bad" : e.status === 0 ? "wait" : "ok";
    return el("tr", { "data-seq": e.seq, "data-level": level },
      el("td", { text: e.seq }),
      el("td", { text: new Date(e.time * 1000).toLocaleTimeString() }),
      el("td", {}, el("code", { text: `${e.method} ${e.path}` }),
        e.body !== null && e.body !== undefined ? el("details", {}, el("summary", { text: "body" }),
          el("pre", { text: JSON.stringify(e.body, null, 2) })) : null),
      el("td", { text: e.model || "" }),
      el("td", {}, el("span", { class: "pill", "data-level": level,
        text: e.status ? String(e.status) : "…" }), e.error ? el("div", { class: "hint", text: e.error }) : null),
      el("td", { text: `${Math.round(e.duration_ms)} ms` }),
      el("td", { text: e.stub || (e.unmatched ? "(generated)" : "") }),
      el("td", { text: e.fault || "" }));
  }));
}

async function loadFaults() {
  try {
    const data = await getJSON("/api/faults");
    $("#fault-list").replaceChildren(...(data.rules.length ? data.rules.map((r) => el("li", { "data-rule": r.id },
      el("code", { text: r.plan }), r.path ? ` on ${r.path}` : " on every path",
      r.repeat ? " (repeats)" : ` (used ${r.used})`, " ",
      el("button", { type: "button", onclick: async () => {
        await act(`remove fault ${r.id}`, "/api/faults/remove", { id: r.id });
        loadFaults();
      }, text: "remove" }))) : [el("li", { class: "empty", text: "no faults: every request is answered normally" })]));
  } catch (e) {
    $("#fault-list").replaceChildren(el("li", { class: "error", text: e.message }));
  }
}

// -- data ----------------------------------------------------------------------------------------

async function loadData() {
  const err = $("#data-error");
  try {
    const d = await getJSON("/api/data");
    err.hidden = true;
    const mig = d.migrations;
    $("#mig-counts").textContent = mig.tool ? `run by ${mig.tool}` : Object.entries(mig.counts)
      .filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(", ") || "none";
    $("#migrations tbody").replaceChildren(...(mig.migrations.length ? [] : [el("tr", {},
      el("td", { colspan: 3, class: "empty", text: mig.tool ? "the project's own tool runs them" : "no migrations" }))]),
      ...mig.migrations.map((m) => el("tr", { "data-state": m.state },
      el("td", {}, el("code", { text: m.name })),
      el("td", {}, el("span", { class: "pill", "data-level": m.state === "applied" ? "ok" : m.state === "pending" ? "wait" : "bad", text: m.state })),
      el("td", { text: m.applied_at ? new Date(m.applied_at).toLocaleString() : "" }))));
    $("#seeds tbody").replaceChildren(...(d.seeds.length ? d.seeds.map((s) => el("tr", { "data-set": s.name },
      el("td", {}, el("code", { text: s.name }), s.default ? " (default)" : ""),
      el("td", {}, el("span", { class: "pill", "data-level": s.state === "loaded" ? "ok" : s.state === "changed" ? "bad" : "wait", text: s.state })),
      el("td", { text: s.rows }), el("td", { text: s.users }),
      el("td", { text: s.loaded_at ? new Date(s.loaded_at).toLocaleString() : "" }))) : [el("tr", {}, el("td", { colspan: 5, class: "empty", text: "no seed sets" }))]));
    $("#snapshots tbody").replaceChildren(...(d.snapshots.length ? d.snapshots.map((s) => el("tr", { "data-snapshot": s.name },
      el("td", {}, el("code", { text: s.name })),
      el("td", { text: s.created_at }),
      el("td", { text: `${(s.size_bytes / 1e6).toFixed(1)} MB` }),
      el("td", {},
        el("button", { type: "button", class: "restore", onclick: async () => {
          await act(`snapshot restore ${s.name}`, "/api/snapshots/restore", { name: s.name },
            { confirmText: `Replace the database with snapshot ${s.name}? Other sessions are disconnected.` });
          loadData();
        }, text: "restore" }), " ",
        el("button", { type: "button", class: "danger", onclick: async () => {
          await act(`snapshot delete ${s.name}`, "/api/snapshots/delete", { name: s.name },
            { confirmText: `Delete snapshot ${s.name}?` });
          loadData();
        }, text: "delete" })))) : [el("tr", {}, el("td", { colspan: 4, class: "empty", text: "no snapshots" }))]));
  } catch (e) {
    err.textContent = e.message;
    err.hidden = false;
  }
}

// -- doctor --------------------------------------------------------------------------------------

async function runDoctor() {
  $("#doctor-summary").textContent = "running…";
  try {
    const d = await getJSON("/api/doctor");
    const sum = d.summary || {};
    $("#doctor-summary").textContent = ["ok", "warn", "fail", "skip"].filter((k) => sum[k])
      .map((k) => `${sum[k]} ${k}`).join(", ") + ` in ${sum.seconds} s`;
    const order = { fail: 0, warn: 1, ok: 2, skip: 3 };
    const findings = d.findings.slice().sort((a, b) => order[a.status] - order[b.status]);
    $("#doctor").replaceChildren(...findings.map((f) => el("li", { "data-status": f.status, "data-id": f.id },
      el("span", { class: "pill", "data-level": f.status === "ok" ? "ok" : f.status === "fail" ? "bad" : f.status === "warn" ? "wait" : "skip", text: f.status }),
      " ", el("code", { text: f.id }), " ", f.summary,
      f.detail ? el("div", { class: "hint", text: f.detail }) : null,
      f.fix ? el("div", {}, el("span", { class: "label", text: "fix " }), el("code", { text: f.fix })) : null)));
  } catch (e) {
    $("#doctor-summary").textContent = e.message;
  }
}

// -- tabs and live updates -----------------------------------------------------------------------

function showTab(name) {
  state.tab = name;
  for (const b of $$("#tabs button")) b.classList.toggle("on", b.dataset.tab === name);
  for (const s of $$("main .tab")) s.classList.toggle("on", s.id === `tab-${name}`);
  if (name === "data") loadData();
  if (name === "fireworks") loadFaults();
  if (name === "doctor" && !$("#doctor").childElementCount) runDoctor();
  if (name === "logs" && !$$("#log-services input:checked").length) {
    for (const i of $$("#log-services input")) i.checked = true;
    followLogs();
  }
}

function connect() {
  const live = $("#live");
  const src = new EventSource("/api/events");
  src.onopen = () => { live.dataset.state = "live"; live.textContent = "live"; };
  src.onerror = () => { live.dataset.state = "lost"; live.textContent = "reconnecting"; };
  src.addEventListener("services", (ev) => renderServices(JSON.parse(ev.data)));
  src.addEventListener("problem", (ev) => {
    const p = JSON.parse(ev.data);
    const box = $("#services-error");
    box.textContent = p.message;
    box.hidden = false;
  });
  src.addEventListener("trace", (ev) => renderTrace(JSON.parse(ev.data).trace));
  src.addEventListener("mail", (ev) => renderMail(JSON.parse(ev.data)));
  src.addEventListener("journal", (ev) => renderJournal(JSON.parse(ev.data)));
  src.addEventListener("action", (ev) => {
    const a = JSON.parse(ev.data);
    if (a.state === "running") say(`${a.what}…`, "wait");
    else if (a.state === "failed") say(`${a.what}: ${a.error}`, "bad");
    else say(`${a.what}: done`, "ok");
    if (a.state !== "running" && state.tab === "data") loadData();
  });
}

function init() {
  const initial = JSON.parse($("#initial").textContent);
  if (initial.services) renderServices(initial.services);
  if (initial.error) {
    $("#services-error").textContent = initial.error;
    $("#services-error").hidden = false;
  }
  for (const b of $$("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("#btn-reveal").addEventListener("click", reveal);
  $("#btn-up").addEventListener("click", () => act("up", "/api/actions/up", {}));
  $("#btn-down").addEventListener("click", () => act("down", "/api/actions/down", {},
    { confirmText: "Stop the stack? Data is kept." }));
  $("#log-search").addEventListener("input", filterLogs);
  $("#log-clear").addEventListener("click", () => { state.logLines = []; $("#log-lines").replaceChildren(); });
  $("#fault-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const ok = await act("add fault", "/api/faults/add", {
      plan: $("#fault-plan").value, path: $("#fault-path").value || null,
      repeat: $("#fault-repeat").checked,
    });
    if (ok) $("#fault-plan").value = "";
    loadFaults();
  });
  $("#fault-clear").addEventListener("click", async () => {
    await act("clear faults", "/api/faults/clear", {});
    loadFaults();
  });
  $("#snap-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = $("#snap-name").value.trim();
    if (await act(`snapshot save ${name}`, "/api/snapshots/save", { name })) $("#snap-name").value = "";
    loadData();
  });
  $("#data-refresh").addEventListener("click", loadData);
  $("#db-reset").addEventListener("click", async () => {
    await act("db reset", "/api/db/reset", { seed: true },
      { confirmText: "Empty the database, re-apply migrations and load the default seed set?" });
    loadData();
  });
  $("#doctor-run").addEventListener("click", runDoctor);
  renderTrace(null);
  connect();
  setInterval(tickUptimes, 1000);
}

document.addEventListener("DOMContentLoaded", init);
