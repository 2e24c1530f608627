//! Translation of the OData AST (`$filter`, `$orderby`) into PostgreSQL SQL over the `items`
//! table, giving exactly the answers of the SQLite translator (`store::sqlite::filter`).
//!
//! SQLite is dynamically typed and PostgreSQL is not, so every operand is rendered as one of
//! three SQL types: a predicate (`boolean`), a date (`bigint` microseconds, as the date columns
//! hold) or a *value* (`jsonb` holding a number or a string, or SQL NULL), the model of what
//! SQLite's `json_extract` returns. The `tm_*` functions of migration 0002 give values SQLite's
//! comparison, sorting, arithmetic and conversion rules. Semantics worth knowing, as in SQLite:
//! - `eq`/`ne` are null-safe: `x eq null` finds missing and null properties, `x ne 'a'` includes
//!   items without `x`.
//! - When one side of a comparison is a date (a date column or a date literal), the other side is
//!   compared as a date: a string literal is parsed here (a bad one is an error), anything else
//!   by `tm_micros` (a non-date compares as NULL).
//! - JSON booleans and boolean literals are the numbers 1 and 0; numbers sort before text; text
//!   compares byte by byte (the "C" collation).
//! - Column affinity: compared with `id`/`version` the other side is read as text, compared with
//!   `deleted` a numeric string is read as a number, as SQLite does for its columns.
//! - Arithmetic keeps integers integral (`7 div 2` is 3) and computes reals in double precision.
//!
//! `tests/store/differential.rs` checks all this against the SQLite store with random queries.
//! Known differences, all in the *text* of values the query itself computes or reads: a real of
//! 1e15 or more prints in full rather than SQLite's `1.7e+15`, a computed real needing 16-17
//! digits prints them all, an object property read as text has jsonb's key order, and a JSON
//! number written with an exponent (`1e3`) counts as an integer.
//!
//! Every value of the query is a bound parameter (`$n` with an explicit cast): the only text
//! spliced into SQL is our own fixed SQL.

use serde_json::Value;
use tidemark_protocol::date;
use tidemark_protocol::odata::{BinaryOp, Direction, Expr, Function, Literal, OrderBy, UnaryOp};
use tidemark_protocol::system;

/// Deeper expressions than this are refused, as the SQLite translator refuses them.
const MAX_DEPTH: usize = 200;
/// Stands for the next parameter in fragment text until [`Sql::numbered`] numbers them; a NUL
/// never appears in our SQL and user text never enters it.
const MARK: char = '\0';

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// A `text` parameter.
    Text(String),
    /// A `bigint` parameter.
    Int(i64),
    /// A `jsonb` parameter.
    Json(Value),
}

impl Param {
    /// The parameter as the driver takes it.
    pub fn as_sql(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        match self {
            Param::Text(s) => s,
            Param::Int(i) => i,
            Param::Json(v) => v,
        }
    }
}

/// A fragment of SQL with its parameters, in the order their placeholders appear.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sql {
    /// The SQL text, with unnumbered placeholders.
    text: String,
    /// The values of the placeholders, in order.
    pub params: Vec<Param>,
}

impl Sql {
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

    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn bind(&mut self, param: Param) {
        let cast = match param {
            Param::Text(_) => "::text",
            Param::Int(_) => "::bigint",
            Param::Json(_) => "::jsonb",
        };
        self.text.push(MARK);
        self.text.push_str(cast);
        self.params.push(param);
    }

    fn append(&mut self, other: Sql) {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
    }

    fn wrapped(prefix: &str, inner: Sql, suffix: &str) -> Sql {
        let mut out = Sql::default();
        out.push(prefix);
        out.append(inner);
        out.push(suffix);
        out
    }
}

/// Why an expression cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TranslateError(pub String);

/// The SQL type a rendered operand has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    /// `boolean`
    Bool,
    /// `bigint` microseconds since the epoch.
    Date,
    /// `jsonb` value (number, string or NULL).
    Value,
    /// A `text` column (`id`, `version`): never NULL.
    TextColumn,
}

