//! The typed syntax tree of OData v3 `$filter` and `$orderby` expressions.
//!
//! The parser produces it on the server side, the builder produces it on the client side, and the
//! renderer turns it back into the text stock clients send, so both ends share one model.

use chrono::{DateTime, FixedOffset, NaiveDateTime};

/// A `$filter` expression (or one operand of it).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant value.
    Literal(Literal),
    /// A property (column) of the item, by name, e.g. `text` or `updatedAt`.
    Property(String),
    /// A prefix operator applied to one operand.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// An infix operator applied to two operands.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// The left operand.
        left: Box<Expr>,
        /// The right operand.
        right: Box<Expr>,
    },
    /// A call of one of the built-in functions.
    Call {
        /// The function.
        func: Function,
        /// The arguments, already checked against the function's arity.
        args: Vec<Expr>,
    },
}

/// A literal value as written in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer without suffix (`42`, `-7`), within the `i32` range as OData's Edm.Int32.
    Int32(i32),
    /// An integer with the `L` suffix, or one too large for Edm.Int32 (Edm.Int64).
    Int64(i64),
    /// A number with a fraction or exponent, or the `d` suffix (Edm.Double).
    Double(f64),
    /// A number with the `f` suffix (Edm.Single), kept as `f64` for evaluation.
    Single(f64),
    /// A number with the `M` suffix (Edm.Decimal), kept as its canonical decimal text.
    Decimal(String),
    /// A quoted string (`'it''s'` holds `it's`).
    String(String),
    /// `datetime'2024-01-02T03:04:05.123Z'`: an instant without offset (Edm.DateTime).
    DateTime(NaiveDateTime),
    /// `datetimeoffset'2024-01-02T03:04:05.123+02:00'` (Edm.DateTimeOffset).
    DateTimeOffset(DateTime<FixedOffset>),
    /// `guid'…'`
    Guid(uuid::Uuid),
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `not x`
    Not,
    /// `-x`
    Negate,
}

/// Infix operators, from the lowest precedence (`or`) to the highest (`mul`/`div`/`mod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
    /// `add`
    Add,
    /// `sub`
    Sub,
    /// `mul`
    Mul,
    /// `div`
    Div,
    /// `mod`
    Mod,
}

/// The built-in functions of the query language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `substringof(needle, haystack)`: true when `needle` occurs in `haystack`.
    SubstringOf,
    /// `startswith(s, prefix)`
    StartsWith,
    /// `endswith(s, suffix)`
    EndsWith,
    /// `tolower(s)`
    ToLower,
    /// `toupper(s)`
    ToUpper,
    /// `length(s)`
    Length,
    /// `trim(s)`
    Trim,
    /// `concat(a, b)`
    Concat,
    /// `indexof(s, needle)`: zero-based, -1 when absent.
    IndexOf,
    /// `substring(s, start)` or `substring(s, start, length)`, zero-based.
    Substring,
    /// `replace(s, find, replacement)`
    Replace,
    /// `year(date)`
    Year,
    /// `month(date)`
    Month,
    /// `day(date)`
    Day,
    /// `hour(date)`
    Hour,
    /// `minute(date)`
    Minute,
    /// `second(date)`
    Second,
    /// `round(x)`
    Round,
    /// `floor(x)`
    Floor,
    /// `ceiling(x)`
    Ceiling,
}

/// One key of `$orderby`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    /// The expression to sort by (usually a property).
    pub expr: Expr,
    /// The direction.
    pub direction: Direction,
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Ascending (the default when none is written).
    #[default]
    Asc,
    /// Descending.
    Desc,
}
