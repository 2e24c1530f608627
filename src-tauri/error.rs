//! The error every command returns: a stable `{kind, message}` shape, so the UI picks where and
//! how to show it from `kind` and shows `message` as it is (plain words, no internals).

use std::path::{Path, PathBuf};

use serde::ser::SerializeStruct as _;
use tidemark_todos::TodoError;
use tidemark_todos::tidemark_client::{AuthError, ClientError, ErrorKind};

/// A command failure as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The todo text is empty, blank or too long.
    #[error("{0}")]
    InvalidText(String),
    /// The server URL in the settings is not an http(s) URL.
    #[error("{0}")]
    InvalidServerUrl(String),
    /// There is no server to sync with.
    #[error("No server is set. Add your sync server in Settings to sync.")]
    NoServer,
    /// The todo is not in the local store (deleted elsewhere, e.g. by the CLI).
    #[error("This todo no longer exists on this computer; the list has been reloaded.")]
    NotFound,
    /// No conflict is recorded for this todo (already resolved).
    #[error("This conflict was already resolved.")]
    NoConflict,
    /// The server did not answer; changes stay queued.
    #[error("Can't reach the server{0}. Your changes are kept and will sync later.")]
    Unreachable(String),
    /// The server refused the application key.
    #[error("The server refused the app key (401). Check the key in Settings.")]
    Unauthorized,
    /// The server refused a change or answered something unexpected.
    #[error("{0}")]
    Sync(String),
    /// A sign-in, sign-up or sign-out failed (wrong password, name taken, sign-up closed, too
    /// many tries...), or the session ended and syncing needs a sign-in.
    #[error("{0}")]
    Account(String),
    /// A rebuild of the local copy was refused: this many changes have not been sent and
    /// would be lost; nothing was removed.
    #[error(
        "{n} {have} not been sent to the server yet and would be lost. Nothing was removed.",
        n = .0,
        have = if *.0 == 1 { "change has" } else { "changes have" }
    )]
    ChangesWait(u64),
    /// The settings could not be saved.
    #[error("Could not save the settings: {0}")]
    Settings(String),
    /// The local store failed in a way the user has no part in (an I/O error, a bug).
    #[error("The local store failed: {0}")]
    Store(String),
    /// Another program (the `tidemark` CLI, say) held the store locked: the change was not saved.
    #[error(
        "Another program is using your list in {}, so this change was not saved. Try again in \
         a moment; changes saved before are kept.",
        .0.display()
    )]
    StoreBusy(PathBuf),
    /// The disk holding the store is full: the change was not saved.
    #[error(
        "The disk holding your list is full, so this change was not saved. Free some space on \
         the disk holding {}, then try again. Changes saved before are kept.",
        .0.display()
    )]
    StoreFull(PathBuf),
    /// The store file or its folder cannot be written.
    #[error(
        "Tidemark cannot write to its store {}: the file or its folder is read-only. Make them \
         writable again (or point TIDEMARK_DATA_DIR to a writable folder) and try again. Your \
         list is shown as last saved; changes saved before are kept.",
        .0.display()
    )]
    StoreReadOnly(PathBuf),
    /// The store file is damaged or is not a Tidemark database; it was left untouched.
    #[error(
        "The store {} is damaged or is not a Tidemark database, so Tidemark left it untouched. \
         Quit Tidemark, move that file aside (for example rename it to tidemark.db.broken) and \
         start Tidemark again for a fresh list; Refresh then brings back what the server has. \
         Changes that were not synced yet are only in the moved file.",
        .0.display()
    )]
    StoreCorrupt(PathBuf),
}

