// Words for the status line: pure functions of the backend's status, so they read the same
// everywhere.

/** "1 change" / "3 changes". */
export function changes(n) {
  return `${n} ${n === 1 ? "change" : "changes"}`;
}

/** "just now", "2 minutes ago", "3 hours ago", "yesterday", or a date. */
export function ago(date, now = new Date()) {
  const seconds = Math.max(0, Math.round((now - date) / 1000));
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} ${minutes === 1 ? "minute" : "minutes"} ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} ${hours === 1 ? "hour" : "hours"} ago`;
  const days = Math.round(hours / 24);
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  return `on ${date.toLocaleDateString()}`;
}

/**
 * The status line for a status from the backend: {text, detail, tone}, tone being one of
 * "ok", "pending", "idle", "offline", "error", "busy".
 */
export function statusLine(s, now = new Date()) {
  const waiting = s.pending > 0 ? ` — ${changes(s.pending)} waiting` : "";
  if (s.syncing) return { text: "Syncing…", detail: "", tone: "busy" };
  if (s.conflicts > 0) {
    const n = s.conflicts;
    return {
      // Refresh still brings everything else; these todos stay as they are here meanwhile.
      text: `${n} ${n === 1 ? "change waits" : "changes wait"} for a decision`,
      detail: "",
      tone: "error",
      resolve: true,
    };
  }
  if (!s.server) {
    return {
      text: `Not syncing${waiting}`,
      detail: "No server is set: your list stays on this computer. Add a server in Settings.",
      tone: s.pending > 0 ? "pending" : "idle",
    };
  }
  if (s.lastError) {
    const offline = s.lastErrorKind === "unreachable";
    return {
      text: `${offline ? "Offline" : "Sync failed"}${waiting}`,
      detail: s.lastError,
      tone: offline ? "offline" : "error",
    };
  }
  if (s.connectivity === "offline") return { text: `Offline${waiting}`, detail: "", tone: "offline" };
  if (s.lastSync) {
    return {
      text: `Synced ${ago(new Date(s.lastSync), now)}${waiting}`,
      // A repair of a copy that no longer matched the server's: said until a sync finds it
      // matching again.
      detail: s.repaired ?? "",
      tone: s.pending > 0 ? "pending" : "ok",
    };
  }
  return {
    text: s.pending > 0 ? `Not synced yet${waiting}` : "Not synced yet — press Refresh to sync",
    detail: "",
    tone: s.pending > 0 ? "pending" : "idle",
  };
}
