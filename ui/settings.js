// The settings panel: server URL, application key and "sync automatically", validated by the
// backend on save; a refused value stays in its field with the reason next to it. Its Account
// part signs in, creates an account or signs out on that server; after a first sign-in it
// offers to bring the todos written without an account into it. "Rebuild the local copy"
// removes the todos kept here and pulls them all again; while changes wait to be sent it first
// says how many would be lost and goes on only if the user agrees to lose exactly that many.

import * as api from "./api.js";
import { $ } from "./dom.js";
let onSaved = null;
let serverFromEnv = false; // the server URL comes from TIDEMARK_SERVER
let dataDir = null; // the data directory, said when the store in use cannot be read

/** Opens the panel filled with the settings in force. */
export async function openSettings(options) {
  onSaved = options.onSaved;
  setError(null);
  showRebuild({});
  try {
    const s = await api.getSettings();
    $("server-url").value = s.serverUrl;
    $("app-key").value = s.appKey;
    $("sync-auto").checked = s.syncAutomatically;
    serverFromEnv = s.serverFromEnv;
    dataDir = s.dataDir;
    // Only a list that syncs has a copy on a server to rebuild from.
    $("local-copy").hidden = !s.serverUrl;
  } catch (error) {
    setError(error.message);
  }
  // The panel opens as soon as the settings are in their fields; the Account part (which may
  // read the local list and ask the server) and the store line fill in just after.
  $("settings-dialog").showModal();
  $(options.signIn ? "account-user" : "server-url").focus();
  await showAccount();
  if (options.signIn && $("account-user").value) $("account-password").focus();
}

/** Says where the list in use is kept: the account's own store when signed in, else the
 * local list (`fallback` when the status cannot be read). */
async function showStore(fallback) {
  const store = await api.status().then((st) => st.store).catch(() => fallback);
  if (!store) return; // unknown: the line stays as it was
  $("data-dir").textContent = `Your list is kept in ${store}` +
    (serverFromEnv ? " · the server URL comes from TIDEMARK_SERVER for this session" : "");
}

/** Shows who is signed in (or the sign-in form), and the offer to bring the local list in. */
async function showAccount() {
  setAccountError(null);
  let account = { server: null, user: null, localTodos: 0 };
  try {
    account = await api.account();
  } catch (error) {
    setAccountError(error.message);
  }
  // An ended session still names its account (its store stays open) but needs the form.
  const signedIn = Boolean(account.user) && !account.sessionEnded;
  if (account.sessionEnded) {
    $("account-state").textContent =
      `Your session as ${account.user} ended. Sign in again to sync; your changes are kept.`;
    $("account-user").value = account.user;
  } else {
    $("account-state").textContent = signedIn
      ? `Signed in as ${account.user} on ${hostOf(account.server)}`
      : "Not signed in: your list stays on this computer. Sign in to sync it.";
  }
  $("account-form").hidden = signedIn;
  $("account-signed-in").hidden = !signedIn;
  $("token-place").hidden = !signedIn || !account.tokenPlace;
  $("token-place").textContent = account.tokenPlace === "keyring"
    ? "Your sign-in is kept in the system keyring."
    : `No system keyring here: your sign-in is kept in ${account.sessionFile}, readable only by you.`;
  $("create-account").hidden = false;
  showStore(dataDir);
  if (!signedIn) {
    // Offered only where the server allows it; asked without holding the panel up.
    api.signupAllowed()
      .then((allowed) => { $("create-account").hidden = allowed === false; })
      .catch(() => {});
  }
  $("bring-local").hidden = !(signedIn && account.localTodos > 0);
  const n = account.localTodos;
  $("bring-local-text").textContent =
    `${n} ${n === 1 ? "todo was" : "todos were"} written on this computer without an account. ` +
    "Bring them into this account (they sync with it), or leave them on this computer?";
}

function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return url ?? "";
  }
}

function setAccountError(message) {
  $("account-error").textContent = message ?? "";
  $("account-error").hidden = !message;
}

/** Saves the settings as they are in the form (the server to sign in to), then signs in. */
async function enter(create) {
  setAccountError(null);
  setError(null);
  try {
    await api.saveSettings(formSettings());
  } catch (error) {
    setError(error.message);
    $("server-url").focus();
    return;
  }
  try {
    await api.signIn($("account-user").value, $("account-password").value, create);
    $("account-password").value = "";
    await showAccount();
    if (onSaved) onSaved();
  } catch (error) {
    setAccountError(error.message);
    $("account-password").focus();
  }
}

