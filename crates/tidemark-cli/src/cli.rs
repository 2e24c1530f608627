//! The command line: flags, environment fallbacks and subcommands, with their help texts.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use tidemark_todos::{SessionStore, TodoError, default_data_dir};

/// Tidemark: an offline-first todo list. Every command works offline on the local store;
/// `sync` pushes your changes to the server and pulls everyone else's.
#[derive(Debug, Parser)]
#[command(name = "tidemark", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 ok, 1 error, 2 sync finished with changes waiting for a decision \
(see `tidemark conflicts`; everything else was pulled), \
3 server unreachable (nothing lost), 4 sync finished but some server items were skipped, \
5 sign-in required: not signed in, or the session expired or was revoked (nothing lost; \
run `tidemark login`)."
)]
pub struct Args {
    /// Directory of the local store (tidemark.db); defaults to the desktop app's data
    /// directory, so the app and the CLI share one todo list.
    #[arg(long, global = true, env = "TIDEMARK_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Base URL of the sync server, e.g. http://127.0.0.1:8080.
    #[arg(long, global = true, env = "TIDEMARK_SERVER", value_name = "URL")]
    pub server: Option<String>,

    /// Application key sent as X-ZUMO-APPLICATION, when the server requires one.
    #[arg(
        long,
        global = true,
        env = "TIDEMARK_APP_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub app_key: Option<String>,

    /// The file keeping your sign-in (one session per server); defaults to the one the
    /// desktop app reads (`~/.config/io.tidemark.app/session.json` on Linux).
    #[arg(
        long,
        global = true,
        env = "TIDEMARK_SESSION_FILE",
        value_name = "FILE"
    )]
    pub session_file: Option<PathBuf>,

    /// Log filter for diagnostics on stderr (off, error, warn, info, debug, trace).
    #[arg(long, global = true, env = "TIDEMARK_LOG", default_value = "off")]
    pub log_level: String,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Args {
    /// The data directory: the flag, the environment, or the app's default.
    pub fn data_dir(&self) -> Result<PathBuf, TodoError> {
        self.data_dir
            .clone()
            .or_else(default_data_dir)
            .ok_or_else(|| TodoError::ReadInput("no data directory: pass --data-dir".into()))
    }

    /// The session file: the flag, the environment, or the one the app reads.
    pub fn sessions(&self) -> Result<SessionStore, TodoError> {
        match &self.session_file {
            Some(path) => Ok(SessionStore::new(path)),
            None => SessionStore::default_location(),
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add a todo; prints its new id.
    Add {
        /// What to do (1 to 1000 characters).
        text: String,
    },
    /// List the todos that are not done yet (oldest first).
    List {
        /// Include the completed todos.
        #[arg(long)]
        all: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Mark a todo as done.
    Done {
        /// The todo's id (as printed by `add` or `list`).
        id: String,
    },
    /// Mark a todo as not done.
    Undone {
        /// The todo's id.
        id: String,
    },
    /// Change a todo's text.
    Edit {
        /// The todo's id.
        id: String,
        /// The new text (1 to 1000 characters).
        text: String,
    },
    /// Delete a todo.
    Rm {
        /// The todo's id.
        id: String,
    },
    /// Add one todo per non-empty line of a file (or of standard input with `-`), all or none.
    Import {
        /// The file to read, or `-` for standard input.
        file: String,
    },
    /// Push your queued changes to the server, then pull every todo changed since last time.
    Sync,
    /// Print how many changes wait to be pushed.
    Pending,
    /// List the changes the server refused, with your copy and the server's.
    Conflicts {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Settle a conflict or a refused change: keep your change (sent again on the next sync; a
    /// todo deleted on another device is brought back), keep the server's copy (for a refused
    /// change: discard it), or send an edited text.
    Resolve {
        /// The todo's id.
        id: String,
        /// Whose copy wins.
        #[arg(
            long,
            value_enum,
            required_unless_present = "text",
            conflicts_with = "text"
        )]
        keep: Option<Keep>,
        /// Send this text instead (a merge, or the edit of a refused change).
        #[arg(long)]
        text: Option<String>,
    },
    /// Remove every local todo and reset the sync watermark; the next sync brings them back.
    Purge {
        /// Also drop changes that were not pushed yet (they are lost).
        #[arg(long)]
        force: bool,
    },
    /// Rebuild the local copy: remove every local todo and pull them all again from the
    /// server. Refused while changes wait to be sent (it says how many), unless `--lose`
    /// names that number; nothing is removed when the server cannot be reached.
    Rebuild {
        /// Drop this many changes that were not sent yet: the number `rebuild` reported.
        #[arg(long, value_name = "N")]
        lose: Option<u64>,
    },
    /// Sign in to the server; the session is kept for `sync` (and the desktop app).
    Login(Credentials),
    /// Create an account on the server (when it allows sign-up) and sign in.
    Signup(Credentials),
    /// Sign out: end the session on the server and forget it here (offline: forgotten here
    /// only, and said so).
    Logout,
    /// Show who you are signed in as on the server.
    Whoami,
    /// Show pending changes, conflicts, the server and the time of the last sync.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// How `login` and `signup` get the user name and password.
#[derive(Debug, clap::Args)]
pub struct Credentials {
    /// The user name (asked for when not given).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Read the password from the first line of standard input instead of asking for it
    /// (without echo) on the terminal.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Whose copy wins a conflict.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Keep {
    /// Your local change, sent again over the server's version.
    Mine,
    /// The server's copy; your local change is dropped.
    Theirs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Args::command().debug_assert();
    }
}
