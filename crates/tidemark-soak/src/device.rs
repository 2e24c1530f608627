//! One simulated device: a real sync engine on its own SQLite file, signed in as one of the
//! soak's users, its random edits, its syncs, and its part of the model (the items it owns, the
//! shared writes of its user it saw acknowledged).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::RngExt as _;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use tidemark_client::tidemark_protocol::system;
use tidemark_client::{
    ClientError, ColumnType, ConflictHandler, ConflictResolution, Item, OperationError, PushResult,
    PushStatus, Query, RemoteConfig, Session, SyncContext, SyncTable, TableDefinition,
};

use crate::model::{Fields, fields_of, is_shared, shared_id, user_of, writer_of};
use crate::stats::Stats;
use crate::{SoakConfig, TABLE};

/// How many pushes the final drain tries before calling a queue stuck.
const DRAIN_ATTEMPTS: usize = 20;

/// The longest one request may take; a server that was killed answers at once (refused or
/// reset), so hitting this means something hangs, which is an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// `todoitem(text, complete, priority)`, the app's table.
fn todo_table() -> TableDefinition {
    TableDefinition::new(TABLE)
        .column("text", ColumnType::Text)
        .column("complete", ColumnType::Boolean)
        .column("priority", ColumnType::Integer)
}

/// The item to write for these fields.
fn item(id: &str, (text, complete, priority): &Fields) -> Item {
    match json!({system::ID: id, "text": text, "complete": complete, "priority": priority}) {
        Value::Object(map) => map,
        _ => Item::new(),
    }
}

/// True when a push or pull failed only because the server could not be reached (it is down
/// or was killed mid-request): connection refused, reset or closed. Timeouts and HTTP or
/// protocol errors are not that.
fn is_server_down(message: &str) -> bool {
    message.starts_with("cannot connect") || message.starts_with("request failed")
}

/// The declared rule for shared items (server wins), and the detector of false conflicts.
struct SoakHandler {
    device: usize,
    stats: Arc<Stats>,
}

impl ConflictHandler for SoakHandler {
    fn resolve(&self, error: &OperationError) -> ConflictResolution {
        if error.is_conflict() && is_shared(&error.item_id) {
            let writer = error
                .server_item
                .as_ref()
                .map(fields_of)
                .and_then(|(text, _, _)| writer_of(&text));
            if writer.is_some() && writer != Some(self.device) {
                Stats::bump(&self.stats.resolved_conflicts);
                return ConflictResolution::ServerWins;
            }
        }
        if error.is_conflict() {
            // An owned item, or a shared one whose server copy this device wrote itself.
            Stats::bump(&self.stats.false_conflicts);
        }
        // Recorded: the push reports it and the soak counts it as an error.
        ConflictResolution::Record
    }
}

/// One simulated device.
pub(crate) struct SimDevice {
    number: usize,
    /// The user it is signed in as.
    user: usize,
    ctx: SyncContext,
    table: SyncTable,
    rng: StdRng,
    stats: Arc<Stats>,
    config: SoakConfig,
    /// The owned items that exist locally, with the values last written to them.
    model: BTreeMap<String, Fields>,
    next_item: u64,
    next_value: u64,
    /// Shared items edited here whose write is not yet known to be acknowledged: id → text.
    unacked_shared: HashMap<String, String>,
}

impl SimDevice {
    /// Opens device `number`'s store in `dir`, talking to `url` signed in with `session` (of
    /// the user [`user_of`] deals it to).
    pub(crate) async fn open(
        number: usize,
        dir: &Path,
        url: &str,
        session: Session,
        rng: StdRng,
        stats: Arc<Stats>,
        config: SoakConfig,
    ) -> anyhow::Result<Self> {
        let remote = RemoteConfig {
            timeout: REQUEST_TIMEOUT,
            ..RemoteConfig::new(url).with_session(session)
        };
        let ctx = SyncContext::open(
            dir.join(format!("device-{number:03}.db")),
            vec![todo_table()],
            remote,
        )
        .await?;
        ctx.set_conflict_handler(Arc::new(SoakHandler {
            device: number,
            stats: Arc::clone(&stats),
        }));
        let table = ctx.table(TABLE)?;
        Ok(Self {
            number,
            user: user_of(number, config.users),
            ctx,
            table,
            rng,
            stats,
            config,
            model: BTreeMap::new(),
            next_item: 0,
            next_value: 0,
            unacked_shared: HashMap::new(),
        })
    }

    /// The device's number.
    pub(crate) fn number(&self) -> usize {
        self.number
    }

    /// The user the device is signed in as.
    pub(crate) fn user(&self) -> usize {
        self.user
    }

