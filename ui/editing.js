// Renaming a todo in its row: the field (Enter saves, Escape cancels), Save and Cancel. What
// is typed survives the row being rebuilt, and stays in the field when the backend refuses it.

import * as api from "./api.js";
import { button } from "./dom.js";
import { patch, reload, render } from "./list.js";
import { showRowError } from "./problems.js";

let editing = null; // id of the todo being renamed
let draft = null; // what is typed in the rename field, kept if the row is rebuilt

/** The id of the todo being renamed, or null. */
export const editingId = () => editing;

/** Turns the todo's row into its rename field. */
export function startEdit(id) {
  editing = id;
  draft = null;
  render();
}

/** The rename field, Save, Cancel and the row's error line, for the todo being renamed. */
export function editFields(todo) {
  const input = document.createElement("input");
  input.type = "text";
  input.className = "edit-input";
  input.value = draft ?? todo.text;
  input.setAttribute("aria-label", `New text for: ${todo.text}`);
  input.addEventListener("input", () => { draft = input.value; });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); save(todo, input); }
    if (e.key === "Escape") { e.preventDefault(); cancel(); }
  });
  const saveButton = button("Save", "save primary", `Save the new text of: ${todo.text}`, () => save(todo, input));
  const cancelButton = button("Cancel", "cancel", "Cancel renaming", cancel);
  const error = document.createElement("p");
  error.className = "error item-error";
  error.setAttribute("role", "alert");
  error.hidden = true;
  queueMicrotask(() => input.focus());
  return [input, saveButton, cancelButton, error];
}

function focusEditButton(id) {
  document.querySelector(`li[data-id="${CSS.escape(id ?? "")}"] .edit`)?.focus();
}

function cancel() {
  const id = editing;
  editing = null;
  render();
  focusEditButton(id);
}

async function save(todo, input) {
  try {
    const updated = await api.editTodo(todo.id, input.value);
    editing = null;
    patch(updated);
    focusEditButton(todo.id);
  } catch (error) {
    // The typed text stays in the field so nothing is lost.
    showRowError(input.closest("li"), error);
    input.focus();
    if (error.kind === "notFound") { editing = null; reload(); }
  }
}
