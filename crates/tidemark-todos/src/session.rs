//! Where a signed-in session is kept between runs: one file per user,
//! `<config dir>/io.tidemark.app/session.json` (`~/.config/io.tidemark.app/session.json` on
//! Linux), holding one session per server URL. The CLI writes it at `tidemark login`, and the
//! desktop app reads the same file, so signing in once serves both.
//!
//! The file holds tokens, which are as good as a password until they expire: its directory is
//! made 0700 and the file 0600; a file found readable by group or others is made 0600 before
//! it is used (and the log says so, since others may have read it). It is written atomically (a temporary file in the
//! same directory, flushed to disk, renamed over the old one), so a crash leaves either the
//! old file or the new one. Nothing here prints or logs a token.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tidemark_client::Session;

use crate::{APP_IDENTIFIER, TodoError};

/// The session file's name inside the app's config directory.
pub const SESSION_FILE_NAME: &str = "session.json";

/// The file's format version, so that a later format is recognised rather than misread.
const FORMAT: u32 = 1;

/// The default session file (`<config dir>/io.tidemark.app/session.json`), or `None` when the
/// platform has no config directory (no `HOME`).
pub fn default_session_file() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join(APP_IDENTIFIER).join(SESSION_FILE_NAME))
}

/// The file's content: sessions by normalised server URL.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Content {
    version: u32,
    #[serde(default)]
    sessions: BTreeMap<String, Session>,
}

/// The session file at one path.
#[derive(Debug, Clone)]
pub struct SessionStore {
    path: PathBuf,
}

impl SessionStore {
    /// The session file at `path` (created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The shared default file (see [`default_session_file`]).
    pub fn default_location() -> Result<Self, TodoError> {
        default_session_file()
            .map(Self::new)
            .ok_or_else(|| TodoError::SessionFile {
                path: PathBuf::new(),
                message: "no config directory on this system (is HOME set?)".into(),
            })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The session saved for `server` (a normalised URL), if any.
    pub fn load(&self, server: &str) -> Result<Option<Session>, TodoError> {
        Ok(self.read()?.sessions.remove(server))
    }

    /// Saves `session` as the one for `server`, replacing any earlier one.
    pub fn save(&self, server: &str, session: &Session) -> Result<(), TodoError> {
        let mut content = self.read()?;
        content.sessions.insert(server.to_owned(), session.clone());
        self.write(&content)
    }

    /// Forgets the session of `server`; true when there was one.
    pub fn forget(&self, server: &str) -> Result<bool, TodoError> {
        let mut content = self.read()?;
        let had = content.sessions.remove(server).is_some();
        if had {
            self.write(&content)?;
        }
        Ok(had)
    }

    fn error(&self, doing: &str, e: impl std::fmt::Display) -> TodoError {
        TodoError::SessionFile {
            path: self.path.clone(),
            message: format!("{doing}: {e}"),
        }
    }

    fn read(&self) -> Result<Content, TodoError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Content::default()),
            Err(e) => return Err(self.error("cannot read", e)),
        };
        self.tighten()?;
        let content: Content =
            serde_json::from_str(&text).map_err(|e| self.error("not a session file", e))?;
        if content.version > FORMAT {
            return Err(self.error(
                "written by a newer version",
                format!("format {} (this one reads {FORMAT})", content.version),
            ));
        }
        Ok(content)
    }

    fn write(&self, content: &Content) -> Result<(), TodoError> {
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        create_private_dir(dir).map_err(|e| self.error("cannot create its directory", e))?;
        let content = Content {
            version: FORMAT,
            sessions: content.sessions.clone(),
        };
        let json = serde_json::to_vec_pretty(&content).map_err(|e| self.error("encoding", e))?;
        // A temporary file in the same directory is created 0600 by `tempfile`, so the token
        // is never readable by others, not even for a moment.
        let mut file =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| self.error("cannot write", e))?;
        file.write_all(&json)
            .and_then(|()| file.as_file().sync_all())
            .map_err(|e| self.error("cannot write", e))?;
        file.persist(&self.path)
            .map_err(|e| self.error("cannot replace", e.error))?;
        // The rename itself reaches the disk with the directory.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Makes the file private when group or others may read it (a copy, a restore, a umask).
    fn tighten(&self) -> Result<(), TodoError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(&self.path).map_err(|e| self.error("cannot read", e))?;
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                log::warn!(
                    "{} was readable by others (mode {:o}); made private (0600). Sign out and \
                     in again if others could have read it.",
                    self.path.display(),
                    mode & 0o777
                );
                std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| self.error("cannot make it private", e))?;
            }
        }
        Ok(())
    }
}

/// Creates `dir` (and its parents) 0700 when missing; the app's own directory found open to
/// others is made 0700 too (another directory the user chose is left as it is).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 && dir.file_name().is_some_and(|n| n == APP_IDENTIFIER) {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn session(token: &str) -> Session {
        Session::new(token, "u1")
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn sessions_are_kept_per_server_in_a_private_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(APP_IDENTIFIER);
        let store = SessionStore::new(dir.join(SESSION_FILE_NAME));
        assert_eq!(store.load("https://a").unwrap(), None);
        store.save("https://a", &session("ta")).unwrap();
        store.save("https://b", &session("tb")).unwrap();
        assert_eq!(store.load("https://a").unwrap(), Some(session("ta")));
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert!(store.forget("https://a").unwrap());
        assert!(!store.forget("https://a").unwrap());
        assert_eq!(store.load("https://a").unwrap(), None);
        assert_eq!(store.load("https://b").unwrap(), Some(session("tb")));
        // Only the file remains: no temporary file left behind.
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_file_readable_by_others_is_made_private() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SessionStore::new(tmp.path().join(SESSION_FILE_NAME));
        store.save("https://a", &session("ta")).unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(store.load("https://a").unwrap(), Some(session("ta")));
        assert_eq!(mode(store.path()), 0o600);
    }

    #[test]
    fn a_damaged_or_newer_file_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(SESSION_FILE_NAME);
        std::fs::write(&path, "not json").unwrap();
        let err = SessionStore::new(&path).load("https://a").unwrap_err();
        assert!(err.to_string().contains("session.json"), "{err}");
        std::fs::write(&path, r#"{"version": 9, "sessions": {}}"#).unwrap();
        assert!(SessionStore::new(&path).load("https://a").is_err());
    }
}