/// What the translator knows statically about an AST node (as in the SQLite translator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Date,
    Null,
    StringLiteral,
    TextColumn,
    NumericColumn,
    Other,
}

/// Translates a `$filter` expression into a boolean SQL expression.
pub fn filter_sql(expr: &Expr) -> Result<Sql, TranslateError> {
    let (sql, ty) = render(expr, 0)?;
    Ok(as_bool(sql, ty))
}

/// Translates `$orderby` into an `ORDER BY` list, with `id` appended as the tie-breaker.
pub fn orderby_sql(keys: &[OrderBy]) -> Result<Sql, TranslateError> {
    let mut out = Sql::default();
    for key in keys {
        let (sql, ty) = render(&key.expr, 0)?;
        let (dir, nulls) = match key.direction {
            // SQLite sorts NULL before everything.
            Direction::Asc => (" ASC", " ASC NULLS FIRST"),
            Direction::Desc => (" DESC", " DESC NULLS LAST"),
        };
        match ty {
            Ty::Date | Ty::TextColumn => {
                out.append(sql);
                out.push(nulls);
            }
            Ty::Bool | Ty::Value => {
                let value = as_value(sql, ty);
                // Type first (numbers before text), then within the type.
                out.append(Sql::wrapped("tm_rank(", value.clone(), ")"));
                out.push(nulls);
                out.push(", ");
                out.append(Sql::wrapped("tm_sort_num(", value.clone(), ")"));
                out.push(dir);
                out.push(", ");
                out.append(Sql::wrapped("tm_sort_text(", value, ") COLLATE \"C\""));
                out.push(dir);
            }
        }
        out.push(", ");
    }
    // The tie-breaker makes the order total, so `$skip` paging neither repeats nor skips rows.
    out.push("id ASC");
    Ok(out)
}

fn render(expr: &Expr, depth: usize) -> Result<(Sql, Ty), TranslateError> {
    if depth > MAX_DEPTH {
        return Err(TranslateError(format!(
            "expression is nested more than {MAX_DEPTH} levels deep"
        )));
    }
    let d = depth + 1;
    match expr {
        Expr::Literal(lit) => literal(lit),
        Expr::Property(name) => property(name),
        Expr::Unary {
            op: UnaryOp::Not,
            operand,
        } => {
            let (sql, ty) = render(operand, d)?;
            Ok((Sql::wrapped("(NOT ", as_bool(sql, ty), ")"), Ty::Bool))
        }
        Expr::Unary {
            op: UnaryOp::Negate,
            operand,
        } => {
            let value = value_of(operand, d)?;
            // SQLite negates as `0 - x` would: integers stay integers, text is read as a number.
            Ok((
                Sql::wrapped("tm_arith('-', '0'::jsonb, ", value, ")"),
                Ty::Value,
            ))
        }
        Expr::Binary { op, left, right } => binary(*op, left, right, d),
        Expr::Call { func, args } => call(*func, args, d),
    }
}

fn value_of(expr: &Expr, depth: usize) -> Result<Sql, TranslateError> {
    let (sql, ty) = render(expr, depth)?;
    Ok(as_value(sql, ty))
}

fn text_of(expr: &Expr, depth: usize) -> Result<Sql, TranslateError> {
    let (sql, ty) = render(expr, depth)?;
    Ok(match ty {
        Ty::TextColumn => sql,
        _ => Sql::wrapped("tm_text(", as_value(sql, ty), ")"),
    })
}

fn as_value(sql: Sql, ty: Ty) -> Sql {
    match ty {
        Ty::Value => sql,
        Ty::Bool => Sql::wrapped("tm_from_bool(", sql, ")"),
        Ty::Date | Ty::TextColumn => Sql::wrapped("to_jsonb(", sql, ")"),
    }
}

fn as_bool(sql: Sql, ty: Ty) -> Sql {
    match ty {
        Ty::Bool => sql,
        other => Sql::wrapped("tm_truthy(", as_value(sql, other), ")"),
    }
}

