//! Where each account's local store lives, and bringing the local list into an account.
//!
//! A store belongs to one account on one server (the engine refuses to sync it as anyone
//! else), so each has its own directory: `<data dir>/accounts/<server>/<user id>/tidemark.db`.
//! Signing in as someone else opens their store; signing back in reopens the first, its queue
//! intact. The store directly in the data directory is the local list of the app used without
//! an account; on a first sign-in its todos can be brought into the account
//! ([`import_local_list`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::{STORE_FILE_NAME, Todo, TodoError, TodoList, normalize_server_url};

/// The directory under the data directory that holds the accounts' stores.
pub const ACCOUNTS_DIR: &str = "accounts";

/// What the local list's store is renamed to once its todos are in an account: kept, not
/// deleted, so that nothing is lost if the account's store is lost before it syncs.
pub const IMPORTED_STORE_FILE_NAME: &str = "tidemark.db.imported";

/// The bytes kept as they are in a directory name: letters, digits, `-` and `.`; every other
/// byte (`/`, `:`, `%`, `#`…) is written `%XX`, so distinct names stay distinct.
const KEPT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.');

/// The directory of `user_id`'s store on `server` (normalised first) under `data_dir`.
pub fn account_dir(data_dir: &Path, server: &str, user_id: &str) -> Result<PathBuf, TodoError> {
    let server = normalize_server_url(server)?;
    Ok(data_dir
        .join(ACCOUNTS_DIR)
        .join(dir_name(&server)?)
        .join(dir_name(user_id)?))
}

/// `name` as one directory name: percent-encoded (see [`KEPT`]), and never `.`, `..` or a
/// hidden name (a leading `.` is encoded too).
fn dir_name(name: &str) -> Result<String, TodoError> {
    if name.is_empty() {
        return Err(TodoError::LocalFiles {
            path: PathBuf::from(ACCOUNTS_DIR),
            message: "an account directory needs a non-empty server and user id".into(),
        });
    }
    let encoded = utf8_percent_encode(name, KEPT).to_string();
    Ok(match encoded.strip_prefix('.') {
        Some(rest) => format!("%2E{rest}"),
        None => encoded,
    })
}

impl TodoList {
    /// Opens (creating when missing) the store of `session`'s account on `server`, under
    /// `data_dir` (see [`account_dir`]), syncing as that account.
    pub async fn open_account(
        data_dir: &Path,
        server: &str,
        app_key: Option<&str>,
        session: tidemark_client::Session,
    ) -> Result<Self, TodoError> {
        let dir = account_dir(data_dir, server, &session.user_id)?;
        Self::open_as(&dir, Some(server), app_key, Some(session)).await
    }
}

/// Brings every todo of the local list (the store directly in `data_dir`, used without an
/// account) into `account`: each becomes the account's, with its id, text and state, queued to
/// be pushed, all in one transaction. A todo whose id the account already has is left out
/// (the account's copy wins). The local store is then renamed to
/// [`IMPORTED_STORE_FILE_NAME`], so the app starts the next local list empty. Answers how many
/// todos came in; 0 when there is no local list. The local list must not be open elsewhere
/// (the app closes its own first): its file is moved.
pub async fn import_local_list(data_dir: &Path, account: &TodoList) -> Result<usize, TodoError> {
    let local_path = data_dir.join(STORE_FILE_NAME);
    if !local_path.exists() {
        return Ok(0);
    }
    if account.context().store_path() == local_path {
        return Err(TodoError::LocalFiles {
            path: local_path,
            message: "the local list cannot be brought into itself".into(),
        });
    }
    let local = TodoList::open(data_dir, None, None).await?;
    let todos = local.list(true).await;
    local.close().await;
    let todos = todos?;
    let known: HashSet<String> = account
        .list(true)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let new: Vec<Todo> = todos
        .into_iter()
        .filter(|t| !known.contains(&t.id))
        .collect();
    account.add_existing(&new).await?;
    // The todos are committed in the account's store before the local file moves: a failure
    // here leaves them in both places, never in neither.
    let kept = data_dir.join(IMPORTED_STORE_FILE_NAME);
    std::fs::rename(&local_path, &kept).map_err(|e| TodoError::LocalFiles {
        path: local_path.clone(),
        message: format!(
            "the todos are in the account, but the local list could not be set aside: {e}"
        ),
    })?;
    for suffix in ["-wal", "-shm"] {
        let side = data_dir.join(format!("{STORE_FILE_NAME}{suffix}"));
        if side.exists() {
            let _ = std::fs::rename(
                &side,
                data_dir.join(format!("{IMPORTED_STORE_FILE_NAME}{suffix}")),
            );
        }
    }
    log::info!(
        "brought {} todo(s) of the local list into the account; the old list is kept as {}",
        new.len(),
        kept.display()
    );
    Ok(new.len())
}

