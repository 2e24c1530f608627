// One row of the list: the done box, the text, Edit and Delete, and what ticking and deleting
// do. A row being renamed gets its field from editing.js.

import * as api from "./api.js";
import { $, button } from "./dom.js";
import { editFields, editingId, startEdit } from "./editing.js";
import { drop, patch, reload } from "./list.js";
import { showRowError } from "./problems.js";

/** What a row shows: a row whose key did not change is kept as it is (focus, draft, error). */
export function rowKey(todo) {
  return JSON.stringify([todo.text, todo.complete, Boolean(todo.version), todo.id === editingId()]);
}

/** Makes the <li> of a todo. */
export function buildRow(todo) {
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

  if (todo.id === editingId()) {
    li.append(...editFields(todo));
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

async function toggle(todo, check) {
  try {
    patch(await api.setComplete(todo.id, check.checked));
  } catch (error) {
    check.checked = todo.complete;
    showRowError(check.closest("li"), error);
    if (error.kind === "notFound") reload();
  }
}

async function remove(todo, li) {
  try {
    await api.deleteTodo(todo.id);
    drop(todo.id);
    $("new-text").focus();
  } catch (error) {
    showRowError(li, error);
    if (error.kind === "notFound") reload();
  }
}
