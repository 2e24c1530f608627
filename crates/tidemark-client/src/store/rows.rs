//! SQL of the user tables: creating and widening them, and reading and writing their rows.
//! Identifiers were validated as plain names when the tables were defined, so quoting them
//! with `"` is enough; every value is a bound parameter.

use std::collections::HashMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use serde_json::Value;
use tidemark_protocol::system;

use super::sql_query;
use super::values::{from_sql, to_sql};
use crate::error::Result;
use crate::query::Query;
use crate::schema::{ColumnType, Item, TableDefinition};

fn sql_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Text | ColumnType::DateTime | ColumnType::Json => "TEXT",
        ColumnType::Integer | ColumnType::Boolean => "INTEGER",
        ColumnType::Real => "REAL",
    }
}

/// Creates missing user tables and adds missing columns, so an app update that adds a column
/// keeps every row and queued operation.
pub(crate) fn ensure_tables(conn: &Connection, tables: &[TableDefinition]) -> rusqlite::Result<()> {
    for def in tables {
        let mut cols = vec![
            format!("\"{}\" TEXT PRIMARY KEY NOT NULL", system::ID),
            format!("\"{}\" TEXT", system::CREATED_AT),
            format!("\"{}\" TEXT", system::UPDATED_AT),
            format!("\"{}\" TEXT", system::VERSION),
            format!("\"{}\" INTEGER NOT NULL DEFAULT 0", system::DELETED),
        ];
        cols.extend(
            def.columns
                .iter()
                .map(|c| format!("\"{}\" {}", c.name, sql_type(c.column_type))),
        );
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS \"{}\" ({})",
            def.name,
            cols.join(", ")
        ))?;
        let existing: Vec<String> = {
            let mut stmt = conn.prepare(&format!("PRAGMA table_info(\"{}\")", def.name))?;
            stmt.query_map([], |r| r.get::<_, String>(1))?
                .collect::<rusqlite::Result<_>>()?
        };
        for c in &def.columns {
            if !existing.iter().any(|e| e.eq_ignore_ascii_case(&c.name)) {
                conn.execute_batch(&format!(
                    "ALTER TABLE \"{}\" ADD COLUMN \"{}\" {}",
                    def.name,
                    c.name,
                    sql_type(c.column_type)
                ))?;
            }
        }
    }
    Ok(())
}

/// `"a", "b", …`: every column of the table, quoted. Built on every read of a row (a push
/// reads each operation's row), so it is one string grown in place.
fn column_list(def: &TableDefinition) -> String {
    let columns = def.all_columns();
    let mut out = String::with_capacity(columns.iter().map(|(n, _)| n.len() + 4).sum());
    for (i, (name, _)) in columns.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('"');
        out.push_str(name);
        out.push('"');
    }
    out
}

fn row_to_item(def: &TableDefinition, row: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let mut item = Item::new();
    for (i, (name, ty)) in def.all_columns().into_iter().enumerate() {
        item.insert(name.to_string(), from_sql(ty, row.get_ref(i)?));
    }
    Ok(item)
}

/// The local row with this id.
pub(crate) fn get(conn: &Connection, def: &TableDefinition, id: &str) -> Result<Option<Item>> {
    let sql = format!(
        "SELECT {} FROM \"{}\" WHERE \"{}\" = ?1",
        column_list(def),
        def.name,
        system::ID
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt.query_row([id], |r| row_to_item(def, r)).optional()?)
}

