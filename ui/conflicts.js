// The conflict dialog: one refused change at a time, mine next to theirs, settled by keeping
// mine, keeping theirs, or keeping an edited text.

import * as api from "./api.js";
import { $ } from "./dom.js";
let queue = [];
let total = 0;
let onDone = null;

/** Opens the dialog on the conflicts recorded by the backend; resolves once it is shown. */
export async function openConflicts({ afterResolved }) {
  onDone = afterResolved;
  try {
    queue = await api.conflicts();
  } catch (error) {
    queue = [];
  }
  total = queue.length;
  if (!total) return;
  show();
  const dialog = $("conflict-dialog");
  if (!dialog.open) dialog.showModal();
}

function describe(todo, where) {
  if (!todo) return { text: `Deleted ${where}`, state: "" };
  return { text: todo.text, state: todo.complete ? "Done" : "Not done" };
}

function show() {
  const c = queue[0];
  const mine = describe(c.mine, "here");
  const theirs = describe(c.theirs, "on the server");
  $("conflict-message").textContent = `Your change could not be sent: ${c.message}.`;
  $("conflict-progress").textContent = total > 1 ? `Conflict ${total - queue.length + 1} of ${total}` : "";
  $("conflict-mine").textContent = mine.text;
  $("conflict-mine").classList.toggle("gone", !c.mine);
  $("conflict-mine-state").textContent = mine.state;
  $("conflict-theirs").textContent = theirs.text;
  $("conflict-theirs").classList.toggle("gone", !c.theirs);
  $("conflict-theirs-state").textContent = theirs.state;
  $("conflict-edit-area").hidden = true;
  $("keep-text").hidden = true;
  $("conflict-edit").hidden = !c.mine && !c.theirs;
  $("conflict-text").value = c.mine?.text ?? c.theirs?.text ?? "";
  setError(null);
  $("keep-mine").focus();
}

function setError(message) {
  $("conflict-error").textContent = message ?? "";
  $("conflict-error").hidden = !message;
}

async function settle(resolution) {
  const c = queue[0];
  try {
    await api.resolveConflict(c.id, resolution);
  } catch (error) {
    // An invalid edited text stays in the field to be fixed.
    if (error.kind !== "noConflict") { setError(error.message); return; }
  }
  queue.shift();
  if (queue.length) { show(); return; }
  $("conflict-dialog").close();
  if (onDone) await onDone();
}

function init() {
  $("keep-mine").addEventListener("click", () => settle({ choice: "keepMine" }));
  $("keep-theirs").addEventListener("click", () => settle({ choice: "keepTheirs" }));
  $("conflict-edit").addEventListener("click", () => {
    $("conflict-edit-area").hidden = false;
    $("keep-text").hidden = false;
    $("conflict-text").focus();
    $("conflict-text").select();
  });
  $("keep-text").addEventListener("click", () => settle({ choice: "keepText", text: $("conflict-text").value }));
  $("conflict-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("keep-text").click(); }
  });
  $("conflict-later").addEventListener("click", () => $("conflict-dialog").close());
}

init();
