//! Where a signed-in session is kept between runs: one file per user,
//! `<config dir>/io.tidemark.app/session.json` (`~/.config/io.tidemark.app/session.json` on
//! Linux), holding one session per server URL. The CLI writes it at `tidemark login`, and the
//! desktop app reads the same file, so signing in once serves both.
//!
//! The token itself goes to the desktop's secret store when there is one ([`SystemKeyring`]:
//! Secret Service on Linux, Keychain on macOS, Credential Manager on Windows); the file then
//! holds everything but the token. Where there is none (a bare X session, a server), the token
//! stays in the file, which only the user can read, and [`SessionStore::token_place`] says so.
//!
//! The file holds tokens, which are as good as a password until they expire: its directory is
//! made 0700 and the file 0600; a file found readable by group or others is made 0600 before
//! it is used (and the log says so, since others may have read it). It is written atomically (a temporary file in the
//! same directory, flushed to disk, renamed over the old one), so a crash leaves either the
//! old file or the new one. Nothing here prints or logs a token.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tidemark_client::Session;

use crate::{APP_IDENTIFIER, TodoError};

/// The session file's name inside the app's config directory.
pub const SESSION_FILE_NAME: &str = "session.json";

/// The file's format version, so that a later format is recognised rather than misread. 2:
/// tokens may be in the secret store (`inKeyring`); a version that cannot read them refuses
/// the file rather than sending an empty token.
const FORMAT: u32 = 2;

/// Where the token of a saved session is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TokenPlace {
    /// The desktop's secret store.
    Keyring,
    /// The session file, readable only by the user (no secret store on this system).
    File,
}

/// A secret store for tokens, by entry name.
pub trait TokenVault: Send + Sync + fmt::Debug {
    /// Keeps `token` under `entry`, replacing any earlier one.
    fn put(&self, entry: &str, token: &str) -> Result<(), String>;
    /// The token under `entry`, `None` when there is none.
    fn get(&self, entry: &str) -> Result<Option<String>, String>;
    /// Removes `entry`; removing a missing one is not an error.
    fn delete(&self, entry: &str) -> Result<(), String>;
}

/// The desktop's own secret store, through the `keyring` crate (service `io.tidemark.app`).
#[derive(Debug, Default)]
pub struct SystemKeyring;

impl SystemKeyring {
    fn entry(entry: &str) -> Result<keyring::Entry, String> {
        keyring::Entry::new(APP_IDENTIFIER, entry).map_err(|e| e.to_string())
    }
}

impl TokenVault for SystemKeyring {
    fn put(&self, entry: &str, token: &str) -> Result<(), String> {
        Self::entry(entry)?
            .set_password(token)
            .map_err(|e| e.to_string())
    }

