//! The PostgreSQL dialect, over the server's `items` table, giving exactly the answers of the
//! SQLite dialect on the same items (the server's `tests/store/differential.rs` checks it).
//!
//! SQLite is dynamically typed and PostgreSQL is not, so every operand is rendered as one of
//! a few SQL types ([`PgType`]): a predicate (`boolean`), a date (`bigint` microseconds, as the
//! date columns hold), a text column, or a *value* (`jsonb` holding a number or a string, or SQL
//! NULL), the model of what SQLite's `json_extract` returns. The server's `tm_*` functions
//! (migration 0002) give values SQLite's comparison, sorting, arithmetic and conversion rules:
//! - JSON booleans and boolean literals are the numbers 1 and 0; numbers sort before text; text
//!   compares byte by byte (the "C" collation).
//! - Column affinity: compared with `id`/`version` the other side is read as text, compared with
//!   `deleted` a numeric string is read as a number, as SQLite does for its columns.
//! - Arithmetic keeps integers integral (`7 div 2` is 3) and computes reals in double precision.
//!
//! Known differences, all in the *text* of values the query itself computes or reads: a real of
//! 1e15 or more prints in full rather than SQLite's `1.7e+15`, a computed real needing 16-17
//! digits prints them all, an object property read as text has jsonb's key order, and a JSON
//! number written with an exponent (`1e3`) counts as an integer.
//!
//! Parameters are a driver-free [`PgParam`]; placeholders get an explicit cast and are numbered
//! by [`Sql::numbered`] once the caller knows where the fragment goes.

use serde_json::Value;
use tidemark_protocol::date;
use tidemark_protocol::odata::{BinaryOp, Direction, Function};
use tidemark_protocol::system;

use crate::dialect::{DSql, Dialect, Kind, Op, Operand, Role, Scalar};
use crate::functions::Spelling;
use crate::{Sql, TranslateError};

/// Stands for the next parameter in fragment text until [`Sql::numbered`] numbers them; a NUL
/// never appears in our SQL and user text never enters it.
const MARK: char = '\0';

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum PgParam {
    /// A `text` parameter.
    Text(String),
    /// A `bigint` parameter.
    Int(i64),
    /// A `jsonb` parameter.
    Json(Value),
}

/// The SQL type a rendered operand has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgType {
    /// `boolean`
    Bool,
    /// `bigint` microseconds since the epoch.
    Date,
    /// `jsonb` value (number, string or NULL).
    Value,
    /// A `text` column (`id`, `version`): never NULL.
    TextColumn,
}