    /// The owned items and their last values.
    pub(crate) fn model(&self) -> &BTreeMap<String, Fields> {
        &self.model
    }

    /// The first pull, before the soak, bringing the shared items.
    pub(crate) async fn initial_pull(&mut self) -> anyhow::Result<()> {
        self.table
            .pull(Some("all"), &Query::new())
            .await
            .with_context(|| format!("device {}: the first pull failed", self.number))?;
        Ok(())
    }

    /// One round: a few offline edits, a short pause, a push and a pull, then a think time.
    /// True when the push reached the server and completed.
    pub(crate) async fn round(&mut self) -> bool {
        let edits = self
            .rng
            .random_range(1..=self.config.max_edits_per_round.max(1));
        for _ in 0..edits {
            self.edit().await;
        }
        let pause = self.rng.random_range(0..10);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let online = self.push().await;
        if online {
            self.pull().await;
        }
        let think = self.config.max_think_time.as_millis().max(1) as u64;
        let think = self.rng.random_range(0..think);
        tokio::time::sleep(Duration::from_millis(think)).await;
        online
    }

    fn fresh_fields(&mut self) -> Fields {
        self.next_value += 1;
        (
            format!("d{:03}:{}", self.number, self.next_value),
            self.rng.random_bool(0.3),
            self.rng.random_range(0..5),
        )
    }

    /// One random local edit, recorded in the model once the engine took it.
    async fn edit(&mut self) {
        let choice = self.rng.random_range(0..100);
        if choice < 20 && self.config.shared_items > 0 {
            let id = shared_id(self.rng.random_range(0..self.config.shared_items));
            let (text, _, _) = self.fresh_fields();
            let mut change = Item::new();
            change.insert(system::ID.into(), Value::String(id.clone()));
            change.insert("text".into(), Value::String(text.clone()));
            match self.table.update(change).await {
                Ok(_) => {
                    Stats::bump(&self.stats.updates);
                    self.unacked_shared.insert(id, text);
                }
                Err(e) => self.fail(format!("update of {id} failed: {e}")),
            }
        } else if choice < 55 || self.model.is_empty() {
            self.next_item += 1;
            let id = format!("d{:03}-{}", self.number, self.next_item);
            let fields = self.fresh_fields();
            match self.table.insert(item(&id, &fields)).await {
                Ok(_) => {
                    Stats::bump(&self.stats.inserts);
                    self.model.insert(id, fields);
                }
                Err(e) => self.fail(format!("insert of {id} failed: {e}")),
            }
        } else {
            let n = self.rng.random_range(0..self.model.len());
            let Some(id) = self.model.keys().nth(n).cloned() else {
                return;
            };
            if choice < 85 {
                let fields = self.fresh_fields();
                match self.table.update(item(&id, &fields)).await {
                    Ok(_) => {
                        Stats::bump(&self.stats.updates);
                        self.model.insert(id, fields);
                    }
                    Err(e) => self.fail(format!("update of {id} failed: {e}")),
                }
            } else {
                match self.table.delete(&id).await {
                    Ok(()) => {
                        Stats::bump(&self.stats.deletes);
                        self.model.remove(&id);
                    }
                    // The engine refuses to delete an item whose insert was sent with no
                    // answer (the server was killed): documented, and nothing changes.
                    Err(ClientError::QueueConflict { .. }) => {
                        Stats::bump(&self.stats.deferred_deletes);
                    }
                    Err(e) => self.fail(format!("delete of {id} failed: {e}")),
                }
            }
        }
    }

    /// Pushes the queue; true when it completed (so a pull may follow).
    async fn push(&mut self) -> bool {
        Stats::bump(&self.stats.syncs);
        let started = Instant::now();
        let result = self.ctx.push().await;
        if let Ok(mut t) = self.stats.push_times.lock() {
            t.push(started.elapsed());
        }
        self.note_shared_acks().await;
        self.judge_push(&result)
    }

    /// Counts what a push found; true when it completed without refusals.
    fn judge_push(&self, result: &PushResult) -> bool {
        for e in &result.errors {
            self.fail(format!(
                "{} of '{}' refused with {:?}: {}",
                e.kind,
                e.item_id,
                e.status,
                e.raw_body.as_deref().unwrap_or_default()
            ));
        }
        match result.status {
            PushStatus::Complete => result.errors.is_empty(),
            PushStatus::CancelledByNetworkError
                if result.message.as_deref().is_some_and(is_server_down) =>
            {
                Stats::bump(&self.stats.offline_syncs);
                false
            }
            _ => {
                self.fail(format!("push ended badly: {result}"));
                false
            }
        }
    }

