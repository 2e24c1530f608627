// The add field at the top: Enter or Add stores the todo, shows it and scrolls it into view;
// a refused text stays in the field with the reason under it.

import * as api from "./api.js";
import { $ } from "./dom.js";
import { patch, reveal } from "./list.js";

/** Shows an error under the add field (null hides it); store faults point to the banner. */
export function showAddError(error) {
  const message = !error ? null
    : api.isStoreFault(error) ? "Not saved: see the message above. What you typed is kept here." : error.message;
  const p = $("add-error");
  p.textContent = message ?? "";
  p.hidden = !message;
  $("new-text").setAttribute("aria-invalid", message ? "true" : "false");
}

/** Adds what is typed; returns the new todo (shown and scrolled into view), or null. */
export async function addTyped() {
  const input = $("new-text");
  let todo = null;
  try {
    todo = await api.addTodo(input.value);
    input.value = "";
    showAddError(null);
    patch(todo);
    reveal(todo.id);
  } catch (error) {
    // Keep what was typed: the user fixes it rather than retyping it.
    showAddError(error);
  }
  input.focus();
  return todo;
}

/** Wires the add form. */
export function initAdding() {
  $("add-form").addEventListener("submit", (event) => {
    event.preventDefault();
    addTyped();
  });
  $("new-text").addEventListener("input", () => { if (!$("add-error").hidden) showAddError(null); });
}
