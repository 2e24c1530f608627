//! Failures on the server's side: a store that fails answers 500 with an `{"error"}` body that
//! does not leak the backend's details.

use serde_json::json;
use tidemark_server::ServerConfig;
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

#[tokio::test]
async fn a_failing_store_gives_500_with_an_error_body_that_hides_the_details() {
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
        ServerConfig::default(),
        std::future::pending(),
    ));
    let api = Api::new(&url);
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
