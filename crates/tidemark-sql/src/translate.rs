//! The core: one walk over the AST for every dialect, applying the rules once.
//!
//! - Depth: deeper expressions than [`MAX_DEPTH`] are refused rather than handed to the
//!   database, whose own limit would surface as an internal error.
//! - Arity: each function's argument count is checked against its spelling.
//! - Literals: decimals must parse; booleans are 1 and 0; dates become instants.
//! - Dates: when one side of a comparison is a date (a date column or a `datetime'…'` /
//!   `datetimeoffset'…'` literal), the other side is compared as a date too: `null` stays null,
//!   a string literal is parsed here (a bad one is an error), anything else is converted by the
//!   dialect (a value that is not a date compares as null). Date-part functions convert their
//!   argument the same way, leniently.
//! - `eq`/`ne` are null-safe: `x eq null` finds missing and null properties.
//! - String growth: at most [`MAX_STRING_NESTING`] string-making functions inside each other,
//!   so `replace(replace(…))` cannot multiply one row's size without bound (the registered
//!   SQLite functions and the server's reader connections also cap each string's length).

use tidemark_protocol::date;
use tidemark_protocol::odata::{BinaryOp, Expr, Function, Literal, OrderBy, UnaryOp};

use crate::dialect::{DSql, Dialect, Kind, Op, Role, Scalar};
use crate::functions::spelling;
use crate::{Sql, TranslateError};

/// The deepest nesting of a filter accepted.
pub const MAX_DEPTH: usize = 200;

/// The most string-making functions (`replace`, `concat`, `substring`, `tolower`, `toupper`,
/// `trim`) accepted inside each other. Each `replace` can multiply its input's length, so the
/// depth bounds how far one row can grow; real filters nest two or three at most.
pub const MAX_STRING_NESTING: usize = 4;

/// Translates a `$filter` expression into a boolean SQL expression of `dialect`.
pub fn filter<D: Dialect>(dialect: &D, expr: &Expr) -> Result<DSql<D>, TranslateError> {
    check_string_nesting(expr)?;
    let operand = Walk { d: dialect }.expr(expr, 0)?;
    Ok(dialect.as_predicate(operand))
}

/// Translates `$orderby` into an `ORDER BY` list, the dialect's tie-breaker (`id`) last.
pub fn order_by<D: Dialect>(dialect: &D, keys: &[OrderBy]) -> Result<DSql<D>, TranslateError> {
    let mut out = Sql::default();
    for key in keys {
        check_string_nesting(&key.expr)?;
        let operand = Walk { d: dialect }.expr(&key.expr, 0)?;
        out.append(dialect.order_key(operand, key.direction));
        out.push(", ");
    }
    out.push(dialect.tie_breaker());
    Ok(out)
}

/// Refuses `expr` when string-making functions are nested deeper than [`MAX_STRING_NESTING`].
fn check_string_nesting(expr: &Expr) -> Result<(), TranslateError> {
    let deepest = string_nesting(expr, 0);
    if deepest > MAX_STRING_NESTING {
        return Err(TranslateError(format!(
            "string functions (replace, concat, substring, tolower, toupper, trim) are nested \
             {deepest} deep; the limit is {MAX_STRING_NESTING}"
        )));
    }
    Ok(())
}

/// The longest chain of string-making calls inside each other in `expr`. Stops descending past
/// [`MAX_DEPTH`]: the walk refuses such an expression anyway.
fn string_nesting(expr: &Expr, depth: usize) -> usize {
    if depth > MAX_DEPTH {
        return 0;
    }
    match expr {
        Expr::Literal(_) | Expr::Property(_) => 0,
        Expr::Unary { operand, .. } => string_nesting(operand, depth + 1),
        Expr::Binary { left, right, .. } => {
            string_nesting(left, depth + 1).max(string_nesting(right, depth + 1))
        }
        Expr::Call { func, args } => {
            let inner = args
                .iter()
                .map(|a| string_nesting(a, depth + 1))
                .max()
                .unwrap_or(0);
            let makes_string = matches!(
                func,
                Function::Replace
                    | Function::Concat
                    | Function::Substring
                    | Function::ToLower
                    | Function::ToUpper
                    | Function::Trim
            );
            inner + usize::from(makes_string)
        }
    }
}

struct Walk<'d, D> {
    d: &'d D,
}

