// The decision dialog: one waiting change at a time. A conflict shows mine next to theirs
// (keep mine, keep theirs, or keep an edited text); a todo deleted on another device is brought
// back or let go; a change the server refused shows the server's reason and is edited or
// discarded.

import * as api from "./api.js";
import { $ } from "./dom.js";
let queue = [];
let total = 0;
let onDone = null;
// Todos whose decision the user put off ("Decide later"): a Refresh does not ask again about
// them (the status line's Resolve does), only about changes that came to wait since.
const postponed = new Set();

/** Opens the dialog on the waiting changes recorded by the backend (with `onlyNew`, only
 * when some were not put off already); resolves once shown. */
export async function openConflicts({ afterResolved, onlyNew = false }) {
  onDone = afterResolved;
  try {
    queue = await api.conflicts();
  } catch (error) {
    queue = [];
  }
  if (onlyNew && queue.every((c) => postponed.has(c.id))) queue = [];
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

/** What the dialog says and offers for each kind of waiting change. */
function wording(c) {
  if (c.kind === "deletedElsewhere") {
    return {
      title: "This todo was deleted on another device",
      message: "You changed it here, but it was deleted on another device. Bring it back with your change, or let it go?",
      theirs: "Deleted on another device",
      mine: "Bring it back",
      drop: "Let it go",
      edit: false,
    };
  }
  if (c.kind === "refused") {
    const named = c.fields?.length ? ` It named: ${c.fields.join(", ")}.` : "";
    return {
      title: "The server refused this change",
      message: `Your change was not saved on the server.${named} Edit it and send it again, or discard it.`,
      reason: c.reason ?? c.message,
      mine: null,
      drop: "Discard",
      edit: true,
      editLabel: "Send this text instead",
      keepText: "Send this text",
    };
  }
  return {
    title: "This todo changed in two places",
    message: `Your change could not be sent: ${c.message}.`,
    mine: "Keep mine",
    drop: "Keep theirs",
    edit: true,
    editLabel: "Keep this text instead",
    keepText: "Keep this text",
  };
}

function show() {
  const c = queue[0];
  const say = wording(c);
  const mine = describe(c.mine, "here");
  const theirs = say.theirs ? { text: say.theirs, state: "" } : describe(c.theirs, "on the server");
  $("conflict-dialog").dataset.kind = c.kind;
  $("conflict-title").textContent = say.title;
  $("conflict-message").textContent = say.message;
  $("conflict-reason").textContent = say.reason ? `The server said: ${say.reason}` : "";
  $("conflict-reason").hidden = !say.reason;
  $("conflict-progress").textContent = total > 1 ? `${total - queue.length + 1} of ${total} waiting changes` : "";
  $("conflict-mine").textContent = mine.text;
  $("conflict-mine").classList.toggle("gone", !c.mine);
  $("conflict-mine-state").textContent = mine.state;
  // A refused change has no server side to weigh: only yours is shown.
  const refused = c.kind === "refused";
  $("conflict-theirs-side").hidden = refused;
  $("conflict-theirs-side").parentElement.classList.toggle("single", refused);
  $("conflict-theirs").textContent = theirs.text;
  $("conflict-theirs").classList.toggle("gone", !c.theirs || Boolean(say.theirs));
  $("conflict-theirs-state").textContent = theirs.state;
  $("keep-mine").hidden = !say.mine;
  $("keep-mine").textContent = say.mine ?? "";
  $("keep-theirs").textContent = say.drop;
  $("conflict-edit-area").hidden = true;
  $("keep-text").hidden = true;
  $("keep-text").textContent = say.keepText ?? "";
  $("conflict-text-label").textContent = say.editLabel ?? "";
  $("conflict-edit").hidden = !say.edit || (!c.mine && !c.theirs);
  $("conflict-text").value = c.mine?.text ?? c.theirs?.text ?? "";
  setError(null);
  (say.mine ? $("keep-mine") : say.edit ? $("conflict-edit") : $("keep-theirs")).focus();
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
  postponed.delete(c.id);
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
  $("conflict-later").addEventListener("click", () => {
    for (const c of queue) postponed.add(c.id);
    $("conflict-dialog").close();
  });
}

init();
