// The todo list window: asks the backend whether the store opened, then wires the list, the
// add field, the status line, pull to refresh, the keys and the backend's events. Each of
// those lives in its own module; this one only puts them together.

import * as api from "./api.js";
import { initAdding, showAddError } from "./adding.js";
import { $ } from "./dom.js";
import { buildRow, rowKey } from "./items.js";
import { initList, reload } from "./list.js";
import { showFatal, showProblem } from "./problems.js";
import { setupPull } from "./pull.js";
import { openSettings } from "./settings.js";
import { initStatus, refresh, refreshStatus } from "./status.js";

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
  initList({ key: rowKey, build: buildRow, loadError: showAddError });
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
  // Any store fault from any command shows in the banner until a change goes through.
  api.onStoreFault((error) => showProblem({ kind: error.kind, message: error.message, path: error.path }));
  initAdding();
  $("open-settings").addEventListener("click", () => openSettings({ onSaved: () => { reload(); refreshStatus(); } }));
  setupKeys();
  setupPull(refresh);

  await initStatus();
  await api.on("todos-changed", reload);
  // Another program (the tidemark CLI) may have changed the store while we were away.
  window.addEventListener("focus", () => { reload(); refreshStatus(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) { reload(); refreshStatus(); } });

  // Loaded while the list is read, so the hook adds no time to what it measures.
  const bench = startup.bench ? import("./bench.js") : null;
  await reload();
  if (bench) bench.then((hook) => hook.benchmark());
  await refreshStatus();
  document.body.dataset.ready = "true";
  $("new-text").focus();
}

start();