impl<D: Dialect> Walk<'_, D> {
    fn expr(&self, expr: &Expr, depth: usize) -> Result<Op<D>, TranslateError> {
        if depth > MAX_DEPTH {
            return Err(TranslateError(format!(
                "expression is nested more than {MAX_DEPTH} levels deep"
            )));
        }
        let next = depth + 1;
        match expr {
            Expr::Literal(lit) => self.literal(lit),
            Expr::Property(name) => self.d.property(name),
            Expr::Unary {
                op: UnaryOp::Not,
                operand,
            } => {
                let inner = self.d.as_predicate(self.expr(operand, next)?);
                Ok(self.d.predicate(Sql::wrapped("(NOT ", inner, ")")))
            }
            Expr::Unary {
                op: UnaryOp::Negate,
                operand,
            } => Ok(self.d.negate(self.expr(operand, next)?)),
            Expr::Binary { op, left, right } => self.binary(*op, left, right, next),
            Expr::Call { func, args } => self.call(*func, args, next),
        }
    }

    fn literal(&self, lit: &Literal) -> Result<Op<D>, TranslateError> {
        let (value, kind) = match lit {
            Literal::Null => (Scalar::Null, Kind::Null),
            Literal::Bool(b) => (Scalar::Int(i64::from(*b)), Kind::Other),
            Literal::Int32(i) => (Scalar::Int(i64::from(*i)), Kind::Other),
            Literal::Int64(i) => (Scalar::Int(*i), Kind::Other),
            Literal::Double(f) | Literal::Single(f) => (Scalar::Real(*f), Kind::Other),
            Literal::Decimal(text) => match text.parse::<f64>() {
                Ok(f) => (Scalar::Real(f), Kind::Other),
                Err(_) => return Err(TranslateError(format!("'{text}M' is not a decimal"))),
            },
            Literal::String(s) => (Scalar::Text(s.clone()), Kind::StringLiteral(s.clone())),
            Literal::DateTime(naive) => (Scalar::Date(naive.and_utc()), Kind::Date),
            Literal::DateTimeOffset(instant) => (Scalar::Date(instant.to_utc()), Kind::Date),
            Literal::Guid(guid) => (Scalar::Text(guid.hyphenated().to_string()), Kind::Other),
        };
        let mut operand = self.d.literal(value)?;
        operand.kind = kind;
        Ok(operand)
    }

    fn binary(
        &self,
        op: BinaryOp,
        left: &Expr,
        right: &Expr,
        next: usize,
    ) -> Result<Op<D>, TranslateError> {
        let (l, r) = (self.expr(left, next)?, self.expr(right, next)?);
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let mut sql = Sql::wrapped("(", self.d.as_predicate(l), "");
                sql.push(if op == BinaryOp::And { " AND " } else { " OR " });
                sql.append(self.d.as_predicate(r));
                sql.push(")");
                Ok(self.d.predicate(sql))
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                Ok(self.d.arithmetic(op, l, r))
            }
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::Lt
            | BinaryOp::Le => {
                if l.kind != Kind::Date && r.kind != Kind::Date {
                    return Ok(self.d.compare(op, l, r));
                }
                let mut sql = Sql::wrapped("(", self.date_side(l, right)?, "");
                sql.push(self.d.date_operator(op));
                sql.append(self.date_side(r, left)?);
                sql.push(")");
                Ok(self.d.predicate(sql))
            }
        }
    }

    /// One side of a comparison with a date, in the dialect's date representation.
    fn date_side(&self, operand: Op<D>, other: &Expr) -> Result<DSql<D>, TranslateError> {
        match operand.kind {
            Kind::Date => Ok(operand.sql),
            Kind::Null => Ok(self.d.null_date()),
            Kind::StringLiteral(ref text) => {
                let instant = date::parse_date(text).map_err(|e| {
                    let what = match other {
                        Expr::Property(name) => name.as_str(),
                        _ => "a date",
                    };
                    TranslateError(format!(
                        "'{text}' is compared with {what} but is not a date: {e}"
                    ))
                })?;
                Ok(self.d.literal(Scalar::Date(instant))?.sql)
            }
            _ => Ok(self.d.to_date(operand)),
        }
    }

    fn call(&self, func: Function, args: &[Expr], next: usize) -> Result<Op<D>, TranslateError> {
        let spelling = spelling(func, args.len()).ok_or_else(|| {
            TranslateError(format!("{func:?} does not take {} argument(s)", args.len()))
        })?;
        let args = args
            .iter()
            .map(|a| self.expr(a, next))
            .collect::<Result<Vec<_>, _>>()?;
        let template = self.d.template(&spelling, &args);
        let sql = self.fill(template, &args)?;
        Ok(if spelling.predicate {
            self.d.predicate(sql)
        } else {
            self.d.value(sql)
        })
    }

    /// Renders `template`, replacing each `%<role><index>` with that argument in that role.
    /// An argument used twice is rendered twice, its parameters repeated in order.
    fn fill(&self, template: &str, args: &[Op<D>]) -> Result<DSql<D>, TranslateError> {
        let internal = || TranslateError(format!("internal: bad function template {template}"));
        let mut out = Sql::default();
        let mut pieces = template.split('%');
        out.push(pieces.next().unwrap_or_default());
        for piece in pieces {
            let bytes = piece.as_bytes();
            let (Some(&letter), Some(&digit)) = (bytes.first(), bytes.get(1)) else {
                return Err(internal());
            };
            let role = Role::from_letter(letter).ok_or_else(internal)?;
            let arg = digit
                .checked_sub(b'0')
                .and_then(|i| args.get(usize::from(i)))
                .ok_or_else(internal)?
                .clone();
            out.append(match role {
                Role::Date if arg.kind == Kind::Date => arg.sql,
                Role::Date => self.d.to_date(arg),
                other => self.d.argument(arg, other),
            });
            out.push(&piece[2..]);
        }
        Ok(out)
    }
}
