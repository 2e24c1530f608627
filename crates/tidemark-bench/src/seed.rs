//! Filling a server's database through the server's own store before the server starts: set-up
//! for a phase, never what a figure measures.

use serde_json::{Map, Value};
use tidemark_server::store::{Change, NewItem, Owner, StoreWrite, TableStore};

/// How the seeded rows' ids are made.
#[derive(Debug, Clone, Copy)]
pub enum Ids {
    /// Drawn by the store (UUID v4), as for items the app creates.
    Random,
    /// `seed-0000000`, `seed-0000001`, …: every insert and lookup goes to the end of a B-tree.
    Ascending,
}

impl Ids {
    /// The id of the `n`th row (`None`: the store draws one).
    fn id(self, n: usize) -> Option<String> {
        match self {
            Ids::Random => None,
            Ids::Ascending => Some(format!("seed-{n:07}")),
        }
    }
}

/// Inserts `rows` items into `table`, the `n`th with `properties(n)`, through the store's
/// `apply`, from `writers` concurrent tasks (each a contiguous range of rows).
pub async fn seed<S>(
    store: &S,
    table: &str,
    rows: usize,
    ids: Ids,
    writers: usize,
    properties: fn(usize) -> Map<String, Value>,
) -> anyhow::Result<()>
where
    S: TableStore + Clone + Send + Sync + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let per = rows.div_ceil(writers.max(1));
    for w in 0..writers.max(1) {
        let (store, table) = (store.clone(), table.to_owned());
        tasks.spawn(async move {
            for n in (w * per)..((w + 1) * per).min(rows) {
                let item = NewItem {
                    id: ids.id(n),
                    properties: properties(n),
                };
                store
                    .apply(
                        &Owner::unowned(),
                        StoreWrite {
                            table: table.clone(),
                            change: Change::Insert(item),
                            tag: None,
                        },
                    )
                    .await?;
            }
            Ok::<_, tidemark_server::StoreError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidemark_server::store::{ItemQuery, SqliteTableStore};

    fn text(n: usize) -> Map<String, Value> {
        let mut item = Map::new();
        item.insert("text".into(), Value::String(format!("row {n}")));
        item
    }

    #[tokio::test]
    async fn every_row_is_stored_once_whatever_the_writers() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = SqliteTableStore::open(dir.path().join("s.db"))?;
        seed(&store, "todoitem", 10, Ids::Ascending, 3, text).await?;
        let query = ItemQuery {
            limit: 100,
            ..ItemQuery::default()
        };
        let page = store.query(&Owner::unowned(), "todoitem", &query).await?;
        let ids: Vec<String> = page.items.iter().map(|i| i.id.clone()).collect();
        let expected: Vec<String> = (0..10).map(|n| format!("seed-{n:07}")).collect();
        assert_eq!(ids, expected);
        seed(&store, "todoitem", 2, Ids::Random, 0, text).await?;
        assert_eq!(
            store
                .query(&Owner::unowned(), "todoitem", &query)
                .await?
                .items
                .len(),
            12
        );
        Ok(())
    }
}
