//! The bare SQLite floor of a pull: the least any pull of these rows can cost in SQLite.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::ensure;

use super::TABLE;

/// The floor's figures.
pub(super) struct Floor {
    /// How long the insert transaction took.
    pub elapsed: Duration,
    /// How many rows it copied.
    pub rows: usize,
}

/// Copies every row of the pulled table into a new database with the same schema, timing only
/// the insert transaction: the least any pull of these rows can cost in SQLite.
pub(super) fn sqlite_floor(pulled: &Path, target: &Path) -> anyhow::Result<Floor> {
    use rusqlite::{Connection, params_from_iter, types::Value as Sql};
    let source = Connection::open(pulled)?;
    let schema: Vec<String> = source
        .prepare(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ?1 AND sql IS NOT NULL \
             ORDER BY type = 'table' DESC",
        )?
        .query_map([TABLE], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ensure!(!schema.is_empty(), "the pulled store has no {TABLE} table");
    let mut select = source.prepare(&format!("SELECT * FROM \"{TABLE}\""))?;
    let columns = select.column_count();
    let rows: Vec<Vec<Sql>> = select
        .query_map([], |r| (0..columns).map(|i| r.get::<_, Sql>(i)).collect())?
        .collect::<Result<_, _>>()?;
    drop(select);

    let mut target = Connection::open(target)?;
    target.pragma_update(None, "journal_mode", "WAL")?;
    target.pragma_update(None, "synchronous", "NORMAL")?;
    for sql in &schema {
        target.execute_batch(sql)?;
    }
    let placeholders = vec!["?"; columns].join(", ");
    let started = Instant::now();
    let tx = target.transaction()?;
    {
        let mut insert = tx.prepare(&format!("INSERT INTO \"{TABLE}\" VALUES ({placeholders})"))?;
        for row in &rows {
            insert.execute(params_from_iter(row.iter()))?;
        }
    }
    tx.commit()?;
    Ok(Floor {
        elapsed: started.elapsed(),
        rows: rows.len(),
    })
}
