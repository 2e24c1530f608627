//! Building filters in code, for clients: `prop("complete").equals(false).and(...)`.
//!
//! The builder makes the same tree the parser makes, and `to_string()` renders it as the text
//! stock clients send, so a query built here means the same on our server and on stock ones.

use chrono::{DateTime, FixedOffset, NaiveDateTime, SubsecRound, Utc};

use super::ast::{BinaryOp, Expr, Function, Literal, UnaryOp};

/// Fractional digits kept from instants turned into literals: .NET's 100 ns ticks, the finest
/// resolution stock servers parse.
const LITERAL_FRACTION_DIGITS: u16 = 7;

/// A property (column) reference.
pub fn prop(name: impl Into<String>) -> Expr {
    Expr::Property(name.into())
}

/// A literal operand.
pub fn lit(value: impl Into<Literal>) -> Expr {
    Expr::Literal(value.into())
}

/// The literal `null`.
pub fn null() -> Expr {
    Expr::Literal(Literal::Null)
}

/// A call of `func` with `args` (the arity is not checked here; the server checks it).
pub fn call(func: Function, args: Vec<Expr>) -> Expr {
    Expr::Call { func, args }
}

/// `substringof(needle, haystack)`: true when `needle` occurs in `haystack`.
pub fn substringof(needle: impl Into<Expr>, haystack: impl Into<Expr>) -> Expr {
    call(Function::SubstringOf, vec![needle.into(), haystack.into()])
}

/// `startswith(s, prefix)`
pub fn startswith(s: impl Into<Expr>, prefix: impl Into<Expr>) -> Expr {
    call(Function::StartsWith, vec![s.into(), prefix.into()])
}

/// `endswith(s, suffix)`
pub fn endswith(s: impl Into<Expr>, suffix: impl Into<Expr>) -> Expr {
    call(Function::EndsWith, vec![s.into(), suffix.into()])
}

/// `tolower(s)`
pub fn tolower(s: impl Into<Expr>) -> Expr {
    call(Function::ToLower, vec![s.into()])
}

/// `toupper(s)`
pub fn toupper(s: impl Into<Expr>) -> Expr {
    call(Function::ToUpper, vec![s.into()])
}

/// `length(s)`
pub fn length(s: impl Into<Expr>) -> Expr {
    call(Function::Length, vec![s.into()])
}

/// `trim(s)`
pub fn trim(s: impl Into<Expr>) -> Expr {
    call(Function::Trim, vec![s.into()])
}

/// `concat(a, b)`
pub fn concat(a: impl Into<Expr>, b: impl Into<Expr>) -> Expr {
    call(Function::Concat, vec![a.into(), b.into()])
}

/// `indexof(s, needle)`
pub fn indexof(s: impl Into<Expr>, needle: impl Into<Expr>) -> Expr {
    call(Function::IndexOf, vec![s.into(), needle.into()])
}

/// `substring(s, start)`
pub fn substring(s: impl Into<Expr>, start: impl Into<Expr>) -> Expr {
    call(Function::Substring, vec![s.into(), start.into()])
}

/// `substring(s, start, length)`
pub fn substring_len(s: impl Into<Expr>, start: impl Into<Expr>, len: impl Into<Expr>) -> Expr {
    call(
        Function::Substring,
        vec![s.into(), start.into(), len.into()],
    )
}

/// `replace(s, find, replacement)`
pub fn replace(s: impl Into<Expr>, find: impl Into<Expr>, replacement: impl Into<Expr>) -> Expr {
    call(
        Function::Replace,
        vec![s.into(), find.into(), replacement.into()],
    )
}

/// `year(date)`
pub fn year(date: impl Into<Expr>) -> Expr {
    call(Function::Year, vec![date.into()])
}

/// `month(date)`
pub fn month(date: impl Into<Expr>) -> Expr {
    call(Function::Month, vec![date.into()])
}

/// `day(date)`
pub fn day(date: impl Into<Expr>) -> Expr {
    call(Function::Day, vec![date.into()])
}

/// `hour(date)`
pub fn hour(date: impl Into<Expr>) -> Expr {
    call(Function::Hour, vec![date.into()])
}

/// `minute(date)`
pub fn minute(date: impl Into<Expr>) -> Expr {
    call(Function::Minute, vec![date.into()])
}

/// `second(date)`
pub fn second(date: impl Into<Expr>) -> Expr {
    call(Function::Second, vec![date.into()])
}

/// `round(x)`
pub fn round(x: impl Into<Expr>) -> Expr {
    call(Function::Round, vec![x.into()])
}

/// `floor(x)`
pub fn floor(x: impl Into<Expr>) -> Expr {
    call(Function::Floor, vec![x.into()])
}

/// `ceiling(x)`
pub fn ceiling(x: impl Into<Expr>) -> Expr {
    call(Function::Ceiling, vec![x.into()])
}

fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

