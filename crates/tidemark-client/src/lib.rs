//! The Tidemark offline sync engine: a local SQLite store with an operation queue, push, pull,
//! purge and conflict handling, speaking the Azure Mobile Apps table protocol (see
//! `shared/spec/sync.md`, which every behaviour here implements). It knows nothing about todos
//! or the UI.
//!
//! # The API in one screen
//! ```text
//! SyncContext::open(path, Vec<TableDefinition>, RemoteConfig) -> Result<SyncContext>
//!   .table("todoitem") -> Result<SyncTable>        local table defined at open
//!   .push() / .push_with_cancel(&CancelToken) -> PushResult {status: PushStatus, errors, pushed}
//!   .pending_operations() -> Result<u64>           the badge number
//!   .operations() -> Result<Vec<Operation>>        the queue, in order
//!   .errors() -> Result<Vec<OperationError>>       refused operations with the server's item
//!   .cancel_and_take_server_item(&err)             resolution: server wins
//!   .cancel_and_discard_item(&err)                 resolution: drop local change and row
//!   .update_operation(&err, item)                  resolution: edit (item carries server version)
//!   .restore_and_keep_local(&err)                  resolution: bring back an item deleted elsewhere
//!   err.problem() -> Problem                       Conflict / DeletedElsewhere / Refused (+ .reason())
//!   .set_conflict_handler(Arc<dyn ConflictHandler>) consulted per refused op during push
//!   .set_remote(RemoteConfig) / .remote_config()   change server or session at runtime
//!   .prepare_account() -> Result<Option<Session>>  bind the store, renew a token due (push/pull do it too)
//!   .bound_account() -> Result<Option<Binding>>    the (server, user id) the store belongs to
//!   .subscribe() -> watch::Receiver<SyncStatus>    {pending, syncing, last_sync, last_error, connectivity, repaired}
//!   .watch_store(every).await?.changed().await    wakes on other programs' commits to the store
//!   .remote_table("todoitem") -> RemoteTable       online-only access
//!   .close().await
//! SyncTable
//!   .insert(Item) / .update(Item) -> Result<Item>  one transaction with its queue entry
//!   .delete(id) / .lookup(id) / .query(&Query) / .count(&Query)
//!   .pull(Option<query_id>, &Query) / .pull_with_cancel(.., &CancelToken)
//!       -> Result<PullResult {received, requests, upserted, deleted, skipped_pending,
//!          unreadable: Vec<UnreadableItem {id, position, updated_at, reason}>,
//!          repair: Option<Repair {table, local_rows, server_rows, differences}>}>
//!   .purge(Option<query_id>, &Query, force) -> Result<u64>
//! AuthClient::new(&RemoteConfig)                    the server's /.auth routes
//!   .sign_in(name, password) / .sign_up(..) -> Session {token, user_id, user_name, expires_at}
//!   .me(&Session) / .refresh(&Session) / .logout(&Session); errors: AuthError (WrongPassword,
//!   Throttled {retry_after}, SignupClosed, NameTaken, BadInput, SignInRequired, Unreachable...)
//! RemoteConfig::new(url).with_session(Session)    the token goes as X-ZUMO-AUTH
//! Query::new().filter(prop("complete").equals(false)).order_by("text").skip(10).take(20)
//!   (filters are `tidemark_protocol::odata::Expr`; build them with `odata::builder::{prop, lit}`)
//! TableDefinition::new("todoitem").column("text", ColumnType::Text).column("complete", ColumnType::Boolean)
//! Item = serde_json::Map<String, Value>; errors are ClientError (thiserror): `.kind()` names
//!   the trouble (ErrorKind::StoreBusy, StoreFull, Network...) for messages and exit codes.
//! ```
//!
//! # Guarantees
//! - Every local write is one SQLite transaction with its queue entry; every push result is
//!   written with the operation's removal in one transaction; every pulled page is written with
//!   its delta token in one transaction. A killed process loses nothing and skips nothing.
//! - A retry after a lost response neither duplicates nor conflicts with itself, and an edit
//!   made while its operation is in flight is never overwritten by the push result.
//! - What the server sends is not trusted: a page is read row by row, and a row that cannot be
//!   read (nested deeper than [`MAX_ITEM_DEPTH`], not an object, an id the protocol refuses) is
//!   skipped and reported in [`PullResult::unreadable`], never blocking the rest; bodies are
//!   capped after decompression ([`RemoteConfig::max_response_bytes`]); redirects are never
//!   followed (credentials go to the configured server only); an answer to a write about
//!   another item than the operation's is refused and the operation stays queued.
//! - Accounts: a 401 asking for a bearer token stops push and pull with
//!   [`ClientError::SignInRequired`] ([`PushStatus::CancelledBySignInRequired`]), every queued
//!   operation kept; a store is bound to the (server, user) of its first signed-in sync and
//!   refuses any other ([`ClientError::WrongAccount`]), so nothing queued by one user is sent
//!   as another; a password or token never goes over plain http except to a loopback host
//!   ([`ClientError::InsecureTransport`]).

#![warn(missing_docs)]

mod account;
pub mod auth;
mod collapse;
mod conflict;
mod context;
mod error;
mod error_kind;
mod item;
mod pull;
mod purge;
mod push;
mod query;
mod queue;
mod remote;
mod resolve;
mod results;
mod schema;
mod status;
mod store;
mod store_watch;
mod table;
mod verify;

pub use account::Binding;
pub use auth::{AuthClient, AuthError, Session};
pub use conflict::{ClientWins, ConflictHandler, ConflictResolution, RecordErrors, ServerWins};
pub use context::SyncContext;
pub use error::{ClientError, Result};
pub use error_kind::ErrorKind;
pub use query::Query;
pub use queue::{Operation, OperationError, OperationKind, OperationState, Problem};
pub use remote::{
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_VERIFY_INTERVAL, MAX_ITEM_DEPTH, QueryPage, RemoteClient,
    RemoteConfig, RemoteTable,
};
pub use results::{PullResult, PushResult, PushStatus, Repair, RowDifference, UnreadableItem};
pub use schema::{Column, ColumnType, Item, TableDefinition};
pub use status::{CancelToken, Connectivity, SyncStatus};
pub use store::LocalStore;
pub use store_watch::StoreWatcher;
pub use table::SyncTable;
/// The protocol crate, re-exported so that callers build filters with the same types.
pub use tidemark_protocol;
