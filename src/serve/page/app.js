// bulkcast's page: it shows what the server says and sends what the person does. Every rule
// (what a row needs, what was sent, what a result means) is the server's.
"use strict";

const $ = (id) => document.getElementById(id);
let sheet = null; // the sheet's view, as the server last checked it
let following = null; // the EventSource of the run shown
let setupInfo = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

async function call(method, url, body) {
  const opts = { method, headers: {} };
  if (body instanceof File) {
    opts.body = body;
  } else if (body !== undefined) {
    opts.body = JSON.stringify(body);
    opts.headers["Content-Type"] = "application/json";
  }
  const r = await fetch(url, opts);
  let data = null;
  try { data = await r.json(); } catch (_) { data = { error: r.status + " " + r.statusText }; }
  if (!r.ok) throw new Error((data && data.error) || r.statusText);
  return data;
}

function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

function say(id, text, bad) {
  const p = $(id);
  p.textContent = text || "";
  p.classList.toggle("bad-text", !!bad);
}

// 1. The spreadsheet.
async function upload(file) {
  const limit = setupInfo ? setupInfo.max_upload_mb : 0;
  if (limit && file.size > limit * 1024 * 1024) {
    // Said before sending: the server would refuse it, and might close the upload first.
    say("file-status", `${file.name} is larger than the ${limit} MB the page accepts: split it, or start the page with a larger --max-upload`, true);
    return;
  }
  say("file-status", "Reading " + file.name + " …");
  try {
    const view = await call("POST", "/api/sheets?name=" + encodeURIComponent(file.name), file);
    show(view);
    say("file-status", file.name + " read.");
  } catch (e) {
    say("file-status", e.message, true);
  }
}

$("file").addEventListener("change", (ev) => {
  if (ev.target.files.length) upload(ev.target.files[0]);
});
const drop = $("drop");
drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  drop.classList.remove("over");
  if (ev.dataTransfer.files.length) upload(ev.dataTransfer.files[0]);
});

$("sheet").addEventListener("change", async (ev) => {
  try { show(await call("POST", `/api/sheets/${sheet.id}/sheet`, { sheet: ev.target.value })); }
  catch (e) { say("file-status", e.message, true); }
});

function show(view) {
  sheet = view;
  const choice = $("sheet-choice");
  choice.hidden = view.sheets.length < 2;
  const select = $("sheet");
  select.replaceChildren(...view.sheets.map((s) => el("option", { value: s, text: s })));
  if (view.sheet) select.value = view.sheet;
  select.disabled = view.fixes > 0;
  showColumns(view);
  showRows(view);
  $("send").disabled = false;
}

// 2. Columns.
function showColumns(view) {
  $("step-columns").hidden = false;
  const missing = view.fields.filter((f) => !f.column).length;
  $("columns-summary").textContent = missing
    ? `${plural(missing, "field has", "fields have")} no column: choose ${missing === 1 ? "it" : "them"} here`
    : `All ${view.fields.length} fields are in your columns (show or change them)`;
  $("columns-summary").classList.toggle("bad-text", missing > 0);
  if (missing) $("columns-details").open = true;
  const grid = $("columns");
  grid.replaceChildren();
  for (const f of view.fields) {
    const id = "map-" + f.field;
    const select = el("select", { id });
    select.append(el("option", { value: "", text: "(no column)" }));
    for (const h of view.headers) select.append(el("option", { value: h, text: h }));
    select.value = f.column || "";
    const item = el("div", { class: "field" }, el("label", { for: id, text: f.field }), select);
    if (!f.column) {
      select.classList.add("bad");
      const hint = f.proposed ? `likely “${f.proposed}”` : "no column looks like it";
      item.append(el("span", { class: "bad-text small", text: "missing: " + hint }));
    }
    select.addEventListener("change", async () => {
      try { show(await call("POST", `/api/sheets/${view.id}/columns`, { field: f.field, column: select.value || null })); }
      catch (e) { say("file-status", e.message, true); }
    });
    grid.append(item);
  }
}

