//! The SQLite dialect, one for the engine and the server, parameterised only by where columns
//! come from:
//! - [`SqliteDialect::items`]: the server's `items` table, system columns (`createdAt`/
//!   `updatedAt` as integer microseconds) plus user properties read from the JSON `data` column
//!   with `json_extract(data, ?)`, the JSON path bound as a parameter;
//! - [`SqliteDialect::local`]: the engine's typed local tables, one column per property, dates
//!   kept as normalised fixed-width text (`YYYY-MM-DDThh:mm:ss.ffffffZ`), which sorts and
//!   compares as the instants do.
//!
//! SQLite is dynamically typed: operands need no coercion, JSON booleans come out of
//! `json_extract` as 1/0 and boolean literals are bound as 1/0.

mod functions;
mod plans;

use rusqlite::types::Value;
use tidemark_protocol::date;
use tidemark_protocol::odata::{BinaryOp, Direction};
use tidemark_protocol::system;

use crate::dialect::{DSql, Dialect, Kind, Op, Operand, Role, Scalar};
use crate::functions::Spelling;
use crate::{Sql, TranslateError};
pub use functions::{MAX_TEXT_BYTES, register};
pub use plans::keep_plans;

/// Where the columns of the queried table come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Columns {
    /// The server's `items` table.
    Items,
    /// An engine table: its name and its columns (system columns included), with whether each
    /// holds dates.
    Local {
        table: String,
        columns: Vec<(String, bool)>,
    },
}

/// The SQLite dialect (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteDialect {
    columns: Columns,
}

impl SqliteDialect {
    /// For the server's `items` table.
    pub fn items() -> Self {
        Self {
            columns: Columns::Items,
        }
    }

    /// For the engine's local table `table` with these `(name, holds dates)` columns, system
    /// columns included; other names are refused. Names must be plain identifiers (the engine
    /// checks them when the table is defined).
    pub fn local<'a>(table: &str, columns: impl IntoIterator<Item = (&'a str, bool)>) -> Self {
        Self {
            columns: Columns::Local {
                table: table.to_owned(),
                columns: columns
                    .into_iter()
                    .map(|(name, date)| (name.to_owned(), date))
                    .collect(),
            },
        }
    }

    fn dates_as_text(&self) -> bool {
        matches!(self.columns, Columns::Local { .. })
    }

    fn bound(&self, value: Value) -> Op<Self> {
        let mut sql = Sql::default();
        sql.bind("?", value);
        operand(sql, Kind::Other)
    }
}

fn operand(sql: Sql<Value>, kind: Kind) -> Op<SqliteDialect> {
    Operand { sql, ty: (), kind }
}

/// The column and kind of a server system property (names compared case-insensitively, as in
/// request bodies).
fn system_column(name: &str) -> Option<(&'static str, Kind)> {
    [
        (system::ID, "id", Kind::TextColumn),
        (system::CREATED_AT, "created_at", Kind::Date),
        (system::UPDATED_AT, "updated_at", Kind::Date),
        (system::VERSION, "version", Kind::TextColumn),
        (system::DELETED, "deleted", Kind::NumericColumn),
    ]
    .into_iter()
    .find(|(wire, _, _)| wire.eq_ignore_ascii_case(name))
    .map(|(_, column, kind)| (column, kind))
}

/// The SQLite JSON path of a top-level user property (quoted, so any name is one key).
pub fn json_path(name: &str) -> String {
    format!("$.\"{name}\"")
}

impl Dialect for SqliteDialect {
    type Param = Value;
    type Ty = ();

