//! The engine's one error type. Variants are shaped for the app and the CLI to map to messages:
//! each says which kind of trouble it is (store, network, auth, input, queue rules...).

use std::path::PathBuf;

use crate::results::PushResult;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The local SQLite store failed (I/O, locked too long...); a full disk, a read-only store
    /// and a damaged file have their own variants.
    #[error("local store {path}: {message}")]
    Store {
        /// The store's file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// The local store file is not a database or is damaged; it was left untouched.
    #[error("local store {path} is corrupt or not a Tidemark database: {message}")]
    CorruptStore {
        /// The store's file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// The disk (or file system) holding the local store is full: the write that hit it was
    /// rolled back, and everything written before it, the operation queue included, is intact.
    #[error(
        "local store {path}: the disk is full; the last change was not saved (nothing saved \
         before it is lost); free some space and retry: {message}"
    )]
    StoreFull {
        /// The store's file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// The local store cannot be written (a read-only file or file system, or a file opened
    /// read-only); it was left untouched.
    #[error("local store {path} is read-only; changes cannot be saved: {message}")]
    ReadOnlyStore {
        /// The store's file.
        path: PathBuf,
        /// What SQLite or the file system said.
        message: String,
    },
    /// Another connection or process (the CLI next to the app, say) held the local store's
    /// lock for longer than the engine waits; nothing was written, and a retry may succeed.
    #[error("local store {path} is busy (in use by another program); try again: {message}")]
    StoreBusy {
        /// The store's file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// The local store was written by a newer version of the engine; it was left untouched.
    #[error(
        "local store {path} has schema version {found}, newer than the {supported} this version understands; update the app"
    )]
    NewerSchema {
        /// The store's file.
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// The server could not be reached (refused, timed out, DNS, TLS, invalid URL...).
    #[error("network: {message}")]
    Network {
        /// What went wrong.
        message: String,
    },
    /// The server answered 401: the application key or user token is missing or wrong.
    #[error("not authorised by the server (401): {body}")]
    Auth {
        /// The raw response body.
        body: String,
    },
    /// The server wants a signed-in user and the session is missing, expired or revoked (401
    /// with `WWW-Authenticate: Bearer`): the sync stopped, every queued change is kept, and
    /// the next sync after signing in sends them.
    #[error("sign-in required: {reason}")]
    SignInRequired {
        /// Why, as the server or the engine said it (missing, expired, revoked...).
        reason: String,
    },
    /// A password or token was about to go over plain `http://` to a host that is not this
    /// machine; nothing was sent.
    #[error(
        "refusing to send a password or token to {url} over plain http: anyone on the way \
         could read it; use an https:// server URL (plain http is allowed to this machine only: \
         localhost, 127.0.0.0/8, ::1)"
    )]
    InsecureTransport {
        /// The server URL.
        url: String,
    },
    /// The local store belongs to another account or server than the one asked for: nothing
    /// was sent, so no change queued by one user goes out as another.
    #[error(
        "this local store belongs to user {store_user} on {store_server}; it cannot be used as \
         {user} on {server}: use another data directory, or sign in as {store_user}"
    )]
    WrongAccount {
        /// The server the store is bound to.
        store_server: String,
        /// The user id the store is bound to.
        store_user: String,
        /// The server asked for.
        server: String,
        /// The user id asked for (`signed out` when there is no session).
        user: String,
    },
    /// The server answered with an error status other than 401.
    #[error("server answered {status}: {body}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The raw response body.
        body: String,
    },
    /// The server's answer could not be understood.
    #[error("unexpected server response: {message}")]
    Protocol {
        /// What was wrong with it.
        message: String,
    },
    /// The server's answer was larger than the engine reads
    /// ([`crate::RemoteConfig::max_response_bytes`], counted after decompression); reading
    /// stopped there and nothing of it was used.
    #[error(
        "the server's answer is larger than {}, the most this client reads \
         (RemoteConfig::max_response_bytes); nothing of it was used",
        byte_size(*limit)
    )]
    ResponseTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The server answered with a redirect, which the engine never follows: a redirect could
    /// carry the application key or user token to another server, and would turn a write
    /// into a read. Nothing was sent to the redirect's target.
    #[error(
        "the server answered {status}, a redirect to {location:?}, which this client does not \
         follow (it could carry the application key elsewhere); if that address is right, \
         make it the server URL"
    )]
    Redirected {
        /// The HTTP status (301, 302, 303, 307 or 308).
        status: u16,
        /// The redirect's `Location`, as sent (shown escaped).
        location: String,
    },
    /// An argument or an item is not acceptable (bad id, wrong type for a column, bad query...).
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What is wrong.
        message: String,
    },
    /// No item with this id in the local table.
    #[error("no item '{id}' in table '{table}'")]
    NotFound {
        /// The table.
        table: String,
        /// The id.
        id: String,
    },
    /// An item with this id already exists locally (insert).
    #[error("an item '{id}' already exists in table '{table}'")]
    AlreadyExists {
        /// The table.
        table: String,
        /// The id.
        id: String,
    },
    /// The table was not defined when the context was opened.
    #[error("table '{0}' is not defined in this store")]
    UnknownTable(String),
    /// The write breaks the operation queue's collapse rules (e.g. an update after a delete).
    #[error("{message}")]
    QueueConflict {
        /// What happened and what to do.
        message: String,
    },
    /// A resolution was asked for an operation that changed (or vanished) since its error was read.
    #[error("operation {operation_id} changed since its error was reported; read the errors again")]
    OperationChanged {
        /// The operation.
        operation_id: String,
    },
    /// Purge refused because the table has operations waiting to be pushed.
    #[error("table '{table}' has {pending} pending operation(s); push first or purge with force")]
    PendingOperations {
        /// The table.
        table: String,
        /// How many operations are queued for it.
        pending: u64,
    },
    /// The push that a pull starts with did not complete, so the pull did not run.
    #[error("pull stopped because the push before it did not complete: {0}")]
    PushFailed(Box<PushResult>),
    /// The operation was cancelled through its [`crate::CancelToken`].
    #[error("cancelled")]
    Cancelled,
}

impl ClientError {
    /// True for failures where retrying later, once the network is back, may succeed.
    pub fn is_network(&self) -> bool {
        matches!(self, ClientError::Network { .. })
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ClientError::InvalidInput {
            message: message.into(),
        }
    }

    pub(crate) fn network(message: impl Into<String>) -> Self {
        ClientError::Network {
            message: message.into(),
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        ClientError::Protocol {
            message: message.into(),
        }
    }
}

/// A byte count for people: whole MiB when it is one, bytes otherwise.
fn byte_size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The engine's result type.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