#[cfg(test)]
mod tests {
    use tidemark_client::Session;

    use super::*;

    #[test]
    fn each_account_and_server_has_its_own_directory() {
        let data = Path::new("/data");
        let dir = |server: &str, user: &str| account_dir(data, server, user).unwrap();
        let alice = dir("https://tidemark.example.org", "a1b2");
        assert_eq!(
            alice,
            Path::new("/data/accounts/https%3A%2F%2Ftidemark.example.org/a1b2")
        );
        // The same server however it is written; another user, server, scheme or port apart.
        assert_eq!(dir("https://tidemark.example.org/", "a1b2"), alice);
        let others = [
            dir("https://tidemark.example.org", "c3d4"),
            dir("http://tidemark.example.org", "a1b2"),
            dir("https://tidemark.example.org:8443", "a1b2"),
            dir("https://other.example.org", "a1b2"),
        ];
        for other in &others {
            assert_ne!(other, &alice);
        }
        // An organisation's user id is one directory name, and never climbs out.
        let oidc = dir("https://t.example", "oidc:https://id.example/#sub/../x");
        assert_eq!(
            oidc.parent(),
            Some(dir("https://t.example", "u").parent().unwrap())
        );
        assert!(!oidc.ends_with(".."));
        for id in [".", "..", ".hidden"] {
            let name = dir("https://t.example", id);
            let last = name.file_name().unwrap().to_str().unwrap().to_owned();
            assert!(last.starts_with("%2E"), "{last}");
        }
        assert!(account_dir(data, "https://t.example", "").is_err());
        assert!(account_dir(data, "not a url", "u").is_err());
    }

    #[tokio::test]
    async fn the_local_list_comes_into_an_account_once_and_is_set_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path();
        let local = TodoList::open(data, None, None).await.unwrap();
        let milk = local.add("Buy milk").await.unwrap();
        let bread = local.add("Buy bread").await.unwrap();
        local.set_complete(&bread.id, true).await.unwrap();
        let gone = local.add("Gone").await.unwrap();
        local.delete(&gone.id).await.unwrap();
        local.close().await;

        let session = Session::new("token", "alice-id");
        let server = "http://127.0.0.1:9";
        let account = TodoList::open_account(data, server, None, session.clone())
            .await
            .unwrap();
        let kept = account.add("Already hers").await.unwrap();
        assert_eq!(import_local_list(data, &account).await.unwrap(), 2);

        let mut todos: Vec<(String, String, bool)> = account
            .list(true)
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.id, t.text, t.complete))
            .collect();
        todos.sort();
        let mut expected = vec![
            (milk.id.clone(), "Buy milk".to_owned(), false),
            (bread.id.clone(), "Buy bread".to_owned(), true),
            (kept.id.clone(), "Already hers".to_owned(), false),
        ];
        expected.sort();
        assert_eq!(todos, expected);
        // Every todo is queued for the account's first push.
        assert_eq!(account.pending().await.unwrap(), 3);
        // The account's store is its own; the old local list is set aside, not deleted.
        let status = account.status().await.unwrap();
        assert_eq!(
            status.store,
            account_dir(data, server, "alice-id")
                .unwrap()
                .join(STORE_FILE_NAME)
        );
        assert!(!data.join(STORE_FILE_NAME).exists());
        assert!(data.join(IMPORTED_STORE_FILE_NAME).exists());
        // Nothing more to bring in; the next local list starts empty.
        assert_eq!(import_local_list(data, &account).await.unwrap(), 0);
        let fresh = TodoList::open(data, None, None).await.unwrap();
        assert!(fresh.list(true).await.unwrap().is_empty());
        fresh.close().await;
        account.close().await;

        // Reopened, the account's store still holds the todos and the queue.
        let again = TodoList::open_account(data, server, None, session)
            .await
            .unwrap();
        assert_eq!(again.pending().await.unwrap(), 3);
        again.close().await;
    }
}
