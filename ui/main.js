// The todo list window: renders the list from the backend, sends each change as a command,
// and keeps the badge and the status line in step with the backend's sync-status events.

import * as api from "./api.js";
import { statusLine } from "./format.js";
import { openConflicts } from "./conflicts.js";
import { openSettings } from "./settings.js";
import { WindowedList } from "./rows.js";

const $ = (id) => document.getElementById(id);
const HIDE_KEY = "tidemark.hideCompleted";

const state = {
  todos: [],
  status: null,
  syncing: false,
  editing: null, // id of the todo being renamed
  draft: null, // what is typed in the rename field, kept if the row is rebuilt
  bench: false, // TIDEMARK_BENCH=1: report when the list is shown
};

/** The rows in view; created in start(). */
let rows = null;

// ---- list -------------------------------------------------------------------------------

async function reload() {
  try {
    const todos = await api.listTodos(!$("hide-completed").checked);
    state.todos = todos;
    render();
  } catch (error) {
    // A store fault is in the banner already (api.onStoreFault).
    if (!storeFault(error)) showAddError(error);
  }
}

/** What a row shows: a row whose key did not change is kept as it is (focus, draft, error). */
function rowKey(todo) {
  return JSON.stringify([todo.text, todo.complete, Boolean(todo.version), todo.id === state.editing]);
}

function render() {
  rows.set(state.todos);
  $("empty").hidden = state.todos.length > 0;
  let open = 0;
  for (const t of state.todos) if (!t.complete) open++;
  $("count").textContent = state.todos.length ? `${open} to do` : "";
}

/** Puts the backend's copy of a todo in the list (or takes it out when completed ones are hidden). */
function patch(todo) {
  const i = state.todos.findIndex((t) => t.id === todo.id);
  const hide = $("hide-completed").checked && todo.complete;
  if (i >= 0 && hide) state.todos.splice(i, 1);
  else if (i >= 0) state.todos[i] = todo;
  else if (!hide) state.todos.push(todo); // new todos have no server time yet: they go last
  showProblem(null);
  render();
}

function item(todo) {
  const li = document.createElement("li");
  li.className = "todo";
  li.dataset.id = todo.id;
  li.classList.toggle("done", todo.complete);
  if (!todo.version) li.classList.add("unsynced");

  const check = document.createElement("input");
  check.type = "checkbox";
  check.className = "complete";
  check.checked = todo.complete;
  check.id = `done-${todo.id}`;
  check.setAttribute("aria-label", `Done: ${todo.text}`);
  check.addEventListener("change", () => toggle(todo, check));
  li.append(check);

  if (todo.id === state.editing) {
    const input = document.createElement("input");
    input.type = "text";
    input.className = "edit-input";
    input.value = state.draft ?? todo.text;
    input.setAttribute("aria-label", `New text for: ${todo.text}`);
    input.addEventListener("input", () => { state.draft = input.value; });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); saveEdit(todo, input); }
      if (e.key === "Escape") { e.preventDefault(); cancelEdit(); }
    });
    const save = button("Save", "save primary", `Save the new text of: ${todo.text}`, () => saveEdit(todo, input));
    const cancel = button("Cancel", "cancel", "Cancel renaming", cancelEdit);
    const error = document.createElement("p");
    error.className = "error item-error";
    error.setAttribute("role", "alert");
    error.hidden = true;
    li.append(input, save, cancel, error);
    queueMicrotask(() => input.focus());
    return li;
  }

  const text = document.createElement("span");
  text.className = "text";
  text.textContent = todo.text;
  text.title = todo.version ? "Double-click to rename" : "Not synced yet — double-click to rename";
  text.addEventListener("dblclick", () => startEdit(todo.id));
  li.append(
    text,
    button("Edit", "edit", `Rename: ${todo.text}`, () => startEdit(todo.id)),
    button("Delete", "delete", `Delete: ${todo.text}`, () => remove(todo, li)),
  );
  return li;
}

function button(label, className, ariaLabel, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = label;
  b.setAttribute("aria-label", ariaLabel);
  b.addEventListener("click", onClick);
  return b;
}

function itemError(li, error) {
  const message = storeFault(error) ? "Not saved: see the message above." : error.message;
  const p = li.querySelector(".item-error") ?? li.appendChild(Object.assign(document.createElement("p"), { className: "error item-error" }));
  p.setAttribute("role", "alert");
  p.textContent = message;
  p.hidden = false;
}

async function toggle(todo, check) {
  try {
    patch(await api.setComplete(todo.id, check.checked));
  } catch (error) {
    check.checked = todo.complete;
    itemError(check.closest("li"), error);
    if (error.kind === "notFound") reload();
  }
}

function startEdit(id) {
  state.editing = id;
  state.draft = null;
  render();
}

function cancelEdit() {
  const id = state.editing;
  state.editing = null;
  render();
  document.querySelector(`li[data-id="${CSS.escape(id ?? "")}"] .edit`)?.focus();
}

