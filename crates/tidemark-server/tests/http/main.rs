//! The table protocol over real HTTP: a server on 127.0.0.1:0 per test, driven with reqwest.
//! Every test runs twice, on SQLite and on PostgreSQL (`backend_tests!`), so the two stores
//! cannot drift apart.

#[path = "../common/mod.rs"]
mod common;

use tidemark_testkit::server::{Backend, TestServer};

/// Instantiates the listed test functions (each `async fn name(backend: Backend)`) once per
/// backend, as `sqlite::name` and `postgres::name`, with the given test attribute.
macro_rules! backend_tests {
    (#[$attr:meta]; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[$attr]
                async fn $name() {
                    super::$name(tidemark_testkit::server::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[$attr]
                async fn $name() {
                    super::$name(tidemark_testkit::server::Backend::Postgres).await;
                }
            )*
        }
    };
}

mod accounts_kit;
mod auth;
mod batch;
mod change_clock;
mod checksum;
mod crud;
mod edge;
mod idempotency;
mod internal;
mod isolation;
mod limits;
mod malformed;
mod openapi;
mod page_budget;
mod power_loss;
mod query;

/// Every row of the server's database as text, in a stable order: two dumps are equal exactly
/// when the stored content is.
pub async fn dump(server: &TestServer) -> Vec<String> {
    match (server.backend(), server.postgres()) {
        (Backend::Postgres, Some(db)) => dump_postgres(db.url()).await,
        _ => common::dump_database(server.db_path()),
    }
}

async fn dump_postgres(url: &str) -> Vec<String> {
    let (client, connection) = match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        Ok(c) => c,
        Err(e) => panic!("cannot connect to {url}: {e}"),
    };
    tokio::spawn(connection);
    let mut out = Vec::new();
    // Every column as text, so one query shape serves every table of our schema; rows of the
    // owned tables end with their owner's user id (see `common::dump_database`).
    for table in [
        "items",
        "operations",
        "owners",
        "change_clocks",
        "tidemark_schema",
    ] {
        let sql = if matches!(table, "items" | "operations") {
            format!(
                "SELECT t::text || ' owner_id=' || o.user_id FROM {table} t \
                 JOIN owners o ON o.key = t.owner"
            )
        } else {
            format!("SELECT t::text FROM {table} t")
        };
        let rows = match client.query(&sql, &[]).await {
            Ok(r) => r,
            Err(e) => panic!("{sql}: {e}"),
        };
        let mut lines: Vec<String> = rows
            .iter()
            .map(|r| format!("{table}: {}", r.get::<_, String>(0)))
            .collect();
        lines.sort();
        out.extend(lines);
    }
    out
}
