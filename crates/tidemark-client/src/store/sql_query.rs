//! Translates the query model (`Expr`, `OrderBy`) into SQLite `WHERE`/`ORDER BY` text with bound
//! parameters, for local reads and purges. Property names must be columns of the table; every
//! literal is a parameter, never spliced into the SQL.

use chrono::Utc;
use rusqlite::types::Value as SqlValue;
use tidemark_protocol::date;
use tidemark_protocol::odata::{BinaryOp, Direction, Expr, Function, Literal, UnaryOp};

use crate::error::{ClientError, Result};
use crate::query::Query;
use crate::schema::TableDefinition;

/// SQL text plus its parameters, in order.
#[derive(Debug, Default)]
pub(crate) struct Fragment {
    pub(crate) sql: String,
    pub(crate) params: Vec<SqlValue>,
}

impl Fragment {
    fn push(&mut self, other: Fragment) {
        self.sql.push_str(&other.sql);
        self.params.extend(other.params);
    }
}

/// `WHERE … ORDER BY … LIMIT ? OFFSET ?` for a query (an empty `WHERE` is left out).
pub(crate) fn select_tail(def: &TableDefinition, query: &Query) -> Result<Fragment> {
    let mut out = where_clause(def, query.filter.as_ref())?;
    out.sql.push_str(" ORDER BY ");
    for o in &query.order_by {
        let mut key = render(def, &o.expr)?;
        key.sql.push_str(match o.direction {
            Direction::Asc => " ASC, ",
            Direction::Desc => " DESC, ",
        });
        out.push(key);
    }
    // `id` last, so that skip/take page through a stable order.
    out.sql.push_str("\"id\" ASC");
    if query.take.is_some() || query.skip.is_some() {
        out.sql.push_str(" LIMIT ? OFFSET ?");
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
    let mut out = Fragment::default();
    if let Some(f) = filter {
        out.sql.push_str(" WHERE ");
        out.push(render(def, f)?);
    }
    Ok(out)
}

fn literal(l: &Literal) -> Result<Fragment> {
    let value = match l {
        Literal::Null => SqlValue::Null,
        Literal::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Literal::Int32(i) => SqlValue::Integer(i64::from(*i)),
        Literal::Int64(i) => SqlValue::Integer(*i),
        Literal::Double(f) | Literal::Single(f) => SqlValue::Real(*f),
        Literal::Decimal(d) => SqlValue::Real(
            d.parse::<f64>()
                .map_err(|_| ClientError::invalid(format!("decimal literal '{d}'")))?,
        ),
        Literal::String(s) => SqlValue::Text(s.clone()),
        // Dates are stored normalised by `values::to_sql`, so the same text form compares right.
        Literal::DateTime(n) => SqlValue::Text(date::format_date(&n.and_utc())),
        Literal::DateTimeOffset(d) => SqlValue::Text(date::format_date(&d.with_timezone(&Utc))),
        Literal::Guid(g) => SqlValue::Text(g.to_string()),
    };
    Ok(Fragment {
        sql: "?".into(),
        params: vec![value],
    })
}

fn render(def: &TableDefinition, e: &Expr) -> Result<Fragment> {
    match e {
        Expr::Literal(l) => literal(l),
        Expr::Property(name) => {
            if def.column_type(name).is_none() {
                return Err(ClientError::invalid(format!(
                    "'{name}' is not a column of local table '{}'",
                    def.name
                )));
            }
            // Names were checked to be plain identifiers when the table was defined.
            Ok(Fragment {
                sql: format!("\"{name}\""),
                params: Vec::new(),
            })
        }
        Expr::Unary { op, operand } => {
            let inner = render(def, operand)?;
            let prefix = match op {
                UnaryOp::Not => "(NOT ",
                UnaryOp::Negate => "(- ",
            };
            Ok(wrap(prefix, vec![inner], "", ")"))
        }
        Expr::Binary { op, left, right } => {
            // `x eq null` and null-safe equality: OData's eq/ne treat null as a value.
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
            let l = render(def, left)?;
            let r = render(def, right)?;
            Ok(wrap("(", vec![l, r], sql_op, ")"))
        }
        Expr::Call { func, args } => call(def, *func, args),
    }
}

/// `prefix a sep b sep c suffix`.
fn wrap(prefix: &str, parts: Vec<Fragment>, sep: &str, suffix: &str) -> Fragment {
    let mut out = Fragment {
        sql: prefix.to_string(),
        params: Vec::new(),
    };
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            out.sql.push_str(sep);
        }
        out.push(p);
    }
    out.sql.push_str(suffix);
    out
}