fn literal(lit: &Literal) -> Result<(Sql, Ty), TranslateError> {
    let mut out = Sql::default();
    let json = match lit {
        Literal::Null => {
            out.push("NULL::jsonb");
            return Ok((out, Ty::Value));
        }
        Literal::DateTime(naive) => {
            out.bind(Param::Int(naive.and_utc().timestamp_micros()));
            return Ok((out, Ty::Date));
        }
        Literal::DateTimeOffset(instant) => {
            out.bind(Param::Int(instant.timestamp_micros()));
            return Ok((out, Ty::Date));
        }
        Literal::Bool(b) => Value::from(i64::from(*b)),
        Literal::Int32(i) => Value::from(*i),
        Literal::Int64(i) => Value::from(*i),
        Literal::Double(f) | Literal::Single(f) => number(*f)?,
        Literal::Decimal(text) => match text.parse::<f64>() {
            Ok(f) => number(f)?,
            Err(_) => return Err(TranslateError(format!("'{text}M' is not a decimal"))),
        },
        Literal::String(s) => Value::String(s.clone()),
        Literal::Guid(guid) => Value::String(guid.hyphenated().to_string()),
    };
    out.bind(Param::Json(json));
    Ok((out, Ty::Value))
}

fn number(f: f64) -> Result<Value, TranslateError> {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| TranslateError(format!("{f} is not a finite number")))
}

fn property(name: &str) -> Result<(Sql, Ty), TranslateError> {
    let mut out = Sql::default();
    if let Some(column) = system_column(name) {
        out.push(column);
        let ty = match column {
            "created_at" | "updated_at" => Ty::Date,
            "id" | "version" => Ty::TextColumn,
            _ => Ty::Bool,
        };
        return Ok((out, ty));
    }
    // Refused for the same names the SQLite translator refuses, so both stores agree.
    if name.contains(['"', '\\']) {
        return Err(TranslateError(format!(
            "property name '{name}' contains a quote or backslash"
        )));
    }
    out.push("tm_val(data -> ");
    out.bind(Param::Text(name.to_owned()));
    out.push(")");
    Ok((out, Ty::Value))
}

fn binary(op: BinaryOp, left: &Expr, right: &Expr, d: usize) -> Result<(Sql, Ty), TranslateError> {
    match op {
        BinaryOp::And | BinaryOp::Or => {
            let (l, lt) = render(left, d)?;
            let (r, rt) = render(right, d)?;
            let mut out = Sql::wrapped("(", as_bool(l, lt), "");
            out.push(if op == BinaryOp::And { " AND " } else { " OR " });
            out.append(as_bool(r, rt));
            out.push(")");
            Ok((out, Ty::Bool))
        }
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => {
            let sql_op = match op {
                BinaryOp::Add => "tm_arith('+', ",
                BinaryOp::Sub => "tm_arith('-', ",
                _ => "tm_arith('*', ",
            };
            let mut out = Sql::wrapped(sql_op, value_of(left, d)?, ", ");
            out.append(value_of(right, d)?);
            out.push(")");
            Ok((out, Ty::Value))
        }
        BinaryOp::Div | BinaryOp::Mod => {
            let func = if op == BinaryOp::Div {
                "tm_div("
            } else {
                "tm_mod("
            };
            let mut out = Sql::wrapped(func, value_of(left, d)?, ", ");
            out.append(value_of(right, d)?);
            out.push(")");
            Ok((out, Ty::Value))
        }
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Lt | BinaryOp::Le => {
            comparison(op, left, right, d)
        }
    }
}

