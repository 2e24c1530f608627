//! Translation of the OData AST (`$filter`, `$orderby`) into SQLite SQL over the `items` table.
//!
//! System properties are real columns (`createdAt`/`updatedAt` as integer microseconds, so date
//! comparisons are exact); user properties are read from the JSON `data` column with
//! `json_extract(data, ?)`, the JSON path bound as a parameter. Every value of the query is a
//! bound parameter: the only text spliced into SQL is our own fixed SQL.
//!
//! Semantics worth knowing:
//! - `eq`/`ne` are null-safe (`IS`/`IS NOT`): `x eq null` finds missing and null properties,
//!   `x ne 'a'` includes items without `x`.
//! - When one side of a comparison is a date (a date column or a `datetime'…'` /
//!   `datetimeoffset'…'` literal), the other side is compared as a date too: a string literal is
//!   parsed here (a bad one is an error), a user property is parsed by the `tidemark_micros` SQL
//!   function (a non-date compares as null).
//! - JSON booleans come out of `json_extract` as 1/0 and boolean literals are bound as 1/0.

use rusqlite::types::Value as SqlValue;
use tidemark_protocol::date;
use tidemark_protocol::odata::{BinaryOp, Direction, Expr, Function, Literal, OrderBy, UnaryOp};
use tidemark_protocol::system;

/// Deeper expressions than this are refused rather than handed to SQLite, whose own limit
/// would surface as an internal error.
const MAX_DEPTH: usize = 200;

/// A fragment of SQL with its positional (`?`) parameters, in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sql {
    /// The SQL text.
    pub text: String,
    /// The values for its `?` placeholders.
    pub params: Vec<SqlValue>,
}

/// Why an expression cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TranslateError(pub String);

/// What SQL type an operand produces, as far as the translator needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Integer microseconds since the epoch (date columns and date literals).
    Date,
    /// A user property: any JSON value.
    Json,
    /// `null`
    Null,
    /// A string literal (may have to be read as a date).
    StringLiteral,
    /// Anything else (numbers, text, booleans).
    Other,
}

/// Translates a `$filter` expression into a boolean SQL expression.
pub fn filter_sql(expr: &Expr) -> Result<Sql, TranslateError> {
    let mut out = Sql::default();
    Translator { out: &mut out }.expr(expr, 0)?;
    Ok(out)
}

/// Translates `$orderby` into an `ORDER BY` list, with `id` appended as the tie-breaker.
pub fn orderby_sql(keys: &[OrderBy]) -> Result<Sql, TranslateError> {
    let mut out = Sql::default();
    for key in keys {
        Translator { out: &mut out }.expr(&key.expr, 0)?;
        out.text.push_str(match key.direction {
            Direction::Asc => " ASC, ",
            Direction::Desc => " DESC, ",
        });
    }
    // The tie-breaker makes the order total, so `$skip` paging neither repeats nor skips rows.
    out.text.push_str("id ASC");
    Ok(out)
}

struct Translator<'a> {
    out: &'a mut Sql,
}