impl Sql<PgParam> {
    /// The text with its placeholders numbered `$first`, `$first + 1`, …
    pub fn numbered(&self, first: usize) -> String {
        let mut out = String::with_capacity(self.text.len() + 8);
        let mut n = first;
        for c in self.text.chars() {
            if c == MARK {
                out.push('$');
                out.push_str(&n.to_string());
                n += 1;
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// The PostgreSQL dialect (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostgresDialect;

type Pg = Op<PostgresDialect>;

fn operand(sql: Sql<PgParam>, ty: PgType) -> Pg {
    Operand {
        sql,
        ty,
        kind: Kind::Other,
    }
}

fn bound(param: PgParam, ty: PgType) -> Pg {
    let mut sql = Sql::default();
    sql.bind(PostgresDialect.placeholder(&param), param);
    operand(sql, ty)
}

fn as_value(op: Pg) -> Sql<PgParam> {
    match op.ty {
        PgType::Value => op.sql,
        PgType::Bool => Sql::wrapped("tm_from_bool(", op.sql, ")"),
        PgType::Date | PgType::TextColumn => Sql::wrapped("to_jsonb(", op.sql, ")"),
    }
}

fn as_text(op: Pg) -> Sql<PgParam> {
    match op.ty {
        PgType::TextColumn => op.sql,
        _ => Sql::wrapped("tm_text(", as_value(op), ")"),
    }
}

fn number(f: f64) -> Result<Value, TranslateError> {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| TranslateError(format!("{f} is not a finite number")))
}

/// Compares two values with SQLite's rules (`tm_is`, `tm_cmp`).
fn value_comparison(op: BinaryOp, l: Sql<PgParam>, r: Sql<PgParam>) -> Pg {
    let (prefix, suffix) = match op {
        BinaryOp::Eq => ("tm_is(", ")"),
        BinaryOp::Ne => ("(NOT tm_is(", "))"),
        BinaryOp::Gt => ("(tm_cmp(", ") > 0)"),
        BinaryOp::Ge => ("(tm_cmp(", ") >= 0)"),
        BinaryOp::Lt => ("(tm_cmp(", ") < 0)"),
        _ => ("(tm_cmp(", ") <= 0)"),
    };
    let mut out = Sql::wrapped(prefix, l, ", ");
    out.append(r);
    out.push(suffix);
    operand(out, PgType::Bool)
}

impl Dialect for PostgresDialect {
    type Param = PgParam;
    type Ty = PgType;

    fn placeholder(&self, param: &PgParam) -> &'static str {
        match param {
            PgParam::Text(_) => "\0::text",
            PgParam::Int(_) => "\0::bigint",
            PgParam::Json(_) => "\0::jsonb",
        }
    }

    fn property(&self, name: &str) -> Result<Pg, TranslateError> {
        let system = [
            (system::ID, "id", PgType::TextColumn, Kind::TextColumn),
            (system::CREATED_AT, "created_at", PgType::Date, Kind::Date),
            (system::UPDATED_AT, "updated_at", PgType::Date, Kind::Date),
            (
                system::VERSION,
                "version",
                PgType::TextColumn,
                Kind::TextColumn,
            ),
            (
                system::DELETED,
                "deleted",
                PgType::Bool,
                Kind::NumericColumn,
            ),
        ];
        if let Some((_, column, ty, kind)) = system
            .into_iter()
            .find(|(wire, ..)| wire.eq_ignore_ascii_case(name))
        {
            return Ok(Operand {
                sql: Sql::raw(column),
                ty,
                kind,
            });
        }
        // Refused for the same names the SQLite dialect refuses, so both stores agree.
        if name.contains(['"', '\\']) {
            return Err(TranslateError(format!(
                "property name '{name}' contains a quote or backslash"
            )));
        }
        let inner = bound(PgParam::Text(name.to_owned()), PgType::Value).sql;
        Ok(operand(
            Sql::wrapped("tm_val(data -> ", inner, ")"),
            PgType::Value,
        ))
    }

    fn literal(&self, value: Scalar) -> Result<Pg, TranslateError> {
        let json = match value {
            Scalar::Null => return Ok(operand(Sql::raw("NULL::jsonb"), PgType::Value)),
            Scalar::Date(instant) => {
                return Ok(bound(PgParam::Int(date::to_micros(&instant)), PgType::Date));
            }
            Scalar::Int(i) => Value::from(i),
            Scalar::Real(f) => number(f)?,
            Scalar::Text(s) => Value::String(s),
        };
        Ok(bound(PgParam::Json(json), PgType::Value))
    }

    fn null_date(&self) -> DSql<Self> {
        Sql::raw("NULL::bigint")
    }

    fn to_date(&self, operand: Pg) -> DSql<Self> {
        Sql::wrapped("tm_micros(", as_value(operand), ")")
    }

    fn date_operator(&self, op: BinaryOp) -> &'static str {
        match op {
            BinaryOp::Eq => " IS NOT DISTINCT FROM ",
            BinaryOp::Ne => " IS DISTINCT FROM ",
            BinaryOp::Gt => " > ",
            BinaryOp::Ge => " >= ",
            BinaryOp::Lt => " < ",
            _ => " <= ",
        }
    }

    fn compare(&self, op: BinaryOp, left: Pg, right: Pg) -> Pg {
        // SQLite applies column affinity to the other operand of a comparison: NUMERIC when one
        // side is the integer column `deleted` (the text '0' becomes 0), else TEXT when one side
        // is a text column (`id`, `version`: the number 1 becomes '1').
        let numeric = |op: Pg| {
            if op.kind == Kind::NumericColumn {
                as_value(op)
            } else {
                Sql::wrapped("tm_numeric_affinity(", as_value(op), ")")
            }
        };
        if left.kind == Kind::NumericColumn || right.kind == Kind::NumericColumn {
            return value_comparison(op, numeric(left), numeric(right));
        }
        if left.kind == Kind::TextColumn || right.kind == Kind::TextColumn {
            let text = |op: Pg| match op.kind {
                Kind::StringLiteral(s) => bound(PgParam::Text(s), PgType::TextColumn).sql,
                _ => as_text(op),
            };
            // Plain text on both sides, so `id eq '…'` can use the primary key.
            let mut out = Sql::wrapped("(", text(left), self.date_operator(op));
            out.append(text(right));
            out.push(" COLLATE \"C\")");
            return operand(out, PgType::Bool);
        }
        value_comparison(op, as_value(left), as_value(right))
    }

    fn arithmetic(&self, op: BinaryOp, left: Pg, right: Pg) -> Pg {
        let func = match op {
            BinaryOp::Add => "tm_arith('+', ",
            BinaryOp::Sub => "tm_arith('-', ",
            BinaryOp::Mul => "tm_arith('*', ",
            BinaryOp::Div => "tm_div(",
            _ => "tm_mod(",
        };
        let mut out = Sql::wrapped(func, as_value(left), ", ");
        out.append(as_value(right));
        out.push(")");
        operand(out, PgType::Value)
    }

    fn negate(&self, op: Pg) -> Pg {
        // SQLite negates as `0 - x` would: integers stay integers, text is read as a number.
        operand(
            Sql::wrapped("tm_arith('-', '0'::jsonb, ", as_value(op), ")"),
            PgType::Value,
        )
    }

    fn as_predicate(&self, op: Pg) -> DSql<Self> {
        match op.ty {
            PgType::Bool => op.sql,
            _ => Sql::wrapped("tm_truthy(", as_value(op), ")"),
        }
    }

    fn predicate(&self, sql: DSql<Self>) -> Pg {
        operand(sql, PgType::Bool)
    }

    fn value(&self, sql: DSql<Self>) -> Pg {
        operand(sql, PgType::Value)
    }

    fn template(&self, spelling: &Spelling, args: &[Pg]) -> &'static str {
        // When the suffix is the `deleted` column, SQLite's `=` gives the tail NUMERIC affinity.
        match (spelling.func, args) {
            (Function::EndsWith, [_, suffix]) if suffix.kind == Kind::NumericColumn => {
                "(CASE WHEN length(%t0) < length(%t1) THEN false \
                  ELSE tm_cmp(tm_numeric_affinity(to_jsonb(right(%t0, length(%t1)))), %v1) = 0 END)"
            }
            _ => spelling.postgres,
        }
    }