fn comparison(
    op: BinaryOp,
    left: &Expr,
    right: &Expr,
    d: usize,
) -> Result<(Sql, Ty), TranslateError> {
    let plain = match op {
        BinaryOp::Eq => " IS NOT DISTINCT FROM ",
        BinaryOp::Ne => " IS DISTINCT FROM ",
        BinaryOp::Gt => " > ",
        BinaryOp::Ge => " >= ",
        BinaryOp::Lt => " < ",
        _ => " <= ",
    };
    let (kl, kr) = (kind(left), kind(right));
    if kl == Kind::Date || kr == Kind::Date {
        let mut out = Sql::wrapped("(", date_operand(left, right, d)?, plain);
        out.append(date_operand(right, left, d)?);
        out.push(")");
        return Ok((out, Ty::Bool));
    }
    // SQLite applies column affinity to the other operand of a comparison: NUMERIC when one side
    // is the integer column `deleted` (the text '0' becomes 0), else TEXT when one side is a text
    // column (`id`, `version`: the number 1 becomes '1').
    if kl == Kind::NumericColumn || kr == Kind::NumericColumn {
        let side = |e: &Expr, k: Kind| -> Result<Sql, TranslateError> {
            let value = value_of(e, d)?;
            Ok(if k == Kind::NumericColumn {
                value
            } else {
                Sql::wrapped("tm_numeric_affinity(", value, ")")
            })
        };
        return Ok((
            value_comparison(op, side(left, kl)?, side(right, kr)?),
            Ty::Bool,
        ));
    }
    if kl == Kind::TextColumn || kr == Kind::TextColumn {
        let text = |e: &Expr| -> Result<Sql, TranslateError> {
            match e {
                Expr::Literal(Literal::String(s)) => {
                    let mut out = Sql::default();
                    out.bind(Param::Text(s.clone()));
                    Ok(out)
                }
                other => text_of(other, d),
            }
        };
        // Plain text on both sides, so `id eq '…'` can use the primary key.
        let mut out = Sql::wrapped("(", text(left)?, plain);
        out.append(text(right)?);
        out.push(" COLLATE \"C\")");
        return Ok((out, Ty::Bool));
    }
    let (l, r) = (value_of(left, d)?, value_of(right, d)?);
    Ok((value_comparison(op, l, r), Ty::Bool))
}

/// Compares two values with SQLite's rules (`tm_is`, `tm_cmp`).
fn value_comparison(op: BinaryOp, l: Sql, r: Sql) -> Sql {
    let (prefix, middle, suffix) = match op {
        BinaryOp::Eq => ("tm_is(", ", ", ")"),
        BinaryOp::Ne => ("(NOT tm_is(", ", ", "))"),
        BinaryOp::Gt => ("(tm_cmp(", ", ", ") > 0)"),
        BinaryOp::Ge => ("(tm_cmp(", ", ", ") >= 0)"),
        BinaryOp::Lt => ("(tm_cmp(", ", ", ") < 0)"),
        _ => ("(tm_cmp(", ", ", ") <= 0)"),
    };
    let mut out = Sql::wrapped(prefix, l, middle);
    out.append(r);
    out.push(suffix);
    out
}

/// Renders `operand` as `bigint` microseconds, because `other` (or itself) is a date.
fn date_operand(operand: &Expr, other: &Expr, d: usize) -> Result<Sql, TranslateError> {
    match (kind(operand), operand) {
        (Kind::Null, _) => {
            let mut out = Sql::default();
            out.push("NULL::bigint");
            Ok(out)
        }
        (Kind::Date, _) => Ok(render(operand, d)?.0),
        (Kind::StringLiteral, Expr::Literal(Literal::String(text))) => {
            let instant = date::parse_date(text).map_err(|e| {
                TranslateError(format!(
                    "'{text}' is compared with {} but is not a date: {e}",
                    describe(other)
                ))
            })?;
            let mut out = Sql::default();
            out.bind(Param::Int(date::to_micros(&instant)));
            Ok(out)
        }
        _ => Ok(Sql::wrapped("tm_micros(", value_of(operand, d)?, ")")),
    }
}