    fn get(&self, entry: &str) -> Result<Option<String>, String> {
        match Self::entry(entry)?.get_password() {
            Ok(token) => Ok(Some(token)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn delete(&self, entry: &str) -> Result<(), String> {
        match Self::entry(entry)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The default session file (`<config dir>/io.tidemark.app/session.json`), or `None` when the
/// platform has no config directory (no `HOME`).
pub fn default_session_file() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join(APP_IDENTIFIER).join(SESSION_FILE_NAME))
}

/// The file's content: sessions by normalised server URL, and the servers whose token is in
/// the secret store (their session here has an empty token).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Content {
    version: u32,
    #[serde(default)]
    sessions: BTreeMap<String, Session>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    in_keyring: BTreeSet<String>,
}

/// The session file at one path, with the secret store its tokens go to.
#[derive(Debug, Clone)]
pub struct SessionStore {
    path: PathBuf,
    vault: Option<Arc<dyn TokenVault>>,
}

impl SessionStore {
    /// The session file at `path` (created on the first save), with tokens in the desktop's
    /// secret store when there is one; `TIDEMARK_KEYRING=off` keeps them in the file.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let off = std::env::var("TIDEMARK_KEYRING").is_ok_and(|v| v.eq_ignore_ascii_case("off"));
        let vault: Option<Arc<dyn TokenVault>> = if off {
            None
        } else {
            Some(Arc::new(SystemKeyring))
        };
        Self {
            path: path.into(),
            vault,
        }
    }

    /// The session file at `path` with tokens in `vault` (`None`: in the file).
    pub fn with_vault(path: impl Into<PathBuf>, vault: Option<Arc<dyn TokenVault>>) -> Self {
        Self {
            path: path.into(),
            vault,
        }
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

    /// The session saved for `server` (a normalised URL), if any. A session whose token the
    /// secret store no longer has is no session (signed out).
    pub fn load(&self, server: &str) -> Result<Option<Session>, TodoError> {
        let mut content = self.read()?;
        let Some(mut session) = content.sessions.remove(server) else {
            return Ok(None);
        };
        if content.in_keyring.contains(server) {
            let kept = match &self.vault {
                Some(vault) => vault.get(&self.entry(server)),
                None => Err("the secret store is turned off (TIDEMARK_KEYRING=off)".into()),
            };
            match kept {
                Ok(Some(token)) => session.token = token,
                Ok(None) => {
                    log::warn!(
                        "the secret store no longer holds the token for {server}: signed out"
                    );
                    return Ok(None);
                }
                Err(e) => {
                    log::warn!(
                        "cannot read the token for {server} from the secret store ({e}): signed out"
                    );
                    return Ok(None);
                }
            }
        }
        Ok(Some(session))
    }

    /// Saves `session` as the one for `server`, replacing any earlier one: the token in the
    /// secret store when it takes it, else in the file.
    pub fn save(&self, server: &str, session: &Session) -> Result<(), TodoError> {
        let mut content = self.read()?;
        let mut stored = session.clone();
        let entry = self.entry(server);
        let kept = match &self.vault {
            Some(vault) => vault.put(&entry, &session.token),
            None => Err("turned off".into()),
        };
        match kept {
            Ok(()) => {
                stored.token = String::new();
                content.in_keyring.insert(server.to_owned());
            }
            Err(e) => {
                log::info!(
                    "no secret store for the session token ({e}); it is kept in {}, readable \
                     only by you",
                    self.path.display()
                );
                content.in_keyring.remove(server);
                if let Some(vault) = &self.vault {
                    let _ = vault.delete(&entry);
                }
            }
        }
        content.sessions.insert(server.to_owned(), stored);
        self.write(&content)
    }

    /// Forgets the session of `server` (and its token); true when there was one.
    pub fn forget(&self, server: &str) -> Result<bool, TodoError> {
        let mut content = self.read()?;
        let had = content.sessions.remove(server).is_some();
        if content.in_keyring.remove(server)
            && let Some(vault) = &self.vault
            && let Err(e) = vault.delete(&self.entry(server))
        {
            log::warn!("cannot remove the token for {server} from the secret store: {e}");
        }
        if had {
            self.write(&content)?;
        }
        Ok(had)
    }

    /// Where the token of `server`'s saved session is, when one is saved.
    pub fn token_place(&self, server: &str) -> Result<Option<TokenPlace>, TodoError> {
        let content = self.read()?;
        Ok(content.sessions.contains_key(server).then(|| {
            if content.in_keyring.contains(server) {
                TokenPlace::Keyring
            } else {
                TokenPlace::File
            }
        }))
    }

    /// The secret store's entry for `server`'s token: the server and this file, so two session
    /// files (a test's, say) never share a token.
    fn entry(&self, server: &str) -> String {
        format!("{server} {}", self.path.display())
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
            in_keyring: content.in_keyring.clone(),
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

    /// A secret store in memory; `broken` refuses everything (no secret store on the system).
    #[derive(Debug, Default)]
    struct MemoryVault {
        entries: std::sync::Mutex<BTreeMap<String, String>>,
        broken: bool,
    }

    impl TokenVault for MemoryVault {
        fn put(&self, entry: &str, token: &str) -> Result<(), String> {
            if self.broken {
                return Err("no secret service".into());
            }
            self.entries
                .lock()
                .unwrap()
                .insert(entry.into(), token.into());
            Ok(())
        }
        fn get(&self, entry: &str) -> Result<Option<String>, String> {
            if self.broken {
                return Err("no secret service".into());
            }
            Ok(self.entries.lock().unwrap().get(entry).cloned())
        }
        fn delete(&self, entry: &str) -> Result<(), String> {
            self.entries.lock().unwrap().remove(entry);
            Ok(())
        }
    }

    fn file_only(path: impl Into<PathBuf>) -> SessionStore {
        SessionStore::with_vault(path, None)
    }

    #[test]
    fn with_a_secret_store_the_token_never_touches_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let vault = Arc::new(MemoryVault::default());
        let store =
            SessionStore::with_vault(tmp.path().join(SESSION_FILE_NAME), Some(vault.clone()));
        store.save("https://a", &session("secret-token")).unwrap();
        let file = std::fs::read_to_string(store.path()).unwrap();
        assert!(!file.contains("secret-token"), "{file}");
        assert_eq!(
            store.load("https://a").unwrap(),
            Some(session("secret-token"))
        );
        assert_eq!(
            store.token_place("https://a").unwrap(),
            Some(TokenPlace::Keyring)
        );
        // Gone from the secret store (removed by hand): signed out, not an empty token.
        vault.entries.lock().unwrap().clear();
        assert_eq!(store.load("https://a").unwrap(), None);
        store.save("https://a", &session("again")).unwrap();
        assert!(store.forget("https://a").unwrap());
        assert!(
            vault.entries.lock().unwrap().is_empty(),
            "the token left with the session"
        );
    }

    #[test]
    fn without_a_secret_store_the_token_stays_in_the_private_file() {
        let tmp = tempfile::tempdir().unwrap();
        let vault = Arc::new(MemoryVault {
            broken: true,
            ..MemoryVault::default()
        });
        let store = SessionStore::with_vault(tmp.path().join(SESSION_FILE_NAME), Some(vault));
        store.save("https://a", &session("filed-token")).unwrap();
        assert_eq!(
            store.token_place("https://a").unwrap(),
            Some(TokenPlace::File)
        );
        assert!(
            std::fs::read_to_string(store.path())
                .unwrap()
                .contains("filed-token")
        );
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(
            store.load("https://a").unwrap(),
            Some(session("filed-token"))
        );
        assert_eq!(store.token_place("https://b").unwrap(), None);
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
        let store = file_only(dir.join(SESSION_FILE_NAME));
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
        let store = file_only(tmp.path().join(SESSION_FILE_NAME));
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
        let err = file_only(&path).load("https://a").unwrap_err();
        assert!(err.to_string().contains("session.json"), "{err}");
        std::fs::write(&path, r#"{"version": 9, "sessions": {}}"#).unwrap();
        assert!(file_only(&path).load("https://a").is_err());
    }
}
