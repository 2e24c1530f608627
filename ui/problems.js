// Store problems as the window shows them: the banner over the list, the page shown instead of
// it when the store cannot be opened, and the short note on a row whose change was refused.

import { isStoreFault } from "./api.js";
import { $ } from "./dom.js";

const PROBLEM_TITLES = {
  storeBusy: "Your list is in use by another program",
  storeFull: "The disk is full",
  storeReadOnly: "Your list is read-only",
  storeCorrupt: "Your list's file is damaged",
};

/** Shows a store problem in the banner above the list (null hides it). */
export function showProblem(problem) {
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
export function showFatal(problem) {
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

/** Shows why a change to this row was refused; a store fault points to the banner. */
export function showRowError(li, error) {
  const message = isStoreFault(error) ? "Not saved: see the message above." : error.message;
  const p = li.querySelector(".item-error") ?? li.appendChild(Object.assign(document.createElement("p"), { className: "error item-error" }));
  p.setAttribute("role", "alert");
  p.textContent = message;
  p.hidden = false;
}