impl Translator<'_> {
    fn push(&mut self, text: &str) {
        self.out.text.push_str(text);
    }

    fn bind(&mut self, value: SqlValue) {
        self.out.text.push('?');
        self.out.params.push(value);
    }

    fn expr(&mut self, expr: &Expr, depth: usize) -> Result<(), TranslateError> {
        if depth > MAX_DEPTH {
            return Err(TranslateError(format!(
                "expression is nested more than {MAX_DEPTH} levels deep"
            )));
        }
        match expr {
            Expr::Literal(lit) => self.literal(lit),
            Expr::Property(name) => self.property(name),
            Expr::Unary { op, operand } => {
                self.push(match op {
                    UnaryOp::Not => "(NOT ",
                    UnaryOp::Negate => "(- ",
                });
                self.expr(operand, depth + 1)?;
                self.push(")");
                Ok(())
            }
            Expr::Binary { op, left, right } => self.binary(*op, left, right, depth),
            Expr::Call { func, args } => self.call(*func, args, depth),
        }
    }

    fn literal(&mut self, lit: &Literal) -> Result<(), TranslateError> {
        let value = match lit {
            Literal::Null => {
                self.push("NULL");
                return Ok(());
            }
            Literal::Bool(b) => SqlValue::Integer(i64::from(*b)),
            Literal::Int32(i) => SqlValue::Integer(i64::from(*i)),
            Literal::Int64(i) => SqlValue::Integer(*i),
            Literal::Double(f) | Literal::Single(f) => SqlValue::Real(*f),
            Literal::Decimal(text) => match text.parse::<f64>() {
                Ok(f) => SqlValue::Real(f),
                Err(_) => return Err(TranslateError(format!("'{text}M' is not a decimal"))),
            },
            Literal::String(s) => SqlValue::Text(s.clone()),
            Literal::DateTime(naive) => SqlValue::Integer(naive.and_utc().timestamp_micros()),
            Literal::DateTimeOffset(instant) => SqlValue::Integer(instant.timestamp_micros()),
            Literal::Guid(guid) => SqlValue::Text(guid.hyphenated().to_string()),
        };
        self.bind(value);
        Ok(())
    }

    fn property(&mut self, name: &str) -> Result<(), TranslateError> {
        if let Some(column) = system_column(name) {
            self.push(column);
            return Ok(());
        }
        if name.contains(['"', '\\']) {
            return Err(TranslateError(format!(
                "property name '{name}' contains a quote or backslash"
            )));
        }
        self.push("json_extract(data, ");
        self.bind(SqlValue::Text(json_path(name)));
        self.push(")");
        Ok(())
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        left: &Expr,
        right: &Expr,
        depth: usize,
    ) -> Result<(), TranslateError> {
        let sql_op = match op {
            BinaryOp::Or => " OR ",
            BinaryOp::And => " AND ",
            BinaryOp::Eq => " IS ",
            BinaryOp::Ne => " IS NOT ",
            BinaryOp::Gt => " > ",
            BinaryOp::Ge => " >= ",
            BinaryOp::Lt => " < ",
            BinaryOp::Le => " <= ",
            BinaryOp::Add => " + ",
            BinaryOp::Sub => " - ",
            BinaryOp::Mul => " * ",
            BinaryOp::Div => " / ",
            BinaryOp::Mod => " % ",
        };
        let comparison = matches!(
            op,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Lt | BinaryOp::Le
        );
        let as_dates = comparison && (kind(left) == Kind::Date || kind(right) == Kind::Date);
        self.push("(");
        if as_dates {
            self.date_operand(left, right, depth)?;
            self.push(sql_op);
            self.date_operand(right, left, depth)?;
        } else {
            self.expr(left, depth + 1)?;
            self.push(sql_op);
            self.expr(right, depth + 1)?;
        }
        self.push(")");
        Ok(())
    }

    /// Renders `operand` as integer microseconds, because `other` (or itself) is a date.
    fn date_operand(
        &mut self,
        operand: &Expr,
        other: &Expr,
        depth: usize,
    ) -> Result<(), TranslateError> {
        match (kind(operand), operand) {
            (Kind::Date | Kind::Null, _) => self.expr(operand, depth + 1),
            (Kind::StringLiteral, Expr::Literal(Literal::String(text))) => {
                let instant = date::parse_date(text).map_err(|e| {
                    TranslateError(format!(
                        "'{text}' is compared with {} but is not a date: {e}",
                        describe(other)
                    ))
                })?;
                self.bind(SqlValue::Integer(date::to_micros(&instant)));
                Ok(())
            }
            _ => {
                self.push("tidemark_micros(");
                self.expr(operand, depth + 1)?;
                self.push(")");
                Ok(())
            }
        }
    }

    fn call(&mut self, func: Function, args: &[Expr], depth: usize) -> Result<(), TranslateError> {
        let d = depth + 1;
        match (func, args) {
            (Function::SubstringOf, [needle, haystack]) => {
                self.template("(instr(%, %) > 0)", &[haystack, needle], d)
            }
            (Function::StartsWith, [s, prefix]) => {
                self.template("(instr(%, %) = 1)", &[s, prefix], d)
            }
            // substr from (length - suffix length + 1): never equal when the suffix is longer.
            (Function::EndsWith, [s, suffix]) => self.template(
                "(substr(%, length(%) - length(%) + 1) = %)",
                &[s, s, suffix, suffix],
                d,
            ),
            (Function::ToLower, [s]) => self.template("tidemark_lower(%)", &[s], d),
            (Function::ToUpper, [s]) => self.template("tidemark_upper(%)", &[s], d),
            (Function::Length, [s]) => self.template("length(%)", &[s], d),
            (Function::Trim, [s]) => self.template("trim(%)", &[s], d),
            (Function::Concat, [a, b]) => self.template("(% || %)", &[a, b], d),
            (Function::IndexOf, [s, needle]) => self.template("(instr(%, %) - 1)", &[s, needle], d),
            (Function::Substring, [s, start]) => self.template("substr(%, % + 1)", &[s, start], d),
            (Function::Substring, [s, start, len]) => {
                self.template("substr(%, % + 1, %)", &[s, start, len], d)
            }
            (Function::Replace, [s, find, with]) => {
                self.template("replace(%, %, %)", &[s, find, with], d)
            }
            (Function::Year, [x]) => self.template("tidemark_year(%)", &[x], d),
            (Function::Month, [x]) => self.template("tidemark_month(%)", &[x], d),
            (Function::Day, [x]) => self.template("tidemark_day(%)", &[x], d),
            (Function::Hour, [x]) => self.template("tidemark_hour(%)", &[x], d),
            (Function::Minute, [x]) => self.template("tidemark_minute(%)", &[x], d),
            (Function::Second, [x]) => self.template("tidemark_second(%)", &[x], d),
            (Function::Round, [x]) => self.template("round(%)", &[x], d),
            (Function::Floor, [x]) => self.template("tidemark_floor(%)", &[x], d),
            (Function::Ceiling, [x]) => self.template("tidemark_ceiling(%)", &[x], d),
            (func, args) => Err(TranslateError(format!(
                "{func:?} does not take {} argument(s)",
                args.len()
            ))),
        }
    }

    /// Renders `template`, replacing each `%` with the next argument.
    fn template(
        &mut self,
        template: &str,
        args: &[&Expr],
        depth: usize,
    ) -> Result<(), TranslateError> {
        let mut args = args.iter();
        for (i, piece) in template.split('%').enumerate() {
            if i > 0 {
                match args.next() {
                    Some(arg) => self.expr(arg, depth)?,
                    None => return Err(TranslateError("internal: template arity".into())),
                }
            }
            self.push(piece);
        }
        Ok(())
    }
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