/// The rows matching a local query.
pub(crate) fn query(conn: &Connection, def: &TableDefinition, q: &Query) -> Result<Vec<Item>> {
    let tail = sql_query::select_tail(def, q)?;
    let sql = format!(
        "SELECT {} FROM \"{}\"{}",
        column_list(def),
        def.name,
        tail.text
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(tail.params.iter()), |r| {
            row_to_item(def, r)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// How many rows match a filter (skip/take ignored).
pub(crate) fn count(conn: &Connection, def: &TableDefinition, q: &Query) -> Result<u64> {
    let w = sql_query::where_clause(def, q.filter.as_ref())?;
    let sql = format!("SELECT count(*) FROM \"{}\"{}", def.name, w.text);
    let mut stmt = conn.prepare_cached(&sql)?;
    let n: i64 = stmt.query_row(params_from_iter(w.params.iter()), |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Deletes the rows a query selects (filter, order, skip and take all apply).
pub(crate) fn delete_matching(conn: &Connection, def: &TableDefinition, q: &Query) -> Result<u64> {
    let tail = sql_query::select_tail(def, q)?;
    let sql = format!(
        "DELETE FROM \"{t}\" WHERE \"{id}\" IN (SELECT \"{id}\" FROM \"{t}\"{tail})",
        t = def.name,
        id = system::ID,
        tail = tail.text
    );
    let n = conn.execute(&sql, params_from_iter(tail.params.iter()))?;
    Ok(n as u64)
}

/// The (column, value) pairs of `item` for the table's known columns, with `keep` choosing
/// which names to take; a value of the wrong type is an error (local writes are checked).
/// Unknown names are left to the caller to judge.
fn typed_values(
    def: &TableDefinition,
    item: &Item,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<(String, SqlValue)>> {
    let mut out = Vec::new();
    for (name, value) in item {
        if !keep(name) {
            continue;
        }
        if let Some(ty) = def.column_type(name) {
            out.push((name.clone(), to_sql(name, ty, value)?));
        }
    }
    Ok(out)
}

/// Inserts a new row from `item` (which must carry the id); `keep` picks the columns written.
pub(crate) fn insert(
    conn: &Connection,
    def: &TableDefinition,
    item: &Item,
    keep: impl Fn(&str) -> bool,
) -> Result<()> {
    insert_values(conn, def, typed_values(def, item, keep)?)
}

fn insert_values(
    conn: &Connection,
    def: &TableDefinition,
    values: Vec<(String, SqlValue)>,
) -> Result<()> {
    let names: Vec<String> = values.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO \"{}\" ({}) VALUES ({})",
        def.name,
        names.join(", "),
        marks.join(", ")
    );
    conn.prepare_cached(&sql)?
        .execute(params_from_iter(values.iter().map(|(_, v)| v)))?;
    Ok(())
}

/// Writes the columns of `item` chosen by `keep` into the existing row `id`.
pub(crate) fn update(
    conn: &Connection,
    def: &TableDefinition,
    id: &str,
    item: &Item,
    keep: impl Fn(&str) -> bool,
) -> Result<bool> {
    let values = typed_values(def, item, |n| n != system::ID && keep(n))?;
    update_values(conn, def, id, values)
}

fn update_values(
    conn: &Connection,
    def: &TableDefinition,
    id: &str,
    values: Vec<(String, SqlValue)>,
) -> Result<bool> {
    if values.is_empty() {
        return exists(conn, def, id);
    }
    let sets: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, (n, _))| format!("\"{n}\" = ?{}", i + 1))
        .collect();
    let sql = format!(
        "UPDATE \"{}\" SET {} WHERE \"{}\" = ?{}",
        def.name,
        sets.join(", "),
        system::ID,
        values.len() + 1
    );
    let mut params: Vec<SqlValue> = values.into_iter().map(|(_, v)| v).collect();
    params.push(SqlValue::Text(id.to_string()));
    let n = conn
        .prepare_cached(&sql)?
        .execute(params_from_iter(params.iter()))?;
    Ok(n > 0)
}

/// Inserts or overwrites a row with the server's item (columns the item lacks are kept;
/// fields the table does not define are ignored).
pub(crate) fn upsert(
    conn: &Connection,
    def: &TableDefinition,
    item: &Item,
    lenient: bool,
) -> Result<()> {
    Upserter::new(def).upsert(conn, item, lenient)
}

/// Writes server items into one table, each with one `INSERT … ON CONFLICT DO UPDATE`: a new
/// row gets every column the item carries, an existing row has those columns overwritten and
/// keeps the others. Pages of a pull repeat the same few column sets, so the statement text is
/// built once per set rather than once per row.
pub(crate) struct Upserter<'d> {
    def: &'d TableDefinition,
    columns: Vec<(&'d str, ColumnType)>,
    /// The statement for each set of present columns (their indexes in `columns`).
    statements: HashMap<Vec<usize>, String>,
}

impl<'d> Upserter<'d> {
    /// An upserter for `def`'s table.
    pub(crate) fn new(def: &'d TableDefinition) -> Self {
        Self {
            def,
            columns: def.all_columns(),
            statements: HashMap::new(),
        }
    }

    /// Inserts or overwrites the row of `item`; an item without a text id is ignored.
    /// With `lenient` (server data), a value of the wrong type is kept as NULL with a warning,
    /// so one odd row cannot block every later pull.
    pub(crate) fn upsert(&mut self, conn: &Connection, item: &Item, lenient: bool) -> Result<()> {
        if !matches!(item.get(system::ID), Some(Value::String(_))) {
            return Ok(());
        }
        let mut present = Vec::with_capacity(self.columns.len());
        let mut values = Vec::with_capacity(self.columns.len());
        for (index, (name, ty)) in self.columns.iter().enumerate() {
            let Some(value) = item.get(*name) else {
                continue;
            };
            let value = match to_sql(name, *ty, value) {
                Ok(v) => v,
                Err(e) if lenient => {
                    log::warn!("table '{}': {e}; kept as null", self.def.name);
                    SqlValue::Null
                }
                Err(e) => return Err(e),
            };
            present.push(index);
            values.push(value);
        }
        if !self.statements.contains_key(&present) {
            let sql = upsert_sql(&self.def.name, &self.columns, &present);
            self.statements.insert(present.clone(), sql);
        }
        let sql = &self.statements[&present];
        conn.prepare_cached(sql)?
            .execute(params_from_iter(values.iter()))?;
        Ok(())
    }
}

/// `INSERT INTO t (present…) VALUES (…) ON CONFLICT (id) DO UPDATE SET c = excluded.c, …`.
fn upsert_sql(table: &str, columns: &[(&str, ColumnType)], present: &[usize]) -> String {
    let names: Vec<String> = present
        .iter()
        .map(|&i| format!("\"{}\"", columns[i].0))
        .collect();
    let marks: Vec<String> = (1..=present.len()).map(|i| format!("?{i}")).collect();
    let sets: Vec<String> = present
        .iter()
        .map(|&i| columns[i].0)
        .filter(|&name| name != system::ID)
        .map(|name| format!("\"{name}\" = excluded.\"{name}\""))
        .collect();
    let action = if sets.is_empty() {
        "NOTHING".to_owned()
    } else {
        format!("UPDATE SET {}", sets.join(", "))
    };
    format!(
        "INSERT INTO \"{table}\" ({}) VALUES ({}) ON CONFLICT (\"{}\") DO {action}",
        names.join(", "),
        marks.join(", "),
        system::ID
    )
}

/// True when a row with this id exists.
pub(crate) fn exists(conn: &Connection, def: &TableDefinition, id: &str) -> Result<bool> {
    let sql = format!(
        "SELECT 1 FROM \"{}\" WHERE \"{}\" = ?1",
        def.name,
        system::ID
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt.exists([id])?)
}

/// Deletes the row with this id; true if there was one.
pub(crate) fn delete(conn: &Connection, def: &TableDefinition, id: &str) -> Result<bool> {
    let sql = format!("DELETE FROM \"{}\" WHERE \"{}\" = ?1", def.name, system::ID);
    let n = conn.prepare_cached(&sql)?.execute([id])?;
    Ok(n > 0)
}

/// One row as the divergence check compares it: id, version and `updatedAt` as stored.
pub(crate) type RowStamp = (String, Option<String>, Option<String>);

/// The id, version and `updatedAt` of every row of the table.
pub(crate) fn stamps(conn: &Connection, def: &TableDefinition) -> Result<Vec<RowStamp>> {
    let sql = format!(
        "SELECT \"{}\", \"{}\", \"{}\" FROM \"{}\"",
        system::ID,
        system::VERSION,
        system::UPDATED_AT,
        def.name
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Deletes every row that has no queued operation (they come again from the server); rows
/// with one keep the user's change. Answers how many went.
pub(crate) fn delete_unqueued(conn: &Connection, def: &TableDefinition) -> Result<u64> {
    let sql = format!(
        "DELETE FROM \"{t}\" WHERE \"{id}\" NOT IN \
         (SELECT item_id FROM __operations WHERE table_name = ?1)",
        t = def.name,
        id = system::ID
    );
    let n = conn.execute(&sql, [&def.name])?;
    Ok(n as u64)
}