async function saveEdit(todo, input) {
  try {
    const updated = await api.editTodo(todo.id, input.value);
    state.editing = null;
    patch(updated);
    document.querySelector(`li[data-id="${CSS.escape(todo.id)}"] .edit`)?.focus();
  } catch (error) {
    // The typed text stays in the field so nothing is lost.
    itemError(input.closest("li"), error);
    input.focus();
    if (error.kind === "notFound") { state.editing = null; reload(); }
  }
}

async function remove(todo, li) {
  try {
    await api.deleteTodo(todo.id);
    state.todos = state.todos.filter((t) => t.id !== todo.id);
    showProblem(null);
    render();
    $("new-text").focus();
  } catch (error) {
    itemError(li, error);
    if (error.kind === "notFound") reload();
  }
}

// ---- adding ------------------------------------------------------------------------------

/** Shows an error under the add field (null hides it); store faults point to the banner. */
function showAddError(error) {
  const message = !error ? null
    : storeFault(error) ? "Not saved: see the message above. What you typed is kept here." : error.message;
  const p = $("add-error");
  p.textContent = message ?? "";
  p.hidden = !message;
  $("new-text").setAttribute("aria-invalid", message ? "true" : "false");
}

/** Adds what is typed; returns the new todo (shown and scrolled into view), or null. */
async function add(event) {
  event.preventDefault();
  const input = $("new-text");
  let todo = null;
  try {
    todo = await api.addTodo(input.value);
    input.value = "";
    showAddError(null);
    patch(todo);
    rows.ensureVisible(rows.indexOf(todo.id));
  } catch (error) {
    // Keep what was typed: the user fixes it rather than retyping it.
    showAddError(error);
  }
  input.focus();
  return todo;
}

// ---- store problems ------------------------------------------------------------------------

/** True for the errors the user must act on: a full disk, a read-only or corrupt store. */
function storeFault(error) {
  return typeof error?.kind === "string" && error.kind.startsWith("store") && error.kind !== "store";
}

const PROBLEM_TITLES = {
  storeFull: "The disk is full",
  storeReadOnly: "Your list is read-only",
  storeCorrupt: "Your list's file is damaged",
};

/** Shows a store problem in the banner above the list (null hides it). */
function showProblem(problem) {
  const banner = $("store-problem");
  banner.hidden = !problem;
  if (!problem) return;
  banner.dataset.kind = problem.kind;
  $("store-problem-title").textContent = PROBLEM_TITLES[problem.kind] ?? "The local store failed";
  $("store-problem-message").textContent = problem.message;
  $("store-problem-path").textContent = problem.path ?? "";
  $("store-problem-path").hidden = !problem.path;
}

/** The store could not be opened: the window says why and what to do instead of the list. */
function showFatal(problem) {
  document.body.classList.add("fatal");
  $("fatal").hidden = false;
  $("fatal-title").textContent = problem.kind === "storeCorrupt" ? "Tidemark cannot read your list"
    : problem.kind === "storeReadOnly" ? "Tidemark cannot open your list for writing"
    : "Tidemark cannot open your list";
  $("fatal-message").textContent = problem.message;
  $("fatal-path").textContent = problem.path ?? "";
  $("fatal-path").hidden = !problem.path;
  $("status-text").textContent = "Your list could not be opened";
  $("status-dot").dataset.tone = "error";
}

// ---- status and refresh ------------------------------------------------------------------

function showStatus(status) {
  if (status) state.status = status;
  const s = state.status;
  if (!s) return;
  const line = statusLine({ ...s, syncing: s.syncing || state.syncing });
  $("status-text").textContent = line.text;
  $("status-dot").dataset.tone = line.tone;
  $("status-detail").textContent = line.detail;
  $("status-detail").dataset.tone = line.tone;
  $("status-detail").hidden = !line.detail;
  $("status-resolve").hidden = !line.resolve;
  const badge = $("badge");
  badge.textContent = String(s.pending);
  badge.dataset.count = String(s.pending);
  badge.hidden = s.pending === 0;
  $("refresh").setAttribute(
    "aria-label",
    s.pending > 0 ? `Refresh (${s.pending} ${s.pending === 1 ? "change" : "changes"} waiting)` : "Refresh",
  );
  const busy = s.syncing || state.syncing;
  $("refresh").classList.toggle("busy", busy);
  $("refresh").setAttribute("aria-busy", String(busy));
}

async function refreshStatus() {
  try {
    showStatus(await api.status());
  } catch (error) {
    $("status-text").textContent = error.message;
  }
}

async function refresh() {
  if (state.syncing) return;
  state.syncing = true;
  showStatus();
  try {
    const outcome = await api.sync();
    if (outcome.conflicts > 0) {
      await reload();
      await openConflicts({ afterResolved: refreshAfterConflicts });
    }
  } catch (error) {
    // The backend keeps the error for the status line; sync-status shows it.
  } finally {
    state.syncing = false;
    await reload();
    await refreshStatus();
  }
}