fn call(func: Function, args: &[Expr], d: usize) -> Result<(Sql, Ty), TranslateError> {
    // `%t` is an argument as text, `%v` as a value, `%n` as a number, `%d` as a date.
    let (template, args, ty): (&str, Vec<&Expr>, Ty) = match (func, args) {
        (Function::SubstringOf, [needle, haystack]) => {
            ("(strpos(%t, %t) > 0)", vec![haystack, needle], Ty::Bool)
        }
        (Function::StartsWith, [s, prefix]) => ("(strpos(%t, %t) = 1)", vec![s, prefix], Ty::Bool),
        // SQLite's substr arithmetic comes down to "the last length(suffix) characters", compared
        // with the suffix as a value (so the text '1' does not equal the number 1).
        // When the suffix is the `deleted` column, SQLite's `=` gives the tail NUMERIC affinity.
        (Function::EndsWith, [s, suffix]) if kind(suffix) == Kind::NumericColumn => (
            "(CASE WHEN length(%t) < length(%t) THEN false \
              ELSE tm_cmp(tm_numeric_affinity(to_jsonb(right(%t, length(%t)))), %v) = 0 END)",
            vec![s, suffix, s, suffix, suffix],
            Ty::Bool,
        ),
        (Function::EndsWith, [s, suffix]) => (
            "(CASE WHEN length(%t) < length(%t) THEN false \
              ELSE tm_cmp(to_jsonb(right(%t, length(%t))), %v) = 0 END)",
            vec![s, suffix, s, suffix, suffix],
            Ty::Bool,
        ),
        (Function::ToLower, [s]) => ("tm_lower(%v)", vec![s], Ty::Value),
        (Function::ToUpper, [s]) => ("tm_upper(%v)", vec![s], Ty::Value),
        (Function::Length, [s]) => ("to_jsonb(length(%t))", vec![s], Ty::Value),
        (Function::Trim, [s]) => ("to_jsonb(btrim(%t, ' '))", vec![s], Ty::Value),
        (Function::Concat, [a, b]) => ("to_jsonb(%t || %t)", vec![a, b], Ty::Value),
        (Function::IndexOf, [s, needle]) => {
            ("to_jsonb(strpos(%t, %t) - 1)", vec![s, needle], Ty::Value)
        }
        (Function::Substring, [s, start]) => (
            "to_jsonb(substr(%t, trunc(%n)::integer + 1))",
            vec![s, start],
            Ty::Value,
        ),
        (Function::Substring, [s, start, len]) => (
            "to_jsonb(substr(%t, trunc(%n)::integer + 1, greatest(trunc(%n)::integer, 0)))",
            vec![s, start, len],
            Ty::Value,
        ),
        (Function::Replace, [s, find, with]) => (
            "to_jsonb(replace(%t, %t, %t))",
            vec![s, find, with],
            Ty::Value,
        ),
        (Function::Year, [x]) => ("tm_date_part('year', %d)", vec![x], Ty::Value),
        (Function::Month, [x]) => ("tm_date_part('month', %d)", vec![x], Ty::Value),
        (Function::Day, [x]) => ("tm_date_part('day', %d)", vec![x], Ty::Value),
        (Function::Hour, [x]) => ("tm_date_part('hour', %d)", vec![x], Ty::Value),
        (Function::Minute, [x]) => ("tm_date_part('minute', %d)", vec![x], Ty::Value),
        (Function::Second, [x]) => ("tm_date_part('second', %d)", vec![x], Ty::Value),
        // SQLite's round always gives a real (3.0, whose text is "3.0"), rounding halves away
        // from zero as numeric's round does; floor and ceiling keep integers, reals stay reals.
        (Function::Round, [x]) => ("tm_real(round(%n)::float8)", vec![x], Ty::Value),
        (Function::Floor, [x]) => ("tm_round_with('floor', %v)", vec![x], Ty::Value),
        (Function::Ceiling, [x]) => ("tm_round_with('ceiling', %v)", vec![x], Ty::Value),
        (func, args) => {
            return Err(TranslateError(format!(
                "{func:?} does not take {} argument(s)",
                args.len()
            )));
        }
    };
    let mut out = Sql::default();
    let mut args = args.into_iter();
    let mut pieces = template.split('%');
    if let Some(first) = pieces.next() {
        out.push(first);
    }
    for piece in pieces {
        let arg = args
            .next()
            .ok_or_else(|| TranslateError("internal: template arity".into()))?;
        let (conv, rest) = piece.split_at(1);
        let rendered = match conv {
            "t" => text_of(arg, d)?,
            "v" => value_of(arg, d)?,
            "n" => Sql::wrapped("tm_num(", value_of(arg, d)?, ")"),
            _ => {
                let (sql, ty) = render(arg, d)?;
                match ty {
                    Ty::Date => sql,
                    other => Sql::wrapped("tm_micros(", as_value(sql, other), ")"),
                }
            }
        };
        out.append(rendered);
        out.push(rest);
    }
    Ok((out, ty))
}

