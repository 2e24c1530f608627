// The settings panel: server URL, application key and "sync automatically", validated by the
// backend on save; a refused value stays in its field with the reason next to it.

import * as api from "./api.js";
import { $ } from "./dom.js";
let onSaved = null;

/** Opens the panel filled with the settings in force. */
export async function openSettings(options) {
  onSaved = options.onSaved;
  setError(null);
  try {
    const s = await api.getSettings();
    $("server-url").value = s.serverUrl;
    $("app-key").value = s.appKey;
    $("sync-auto").checked = s.syncAutomatically;
    $("data-dir").textContent = `Your list is kept in ${s.dataDir}` +
      (s.serverFromEnv ? " · the server URL comes from TIDEMARK_SERVER for this session" : "");
  } catch (error) {
    setError(error.message);
  }
  $("settings-dialog").showModal();
  $("server-url").focus();
}

function setError(message) {
  $("settings-error").textContent = message ?? "";
  $("settings-error").hidden = !message;
  $("server-url").setAttribute("aria-invalid", message ? "true" : "false");
}

async function save(event) {
  event.preventDefault();
  try {
    await api.saveSettings({
      serverUrl: $("server-url").value,
      appKey: $("app-key").value,
      syncAutomatically: $("sync-auto").checked,
    });
    $("settings-dialog").close();
    if (onSaved) onSaved();
  } catch (error) {
    setError(error.message);
    $("server-url").focus();
  }
}

function init() {
  $("settings-form").addEventListener("submit", save);
  $("settings-cancel").addEventListener("click", () => $("settings-dialog").close());
}

init();