async function refreshAfterConflicts() {
  // Every conflict settled: send the decisions and get the server's copy right away.
  state.syncing = false;
  await refresh();
}

// ---- pull-down gesture -----------------------------------------------------------------------

function setupPull() {
  const scroller = $("scroller");
  const pull = $("pull");
  const THRESHOLD = 70;
  let startY = null;
  let distance = 0;
  let wheel = 0;
  let wheelTimer = null;

  const show = (d) => {
    distance = d;
    pull.style.height = `${Math.min(d, THRESHOLD * 1.4)}px`;
    pull.classList.toggle("ready", d >= THRESHOLD);
    $("pull-label").textContent = d >= THRESHOLD ? "Release to refresh" : "Pull to refresh";
  };
  const finish = () => {
    if (distance >= THRESHOLD) refresh();
    startY = null;
    show(0);
  };
  scroller.addEventListener("pointerdown", (e) => {
    if (scroller.scrollTop > 0 || e.target.closest("input, button, textarea, label")) return;
    startY = e.clientY;
  });
  scroller.addEventListener("pointermove", (e) => {
    if (startY === null) return;
    show(Math.max(0, e.clientY - startY));
  });
  scroller.addEventListener("pointerup", finish);
  scroller.addEventListener("pointercancel", () => { startY = null; show(0); });
  scroller.addEventListener("pointerleave", () => { if (startY !== null) finish(); });
  // A touchpad's two-finger pull past the top works like the drag.
  scroller.addEventListener("wheel", (e) => {
    if (scroller.scrollTop > 0 || e.deltaY >= 0) { wheel = 0; return; }
    wheel += -e.deltaY;
    show(wheel / 3);
    clearTimeout(wheelTimer);
    wheelTimer = setTimeout(() => { wheel = 0; finish(); }, 250);
  }, { passive: true });
}

// ---- start -------------------------------------------------------------------------------

function setupKeys() {
  document.addEventListener("keydown", (e) => {
    const reloadKey = e.key === "F5" || ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "r");
    if (reloadKey) {
      // F5 and Ctrl+R would reload the web page; here they mean "sync".
      e.preventDefault();
      if (!document.querySelector("dialog[open]")) refresh();
    }
  });
}

/** Resolves after the next paint (requestAnimationFrame runs just before it). */
function painted() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

/** TIDEMARK_BENCH=1: times adding one todo to the list as shown, and reports both moments. */
async function benchmark() {
  await painted();
  await api.uiMark("list shown", state.todos.length, Date.now());
  await new Promise((resolve) => setTimeout(resolve, 500));
  const t0 = performance.now();
  $("new-text").value = `Benchmark todo ${new Date().toISOString()}`;
  const todo = await add(new Event("submit"));
  await painted();
  const shown = todo && rows.row(todo.id) !== null;
  await api.uiMark(shown ? "add shown" : "add failed", state.todos.length, Date.now(), performance.now() - t0);
}

async function start() {
  rows = new WindowedList($("todos"), $("scroller"), rowKey, item);
  let startup = { problem: null, bench: false };
  try {
    startup = await api.startup();
  } catch (error) {
    startup.problem = { kind: error.kind, message: error.message, path: null, fatal: true };
  }
  if (startup.problem?.fatal) {
    showFatal(startup.problem);
    document.body.dataset.ready = "true";
    return;
  }
  showProblem(startup.problem);
  state.bench = startup.bench;
  // Any store fault from any command shows in the banner until a change goes through.
  api.onStoreFault((error) => showProblem({ kind: error.kind, message: error.message, path: error.path }));
  $("hide-completed").checked = localStorage.getItem(HIDE_KEY) === "1";
  $("hide-completed").addEventListener("change", () => {
    localStorage.setItem(HIDE_KEY, $("hide-completed").checked ? "1" : "0");
    reload();
  });
  $("add-form").addEventListener("submit", add);
  $("new-text").addEventListener("input", () => { if (!$("add-error").hidden) showAddError(null); });
  $("refresh").addEventListener("click", refresh);
  $("status-resolve").addEventListener("click", () => openConflicts({ afterResolved: refreshAfterConflicts }));
  $("open-settings").addEventListener("click", () => openSettings({ onSaved: () => { reload(); refreshStatus(); } }));
  setupKeys();
  setupPull();

  await api.on("sync-status", showStatus);
  await api.on("todos-changed", reload);
  // Another program (the tidemark CLI) may have changed the store while we were away.
  window.addEventListener("focus", () => { reload(); refreshStatus(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) { reload(); refreshStatus(); } });
  // Keep "Synced 2 minutes ago" true.
  setInterval(() => showStatus(), 30_000);

  await reload();
  if (state.bench) benchmark();
  await refreshStatus();
  document.body.dataset.ready = "true";
  $("new-text").focus();
}

start();