// 3. Rows.
function showRows(view) {
  $("step-rows").hidden = false;
  let text = `${plural(view.rows, "row", "rows")}: ${view.valid} ready to send, ${view.invalid} with problems`;
  if (view.blank) text += ` (${plural(view.blank, "blank row", "blank rows")} skipped)`;
  if (view.fixes) text += ` — ${plural(view.fixes, "cell fixed", "cells fixed")} on this page`;
  say("rows-summary", text + ".");
  const problem = $("sheet-problem");
  problem.hidden = !view.problem;
  problem.textContent = view.problem || "";
  // The name first, then the columns with problems, then the rest: a bad cell is in sight.
  const nameField = view.fields.find((f) => f.field === "name");
  const nameCol = nameField && nameField.column ? view.headers.indexOf(nameField.column) : -1;
  const faulty = new Set(view.shown.flatMap((r) => r.problems.map((p) => p.column)).filter((c) => c !== null));
  const order = view.headers.map((_, i) => i)
    .sort((a, b) => rank(a) - rank(b) || a - b);
  function rank(i) { return i === nameCol ? 0 : faulty.has(i) ? 1 : 2; }
  const head = $("rows").tHead;
  head.replaceChildren(el("tr", {},
    el("th", { scope: "col", text: "Line" }),
    el("th", { scope: "col", text: "Problems" }),
    ...order.map((i) => el("th", { scope: "col", text: view.headers[i] }))));
  const body = $("rows").tBodies[0];
  body.replaceChildren();
  for (const row of view.shown) body.append(rowView(view, row, order));
  const hidden = view.rows - view.shown.length;
  $("rows-more").textContent = hidden > 0
    ? `Showing ${view.shown.length} of ${view.rows} rows: the first ones and every row with a problem (up to 500).`
    : "";
}

function rowView(view, row, order) {
  const bad = new Set(row.problems.map((p) => p.column).filter((c) => c !== null));
  const tr = el("tr", { class: row.ok ? "ok" : "has-problem", "data-line": row.line });
  tr.append(el("th", { scope: "row", text: String(row.line) }));
  const problems = el("td", { class: "problems" });
  if (row.ok) problems.append(el("span", { class: "ok-text", text: "ready" }));
  for (const p of row.problems) problems.append(el("div", { class: "bad-text", text: p.message }));
  tr.append(problems);
  order.forEach((col) => {
    const value = row.cells[col] === undefined ? "" : row.cells[col];
    const td = el("td", {});
    if (bad.has(col)) td.classList.add("bad");
    if (row.ok) {
      td.textContent = value;
    } else {
      const input = el("input", { value, "aria-label": `Line ${row.line}, ${view.headers[col] || "column " + (col + 1)}`, size: Math.max(6, Math.min(24, value.length + 2)) });
      if (bad.has(col)) input.setAttribute("aria-invalid", "true");
      const commit = async () => {
        if (input.value === value) return;
        input.disabled = true;
        try {
          show(await call("POST", `/api/sheets/${view.id}/cells`, { line: row.line, column: col, value: input.value }));
        } catch (e) {
          input.disabled = false;
          say("rows-summary", e.message, true);
        }
      };
      input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") commit(); });
      input.addEventListener("change", commit);
      td.append(input);
    }
    tr.append(td);
  });
  return tr;
}

// 4. Send.
function target() { return document.querySelector("input[name=target]:checked").value; }

function showTarget() {
  const t = target();
  $("creds-token").hidden = t !== "token";
  $("creds-login").hidden = t !== "login";
  $("creds-profile").hidden = t !== "profile";
  $("base-url-row").hidden = !(t === "token" || t === "login");
  $("rehearsal-hint").hidden = t !== "rehearsal";
  $("creds-hint").hidden = t === "rehearsal";
  $("existing-choice").hidden = t === "rehearsal";
}
for (const r of document.querySelectorAll("input[name=target]")) r.addEventListener("change", showTarget);

function sendTo() {
  const t = target();
  const to = { target: t, rate: $("rate").value };
  if (t !== "rehearsal") to.existing = document.querySelector("input[name=existing]:checked").value;
  if (t === "token") { to.token = $("token").value; to.base_url = $("base-url").value; }
  if (t === "login") { to.email = $("email").value; to.password = $("password").value; to.base_url = $("base-url").value; }
  if (t === "profile") to.profile = $("profile").value;
  return to;
}

$("send").addEventListener("click", async () => {
  if (!sheet) return;
  say("send-status", "");
  $("send").disabled = true;
  try {
    const r = await call("POST", "/api/runs", Object.assign({ sheet: sheet.id }, sendTo()));
    follow(r.run);
  } catch (e) {
    say("send-status", e.message, true);
  }
  $("send").disabled = false;
});

// 5. Progress.
function follow(id) {
  if (following) following.close();
  const section = $("step-progress");
  section.hidden = false;
  $("summary").hidden = true;
  $("stop").hidden = false;
  $("stop").onclick = () => call("POST", `/api/runs/${id}/stop`).catch((e) => say("phase", e.message, true));
  section.scrollIntoView({ behavior: "smooth", block: "start" });
  following = new EventSource(`/api/runs/${id}/events`);
  following.onmessage = (m) => progress(id, JSON.parse(m.data));
  following.onerror = () => {
    // The server went away (stopped, or the machine slept): the run's files say what it did.
    if (following && following.readyState === EventSource.CLOSED) say("phase", "Lost touch with bulkcast's server: reload the page once it runs again.", true);
  };
}