    fn argument(&self, op: Pg, role: Role) -> DSql<Self> {
        match role {
            Role::Text => as_text(op),
            Role::Number => Sql::wrapped("tm_num(", as_value(op), ")"),
            Role::Value | Role::Date => as_value(op),
            Role::Raw => op.sql,
        }
    }

    fn order_key(&self, key: Pg, direction: Direction) -> DSql<Self> {
        let (dir, nulls) = match direction {
            // SQLite sorts NULL before everything.
            Direction::Asc => (" ASC", " ASC NULLS FIRST"),
            Direction::Desc => (" DESC", " DESC NULLS LAST"),
        };
        match key.ty {
            PgType::Date | PgType::TextColumn => {
                let mut out = key.sql;
                out.push(nulls);
                out
            }
            PgType::Bool | PgType::Value => {
                let value = as_value(key);
                // Type first (numbers before text), then within the type.
                let mut out = Sql::wrapped("tm_rank(", value.clone(), ")");
                out.push(nulls);
                out.push(", ");
                out.append(Sql::wrapped("tm_sort_num(", value.clone(), ")"));
                out.push(dir);
                out.push(", ");
                out.append(Sql::wrapped("tm_sort_text(", value, ") COLLATE \"C\""));
                out.push(dir);
                out
            }
        }
    }

