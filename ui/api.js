// The backend's commands and events, in one place: every call goes through Tauri's invoke and
// rejects with the backend's {kind, message} error.

const tauri = window.__TAURI__;
const storeFaultHandlers = [];

/** The store failures the user must act on, whatever the command: the banner shows them. */
const STORE_FAULTS = ["storeBusy", "storeFull", "storeReadOnly", "storeCorrupt"];

/** True for an error the user must act on: a busy, full, read-only or corrupt store. */
export function isStoreFault(error) {
  return STORE_FAULTS.includes(error?.kind);
}

/** Invokes a backend command; rejects with its {kind, message, path} error. */
export function call(command, args) {
  return tauri.core.invoke(command, args).catch((error) => {
    // Errors from the backend are {kind, message, path}; anything else (an IPC failure) is
    // wrapped so callers can always show error.message.
    if (error && typeof error === "object" && "message" in error) {
      // A busy, full, read-only or corrupt store: whoever called, the window must say so.
      if (isStoreFault(error)) {
        for (const handler of storeFaultHandlers) handler(error);
      }
      throw error;
    }
    throw { kind: "internal", message: String(error) };
  });
}

/** Calls handler(error) on every store fault (see isStoreFault). */
export function onStoreFault(handler) {
  storeFaultHandlers.push(handler);
}

export const listTodos = (includeCompleted) => call("list_todos", { includeCompleted });
export const addTodo = (text) => call("add_todo", { text });
export const setComplete = (id, complete) => call("set_complete", { id, complete });
export const editTodo = (id, text) => call("edit_todo", { id, text });
export const deleteTodo = (id) => call("delete_todo", { id });
export const sync = () => call("sync");
export const status = () => call("status");
export const conflicts = () => call("conflicts");
export const resolveConflict = (id, resolution) => call("resolve_conflict", { id, resolution });
export const getSettings = () => call("get_settings");
export const saveSettings = (settings) => call("save_settings", { settings });
export const startup = () => call("startup");
export const account = () => call("account");
export const signIn = (user, password, create) => call("sign_in", { user, password, create });
export const signupAllowed = () => call("signup_allowed");
export const bringLocalList = () => call("bring_local_list");
export const signOut = () => call("sign_out");
export const rebuildLocalCopy = (lose) => call("rebuild_local_copy", { lose });

/** Calls handler(payload) on each backend event of this name. */
export function on(event, handler) {
  return tauri.event.listen(event, (e) => handler(e.payload));
}
