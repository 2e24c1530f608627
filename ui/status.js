// The badge on Refresh and the status line, kept in step with the backend's sync-status
// events, and Refresh itself: push, pull, then the decision dialog when changes wait for one.

import * as api from "./api.js";
import { openConflicts } from "./conflicts.js";
import { $ } from "./dom.js";
import { statusLine } from "./format.js";
import { reload } from "./list.js";
import { openSettings } from "./settings.js";

let current = null; // the backend's last status
let syncing = false; // a Refresh started here is running

/** Shows `status` (or the last one again, to keep "2 minutes ago" true). */
export function showStatus(status) {
  if (status) current = status;
  const s = current;
  if (!s) return;
  const line = statusLine({ ...s, syncing: s.syncing || syncing });
  $("status-text").textContent = s.user ? `${line.text} · ${s.user}` : line.text;
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
  const busy = s.syncing || syncing;
  $("refresh").classList.toggle("busy", busy);
  $("refresh").setAttribute("aria-busy", String(busy));
}

/** Asks the backend for the status and shows it. */
export async function refreshStatus() {
  try {
    showStatus(await api.status());
  } catch (error) {
    $("status-text").textContent = error.message;
  }
}

/** Refresh: sends the changes, gets the server's, and opens the conflict dialog if needed. */
export async function refresh() {
  if (syncing) return;
  syncing = true;
  showStatus();
  try {
    const outcome = await api.sync();
    if (outcome.conflicts > 0) {
      // Everything else was pulled already; ask only about changes not put off before.
      await reload();
      await resolveConflicts({ onlyNew: true });
    }
  } catch (error) {
    // The backend keeps the error for the status line; sync-status shows it. A session that
    // ended needs a sign-in: the form opens (the changes stay queued).
    if (error.kind === "account") {
      openSettings({ signIn: true, onSaved: () => { reload(); refreshStatus(); } });
    }
  } finally {
    syncing = false;
    await reload();
    await refreshStatus();
  }
}

/** Opens the conflict dialog (with `onlyNew`, only for changes not put off before); once
 * every conflict is settled, syncs the decisions. */
export function resolveConflicts({ onlyNew = false } = {}) {
  return openConflicts({
    onlyNew,
    afterResolved: async () => {
      syncing = false;
      await refresh();
    },
  });
}

/** Wires Refresh, Resolve and the backend's sync-status events. */
export async function initStatus() {
  $("refresh").addEventListener("click", refresh);
  $("status-resolve").addEventListener("click", () => resolveConflicts());
  // Keep "Synced 2 minutes ago" true.
  setInterval(() => showStatus(), 30_000);
  await api.on("sync-status", showStatus);
}
