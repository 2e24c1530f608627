// The backend's commands and events, in one place: every call goes through Tauri's invoke and
// rejects with the backend's {kind, message} error.

const tauri = window.__TAURI__;
const storeFaultHandlers = [];

function call(command, args) {
  return tauri.core.invoke(command, args).catch((error) => {
    // Errors from the backend are {kind, message, path}; anything else (an IPC failure) is
    // wrapped so callers can always show error.message.
    if (error && typeof error === "object" && "message" in error) {
      // A full disk, a read-only or corrupt store: whoever called, the window must say so.
      if (["storeFull", "storeReadOnly", "storeCorrupt"].includes(error.kind)) {
        for (const handler of storeFaultHandlers) handler(error);
      }
      throw error;
    }
    throw { kind: "internal", message: String(error) };
  });
}

/** Calls handler(error) on every store fault (storeFull, storeReadOnly, storeCorrupt). */
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
export const uiMark = (event, items, epochMs, tookMs = null) => call("ui_mark", { event, items, epochMs, tookMs });

/** Calls handler(payload) on each backend event of this name. */
export function on(event, handler) {
  return tauri.event.listen(event, (e) => handler(e.payload));
}