/// The column of a system property (names compared case-insensitively, as in request bodies).
fn system_column(name: &str) -> Option<&'static str> {
    [
        (system::ID, "id"),
        (system::CREATED_AT, "created_at"),
        (system::UPDATED_AT, "updated_at"),
        (system::VERSION, "version"),
        (system::DELETED, "deleted"),
    ]
    .into_iter()
    .find(|(wire, _)| wire.eq_ignore_ascii_case(name))
    .map(|(_, column)| column)
}

fn kind(expr: &Expr) -> Kind {
    match expr {
        Expr::Literal(Literal::Null) => Kind::Null,
        Expr::Literal(Literal::DateTime(_) | Literal::DateTimeOffset(_)) => Kind::Date,
        Expr::Literal(Literal::String(_)) => Kind::StringLiteral,
        Expr::Property(name) => match system_column(name) {
            Some("created_at" | "updated_at") => Kind::Date,
            Some("id" | "version") => Kind::TextColumn,
            Some(_) => Kind::NumericColumn,
            None => Kind::Other,
        },
        _ => Kind::Other,
    }
}

fn describe(expr: &Expr) -> String {
    match expr {
        Expr::Property(name) => name.clone(),
        _ => "a date".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(name: &str) -> Box<Expr> {
        Box::new(Expr::Property(name.into()))
    }

    fn lit(l: Literal) -> Box<Expr> {
        Box::new(Expr::Literal(l))
    }

    #[test]
    fn user_properties_and_literals_are_bound_parameters() {
        let sql = filter_sql(&Expr::Binary {
            op: BinaryOp::Eq,
            left: prop("text"),
            right: lit(Literal::String("x' OR 1=1 --".into())),
        });
        let sql = sql.unwrap_or_default();
        assert_eq!(
            sql.numbered(2),
            "tm_is(tm_val(data -> $2::text), $3::jsonb)"
        );
        assert_eq!(
            sql.params,
            vec![
                Param::Text("text".into()),
                Param::Json(Value::String("x' OR 1=1 --".into()))
            ]
        );
    }

    #[test]
    fn date_columns_compare_with_string_literals_as_dates() {
        let sql = filter_sql(&Expr::Binary {
            op: BinaryOp::Ge,
            left: prop("updatedAt"),
            right: lit(Literal::String("1970-01-01T00:00:01.000001Z".into())),
        })
        .unwrap_or_default();
        assert_eq!(sql.numbered(1), "(updated_at >= $1::bigint)");
        assert_eq!(sql.params, vec![Param::Int(1_000_001)]);
    }

    #[test]
    fn a_non_date_string_against_a_date_column_is_an_error() {
        let sql = filter_sql(&Expr::Binary {
            op: BinaryOp::Ge,
            left: prop("updatedAt"),
            right: lit(Literal::String("yesterday".into())),
        });
        assert!(sql.is_err_and(|e| e.0.contains("updatedAt")));
    }

    #[test]
    fn orderby_always_ends_with_id() {
        let sql = orderby_sql(&[OrderBy {
            expr: Expr::Property("updatedAt".into()),
            direction: Direction::Desc,
        }]);
        assert_eq!(
            sql.map(|s| s.numbered(1)),
            Ok("updated_at DESC NULLS LAST, id ASC".into())
        );
    }

    #[test]
    fn absurd_nesting_is_refused() {
        let mut e = Expr::Literal(Literal::Bool(true));
        for _ in 0..300 {
            e = Expr::Unary {
                op: UnaryOp::Not,
                operand: Box::new(e),
            };
        }
        assert!(filter_sql(&e).is_err());
    }
}
