//! What the store tests share: shorthands for the writes they make through
//! `TableStore::apply`, and the incremental reader the change-clock tests pull with.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use tidemark_protocol::date;
use tidemark_protocol::odata::{Direction, Expr, OrderBy, parse_filter};
use tidemark_server::store::{Change, ItemQuery, NewItem, StoreWrite, TableStore};

/// The table the tests write.
pub const T: &str = "todoitem";

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
pub struct Reader {
    /// The ids pulled so far.
    pub seen: BTreeSet<String>,
    watermark: Option<i64>,
}

impl Reader {
    /// Pulls the rows at or after the watermark and moves it to the last one.
    pub async fn pull(&mut self, store: &impl TableStore) {
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
        let page = match store.query(T, &query).await {
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

impl LateCommit {
    /// The reader pulls again after the late commit, and a fresh reader pulls everything.
    pub async fn after(mut reader: Reader, store: &impl TableStore) -> Self {
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
