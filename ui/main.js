// The todo list window: renders the list from the backend, sends each change as a command,
// and keeps the badge and the status line in step with the backend's sync-status events.

import * as api from "./api.js";
import { statusLine } from "./format.js";
import { openConflicts } from "./conflicts.js";
import { openSettings } from "./settings.js";

const $ = (id) => document.getElementById(id);
const HIDE_KEY = "tidemark.hideCompleted";

const state = {
  todos: [],
  rendered: "",
  status: null,
  syncing: false,
  editing: null, // id of the todo being renamed
};

// ---- list -------------------------------------------------------------------------------

async function reload() {
  try {
    const todos = await api.listTodos(!$("hide-completed").checked);
    state.todos = todos;
    render();
  } catch (error) {
    showAddError(error.message);
  }
}

function render() {
  // Re-rendering under an element the user is editing (or the test is reading) would lose
  // it: skip when nothing changed, and keep the edit open when something did.
  const key = JSON.stringify([state.todos, state.editing]);
  if (key === state.rendered) return;
  state.rendered = key;
  const list = $("todos");
  const draft = state.editing && list.querySelector(`li[data-id="${CSS.escape(state.editing)}"] .edit-input`);
  const draftText = draft ? draft.value : null;
  list.replaceChildren(...state.todos.map((todo) => item(todo, todo.id === state.editing ? draftText : null)));
  $("empty").hidden = state.todos.length > 0;
  const open = state.todos.filter((t) => !t.complete).length;
  $("count").textContent = state.todos.length ? `${open} to do` : "";
  if (draft) list.querySelector(".edit-input")?.focus();
}

function item(todo, draftText) {
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
    input.value = draftText ?? todo.text;
    input.setAttribute("aria-label", `New text for: ${todo.text}`);
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

function itemError(li, message) {
  const p = li.querySelector(".item-error") ?? li.appendChild(Object.assign(document.createElement("p"), { className: "error item-error" }));
  p.setAttribute("role", "alert");
  p.textContent = message;
  p.hidden = false;
}

async function toggle(todo, check) {
  try {
    await api.setComplete(todo.id, check.checked);
    await reload();
  } catch (error) {
    check.checked = todo.complete;
    itemError(check.closest("li"), error.message);
    if (error.kind === "notFound") reload();
  }
}

function startEdit(id) {
  state.editing = id;
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
    await api.editTodo(todo.id, input.value);
    state.editing = null;
    await reload();
    document.querySelector(`li[data-id="${CSS.escape(todo.id)}"] .edit`)?.focus();
  } catch (error) {
    // The typed text stays in the field so nothing is lost.
    itemError(input.closest("li"), error.message);
    input.focus();
    if (error.kind === "notFound") { state.editing = null; reload(); }
  }
}

async function remove(todo, li) {
  try {
    await api.deleteTodo(todo.id);
    await reload();
    $("new-text").focus();
  } catch (error) {
    itemError(li, error.message);
    if (error.kind === "notFound") reload();
  }
}

// ---- adding ------------------------------------------------------------------------------

function showAddError(message) {
  const p = $("add-error");
  p.textContent = message ?? "";
  p.hidden = !message;
  $("new-text").setAttribute("aria-invalid", message ? "true" : "false");
}

async function add(event) {
  event.preventDefault();
  const input = $("new-text");
  try {
    await api.addTodo(input.value);
    input.value = "";
    showAddError(null);
    await reload();
  } catch (error) {
    // Keep what was typed: the user fixes it rather than retyping it.
    showAddError(error.message);
  }
  input.focus();
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

async function start() {
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
  await refreshStatus();
  document.body.dataset.ready = "true";
  $("new-text").focus();
}

start();
