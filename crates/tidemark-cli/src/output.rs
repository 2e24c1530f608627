//! How results are printed: aligned text for people, JSON for scripts. Everything printed as
//! text that came from the server or the store goes through [`clean`] first, so a todo cannot
//! clear the screen, retitle the terminal or hide text (JSON is escaped by serde already).

use std::borrow::Cow;

use serde::Serialize;
use tidemark_todos::{Conflict, SyncOutcome, Todo, TodoStatus};

/// `text` with every control character (ESC, BEL, CR, newlines...) and every bidirectional
/// override written as its escape (`\u{1b}`), so it shows as text and does not act on the
/// terminal. Text without any is borrowed as is.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Control characters, and the bidirectional embeddings, overrides and isolates that can make
/// a terminal show text in another order than it is.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

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
        println!(
            "[{mark}] {}  {}{synced}",
            clean(&todo.id),
            clean(&todo.text)
        );
    }
}

/// Prints what a sync did; the server rows it skipped go to standard error, one per line.
pub fn sync(outcome: &SyncOutcome) {
    let mut line = match outcome.pulled {
        Some(pulled) => format!("pushed {}, pulled {pulled}", outcome.pushed),
        None => format!("pushed {}", outcome.pushed),
    };
    if !outcome.skipped.is_empty() {
        line.push_str(&format!(
            "; {} server item(s) could not be read and were skipped",
            outcome.skipped.len()
        ));
    }
    if outcome.conflicts > 0 {
        // Their todos were kept as they are here; every other todo came down.
        line.push_str(&format!(
            "; {} change(s) wait for a decision (see `tidemark conflicts`)",
            outcome.conflicts
        ));
    }
    println!("{line}");
    for skipped in &outcome.skipped {
        // The item's Display escapes its id and reason already; `clean` is for certainty.
        eprintln!("tidemark: skipped {}", clean(&skipped.to_string()));
    }
    if let Some(repaired) = &outcome.repaired {
        eprintln!("tidemark: {}", clean(repaired));
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
        println!("{}  {}: {}", clean(&c.id), c.operation, clean(&c.message));
        println!("    mine:   {}", clean(&side(&c.mine)));
        match c.kind {
            "refused" => {
                if !c.fields.is_empty() {
                    println!("    fields: {}", clean(&c.fields.join(", ")));
                }
                println!("    choose: --text TEXT (edit it) or --keep theirs (discard it)");
            }
            "deletedElsewhere" => {
                println!("    theirs: (deleted on another device)");
                println!("    choose: --keep mine (bring it back) or --keep theirs (let it go)");
            }
            _ => println!("    theirs: {}", clean(&side(&c.theirs))),
        }
    }
}

/// Prints the status.
pub fn status(status: &TodoStatus, json: bool) {
    if json {
        return print_json(status);
    }
    println!("store:      {}", clean(&status.store.display().to_string()));
    println!(
        "server:     {}",
        clean(status.server.as_deref().unwrap_or("(none configured)"))
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
        println!("last error: {}", clean(error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_bidi_overrides_are_escaped() {
        assert_eq!(clean("plain tâche"), "plain tâche");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
        assert_eq!(clean("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(clean("t\u{7}\r\n"), "t\\u{7}\\r\\n");
        assert_eq!(clean("x\u{202e}y\u{9b}"), "x\\u{202e}y\\u{9b}");
    }
}