impl CommandError {
    /// The stable machine-readable kind, e.g. `invalidText`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidText(_) => "invalidText",
            Self::InvalidServerUrl(_) => "invalidServerUrl",
            Self::NoServer => "noServer",
            Self::NotFound => "notFound",
            Self::NoConflict => "noConflict",
            Self::Unreachable(_) => "unreachable",
            Self::Unauthorized => "unauthorized",
            Self::Sync(_) => "sync",
            Self::Account(_) => "account",
            Self::ChangesWait(_) => "changesWait",
            Self::Settings(_) => "settings",
            Self::Store(_) => "store",
            Self::StoreBusy(_) => "storeBusy",
            Self::StoreFull(_) => "storeFull",
            Self::StoreReadOnly(_) => "storeReadOnly",
            Self::StoreCorrupt(_) => "storeCorrupt",
        }
    }

    /// The store file this error is about, for the errors that name one.
    pub fn store_path(&self) -> Option<&Path> {
        match self {
            Self::StoreBusy(p)
            | Self::StoreFull(p)
            | Self::StoreReadOnly(p)
            | Self::StoreCorrupt(p) => Some(p),
            _ => None,
        }
    }

    /// True for the store failures the user must act on (busy, disk full, read-only, corrupt).
    pub fn is_store_fault(&self) -> bool {
        self.store_path().is_some()
    }

    /// Maps a todo-domain error to what the user should read, naming `server` when unreachable.
    /// This is the app's one mapping of errors to what the window shows: the todo rules by
    /// their variant, the engine's errors by their kind alone.
    pub fn from_todo(error: TodoError, server: Option<&str>) -> Self {
        match error {
            TodoError::InvalidText(message) => Self::InvalidText(sentence(&message)),
            TodoError::InvalidServerUrl { url, reason } => {
                Self::InvalidServerUrl(format!("“{url}” is not a valid server URL: {reason}."))
            }
            TodoError::NoServer => Self::NoServer,
            TodoError::NotFound(_) => Self::NotFound,
            TodoError::NoConflict(_) => Self::NoConflict,
            TodoError::Unreachable(_) => Self::unreachable(server),
            TodoError::Unauthorized => Self::Unauthorized,
            TodoError::ReadInput(message) => Self::Store(message),
            e @ TodoError::LocalFiles { .. } => Self::Store(sentence(&e.to_string())),
            TodoError::Engine(engine) => Self::from_engine(&engine, server),
            TodoError::Auth(AuthError::Unreachable(_)) => Self::unreachable(server),
            e @ (TodoError::SignInRequired { .. } | TodoError::Auth(_)) => {
                Self::Account(sentence(&e.to_string()))
            }
            e @ TodoError::SessionFile { .. } => Self::Store(sentence(&e.to_string())),
            TodoError::ChangesWait { pending } => Self::ChangesWait(pending),
        }
    }

    fn from_engine(error: &ClientError, server: Option<&str>) -> Self {
        let path = || error.store_path().map(Path::to_owned).unwrap_or_default();
        match error.kind() {
            ErrorKind::Network => Self::unreachable(server),
            ErrorKind::Unauthorized => Self::Unauthorized,
            ErrorKind::NotFound => Self::NotFound,
            ErrorKind::StoreBusy => Self::StoreBusy(path()),
            ErrorKind::StoreCorrupt => Self::StoreCorrupt(path()),
            ErrorKind::StoreFull => Self::StoreFull(path()),
            ErrorKind::StoreReadOnly => Self::StoreReadOnly(path()),
            ErrorKind::StoreTooNew | ErrorKind::Store => Self::Store(error.to_string()),
            ErrorKind::ServerError => Self::Sync(
                "The server refused the sync. Your changes are kept; the log says why.".into(),
            ),
            ErrorKind::PushIncomplete => Self::Sync(
                "The sync stopped before it finished. Your changes are kept; the log says why."
                    .into(),
            ),
            ErrorKind::Protocol
            | ErrorKind::InvalidInput
            | ErrorKind::AlreadyExists
            | ErrorKind::UnknownTable
            | ErrorKind::QueueConflict
            | ErrorKind::OperationChanged
            | ErrorKind::PendingOperations
            | ErrorKind::SignInRequired
            | ErrorKind::InsecureTransport
            | ErrorKind::WrongAccount
            | ErrorKind::Cancelled => Self::Sync(sentence(&error.to_string())),
        }
    }

    fn unreachable(server: Option<&str>) -> Self {
        Self::Unreachable(server.map(|s| format!(" at {s}")).unwrap_or_default())
    }

    /// True when the server could not be reached (worth retrying later).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable(_))
    }
}

