//! The error every command returns: a stable `{kind, message}` shape, so the UI picks where and
//! how to show it from `kind` and shows `message` as it is (plain words, no internals).

use serde::ser::SerializeStruct as _;
use tidemark_todos::TodoError;
use tidemark_todos::tidemark_client::ClientError;

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
    /// The settings could not be saved.
    #[error("Could not save the settings: {0}")]
    Settings(String),
    /// The local store failed (disk, corruption...).
    #[error("The local store failed: {0}")]
    Store(String),
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
            Self::Settings(_) => "settings",
            Self::Store(_) => "store",
        }
    }

    /// Maps a todo-domain error to what the user should read, naming `server` when unreachable.
    pub fn from_todo(error: TodoError, server: Option<&str>) -> Self {
        match error {
            TodoError::InvalidText(message) => Self::InvalidText(sentence(&message)),
            TodoError::InvalidServerUrl { url, reason } => {
                Self::InvalidServerUrl(format!("“{url}” is not a valid server URL: {reason}."))
            }
            TodoError::NoServer => Self::NoServer,
            TodoError::NotFound(_) => Self::NotFound,
            TodoError::NoConflict(_) => Self::NoConflict,
            TodoError::Unreachable(_) => {
                Self::Unreachable(server.map(|s| format!(" at {s}")).unwrap_or_default())
            }
            TodoError::Unauthorized => Self::Unauthorized,
            TodoError::ReadInput(message) => Self::Store(message),
            TodoError::Engine(engine) => Self::from_engine(engine, server),
        }
    }

    fn from_engine(error: ClientError, server: Option<&str>) -> Self {
        match error {
            ClientError::Network { .. } => {
                Self::Unreachable(server.map(|s| format!(" at {s}")).unwrap_or_default())
            }
            ClientError::Auth { .. } => Self::Unauthorized,
            ClientError::NotFound { .. } => Self::NotFound,
            ClientError::Store { .. }
            | ClientError::CorruptStore { .. }
            | ClientError::NewerSchema { .. } => Self::Store(error.to_string()),
            ClientError::Http { status, .. } => Self::Sync(format!(
                "The server refused the sync (HTTP {status}). Your changes are kept."
            )),
            ClientError::PushFailed(push) => Self::Sync(format!(
                "The sync stopped before it finished{}. Your changes are kept.",
                push.message.map(|m| format!(": {m}")).unwrap_or_default()
            )),
            other => Self::Sync(sentence(&other.to_string())),
        }
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

impl serde::Serialize for CommandError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("CommandError", 2)?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("message", &self.to_string())?;
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
