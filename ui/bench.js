// The benchmark hook, loaded only when the backend asks for it (TIDEMARK_BENCH=1 in a build
// with the `bench` feature, as scripts/bench-app runs it): reports when the list is shown,
// then adds one todo exactly as the Add button does and reports how long until it is painted.

import { call } from "./api.js";
import { $ } from "./dom.js";
import { addTyped } from "./adding.js";
import { isRendered, size } from "./list.js";

const uiMark = (event, items, epochMs, tookMs = null) => call("ui_mark", { event, items, epochMs, tookMs });

/** Resolves after the next paint (requestAnimationFrame runs just before it). */
function painted() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

/** Reports "list shown", then times adding one todo and reports "add shown". */
export async function benchmark() {
  await painted();
  await uiMark("list shown", size(), Date.now());
  await new Promise((resolve) => setTimeout(resolve, 500));
  const t0 = performance.now();
  $("new-text").value = `Benchmark todo ${new Date().toISOString()}`;
  const todo = await addTyped();
  await painted();
  const shown = todo && isRendered(todo.id);
  await uiMark(shown ? "add shown" : "add failed", size(), Date.now(), performance.now() - t0);
}