/// `the text…` → `The text….`: engine messages are lower-case fragments.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?', ')']) {
        out.push('.');
    }
    out
}

/// Whether `store` (or, when it does not exist yet, its folder) can be opened for writing. Asks
/// the kernel rather than reading permission bits, so an immutable file or a read-only mount
/// counts as read-only even for root.
pub fn writable(store: &Path) -> bool {
    if store.exists() {
        std::fs::OpenOptions::new().append(true).open(store).is_ok()
    } else {
        store
            .parent()
            .and_then(|dir| std::fs::metadata(dir).ok())
            .is_some_and(|m| m.is_dir() && !m.permissions().readonly())
    }
}

impl serde::Serialize for CommandError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("CommandError", 3)?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("message", &self.to_string())?;
        s.serialize_field("path", &self.store_path())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_kind_and_message() {
        let json = serde_json::to_value(CommandError::Unauthorized).unwrap();
        assert_eq!(json["kind"], "unauthorized");
        assert!(json["message"].as_str().unwrap().contains("401"));
    }

    #[test]
    fn todo_errors_become_sentences() {
        let e = CommandError::from_todo(
            TodoError::InvalidText("the text of a todo cannot be empty".into()),
            None,
        );
        assert_eq!(e.to_string(), "The text of a todo cannot be empty.");
        assert_eq!(e.kind(), "invalidText");
    }

    #[test]
    fn store_faults_are_told_apart_by_kind_and_name_the_file() {
        let path = || PathBuf::from("/data/tidemark.db");
        let engine = |error: ClientError| CommandError::from_todo(TodoError::Engine(error), None);
        let full = engine(ClientError::StoreFull {
            path: path(),
            message: String::new(),
        });
        assert_eq!(full.kind(), "storeFull");
        assert!(full.to_string().contains("/data/tidemark.db"), "{full}");
        let busy = engine(ClientError::StoreBusy {
            path: path(),
            message: String::new(),
        });
        assert_eq!(busy.kind(), "storeBusy");
        assert_eq!(busy.store_path(), Some(Path::new("/data/tidemark.db")));
        // The kind decides, whatever the text says.
        let read_only = engine(ClientError::ReadOnlyStore {
            path: path(),
            message: "database or disk is full".into(),
        });
        assert_eq!(read_only.kind(), "storeReadOnly");
        let other = engine(ClientError::Store {
            path: path(),
            message: "attempt to write a readonly database".into(),
        });
        assert_eq!(other.kind(), "store");
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let folder = CommandError::from_todo(
            ClientError::from_store_io(path(), "creating the data directory", &denied).into(),
            None,
        );
        assert_eq!(folder.kind(), "storeReadOnly");
        let corrupt = engine(ClientError::CorruptStore {
            path: path(),
            message: "file is not a database".into(),
        });
        assert_eq!(corrupt.kind(), "storeCorrupt");
        let json = serde_json::to_value(&corrupt).unwrap();
        assert_eq!(json["path"], "/data/tidemark.db");
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains("move that file aside")
        );
    }

    #[test]
    fn engine_errors_map_the_same_through_the_todo_list() {
        let network = || ClientError::Network {
            message: "connection refused".into(),
        };
        let server = Some("http://127.0.0.1:9");
        let direct = CommandError::from_todo(TodoError::Engine(network()), server);
        let converted = CommandError::from_todo(network().into(), server);
        assert_eq!(direct, converted);
        assert_eq!(direct.kind(), "unreachable");
    }

    #[test]
    fn unreachable_names_the_server() {
        let e = CommandError::from_todo(
            TodoError::Unreachable("connection refused".into()),
            Some("http://127.0.0.1:9"),
        );
        assert_eq!(
            e.to_string(),
            "Can't reach the server at http://127.0.0.1:9. Your changes are kept and will sync later."
        );
        assert!(e.is_unreachable());
    }
}
