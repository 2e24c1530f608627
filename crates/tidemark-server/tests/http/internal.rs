//! Failures on the server's side: a store that fails answers 500 with an `{"error"}` body that
//! does not leak the backend's details.

use serde_json::json;
use tidemark_server::ServerConfig;
use tidemark_server::accounts::{AccountStore, ActiveSession, SessionRecord, UserRecord};
use tidemark_server::store::{
    Item, ItemQuery, Owner, QueryPage, StoreError, StoreWrite, TableStore, WriteOutcome,
};
use tokio::net::TcpListener;

use crate::common::Api;

/// A store whose every answer is an internal failure.
struct FailingStore;

fn failure() -> StoreError {
    StoreError::internal("disk on fire at /var/secret/path")
}

impl TableStore for FailingStore {
    async fn query(&self, _: &Owner, _: &str, _: &ItemQuery) -> Result<QueryPage, StoreError> {
        Err(failure())
    }

    async fn lookup(&self, _: &Owner, _: &str, _: &str, _: bool) -> Result<Item, StoreError> {
        Err(failure())
    }

    async fn checksum(
        &self,
        _: &Owner,
        _: &str,
        _: Option<i64>,
    ) -> Result<tidemark_protocol::checksum::TableChecksum, StoreError> {
        Err(failure())
    }

    async fn apply(&self, _: &Owner, _: StoreWrite) -> Result<WriteOutcome, StoreError> {
        Err(failure())
    }

    async fn adopt_unowned(&self, _: &Owner) -> Result<u64, StoreError> {
        Err(failure())
    }

    async fn delete_rows_of(&self, _: &Owner) -> Result<u64, StoreError> {
        Err(failure())
    }
}

impl AccountStore for FailingStore {
    async fn create_user(&self, _: &UserRecord) -> Result<bool, StoreError> {
        Err(failure())
    }

    async fn user_by_name(&self, _: &str) -> Result<Option<UserRecord>, StoreError> {
        Err(failure())
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        Err(failure())
    }

    async fn set_password_hash(&self, _: &str, _: &str) -> Result<bool, StoreError> {
        Err(failure())
    }

    async fn set_disabled(&self, _: &str, _: Option<i64>) -> Result<bool, StoreError> {
        Err(failure())
    }

    async fn delete_user(&self, _: &str) -> Result<bool, StoreError> {
        Err(failure())
    }

    async fn create_session(&self, _: &SessionRecord) -> Result<(), StoreError> {
        Err(failure())
    }

    async fn active_session(
        &self,
        _: &str,
        _: &str,
        _: i64,
    ) -> Result<Option<ActiveSession>, StoreError> {
        Err(failure())
    }

    async fn extend_session(&self, _: &str, _: i64) -> Result<bool, StoreError> {
        Err(failure())
    }

    async fn delete_session(&self, _: &str, _: i64) -> Result<bool, StoreError> {
        Err(failure())
    }
}

/// Serves [`FailingStore`] with `config` on a free loopback port; abort the task to stop it.
async fn serve_failing(
    config: ServerConfig,
) -> (
    tokio::task::JoinHandle<Result<(), tidemark_server::ServeError>>,
    Api,
) {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    let url = match listener.local_addr() {
        Ok(addr) => format!("http://{addr}"),
        Err(e) => panic!("{e}"),
    };
    let server = tokio::spawn(tidemark_server::serve(
        listener,
        FailingStore,
        config,
        std::future::pending(),
    ));
    (server, Api::new(&url))
}

#[tokio::test]
async fn a_failing_store_gives_500_with_an_error_body_that_hides_the_details() {
    let (server, api) = serve_failing(ServerConfig::open()).await;
    for reply in [
        api.get("/tables/todoitem").await,
        api.get("/tables/todoitem/a").await,
        api.post("/tables/todoitem", json!({"text": "x"})).await,
        api.patch("/tables/todoitem/a", json!({"text": "x"})).await,
        api.delete("/tables/todoitem/a").await,
    ] {
        assert_eq!(reply.status, 500);
        assert!(!reply.error().contains("secret"), "{}", reply.error());
    }
    server.abort();
}

/// With accounts, a sign-in against a failing store is a 500 that hides the details too (not a
/// "wrong password", which would send the user guessing).
#[tokio::test]
async fn a_failing_account_store_gives_500_that_hides_the_details() {
    let (server, api) = serve_failing(ServerConfig::default()).await;
    let login = api
        .post(
            "/.auth/login/tidemark",
            json!({"username": "alice", "password": "password1"}),
        )
        .await;
    assert_eq!(login.status, 500);
    assert!(!login.error().contains("secret"), "{}", login.error());
    server.abort();
}
