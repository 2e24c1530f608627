//! What the store tests share: shorthands for the writes they make through
//! `TableStore::apply`, and the incremental reader the change-clock tests pull with.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use serde_json::{Map, Value};
use tidemark_protocol::date;
use tidemark_protocol::odata::{Direction, Expr, OrderBy, parse_filter};
use tidemark_server::store::{
    Change, ItemQuery, NewItem, Owner, StoreError, StoreWrite, TableStore, WriteOutcome,
};
use tokio::task::JoinHandle;

/// The table the tests write.
pub const T: &str = "todoitem";

/// The owner of the shared list, whose rows every test but the isolation tests writes.
pub const NOBODY: &Owner = &Owner::unowned();

/// The properties of a JSON object.
pub fn props(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// A new item with a client-made id.
pub fn new_item(id: &str, value: Value) -> NewItem {
    NewItem {
        id: Some(id.to_owned()),
        properties: props(value),
    }
}

/// An untagged write of `change` to [`T`].
pub fn write(change: Change) -> StoreWrite {
    StoreWrite::new(T, change)
}

/// A merge of `patch` into item `id`.
pub fn update(id: &str, patch: Map<String, Value>, expected_version: Option<String>) -> Change {
    Change::Update {
        id: id.to_owned(),
        patch,
        expected_version,
        max_bytes: None,
    }
}

/// A soft delete of item `id`.
pub fn delete(id: &str, expected_version: Option<String>) -> Change {
    Change::Delete {
        id: id.to_owned(),
        expected_version,
    }
}

/// An undelete of item `id`.
pub fn undelete(id: &str, expected_version: Option<String>) -> Change {
    Change::Undelete {
        id: id.to_owned(),
        expected_version,
    }
}

/// An incremental reader: `updatedAt ge <watermark>` ordered by updatedAt, as the engine pulls.
#[derive(Default)]
struct Reader {
    seen: BTreeSet<String>,
    watermark: Option<i64>,
}

impl Reader {
    /// Pulls the rows at or after the watermark and moves it to the last one.
    async fn pull(&mut self, store: &impl TableStore) {
        let filter = self.watermark.and_then(date::from_micros).map(|mark| {
            let text = format!("updatedAt ge datetimeoffset'{}'", date::format_date(&mark));
            match parse_filter(&text) {
                Ok(f) => f,
                Err(e) => panic!("{text}: {e}"),
            }
        });
        let query = ItemQuery {
            filter,
            orderby: vec![OrderBy {
                expr: Expr::Property("updatedAt".into()),
                direction: Direction::Asc,
            }],
            limit: 1000,
            include_deleted: true,
            ..ItemQuery::default()
        };
        let page = match store.query(NOBODY, T, &query).await {
            Ok(p) => p,
            Err(e) => panic!("pull: {e}"),
        };
        for item in &page.items {
            self.seen.insert(item.id.clone());
        }
        if let Some(last) = page.items.last() {
            self.watermark = Some(last.updated_at_us);
        }
    }
}

/// What a late-commit scenario ends with: what the incremental reader holds, and what the
/// table holds (a fresh reader's full pull).
pub struct LateCommit {
    /// The incremental reader's ids.
    pub seen: BTreeSet<String>,
    /// Every id in the table.
    pub all: BTreeSet<String>,
}

/// A write running on its own task.
pub type WriteTask = JoinHandle<Result<WriteOutcome, StoreError>>;

/// Inserts item `id` (no properties) into [`T`] on its own task.
pub fn spawn_insert(store: impl TableStore + Clone, id: &str) -> WriteTask {
    let write = write(Change::Insert(new_item(id, Value::Object(Map::new()))));
    tokio::spawn(async move { store.apply(NOBODY, write).await })
}

impl LateCommit {
    /// The rest of a late-commit scenario once writer A is held after taking its stamp:
    /// writer B commits now if it can overtake A (with the ordered clock it waits for A), the
    /// reader pulls, `release` lets A go, both writes must succeed, the reader pulls again and
    /// a fresh reader pulls everything.
    pub async fn finish(
        store: &impl TableStore,
        a: WriteTask,
        mut b: WriteTask,
        release: impl Future<Output = ()>,
    ) -> Self {
        let b_early = tokio::time::timeout(Duration::from_millis(300), &mut b)
            .await
            .ok();
        let mut reader = Reader::default();
        reader.pull(store).await;
        release.await;
        let a = a.await;
        let b = match b_early {
            Some(done) => done,
            None => b.await,
        };
        for write in [a, b] {
            if !matches!(write, Ok(Ok(_))) {
                panic!("write failed: {write:?}");
            }
        }
        reader.pull(store).await;
        let mut all = Reader::default();
        all.pull(store).await;
        Self {
            seen: reader.seen,
            all: all.seen,
        }
    }

    /// Stamped like a stock server, `a` (stamped first, committed last) slipped behind the
    /// reader's watermark: it holds only `b`.
    pub fn assert_a_was_missed(&self) {
        assert_eq!(self.all, ids(&["a", "b"]));
        assert_eq!(self.seen, ids(&["b"]), "a was stamped behind the watermark");
    }

    /// With the ordered clock, the reader holds every row.
    pub fn assert_nothing_was_missed(&self) {
        assert_eq!(self.all, ids(&["a", "b"]));
        assert_eq!(self.seen, self.all);
    }
}

fn ids(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|&id| id.to_owned()).collect()
}