let countdown = null;
function progress(id, s) {
  $("c-created").textContent = s.created;
  $("c-existing").textContent = s.existing;
  $("existing-count").hidden = !s.existing;
  $("c-failed").textContent = s.failed;
  $("c-left").textContent = s.left;
  $("c-rate").textContent = s.rate ? s.rate.toFixed(2) + "/s" : "–";
  $("c-time").textContent = s.time_left != null ? duration(s.time_left) : "–";
  $("bar").max = Math.max(1, s.rows);
  $("bar").value = s.rows - s.left;
  const phases = { checking: "Checking the sheet and the account …", sending: `Sending ${plural(s.to_send, "row", "rows")} …`, "looking up": "Looking up rows with no answer …", ended: "Finished." };
  say("phase", phases[s.phase] || s.phase);
  clearInterval(countdown);
  if (s.waiting) {
    const [words, secs] = s.waiting;
    const until = Date.now() + secs * 1000;
    const tick = () => { $("waiting").textContent = words.replace("{}", Math.max(0, Math.ceil((until - Date.now()) / 1000)) + " s"); };
    tick();
    countdown = setInterval(tick, 1000);
  } else {
    $("waiting").textContent = "";
  }
  $("notes").replaceChildren(...s.notes.map((n) => el("li", { class: n.warning ? "warn" : "", text: n.text })));
  if (!s.ended) return;
  following.close();
  following = null;
  $("stop").hidden = true;
  $("summary").hidden = false;
  $("summary-text").textContent = s.summary || "";
  $("fatal").hidden = !s.fatal;
  let fatal = s.fatal || "";
  // The engine's words name the terminal's flags; on the page, the same choices are above.
  if (fatal.includes("--skip-existing")) fatal += " — on this page: choose what to do with those names under Send, then press Send again.";
  else if (fatal.includes("token was rejected") || fatal.includes("login")) fatal += " — on this page: check what you typed under Send, then press Send again.";
  $("fatal").textContent = fatal;
  const results = $("dl-results");
  results.hidden = !s.summary;
  results.href = `/api/runs/${id}/results`;
  const failed = $("dl-failed");
  failed.hidden = !s.failed_rows;
  failed.href = `/api/runs/${id}/failed`;
  $("after-hint").textContent = s.not_created > 0 && !s.fatal
    ? `${plural(s.not_created, "row did not succeed", "rows did not succeed")}: the failed rows say why for each. Fix them in your sheet and send it again, or continue this run below once the problem is gone.`
    : "";
  history();
}

function duration(secs) {
  if (secs < 60) return secs + " s";
  const m = Math.floor(secs / 60);
  if (m < 60) return m + " min " + (secs % 60) + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}

// Earlier runs.
async function history() {
  let runs;
  try { runs = await call("GET", "/api/history"); }
  catch (e) { say("history-status", e.message, true); return; }
  const body = $("history").tBodies[0];
  body.replaceChildren();
  for (const r of runs) {
    const actions = el("td", {});
    if (r.has_results) actions.append(el("a", { href: `/api/history/${r.id}/results`, download: "", text: "results" }));
    if (r.can_continue) {
      const b = el("button", { type: "button", text: "Continue" });
      b.addEventListener("click", async () => {
        try {
          const started = await call("POST", `/api/history/${r.id}/continue`, sendTo());
          follow(started.run);
        } catch (e) { say("history-status", e.message, true); }
      });
      actions.append(" ", b);
    }
    const name = r.sheet.split(/[\\/]/).pop();
    body.append(el("tr", {}, el("td", { text: r.started }), el("td", { text: name, title: r.sheet }), el("td", { text: r.account }), el("td", { text: r.state }), actions));
  }
  say("history-status", runs.length ? "" : "No runs on this machine yet.");
}

async function start() {
  showTarget();
  try {
    setupInfo = await call("GET", "/api/setup");
    $("rehearsal-rate").textContent = setupInfo.rehearsal_rate;
    $("base-url").value = setupInfo.base_url;
    if (setupInfo.profiles.length) {
      $("profile-choice").hidden = false;
      $("profile").replaceChildren(...setupInfo.profiles.map((p) => el("option", { value: p, text: p })));
    }
    const last = setupInfo.runs[setupInfo.runs.length - 1];
    if (last) follow(last.id); // a tab closed and opened again finds its run
  } catch (e) {
    say("file-status", e.message, true);
  }
  history();
}
start();
