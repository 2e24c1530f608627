//! [`ErrorKind`]: what kind of trouble a [`ClientError`] is, so that the app and the CLI choose a
//! message or an exit code by a typed name, never by reading an error's text. The store's
//! failures are classified here from SQLite's result codes and the OS's error kinds, the two
//! typed sources the engine gets them from.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

use crate::error::ClientError;

/// What kind of trouble a [`ClientError`] is: one name per way a caller tells it to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Another connection or process held the store's lock too long ([`ClientError::StoreBusy`]).
    StoreBusy,
    /// The store file is damaged or not a database ([`ClientError::CorruptStore`]).
    StoreCorrupt,
    /// The disk holding the store is full ([`ClientError::StoreFull`]).
    StoreFull,
    /// The store cannot be written ([`ClientError::ReadOnlyStore`]).
    StoreReadOnly,
    /// The store was written by a newer engine ([`ClientError::NewerSchema`]).
    StoreTooNew,
    /// Any other store failure: an I/O error, a closed store, a bug ([`ClientError::Store`]).
    Store,
    /// The server could not be reached ([`ClientError::Network`]).
    Network,
    /// The server refused the key or token ([`ClientError::Auth`]).
    Unauthorized,
    /// The user must sign in (again) to sync ([`ClientError::SignInRequired`]).
    SignInRequired,
    /// A secret would have gone over plain http ([`ClientError::InsecureTransport`]).
    InsecureTransport,
    /// The store belongs to another account or server ([`ClientError::WrongAccount`]).
    WrongAccount,
    /// The server answered an error status ([`ClientError::Http`]).
    ServerError,
    /// The server's answer could not be understood or was not used: malformed
    /// ([`ClientError::Protocol`]), too large ([`ClientError::ResponseTooLarge`]) or a redirect
    /// ([`ClientError::Redirected`]).
    Protocol,
    /// An argument or an item is not acceptable ([`ClientError::InvalidInput`]).
    InvalidInput,
    /// No local item with this id ([`ClientError::NotFound`]).
    NotFound,
    /// An item with this id already exists locally ([`ClientError::AlreadyExists`]).
    AlreadyExists,
    /// The table was not defined at open ([`ClientError::UnknownTable`]).
    UnknownTable,
    /// The write breaks the queue's collapse rules ([`ClientError::QueueConflict`]).
    QueueConflict,
    /// A resolution's operation changed meanwhile ([`ClientError::OperationChanged`]).
    OperationChanged,
    /// Purge refused while changes wait ([`ClientError::PendingOperations`]).
    PendingOperations,
    /// The push before a pull did not complete ([`ClientError::PushFailed`]).
    PushIncomplete,
    /// Cancelled through a [`crate::CancelToken`] ([`ClientError::Cancelled`]).
    Cancelled,
}

impl ErrorKind {
    /// True for the store failures a person has to act on (wait, free space, fix permissions,
    /// move a damaged file aside, update the app), as opposed to a bug or a passing I/O error.
    pub fn is_store_fault(self) -> bool {
        matches!(
            self,
            Self::StoreBusy
                | Self::StoreCorrupt
                | Self::StoreFull
                | Self::StoreReadOnly
                | Self::StoreTooNew
        )
    }
}

