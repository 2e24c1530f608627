// The list: the todos as the backend has them, shown through the windowed rows (rows.js).
// Reloading, patching in one todo and dropping one keep it in step with the backend; what a
// row looks like is items.js's business.

import * as api from "./api.js";
import { $ } from "./dom.js";
import { showProblem } from "./problems.js";
import { WindowedList } from "./rows.js";

const HIDE_KEY = "tidemark.hideCompleted";

let todos = [];
/** The rows in view; created in initList(). */
let rows = null;
let onLoadError = () => {};

/**
 * Sets the list up: `key` and `build` make the rows (see WindowedList), `loadError` hears a
 * reload that failed for another reason than a store fault (the banner shows those).
 */
export function initList({ key, build, loadError }) {
  rows = new WindowedList($("todos"), $("scroller"), key, build);
  onLoadError = loadError;
  $("hide-completed").checked = localStorage.getItem(HIDE_KEY) === "1";
  $("hide-completed").addEventListener("change", () => {
    localStorage.setItem(HIDE_KEY, $("hide-completed").checked ? "1" : "0");
    reload();
  });
}

/** Reads the list from the backend again and shows it. */
export async function reload() {
  try {
    todos = await api.listTodos(!$("hide-completed").checked);
    render();
  } catch (error) {
    if (!api.isStoreFault(error)) onLoadError(error);
  }
}

/** Shows the todos held (rows whose key did not change are kept as they are). */
export function render() {
  rows.set(todos);
  $("empty").hidden = todos.length > 0;
  let open = 0;
  for (const t of todos) if (!t.complete) open++;
  $("count").textContent = todos.length ? `${open} to do` : "";
}

/** Puts the backend's copy of a todo in the list (or takes it out when completed ones are hidden). */
export function patch(todo) {
  const i = todos.findIndex((t) => t.id === todo.id);
  const hide = $("hide-completed").checked && todo.complete;
  if (i >= 0 && hide) todos.splice(i, 1);
  else if (i >= 0) todos[i] = todo;
  else if (!hide) todos.push(todo); // new todos have no server time yet: they go last
  // A change went through, so the store is writable again.
  showProblem(null);
  render();
}

/** Takes a deleted todo out of the list. */
export function drop(id) {
  todos = todos.filter((t) => t.id !== id);
  showProblem(null);
  render();
}

/** How many todos the list holds. */
export const size = () => todos.length;

/** Scrolls the todo with this id into view. */
export function reveal(id) {
  rows.ensureVisible(rows.indexOf(id));
}

/** True when the row of the todo with this id is in the page. */
export const isRendered = (id) => rows.row(id) !== null;
