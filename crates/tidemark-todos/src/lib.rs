//! The Tidemark todo list on top of the sync engine: the `todoitem` schema, input validation,
//! and the operations that the desktop app and the `tidemark` command-line client share, so
//! both behave the same on the same store.
//!
//! The engine (`tidemark-client`) knows nothing about todos; this crate is the only place that
//! does. Callers open a [`TodoList`] on a data directory and call its methods; every write goes
//! to the local store first and reaches the server on [`TodoList::sync`].

pub mod accounts;
mod error;
mod list;
pub mod session;
mod settings;

pub use accounts::{account_dir, import_local_list};
pub use error::TodoError;
pub use list::{
    Conflict, Rebuilt, Resolution, SyncOutcome, Todo, TodoList, TodoStatus, auth_client,
};
pub use session::{SessionStore, SystemKeyring, TokenPlace, TokenVault, default_session_file};
pub use settings::{
    APP_IDENTIFIER, STORE_FILE_NAME, default_data_dir, normalize_server_url, validate_text,
};
/// The engine, re-exported so callers name its types (status, connectivity) without a second
/// dependency line.
pub use tidemark_client;

/// The server table that holds the todo items.
pub const TABLE: &str = "todoitem";
/// The query id of the incremental pull of every todo (its delta token's name).
pub const ALL_TODOS_QUERY: &str = "all_todos";
/// The longest todo text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;