    fn placeholder(&self, _: &Value) -> &'static str {
        "?"
    }

    fn property(&self, name: &str) -> Result<Op<Self>, TranslateError> {
        match &self.columns {
            Columns::Items => {
                if let Some((column, kind)) = system_column(name) {
                    return Ok(operand(Sql::raw(column), kind));
                }
                if name.contains(['"', '\\']) {
                    return Err(TranslateError(format!(
                        "property name '{name}' contains a quote or backslash"
                    )));
                }
                let mut sql = Sql::raw("json_extract(data, ");
                sql.bind("?", Value::Text(json_path(name)));
                sql.push(")");
                Ok(operand(sql, Kind::Other))
            }
            Columns::Local { table, columns } => {
                match columns.iter().find(|(column, _)| column == name) {
                    Some((_, date)) if !name.contains('"') => {
                        let kind = if *date { Kind::Date } else { Kind::Other };
                        Ok(operand(Sql::raw(&format!("\"{name}\"")), kind))
                    }
                    _ => Err(TranslateError(format!(
                        "'{name}' is not a column of local table '{table}'"
                    ))),
                }
            }
        }
    }

    fn literal(&self, value: Scalar) -> Result<Op<Self>, TranslateError> {
        Ok(match value {
            Scalar::Null => operand(Sql::raw("NULL"), Kind::Null),
            Scalar::Int(i) => self.bound(Value::Integer(i)),
            Scalar::Real(f) => self.bound(Value::Real(f)),
            Scalar::Text(s) => self.bound(Value::Text(s)),
            Scalar::Date(instant) if self.dates_as_text() => {
                self.bound(Value::Text(date::format_date(&instant)))
            }
            Scalar::Date(instant) => self.bound(Value::Integer(date::to_micros(&instant))),
        })
    }

    fn null_date(&self) -> DSql<Self> {
        Sql::raw("NULL")
    }

    fn to_date(&self, operand: Op<Self>) -> DSql<Self> {
        if self.dates_as_text() {
            Sql::wrapped("tidemark_date_text(", operand.sql, ")")
        } else {
            Sql::wrapped("tidemark_micros(", operand.sql, ")")
        }
    }

    fn date_operator(&self, op: BinaryOp) -> &'static str {
        match op {
            BinaryOp::Eq => " IS ",
            BinaryOp::Ne => " IS NOT ",
            BinaryOp::Gt => " > ",
            BinaryOp::Ge => " >= ",
            BinaryOp::Lt => " < ",
            _ => " <= ",
        }
    }

    fn compare(&self, op: BinaryOp, left: Op<Self>, right: Op<Self>) -> Op<Self> {
        let mut sql = Sql::wrapped("(", left.sql, self.date_operator(op));
        sql.append(right.sql);
        sql.push(")");
        operand(sql, Kind::Other)
    }

    fn arithmetic(&self, op: BinaryOp, left: Op<Self>, right: Op<Self>) -> Op<Self> {
        let sql_op = match op {
            BinaryOp::Add => " + ",
            BinaryOp::Sub => " - ",
            BinaryOp::Mul => " * ",
            BinaryOp::Div => " / ",
            _ => " % ",
        };
        let mut sql = Sql::wrapped("(", left.sql, sql_op);
        sql.append(right.sql);
        sql.push(")");
        operand(sql, Kind::Other)
    }

    fn negate(&self, operand_: Op<Self>) -> Op<Self> {
        operand(Sql::wrapped("(- ", operand_.sql, ")"), Kind::Other)
    }

    fn as_predicate(&self, operand: Op<Self>) -> DSql<Self> {
        operand.sql
    }

    fn predicate(&self, sql: DSql<Self>) -> Op<Self> {
        operand(sql, Kind::Other)
    }

    fn value(&self, sql: DSql<Self>) -> Op<Self> {
        operand(sql, Kind::Other)
    }

    fn template(&self, spelling: &Spelling, _: &[Op<Self>]) -> &'static str {
        spelling.sqlite
    }

    fn argument(&self, operand: Op<Self>, _: Role) -> DSql<Self> {
        operand.sql
    }

    fn order_key(&self, key: Op<Self>, direction: Direction) -> DSql<Self> {
        let mut sql = key.sql;
        sql.push(match direction {
            Direction::Asc => " ASC",
            Direction::Desc => " DESC",
        });
        sql
    }

    fn tie_breaker(&self) -> &'static str {
        match self.columns {
            Columns::Items => "id ASC",
            Columns::Local { .. } => "\"id\" ASC",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{filter, order_by};
    use rusqlite::{Connection, params_from_iter};
    use tidemark_protocol::odata::{Expr, Literal, OrderBy, UnaryOp, parse_filter};

    fn engine() -> SqliteDialect {
        SqliteDialect::local(
            "todoitem",
            [
                ("id", false),
                ("updatedAt", true),
                ("text", false),
                ("due", true),
            ],
        )
    }

    fn sql(dialect: &SqliteDialect, filter_text: &str) -> Result<Sql<Value>, TranslateError> {
        let expr = parse_filter(filter_text).map_err(|e| TranslateError(e.to_string()))?;
        filter(dialect, &expr)
    }

    #[test]
    fn server_user_properties_bind_their_json_path() {
        assert_eq!(
            sql(&SqliteDialect::items(), "text eq 'x'' OR 1=1 --'"),
            Ok(Sql {
                text: "(json_extract(data, ?) IS ?)".into(),
                params: vec![
                    Value::Text("$.\"text\"".into()),
                    Value::Text("x' OR 1=1 --".into())
                ],
            })
        );
    }

    #[test]
    fn server_dates_are_micros_and_string_literals_are_parsed() {
        assert_eq!(
            sql(
                &SqliteDialect::items(),
                "updatedAt ge '1970-01-01T00:00:01.000001Z'"
            ),
            Ok(Sql {
                text: "(updated_at >= ?)".into(),
                params: vec![Value::Integer(1_000_001)],
            })
        );
        let err = sql(&SqliteDialect::items(), "updatedAt ge 'yesterday'");
        assert!(err.is_err_and(|e| e.0.contains("updatedAt")));
        assert_eq!(
            sql(
                &SqliteDialect::items(),
                "due lt datetime'1970-01-01T00:00:00'"
            )
            .map(|s| s.text),
            Ok("(tidemark_micros(json_extract(data, ?)) < ?)".into())
        );
    }

    #[test]
    fn engine_columns_are_quoted_and_dates_are_normalised_text() {
        assert_eq!(
            sql(
                &engine(),
                "due gt datetimeoffset'2024-01-02T05:04:05+02:00' and tolower(text) eq 'ä'"
            ),
            Ok(Sql {
                text: "((\"due\" > ?) AND (tidemark_lower(\"text\") IS ?))".into(),
                params: vec![
                    Value::Text("2024-01-02T03:04:05.000000Z".into()),
                    Value::Text("ä".into())
                ],
            })
        );
        let err = sql(&engine(), "due gt 'tomorrow'");
        assert!(err.is_err_and(|e| e.0.contains("'tomorrow' is compared with due")));
        assert_eq!(
            sql(&engine(), "text ge updatedAt").map(|s| s.text),
            Ok("(tidemark_date_text(\"text\") >= \"updatedAt\")".into())
        );
    }

    #[test]
    fn engine_refuses_names_that_are_not_columns() {
        let err = sql(&engine(), "nope eq 1");
        assert!(err.is_err_and(|e| {
            e.0.contains("'nope' is not a column of local table 'todoitem'")
        }));
    }

    #[test]
    fn arity_and_depth_are_checked() {
        let call = Expr::Call {
            func: tidemark_protocol::odata::Function::ToLower,
            args: vec![],
        };
        assert!(filter(&engine(), &call).is_err());
        let mut e = Expr::Literal(Literal::Bool(true));
        for _ in 0..300 {
            e = Expr::Unary {
                op: UnaryOp::Not,
                operand: Box::new(e),
            };
        }
        assert!(filter(&engine(), &e).is_err());
        assert!(filter(&SqliteDialect::items(), &e).is_err());
    }

    #[test]
    fn orderby_ends_with_id() {
        let keys = [OrderBy {
            expr: Expr::Property("updatedAt".into()),
            direction: Direction::Desc,
        }];
        assert_eq!(
            order_by(&SqliteDialect::items(), &keys).map(|s| s.text),
            Ok("updated_at DESC, id ASC".into())
        );
        assert_eq!(
            order_by(&engine(), &keys).map(|s| s.text),
            Ok("\"updatedAt\" DESC, \"id\" ASC".into())
        );
    }

    /// Evaluates a filter over one engine row with the registered functions.
    fn matches(filter_text: &str) -> bool {
        let run = || -> Result<bool, Box<dyn std::error::Error>> {
            let conn = Connection::open_in_memory()?;
            register(&conn)?;
            conn.execute_batch(
                "CREATE TABLE t (id TEXT, updatedAt TEXT, text TEXT, due TEXT);
                 INSERT INTO t VALUES ('1', '2024-05-01T10:00:00.000000Z', 'İstanbul Straße',
                                       '2024-05-01T10:00:00.500000Z');",
            )?;
            let sql = sql(&engine(), filter_text)?;
            let n: i64 = conn.query_row(
                &format!("SELECT count(*) FROM t WHERE {}", sql.text),
                params_from_iter(sql.params.iter()),
                |r| r.get(0),
            )?;
            Ok(n == 1)
        };
        run().unwrap_or_else(|e| panic!("{filter_text}: {e}"))
    }

    #[test]
    fn engine_functions_follow_the_server() {
        assert!(matches("toupper(text) eq 'İSTANBUL STRASSE'"));
        assert!(matches("tolower(text) eq 'i̇stanbul straße'"));
        assert!(matches("startswith(text, 'İst') and endswith(text, 'aße')"));
        assert!(matches(
            "substringof('Stra', text) and not substringof('stra', text)"
        ));
        assert!(matches("year(due) eq 2024 and hour(updatedAt) eq 10"));
        assert!(matches(
            "due gt updatedAt and due lt '2024-05-01T12:00:00.6+02:00'"
        ));
        assert!(matches(
            "floor(2.5) eq 2 and ceiling(2.5) eq 3 and round(2.5) eq 3"
        ));
        assert!(!matches("due eq datetime'2024-05-01T10:00:00'"));
    }

    #[test]
    fn string_functions_nest_at_most_four_deep() {
        let four = "length(replace(replace(replace(replace(text, 'a', 'aa'), 'a', 'aa'), 'a', 'aa'), 'a', 'aa')) gt 0";
        assert!(sql(&SqliteDialect::items(), four).is_ok());
        let five = "length(tolower(replace(replace(replace(replace(text, 'a', 'aa'), 'a', 'aa'), 'a', 'aa'), 'a', 'aa'))) gt 0";
        let error = sql(&SqliteDialect::items(), five).map(|_| ());
        assert_eq!(
            error,
            Err(TranslateError(
                "string functions (replace, concat, substring, tolower, toupper, trim) are \
                 nested 5 deep; the limit is 4"
                    .into()
            ))
        );
        // Side by side is not nested.
        let wide = "concat(trim(text), trim(text)) eq tolower(toupper(tolower(toupper(text))))";
        assert!(sql(&SqliteDialect::items(), wide).is_ok());
        let keys = tidemark_protocol::odata::parse_orderby(
            "tolower(tolower(tolower(tolower(tolower(text)))))",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(order_by(&SqliteDialect::items(), &keys).is_err());
    }

    #[test]
    fn text_functions_refuse_to_make_a_string_over_the_cap() {
        let conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        register(&conn).unwrap_or_else(|e| panic!("{e}"));
        let fits: rusqlite::Result<i64> = conn.query_row(
            "SELECT length(tidemark_upper(?))",
            [&"a".repeat(MAX_TEXT_BYTES)],
            |r| r.get(0),
        );
        assert_eq!(fits.ok(), Some(MAX_TEXT_BYTES as i64));
        // 'ß' (2 bytes) upper-cases to 'SS' (2 bytes), 'ŉ' (2 bytes) to 'ʼN' (3 bytes).
        let grows = "ŉ".repeat(MAX_TEXT_BYTES / 2);
        let too_big: rusqlite::Result<i64> =
            conn.query_row("SELECT length(tidemark_upper(?))", [&grows], |r| r.get(0));
        match too_big {
            Err(rusqlite::Error::SqliteFailure(e, _)) => {
                assert_eq!(e.code, rusqlite::ErrorCode::TooBig);
            }
            other => panic!("expected too big, got {other:?}"),
        }
    }
}
