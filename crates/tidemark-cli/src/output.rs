//! How results are printed: aligned text for people, JSON for scripts.

use serde::Serialize;
use tidemark_todos::{Conflict, SyncOutcome, Todo, TodoStatus};

/// Prints values as pretty JSON; serialising these plain structs cannot fail, but a failure
/// is still reported rather than swallowed.
fn print_json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("tidemark: cannot write JSON: {e}"),
    }
}

/// Prints the todo list.
pub fn todos(todos: &[Todo], json: bool) {
    if json {
        return print_json(todos);
    }
    for todo in todos {
        let mark = if todo.complete { "x" } else { " " };
        let synced = if todo.version.is_some() {
            ""
        } else {
            "  (not synced)"
        };
        println!("[{mark}] {}  {}{synced}", todo.id, todo.text);
    }
}

/// Prints what a sync did.
pub fn sync(outcome: &SyncOutcome) {
    match outcome.pulled {
        Some(pulled) => println!("pushed {}, pulled {pulled}", outcome.pushed),
        None => println!(
            "pushed {}; {} conflict(s) to resolve (see `tidemark conflicts`), pull skipped",
            outcome.pushed, outcome.conflicts
        ),
    }
}

/// Prints the conflicts.
pub fn conflicts(conflicts: &[Conflict], json: bool) {
    if json {
        return print_json(conflicts);
    }
    for c in conflicts {
        let side = |t: &Option<Todo>| match t {
            Some(t) => format!(
                "{:?} ({})",
                t.text,
                if t.complete { "done" } else { "open" }
            ),
            None => "(deleted)".to_owned(),
        };
        println!("{}  {}: {}", c.id, c.operation, c.message);
        println!("    mine:   {}", side(&c.mine));
        println!("    theirs: {}", side(&c.theirs));
    }
}

/// Prints the status.
pub fn status(status: &TodoStatus, json: bool) {
    if json {
        return print_json(status);
    }
    println!("store:      {}", status.store.display());
    println!(
        "server:     {}",
        status.server.as_deref().unwrap_or("(none configured)")
    );
    println!("pending:    {}", status.pending);
    println!("conflicts:  {}", status.conflicts);
    match status.last_sync {
        Some(at) => println!(
            "last sync:  {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        None => println!("last sync:  never"),
    }
    if let Some(error) = &status.last_error {
        println!("last error: {error}");
    }
}