impl ClientError {
    /// What kind of trouble this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::StoreBusy { .. } => ErrorKind::StoreBusy,
            Self::CorruptStore { .. } => ErrorKind::StoreCorrupt,
            Self::StoreFull { .. } => ErrorKind::StoreFull,
            Self::ReadOnlyStore { .. } => ErrorKind::StoreReadOnly,
            Self::NewerSchema { .. } => ErrorKind::StoreTooNew,
            Self::Store { .. } => ErrorKind::Store,
            Self::Network { .. } => ErrorKind::Network,
            Self::Auth { .. } => ErrorKind::Unauthorized,
            Self::SignInRequired { .. } => ErrorKind::SignInRequired,
            Self::InsecureTransport { .. } => ErrorKind::InsecureTransport,
            Self::WrongAccount { .. } => ErrorKind::WrongAccount,
            Self::Http { .. } => ErrorKind::ServerError,
            Self::Protocol { .. } | Self::ResponseTooLarge { .. } | Self::Redirected { .. } => {
                ErrorKind::Protocol
            }
            Self::InvalidInput { .. } => ErrorKind::InvalidInput,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Self::UnknownTable(_) => ErrorKind::UnknownTable,
            Self::QueueConflict { .. } => ErrorKind::QueueConflict,
            Self::OperationChanged { .. } => ErrorKind::OperationChanged,
            Self::PendingOperations { .. } => ErrorKind::PendingOperations,
            Self::PushFailed(_) => ErrorKind::PushIncomplete,
            Self::Cancelled => ErrorKind::Cancelled,
        }
    }

    /// The store file a store error is about (`None` for the other errors).
    pub fn store_path(&self) -> Option<&Path> {
        match self {
            Self::Store { path, .. }
            | Self::StoreBusy { path, .. }
            | Self::CorruptStore { path, .. }
            | Self::StoreFull { path, .. }
            | Self::ReadOnlyStore { path, .. }
            | Self::NewerSchema { path, .. } => Some(path),
            _ => None,
        }
    }

    /// An I/O error on the store's files or folder (`doing` says what was tried), classified by
    /// the OS's error kind: a full disk and a read-only or forbidden place get their own kinds.
    pub fn from_store_io(path: impl Into<PathBuf>, doing: &str, error: &std::io::Error) -> Self {
        let (path, message) = (path.into(), format!("{doing}: {error}"));
        match error.kind() {
            std::io::ErrorKind::StorageFull => Self::StoreFull { path, message },
            std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied => {
                Self::ReadOnlyStore { path, message }
            }
            _ => Self::Store { path, message },
        }
    }

    /// A SQLite error on the store at `path`, classified by its result code (the primary code
    /// of the extended one SQLite gave), so the kinds a person acts on are told apart.
    pub(crate) fn from_sqlite(path: &Path, error: rusqlite::Error) -> Self {
        let path = path.to_path_buf();
        let message = error.to_string();
        match error.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                Self::StoreBusy { path, message }
            }
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                Self::CorruptStore { path, message }
            }
            Some(ErrorCode::DiskFull) => Self::StoreFull { path, message },
            Some(ErrorCode::ReadOnly) => Self::ReadOnlyStore { path, message },
            _ => Self::Store { path, message },
        }
    }

    /// Fills in the store's path when the error was made without it (`From<rusqlite::Error>`).
    pub(crate) fn with_store_path(mut self, store: &Path) -> Self {
        if let Self::Store { path, .. }
        | Self::StoreBusy { path, .. }
        | Self::CorruptStore { path, .. }
        | Self::StoreFull { path, .. }
        | Self::ReadOnlyStore { path, .. } = &mut self
            && path.as_os_str().is_empty()
        {
            store.clone_into(path);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::ffi;

    use super::*;

    fn sqlite(code: std::os::raw::c_int) -> ErrorKind {
        let error = rusqlite::Error::SqliteFailure(ffi::Error::new(code), None);
        ClientError::from_sqlite(Path::new("/s.db"), error).kind()
    }

    #[test]
    fn sqlite_codes_are_classified_by_code_extended_ones_included() {
        assert_eq!(sqlite(ffi::SQLITE_BUSY), ErrorKind::StoreBusy);
        assert_eq!(sqlite(ffi::SQLITE_BUSY_SNAPSHOT), ErrorKind::StoreBusy);
        assert_eq!(sqlite(ffi::SQLITE_LOCKED), ErrorKind::StoreBusy);
        assert_eq!(sqlite(ffi::SQLITE_NOTADB), ErrorKind::StoreCorrupt);
        assert_eq!(sqlite(ffi::SQLITE_CORRUPT), ErrorKind::StoreCorrupt);
        assert_eq!(sqlite(ffi::SQLITE_FULL), ErrorKind::StoreFull);
        assert_eq!(sqlite(ffi::SQLITE_READONLY), ErrorKind::StoreReadOnly);
        assert_eq!(
            sqlite(ffi::SQLITE_READONLY_DBMOVED),
            ErrorKind::StoreReadOnly
        );
        assert_eq!(sqlite(ffi::SQLITE_IOERR_WRITE), ErrorKind::Store);
        assert_eq!(
            ClientError::from(rusqlite::Error::QueryReturnedNoRows).kind(),
            ErrorKind::Store
        );
    }

    #[test]
    fn io_errors_are_classified_by_kind_and_name_the_file() {
        let io = |kind: std::io::ErrorKind| {
            ClientError::from_store_io("/d/s.db", "creating", &std::io::Error::from(kind))
        };
        let full = io(std::io::ErrorKind::StorageFull);
        assert_eq!(full.kind(), ErrorKind::StoreFull);
        assert_eq!(full.store_path(), Some(Path::new("/d/s.db")));
        assert_eq!(
            io(std::io::ErrorKind::ReadOnlyFilesystem).kind(),
            ErrorKind::StoreReadOnly
        );
        assert_eq!(
            io(std::io::ErrorKind::PermissionDenied).kind(),
            ErrorKind::StoreReadOnly
        );
        assert_eq!(io(std::io::ErrorKind::NotFound).kind(), ErrorKind::Store);
    }

    #[test]
    fn only_what_a_person_acts_on_is_a_store_fault() {
        assert!(ErrorKind::StoreBusy.is_store_fault());
        assert!(ErrorKind::StoreReadOnly.is_store_fault());
        assert!(!ErrorKind::Store.is_store_fault());
        assert!(!ErrorKind::Network.is_store_fault());
        assert_eq!(ClientError::Cancelled.store_path(), None);
    }

    #[test]
    fn a_missing_path_is_filled_in_and_a_known_one_kept() {
        let e = ClientError::from(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_FULL),
            None,
        ))
        .with_store_path(Path::new("/a.db"));
        assert_eq!(e.store_path(), Some(Path::new("/a.db")));
        let e = e.with_store_path(Path::new("/b.db"));
        assert_eq!(e.store_path(), Some(Path::new("/a.db")));
    }
}
