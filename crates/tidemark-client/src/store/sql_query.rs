//! Local queries (`Expr`, `OrderBy`) as SQLite `WHERE`/`ORDER BY` text with bound parameters,
//! for local reads and purges, through the translator the server uses (`tidemark-sql`), so a
//! filter selects the same rows here as in a pull. Property names must be columns of the
//! table; every literal is a parameter, never spliced into the SQL.

use rusqlite::types::Value as SqlValue;
use tidemark_protocol::odata::Expr;
use tidemark_sql::sqlite::SqliteDialect;

use crate::error::{ClientError, Result};
use crate::query::Query;
use crate::schema::{ColumnType, TableDefinition};

/// SQL text plus its parameters, in order.
pub(crate) type Fragment = tidemark_sql::Sql<SqlValue>;

/// The dialect of `def`'s local table: its columns, and which of them hold (text) dates.
fn dialect(def: &TableDefinition) -> SqliteDialect {
    SqliteDialect::local(
        &def.name,
        def.all_columns()
            .into_iter()
            .map(|(name, ty)| (name, ty == ColumnType::DateTime)),
    )
}

fn invalid(e: tidemark_sql::TranslateError) -> ClientError {
    ClientError::invalid(e.0)
}

/// `WHERE … ORDER BY … LIMIT ? OFFSET ?` for a query (an empty `WHERE` is left out).
pub(crate) fn select_tail(def: &TableDefinition, query: &Query) -> Result<Fragment> {
    let dialect = dialect(def);
    let mut out = where_with(&dialect, query.filter.as_ref())?;
    out.push(" ORDER BY ");
    out.append(tidemark_sql::order_by(&dialect, &query.order_by).map_err(invalid)?);
    if query.take.is_some() || query.skip.is_some() {
        out.push(" LIMIT ? OFFSET ?");
        let take = query
            .take
            .map_or(-1, |t| i64::try_from(t).unwrap_or(i64::MAX));
        let skip = query
            .skip
            .map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX));
        out.params.push(SqlValue::Integer(take));
        out.params.push(SqlValue::Integer(skip));
    }
    Ok(out)
}

/// ` WHERE <filter>`, or nothing.
pub(crate) fn where_clause(def: &TableDefinition, filter: Option<&Expr>) -> Result<Fragment> {
    where_with(&dialect(def), filter)
}

fn where_with(dialect: &SqliteDialect, filter: Option<&Expr>) -> Result<Fragment> {
    let mut out = Fragment::default();
    if let Some(f) = filter {
        out.push(" WHERE ");
        out.append(tidemark_sql::filter(dialect, f).map_err(invalid)?);
    }
    Ok(out)
}
