//! Behaviours of the SQLite store beyond the shared suite: what the ordered change clock
//! protects against (shown deterministically with a gated clock), operation-record pruning,
//! and the clock surviving a reopen with the wall clock set back.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::{Map, json};
use tidemark_protocol::headers::OperationTag;
use tidemark_server::store::{
    Change, Clock, OperationRetention, SqliteOptions, SqliteTableStore, StoreError, StoreWrite,
    TableStore,
};
use tidemark_testkit::stamps::StockClock;
use tokio::sync::oneshot;

use crate::SqliteFixture;
use crate::support::{LateCommit, NOBODY, new_item, spawn_insert, update, write};
const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;

/// A clock whose first reading (1 s) is taken, then held until the test releases it; later
/// readings are 2 s and after. It lets a test stop a write right after its clock reading.
struct GatedClock {
    calls: AtomicUsize,
    entered: Mutex<Option<oneshot::Sender<()>>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl Clock for GatedClock {
    fn now_us(&self) -> i64 {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call > 0 {
            return 2 * SECOND + call as i64;
        }
        if let Some(entered) = self.entered.lock().ok().and_then(|mut e| e.take()) {
            let _ = entered.send(());
        }
        if let Ok(release) = self.release.lock() {
            let _ = release.recv_timeout(Duration::from_secs(10));
        }
        SECOND
    }
}

/// A clock the test sets.
struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_us(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// An insert of item `id` tagged with operation `op` (version 1).
fn tagged_insert(id: &str, op: &str) -> StoreWrite {
    write(Change::Insert(new_item(id, json!({})))).tagged(OperationTag::new(op, 1))
}

/// A store that keeps two operation records per table and prunes on every tagged write.
fn store_keeping_two_records() -> SqliteFixture {
    SqliteFixture::with(SqliteOptions {
        operations: OperationRetention {
            max_per_table: 2,
            prune_every: 1,
            ..OperationRetention::default()
        },
        ..SqliteOptions::default()
    })
}

/// Writer A reads the clock and stalls; writer B writes; the reader pulls; A is released and
/// commits; the reader pulls again. A stock clock reads the time before the write lock.
async fn late_commit_scenario(stock: bool) -> LateCommit {
    let (entered_tx, entered_rx) = oneshot::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let clock = GatedClock {
        calls: AtomicUsize::new(0),
        entered: Mutex::new(Some(entered_tx)),
        release: Mutex::new(release_rx),
    };
    let clock: Arc<dyn Clock> = match stock {
        true => Arc::new(StockClock(clock)),
        false => Arc::new(clock),
    };
    let fixture = SqliteFixture::with(SqliteOptions {
        clock,
        ..SqliteOptions::default()
    });
    let store = fixture.store.clone();
    let a = spawn_insert(store.clone(), "a");
    // A has its clock reading (with the ordered clock: while holding the write lock).
    let _ = entered_rx.await;
    let b = spawn_insert(store.clone(), "b");
    let release = async move {
        let _ = release_tx.send(());
    };
    LateCommit::finish(&store, a, b, release).await
}

#[tokio::test]
async fn a_clock_read_before_the_write_lock_lets_an_incremental_reader_miss_a_late_commit() {
    late_commit_scenario(true).await.assert_a_was_missed();
}

#[tokio::test]
async fn the_ordered_clock_lets_no_late_commit_slip_behind_an_incremental_reader() {
    late_commit_scenario(false)
        .await
        .assert_nothing_was_missed();
}

#[tokio::test]
async fn operation_records_beyond_the_per_table_cap_are_pruned() {
    let fixture = store_keeping_two_records();
    let store = &fixture.store;
    for n in 1..=4 {
        let written = store.apply(NOBODY, tagged_insert(&format!("{n}"), &format!("op{n}")));
        assert!(written.await.is_ok());
    }
    let newest = store.apply(NOBODY, tagged_insert("4", "op4")).await;
    assert_eq!(newest.ok().map(|o| o.replayed), Some(true));
    let pruned = store.apply(NOBODY, tagged_insert("1", "op1")).await;
    assert!(
        matches!(pruned, Err(StoreError::Conflict(_))),
        "op1's record is gone"
    );
}

#[tokio::test]
async fn a_batch_prunes_its_operation_records_once_after_its_writes() {
    let fixture = store_keeping_two_records();
    let store = &fixture.store;
    let tagged = |n: u32| tagged_insert(&format!("{n}"), &format!("op{n}"));
    let first = store
        .apply_batch(NOBODY, (1..=4).map(tagged).collect())
        .await;
    let first = first.unwrap_or_else(|e| panic!("batch: {e}"));
    // Pruning waits for the end of the batch: every write of it succeeds and is answered.
    assert!(first.iter().all(|r| r.as_ref().is_ok_and(|o| !o.replayed)));
    // Then only the newest two records are left: op3 and op4 replay, op1 is gone.
    let retry = store
        .apply_batch(NOBODY, (1..=4).map(tagged).collect())
        .await;
    let retry = retry.unwrap_or_else(|e| panic!("batch: {e}"));
    let replayed: Vec<bool> = retry
        .iter()
        .map(|r| r.as_ref().is_ok_and(|o| o.replayed))
        .collect();
    assert_eq!(replayed, [false, false, true, true], "{retry:?}");
    assert!(
        matches!(retry[0], Err(StoreError::Conflict(_))),
        "op1's record is gone, so its insert conflicts with the stored item"
    );
}

#[tokio::test]
async fn operation_records_older_than_the_retention_are_pruned() {
    let clock = Arc::new(ManualClock(AtomicI64::new(DAY)));
    let fixture = SqliteFixture::with(SqliteOptions {
        clock: clock.clone(),
        operations: OperationRetention {
            max_age: Duration::from_secs(2 * 86_400),
            prune_every: 1,
            ..OperationRetention::default()
        },
        ..SqliteOptions::default()
    });
    let store = &fixture.store;
    let old = store.apply(NOBODY, tagged_insert("old", "old")).await;
    assert!(old.is_ok());
    clock.0.store(9 * DAY, Ordering::SeqCst);
    let recent = store.apply(NOBODY, tagged_insert("new", "new")).await;
    assert!(recent.is_ok());
    let retry_old = store.apply(NOBODY, tagged_insert("old", "old")).await;
    assert!(matches!(retry_old, Err(StoreError::Conflict(_))));
    let retry_new = store.apply(NOBODY, tagged_insert("new", "new")).await;
    assert_eq!(retry_new.ok().map(|o| o.replayed), Some(true));
}

#[tokio::test]
async fn a_reopened_store_keeps_stamping_after_its_newest_row_even_if_the_clock_went_back() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let path = dir.path().join("store.db");
    let open = |now: i64| {
        let options = SqliteOptions {
            clock: Arc::new(ManualClock(AtomicI64::new(now))),
            ..SqliteOptions::default()
        };
        match SqliteTableStore::open_with(&path, options) {
            Ok(s) => s,
            Err(e) => panic!("open: {e}"),
        }
    };
    let before = open(100 * SECOND)
        .apply(NOBODY, write(Change::Insert(new_item("a", json!({})))))
        .await;
    let before = before
        .ok()
        .map(|o| o.item.updated_at_us)
        .unwrap_or(i64::MAX);
    let after = open(50 * SECOND)
        .apply(NOBODY, write(update("a", Map::new(), None)))
        .await;
    let after = after.ok().map(|o| o.item.updated_at_us).unwrap_or(i64::MIN);
    assert!(after > before, "{after} should follow {before}");
}