// The method names are the OData operator words; `add`, `sub`, `not`, … deliberately do not
// implement the std operator traits, whose meaning (arithmetic on values) would mislead.
#[allow(clippy::should_implement_trait)]
impl Expr {
    /// `self eq other`
    pub fn equals(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::Eq, self, other.into())
    }

    /// `self ne other`
    pub fn not_equals(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::Ne, self, other.into())
    }

    /// `self gt other`
    pub fn gt(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::Gt, self, other.into())
    }

    /// `self ge other`
    pub fn ge(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::Ge, self, other.into())
    }

    /// `self lt other`
    pub fn lt(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::Lt, self, other.into())
    }

    /// `self le other`
    pub fn le(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::Le, self, other.into())
    }

    /// `self and other`
    pub fn and(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::And, self, other.into())
    }

    /// `self or other`
    pub fn or(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::Or, self, other.into())
    }

    /// `not self`
    pub fn not(self) -> Expr {
        Expr::Unary {
            op: UnaryOp::Not,
            operand: Box::new(self),
        }
    }

    /// `-self`
    pub fn neg(self) -> Expr {
        Expr::Unary {
            op: UnaryOp::Negate,
            operand: Box::new(self),
        }
    }

    /// `self add other`
    pub fn add(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::Add, self, other.into())
    }

    /// `self sub other`
    pub fn sub(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::Sub, self, other.into())
    }

    /// `self mul other`
    pub fn mul(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::Mul, self, other.into())
    }

    /// `self div other`
    pub fn div(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::Div, self, other.into())
    }

    /// `self mod other`
    pub fn modulo(self, other: impl Into<Expr>) -> Expr {
        binary(BinaryOp::Mod, self, other.into())
    }
}

impl From<&str> for Literal {
    fn from(v: &str) -> Self {
        Literal::String(v.to_string())
    }
}

impl From<String> for Literal {
    fn from(v: String) -> Self {
        Literal::String(v)
    }
}

impl From<bool> for Literal {
    fn from(v: bool) -> Self {
        Literal::Bool(v)
    }
}

impl From<i32> for Literal {
    fn from(v: i32) -> Self {
        Literal::Int32(v)
    }
}

impl From<i64> for Literal {
    fn from(v: i64) -> Self {
        Literal::Int64(v)
    }
}

impl From<f64> for Literal {
    fn from(v: f64) -> Self {
        Literal::Double(v)
    }
}

impl From<DateTime<Utc>> for Literal {
    /// A `datetimeoffset` at `+00:00`, truncated to 100 ns so stock servers can parse it.
    fn from(v: DateTime<Utc>) -> Self {
        Literal::DateTimeOffset(v.trunc_subsecs(LITERAL_FRACTION_DIGITS).fixed_offset())
    }
}

impl From<DateTime<FixedOffset>> for Literal {
    /// A `datetimeoffset` keeping its offset, truncated to 100 ns so stock servers can parse it.
    fn from(v: DateTime<FixedOffset>) -> Self {
        Literal::DateTimeOffset(v.trunc_subsecs(LITERAL_FRACTION_DIGITS))
    }
}

impl From<NaiveDateTime> for Literal {
    /// A `datetime` (no offset), truncated to 100 ns so stock servers can parse it.
    fn from(v: NaiveDateTime) -> Self {
        Literal::DateTime(v.trunc_subsecs(LITERAL_FRACTION_DIGITS))
    }
}

impl From<uuid::Uuid> for Literal {
    fn from(v: uuid::Uuid) -> Self {
        Literal::Guid(v)
    }
}

impl From<Literal> for Expr {
    fn from(v: Literal) -> Self {
        Expr::Literal(v)
    }
}

/// Plain values stand for literals wherever an operand is expected: `prop("n").gt(3)`.
macro_rules! literal_operands {
    ($($t:ty),*) => {$(
        impl From<$t> for Expr {
            fn from(v: $t) -> Self {
                Expr::Literal(Literal::from(v))
            }
        }
    )*};
}

literal_operands!(
    &str,
    String,
    bool,
    i32,
    i64,
    f64,
    DateTime<Utc>,
    DateTime<FixedOffset>,
    NaiveDateTime,
    uuid::Uuid
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::parse_filter;
    use chrono::TimeZone;

    #[test]
    fn builds_the_tree_the_parser_builds() {
        let built = prop("complete")
            .equals(false)
            .and(substringof("milk", tolower(prop("text"))));
        let parsed = parse_filter("((complete eq false) and substringof('milk',tolower(text)))");
        assert_eq!(parsed, Ok(built));
    }

    #[test]
    fn plain_values_become_literals() {
        assert_eq!(prop("n").gt(3), prop("n").gt(lit(3)));
        assert_eq!(
            prop("t").equals(String::from("x")),
            prop("t").equals(Expr::Literal(Literal::String("x".into())))
        );
    }

    #[test]
    fn utc_instants_become_datetimeoffset_at_zero_offset() {
        let dt = Utc.timestamp_opt(1_714_557_600, 0).single();
        assert_eq!(
            dt.map(|d| prop("updatedAt").ge(d).to_string()).as_deref(),
            Some("(updatedAt ge datetimeoffset'2024-05-01T10:00:00Z')")
        );
    }

    #[test]
    fn instants_are_truncated_to_100_nanoseconds() {
        let dt = Utc.timestamp_opt(0, 123_456_789).single();
        assert_eq!(
            dt.map(|d| lit(d).to_string()).as_deref(),
            Some("datetimeoffset'1970-01-01T00:00:00.1234567Z'")
        );
    }

    #[test]
    fn every_operator_method_builds_its_operator() {
        let a = || prop("a");
        let cases = [
            (a().not_equals(1), "(a ne 1)"),
            (a().lt(1), "(a lt 1)"),
            (a().le(1), "(a le 1)"),
            (a().ge(1), "(a ge 1)"),
            (a().or(true), "(a or true)"),
            (a().sub(1), "(a sub 1)"),
            (a().div(2), "(a div 2)"),
            (a().modulo(2), "(a mod 2)"),
            (a().mul(2.5), "(a mul 2.5)"),
        ];
        for (expr, text) in cases {
            assert_eq!(expr.to_string(), text);
            assert_eq!(parse_filter(text), Ok(expr));
        }
    }
}