    fn tie_breaker(&self) -> &'static str {
        "id ASC"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{filter, order_by};
    use tidemark_protocol::odata::{Expr, OrderBy, parse_filter};

    fn sql(filter_text: &str) -> Sql<PgParam> {
        let expr = parse_filter(filter_text).unwrap_or_else(|e| panic!("{filter_text}: {e}"));
        filter(&PostgresDialect, &expr).unwrap_or_else(|e| panic!("{filter_text}: {e}"))
    }

    #[test]
    fn user_properties_and_literals_are_bound_parameters() {
        let sql = sql("text eq 'x'' OR 1=1 --'");
        assert_eq!(
            sql.numbered(2),
            "tm_is(tm_val(data -> $2::text), $3::jsonb)"
        );
        assert_eq!(
            sql.params,
            vec![
                PgParam::Text("text".into()),
                PgParam::Json(Value::String("x' OR 1=1 --".into()))
            ]
        );
    }

    #[test]
    fn operands_get_the_types_their_use_needs() {
        let shapes = [
            // A string compared with a date column is parsed here.
            (
                "updatedAt ge '1970-01-01T00:00:01.000001Z'",
                "(updated_at >= $1::bigint)",
            ),
            // Other operands of a date comparison are converted, null stays a null date.
            (
                "due lt datetimeoffset'1970-01-01T00:00:00Z'",
                "(tm_micros(tm_val(data -> $1::text)) < $2::bigint)",
            ),
            (
                "createdAt eq null",
                "(created_at IS NOT DISTINCT FROM NULL::bigint)",
            ),
            // Column affinity: text beside id, numbers beside deleted.
            (
                "id eq 'a'",
                "(id IS NOT DISTINCT FROM $1::text COLLATE \"C\")",
            ),
            (
                "deleted eq '0'",
                "tm_is(tm_from_bool(deleted), tm_numeric_affinity($1::jsonb))",
            ),
            (
                "startswith(tolower(text), 'ä')",
                "(strpos(tm_text(tm_lower(tm_val(data -> $1::text))), tm_text($2::jsonb)) = 1)",
            ),
            (
                "year(createdAt) eq 2024",
                "tm_is(tm_date_part('year', created_at), $1::jsonb)",
            ),
            (
                "endswith(text, deleted)",
                "(CASE WHEN length(tm_text(tm_val(data -> $1::text))) < length(tm_text(tm_from_bool(deleted))) \
                 THEN false ELSE tm_cmp(tm_numeric_affinity(to_jsonb(right(tm_text(tm_val(data -> $2::text)), \
                 length(tm_text(tm_from_bool(deleted)))))), tm_from_bool(deleted)) = 0 END)",
            ),
        ];
        for (filter_text, expected) in shapes {
            assert_eq!(sql(filter_text).numbered(1), expected, "{filter_text}");
        }
        assert_eq!(
            sql("updatedAt ge '1970-01-01T00:00:01.000001Z'").params,
            vec![PgParam::Int(1_000_001)]
        );
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        let expr = Expr::Literal(tidemark_protocol::odata::Literal::Double(f64::INFINITY));
        assert!(filter(&PostgresDialect, &expr).is_err());
    }

    #[test]
    fn orderby_sorts_values_by_type_then_value_and_ends_with_id() {
        let keys = [
            OrderBy {
                expr: Expr::Property("updatedAt".into()),
                direction: Direction::Desc,
            },
            OrderBy {
                expr: Expr::Property("text".into()),
                direction: Direction::Asc,
            },
        ];
        assert_eq!(
            order_by(&PostgresDialect, &keys).map(|s| s.numbered(1)),
            Ok(
                "updated_at DESC NULLS LAST, tm_rank(tm_val(data -> $1::text)) ASC NULLS FIRST, \
                tm_sort_num(tm_val(data -> $2::text)) ASC, \
                tm_sort_text(tm_val(data -> $3::text)) COLLATE \"C\" ASC, id ASC"
                    .into()
            )
        );
    }
}