/// The SQLite JSON path of a top-level user property (quoted, so any name is one key).
pub fn json_path(name: &str) -> String {
    format!("$.\"{name}\"")
}

fn kind(expr: &Expr) -> Kind {
    match expr {
        Expr::Literal(Literal::Null) => Kind::Null,
        Expr::Literal(Literal::DateTime(_) | Literal::DateTimeOffset(_)) => Kind::Date,
        Expr::Literal(Literal::String(_)) => Kind::StringLiteral,
        Expr::Literal(_) => Kind::Other,
        Expr::Property(name) => match system_column(name) {
            Some("created_at" | "updated_at") => Kind::Date,
            Some(_) => Kind::Other,
            None => Kind::Json,
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
    fn user_properties_bind_their_json_path() {
        let sql = filter_sql(&Expr::Binary {
            op: BinaryOp::Eq,
            left: prop("text"),
            right: lit(Literal::String("x' OR 1=1 --".into())),
        });
        assert_eq!(
            sql,
            Ok(Sql {
                text: "(json_extract(data, ?) IS ?)".into(),
                params: vec![
                    SqlValue::Text("$.\"text\"".into()),
                    SqlValue::Text("x' OR 1=1 --".into())
                ],
            })
        );
    }

    #[test]
    fn date_columns_compare_with_string_literals_as_dates() {
        let sql = filter_sql(&Expr::Binary {
            op: BinaryOp::Ge,
            left: prop("updatedAt"),
            right: lit(Literal::String("1970-01-01T00:00:01.000001Z".into())),
        });
        assert_eq!(
            sql,
            Ok(Sql {
                text: "(updated_at >= ?)".into(),
                params: vec![SqlValue::Integer(1_000_001)],
            })
        );
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
        assert_eq!(sql.map(|s| s.text), Ok("updated_at DESC, id ASC".into()));
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