    /// Pulls every row incrementally.
    async fn pull(&mut self) -> bool {
        Stats::bump(&self.stats.syncs);
        let started = Instant::now();
        let result = self.table.pull(Some("all"), &Query::new()).await;
        if let Ok(mut t) = self.stats.pull_times.lock() {
            t.push(started.elapsed());
        }
        match result {
            Ok(_) => true,
            Err(ClientError::Network { message }) if is_server_down(&message) => {
                Stats::bump(&self.stats.offline_syncs);
                false
            }
            Err(ClientError::PushFailed(pushed)) => {
                self.judge_push(&pushed);
                false
            }
            Err(e) => {
                self.fail(format!("pull failed: {e}"));
                false
            }
        }
    }

    /// Moves the shared writes whose operation left the queue into the acknowledged list (the
    /// local row holds the value sent) or drops them (the server won a conflict).
    async fn note_shared_acks(&mut self) {
        if self.unacked_shared.is_empty() {
            return;
        }
        let queued: HashSet<String> = match self.ctx.operations().await {
            Ok(ops) => ops.into_iter().map(|o| o.item_id).collect(),
            Err(e) => {
                self.fail(format!("cannot read the queue: {e}"));
                return;
            }
        };
        let done: Vec<(String, String)> = self
            .unacked_shared
            .iter()
            .filter(|(id, _)| !queued.contains(*id))
            .map(|(id, text)| (id.clone(), text.clone()))
            .collect();
        for (id, sent) in done {
            self.unacked_shared.remove(&id);
            let local = match self.table.lookup(&id).await {
                Ok(Some(row)) => row,
                Ok(None) => {
                    self.fail(format!("shared item {id} vanished locally"));
                    continue;
                }
                Err(e) => {
                    self.fail(format!("cannot read {id}: {e}"));
                    continue;
                }
            };
            let (text, _, _) = fields_of(&local);
            if text == sent {
                let at = local
                    .get(system::UPDATED_AT)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if let Ok(mut acks) = self.stats.shared_acks.lock() {
                    acks.entry((self.user, id)).or_default().push((at, sent));
                }
            }
        }
    }

    /// After the rounds, with the server up for good: pushes until the queue is empty.
    pub(crate) async fn drain(&mut self) {
        for _ in 0..DRAIN_ATTEMPTS {
            let complete = self.push().await;
            match self.ctx.pending_operations().await {
                Ok(0) if complete => return,
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => {
                    self.fail(format!("cannot count the queue: {e}"));
                    return;
                }
            }
        }
        self.fail(format!(
            "the queue did not drain in {DRAIN_ATTEMPTS} pushes"
        ));
    }

    /// After every device drained: pulls everything the others wrote.
    pub(crate) async fn final_pull(&mut self) {
        if !self.pull().await {
            self.fail("the final pull did not complete".into());
        }
    }

    /// True when the device's rows (and versions) equal its user's server rows and nothing is
    /// queued.
    pub(crate) async fn equals_server(&self, server: &BTreeMap<String, Item>) -> bool {
        match (self.ctx.pending_operations().await, self.ctx.errors().await) {
            (Ok(0), Ok(errors)) if errors.is_empty() => {}
            (pending, errors) => {
                self.fail(format!(
                    "queue not empty at the end: {pending:?} pending, errors {errors:?}"
                ));
                return false;
            }
        }
        let local = match self.table.query(&Query::new()).await {
            Ok(rows) => rows,
            Err(e) => {
                self.fail(format!("cannot read the local rows: {e}"));
                return false;
            }
        };
        let local: BTreeMap<String, Item> = local
            .into_iter()
            .map(|row| {
                let id = row
                    .get(system::ID)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                (id, row)
            })
            .collect();
        let same = |a: &Item, b: &Item| {
            fields_of(a) == fields_of(b) && a.get(system::VERSION) == b.get(system::VERSION)
        };
        let missing = server.keys().filter(|id| !local.contains_key(*id)).count();
        let extra = local.keys().filter(|id| !server.contains_key(*id)).count();
        let differ: Vec<&String> = local
            .iter()
            .filter(|(id, row)| server.get(*id).is_some_and(|s| !same(row, s)))
            .map(|(id, _)| id)
            .collect();
        if missing == 0 && extra == 0 && differ.is_empty() {
            return true;
        }
        self.fail(format!(
            "differs from the server: {missing} rows missing, {extra} extra, {} different (first: {:?})",
            differ.len(),
            differ.first()
        ));
        false
    }

    /// Closes the store.
    pub(crate) async fn close(self) {
        self.ctx.close().await;
    }

    fn fail(&self, message: String) {
        self.stats
            .fail(format!("device {}: {message}", self.number));
    }
}