async function signOut() {
  setAccountError(null);
  try {
    const out = await api.signOut();
    await showAccount();
    if (out.pendingKept > 0) {
      const n = out.pendingKept;
      setAccountError(
        `Signed out. ${n} ${n === 1 ? "change" : "changes"} waiting to sync ${n === 1 ? "stays" : "stay"} ` +
          "on this computer for that account and go up at its next sign-in.",
      );
    }
    if (onSaved) onSaved();
  } catch (error) {
    setAccountError(error.message);
  }
}

async function bringLocal(bring) {
  setAccountError(null);
  try {
    if (bring) await api.bringLocalList();
    $("bring-local").hidden = true;
    if (onSaved) onSaved();
  } catch (error) {
    setAccountError(error.message);
  }
}

/** The changes the user was told would be lost; the rebuild loses exactly these or none. */
let confirmedLoss = 0;

function showRebuild({ confirm = null, result = null, error = null }) {
  $("rebuild-confirm").hidden = confirm === null;
  if (confirm !== null) {
    const n = confirm;
    confirmedLoss = n;
    const changes = `${n} ${n === 1 ? "change" : "changes"}`;
    $("rebuild-confirm-text").textContent =
      `${changes} made on this computer ${n === 1 ? "has" : "have"} not been sent to the server yet. ` +
      `Rebuilding the local copy loses ${n === 1 ? "it" : "them"}.`;
    $("rebuild-lose").textContent = `Lose ${changes} and rebuild`;
  }
  $("rebuild-result").textContent = result ?? "";
  $("rebuild-result").hidden = !result;
  $("rebuild-error").textContent = error ?? "";
  $("rebuild-error").hidden = !error;
}

/** Rebuilds at once when nothing waits; otherwise asks first, naming how many would be lost. */
async function askRebuild() {
  showRebuild({});
  let pending = 0;
  try {
    pending = (await api.status()).pending;
  } catch (error) {
    showRebuild({ error: error.message });
    return;
  }
  if (pending > 0) {
    showRebuild({ confirm: pending });
    $("rebuild-keep").focus();
  } else {
    await rebuild(0);
  }
}

async function rebuild(lose) {
  const buttons = ["rebuild", "rebuild-lose", "rebuild-keep"].map((id) => $(id));
  for (const b of buttons) b.disabled = true;
  showRebuild({ result: "Rebuilding the local copy…" });
  try {
    const done = await api.rebuildLocalCopy(lose);
    const n = done.pulled;
    const lost = done.lost > 0
      ? ` ${done.lost} unsent ${done.lost === 1 ? "change was" : "changes were"} dropped.`
      : "";
    showRebuild({
      result: `Rebuilt: ${n} ${n === 1 ? "todo" : "todos"} brought back from the server.${lost}`,
    });
    if (onSaved) onSaved();
  } catch (error) {
    if (error.kind === "changesWait") {
      // The count changed since the question (a change made or sent meanwhile): ask again.
      const pending = await api.status().then((st) => st.pending).catch(() => null);
      if (pending) showRebuild({ confirm: pending, error: error.message });
      else showRebuild({ error: error.message });
    } else {
      showRebuild({ error: error.message });
    }
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

function formSettings() {
  return {
    serverUrl: $("server-url").value,
    appKey: $("app-key").value,
    syncAutomatically: $("sync-auto").checked,
  };
}

function setError(message) {
  $("settings-error").textContent = message ?? "";
  $("settings-error").hidden = !message;
  $("server-url").setAttribute("aria-invalid", message ? "true" : "false");
}

async function save(event) {
  event.preventDefault();
  try {
    await api.saveSettings(formSettings());
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
  $("sign-in").addEventListener("click", () => enter(false));
  $("create-account").addEventListener("click", () => enter(true));
  $("sign-out").addEventListener("click", signOut);
  $("bring-local-yes").addEventListener("click", () => bringLocal(true));
  $("bring-local-no").addEventListener("click", () => bringLocal(false));
  $("rebuild").addEventListener("click", askRebuild);
  $("rebuild-keep").addEventListener("click", () => showRebuild({}));
  $("rebuild-lose").addEventListener("click", () => rebuild(confirmedLoss));
}

init();