fn call(def: &TableDefinition, func: Function, args: &[Expr]) -> Result<Fragment> {
    let a = args
        .iter()
        .map(|x| render(def, x))
        .collect::<Result<Vec<_>>>()?;
    let given = a.len();
    let arity = |n: usize| -> Result<()> {
        if given == n {
            Ok(())
        } else {
            Err(ClientError::invalid(format!(
                "{func:?} takes {n} argument(s), {given} given"
            )))
        }
    };
    // Arguments used twice are rendered twice so that their parameters repeat in order.
    let twice = |i: usize| -> Result<Fragment> { render(def, &args[i]) };
    Ok(match func {
        Function::SubstringOf => {
            arity(2)?;
            let mut a = a.into_iter();
            let (needle, hay) = (a.next(), a.next());
            wrap(
                "(instr(",
                vec![hay.unwrap_or_default(), needle.unwrap_or_default()],
                ", ",
                ") > 0)",
            )
        }
        Function::StartsWith => {
            arity(2)?;
            let mut parts = a;
            parts.push(twice(1)?);
            // substr(s, 1, length(p)) = p
            let mut it = parts.into_iter();
            let (s, p_len, p) = (it.next(), it.next(), it.next());
            let mut out = wrap("(substr(", vec![s.unwrap_or_default()], "", ", 1, length(");
            out.push(p_len.unwrap_or_default());
            out.sql.push_str(")) = ");
            out.push(p.unwrap_or_default());
            out.sql.push(')');
            out
        }
        Function::EndsWith => {
            arity(2)?;
            let mut parts = a;
            parts.push(twice(1)?);
            parts.push(twice(1)?);
            let mut it = parts.into_iter();
            let (s, p1, p2, p3) = (it.next(), it.next(), it.next(), it.next());
            // length(p) = 0 OR substr(s, -length(p)) = p
            let mut out = wrap(
                "(length(",
                vec![p1.unwrap_or_default()],
                "",
                ") = 0 OR substr(",
            );
            out.push(s.unwrap_or_default());
            out.sql.push_str(", -length(");
            out.push(p2.unwrap_or_default());
            out.sql.push_str(")) = ");
            out.push(p3.unwrap_or_default());
            out.sql.push(')');
            out
        }
        Function::ToLower => unary_fn("lower", a, arity(1))?,
        Function::ToUpper => unary_fn("upper", a, arity(1))?,
        Function::Length => unary_fn("length", a, arity(1))?,
        Function::Trim => unary_fn("trim", a, arity(1))?,
        Function::Round => unary_fn("round", a, arity(1))?,
        Function::Concat => {
            arity(2)?;
            wrap("(", a, " || ", ")")
        }
        Function::IndexOf => {
            arity(2)?;
            wrap("(instr(", a, ", ", ") - 1)")
        }
        Function::Substring => {
            if a.len() != 2 && a.len() != 3 {
                return Err(ClientError::invalid("substring takes 2 or 3 arguments"));
            }
            let mut it = a.into_iter();
            let s = it.next().unwrap_or_default();
            let start = it.next().unwrap_or_default();
            let mut out = wrap("substr(", vec![s], "", ", ");
            out.push(start);
            out.sql.push_str(" + 1");
            if let Some(len) = it.next() {
                out.sql.push_str(", ");
                out.push(len);
            }
            out.sql.push(')');
            out
        }
        Function::Replace => {
            arity(3)?;
            wrap("replace(", a, ", ", ")")
        }
        Function::Year => date_part("%Y", a, arity(1))?,
        Function::Month => date_part("%m", a, arity(1))?,
        Function::Day => date_part("%d", a, arity(1))?,
        Function::Hour => date_part("%H", a, arity(1))?,
        Function::Minute => date_part("%M", a, arity(1))?,
        Function::Second => date_part("%S", a, arity(1))?,
        Function::Floor | Function::Ceiling => {
            arity(1)?;
            // Without SQLite's optional math functions: truncate, then step towards -inf/+inf.
            let x1 = a.into_iter().next().unwrap_or_default();
            let x2 = twice(0)?;
            let x3 = twice(0)?;
            let (step, cmp) = if func == Function::Floor {
                (" - ", " < ")
            } else {
                (" + ", " > ")
            };
            let mut out = wrap("(CAST(", vec![x1], "", " AS INTEGER)");
            out.sql.push_str(step);
            out.sql.push('(');
            out.push(x2);
            out.sql.push_str(cmp);
            out.sql.push_str("CAST(");
            out.push(x3);
            out.sql.push_str(" AS INTEGER)))");
            out
        }
    })
}

fn unary_fn(name: &str, a: Vec<Fragment>, arity: Result<()>) -> Result<Fragment> {
    arity?;
    Ok(wrap(&format!("{name}("), a, "", ")"))
}

fn date_part(format: &str, a: Vec<Fragment>, arity: Result<()>) -> Result<Fragment> {
    arity?;
    Ok(wrap(
        &format!("CAST(strftime('{format}', "),
        a,
        "",
        ") AS INTEGER)",
    ))
}
