//! The todo list's error type: the engine's errors plus the todo rules, shaped so that the
//! CLI can choose an exit code and the app a message without parsing text. Engine errors come
//! in through one `From` (so `?` and an explicit conversion agree); the rest keep the engine's
//! error, whose [`ClientError::kind`] says what it is.

use std::path::PathBuf;

use tidemark_client::{AuthError, ClientError};

/// Everything a todo operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum TodoError {
    /// The todo text is empty, blank or too long.
    #[error("{0}")]
    InvalidText(String),
    /// The server URL is not an absolute http(s) URL.
    #[error("invalid server URL '{url}': {reason}")]
    InvalidServerUrl {
        /// The URL as given.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// A file or standard input could not be read.
    #[error("{0}")]
    ReadInput(String),
    /// No server URL is configured, so there is nothing to sync with.
    #[error("no server configured: set one with --server or TIDEMARK_SERVER")]
    NoServer,
    /// No todo with this id in the local store.
    #[error("no todo with id '{0}'")]
    NotFound(String),
    /// No conflict is recorded for this id.
    #[error("no conflict recorded for todo '{0}'")]
    NoConflict(String),
    /// The server could not be reached; nothing was lost, changes stay queued.
    #[error("server unreachable: {0} (your changes are kept and will sync later)")]
    Unreachable(String),
    /// The server refused the application key or user token (401).
    #[error("the server refused the application key (401): check the key in the settings")]
    Unauthorized,
    /// The server wants a signed-in user and the session is missing, expired or revoked:
    /// nothing was lost, the `pending` changes stay queued for the sync after signing in.
    #[error("sign in again to sync ({reason}); your {pending} change(s) are kept")]
    SignInRequired {
        /// Why, in the server's or the engine's words.
        reason: String,
        /// How many changes wait to be pushed.
        pending: u64,
    },
    /// A rebuild of the local copy was refused because `pending` changes have not been sent
    /// yet and would be lost; nothing was removed. It goes on only when the caller confirms
    /// losing exactly that many.
    #[error(
        "{pending} change(s) have not been sent to the server yet and would be lost; nothing was \
         removed (confirm losing {pending} to rebuild anyway)"
    )]
    ChangesWait {
        /// How many changes wait to be pushed.
        pending: u64,
    },
    /// A sign-in, sign-up, sign-out or "who am I" call failed; the variant says why.
    #[error(transparent)]
    Auth(AuthError),
    /// The session file could not be read or written.
    #[error("session file {}: {message}", path.display())]
    SessionFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A file of the local data (an account's directory, the local list being brought into
    /// an account) could not be named, made or moved.
    #[error("{}: {message}", path.display())]
    LocalFiles {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Any other engine failure (local store, protocol, queue rules...); its `kind()` says
    /// which.
    #[error(transparent)]
    Engine(ClientError),
}

impl From<ClientError> for TodoError {
    /// Network and auth failures and a missing item get their own variants because the CLI
    /// and the app treat them specially; everything else stays the engine's error.
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Network { message } => TodoError::Unreachable(message),
            ClientError::Auth { .. } => TodoError::Unauthorized,
            // The caller that knows the queue's length fills it in (see `TodoList::sync`).
            ClientError::SignInRequired { reason } => {
                TodoError::SignInRequired { reason, pending: 0 }
            }
            ClientError::NotFound { id, .. } => TodoError::NotFound(id),
            other => TodoError::Engine(other),
        }
    }
}

impl From<AuthError> for TodoError {
    /// An unreachable server is the same trouble as for a sync; the rest stay typed.
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unreachable(message) => TodoError::Unreachable(message),
            other => TodoError::Auth(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_mark_and_from_map_engine_errors_the_same_way() {
        fn via_question_mark(e: ClientError) -> Result<(), TodoError> {
            Err(e)?
        }
        let network = || ClientError::Network {
            message: "refused".into(),
        };
        assert!(matches!(
            via_question_mark(network()),
            Err(TodoError::Unreachable(m)) if m == "refused"
        ));
        assert!(matches!(
            TodoError::from(network()),
            TodoError::Unreachable(_)
        ));
        let missing = ClientError::NotFound {
            table: "todoitem".into(),
            id: "a".into(),
        };
        assert!(matches!(via_question_mark(missing), Err(TodoError::NotFound(id)) if id == "a"));
        let auth = ClientError::Auth {
            body: String::new(),
        };
        assert!(matches!(
            via_question_mark(auth),
            Err(TodoError::Unauthorized)
        ));
        let sign_in = ClientError::SignInRequired {
            reason: "expired".into(),
        };
        assert!(matches!(
            via_question_mark(sign_in),
            Err(TodoError::SignInRequired { reason, .. }) if reason == "expired"
        ));
        assert!(matches!(
            TodoError::from(AuthError::Unreachable("refused".into())),
            TodoError::Unreachable(_)
        ));
        assert!(matches!(
            TodoError::from(AuthError::NameTaken),
            TodoError::Auth(AuthError::NameTaken)
        ));
        assert!(matches!(
            via_question_mark(ClientError::Cancelled),
            Err(TodoError::Engine(ClientError::Cancelled))
        ));
    }
}
