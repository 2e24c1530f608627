//! What a backend supplies to the translator: the [`Dialect`] trait and the operand model the
//! core and the dialects share.

use std::fmt;

use chrono::{DateTime, Utc};
use tidemark_protocol::odata::{BinaryOp, Direction};

use crate::functions::Spelling;
use crate::{Sql, TranslateError};

/// What the core knows about an operand whatever the backend: it decides the date rule, and
/// lets a dialect apply column affinity.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A date column or date literal, in the dialect's date representation.
    Date,
    /// The `null` literal.
    Null,
    /// A string literal (may have to be read as a date, or bound as text).
    StringLiteral(String),
    /// A text system column (`id`, `version`).
    TextColumn,
    /// A numeric system column (`deleted`).
    NumericColumn,
    /// Anything else: user properties, numbers, computed values.
    Other,
}

/// A literal value after the core's checks, for the dialect to bind. Booleans are the numbers
/// 1 and 0 in every backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `null`
    Null,
    /// An integer (also booleans).
    Int(i64),
    /// A real number.
    Real(f64),
    /// A string (also guids).
    Text(String),
    /// An instant (`datetime'…'`, `datetimeoffset'…'`, or a string compared with a date).
    Date(DateTime<Utc>),
}

/// How a function's spelling wants an argument, marked `%<role><index>` in a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// As rendered (`%r`).
    Raw,
    /// As text (`%t`).
    Text,
    /// As a value (`%v`).
    Value,
    /// As a number (`%n`).
    Number,
    /// As a date (`%d`): the core converts it with [`Dialect::to_date`] unless it is one.
    Date,
}

impl Role {
    /// The role a template letter stands for.
    pub(crate) fn from_letter(letter: u8) -> Option<Role> {
        Some(match letter {
            b'r' => Role::Raw,
            b't' => Role::Text,
            b'v' => Role::Value,
            b'n' => Role::Number,
            b'd' => Role::Date,
            _ => return None,
        })
    }
}

/// A rendered operand: its SQL, the dialect's type tag and the core's [`Kind`].
#[derive(Debug, Clone, PartialEq)]
pub struct Operand<P, T> {
    /// The SQL of the operand.
    pub sql: Sql<P>,
    /// The dialect's type of the rendered SQL (`()` where SQL is dynamically typed).
    pub ty: T,
    /// What the core knows about it.
    pub kind: Kind,
}

/// The operand type of dialect `D`.
pub type Op<D> = Operand<<D as Dialect>::Param, <D as Dialect>::Ty>;
/// The SQL type of dialect `D`.
pub type DSql<D> = Sql<<D as Dialect>::Param>;

/// What differs between backends. Every method renders already translated operands; rules
/// (depth, arity, dates, literal checks) stay in the core.
pub trait Dialect {
    /// A bound parameter value.
    type Param: Clone + fmt::Debug;
    /// The dialect's type of a rendered operand (PostgreSQL's typed coercions).
    type Ty: Clone + fmt::Debug;

    /// The placeholder text written for `param`.
    fn placeholder(&self, param: &Self::Param) -> &'static str;
    /// Reads the property `name`; names the backend cannot read are refused.
    fn property(&self, name: &str) -> Result<Op<Self>, TranslateError>;
    /// Binds a literal (its kind is set by the core).
    fn literal(&self, value: Scalar) -> Result<Op<Self>, TranslateError>;
    /// A null compared with a date, in the date representation.
    fn null_date(&self) -> DSql<Self>;
    /// Converts an operand that is not a date into the date representation (a value that is
    /// not a date becomes NULL).
    fn to_date(&self, operand: Op<Self>) -> DSql<Self>;
    /// The SQL operator of `op` (a comparison) between two dates; `eq`/`ne` are null-safe.
    fn date_operator(&self, op: BinaryOp) -> &'static str;
    /// A comparison (`eq` … `le`) of two operands that are not dates; null-safe `eq`/`ne`.
    fn compare(&self, op: BinaryOp, left: Op<Self>, right: Op<Self>) -> Op<Self>;
    /// `add`, `sub`, `mul`, `div` or `mod`.
    fn arithmetic(&self, op: BinaryOp, left: Op<Self>, right: Op<Self>) -> Op<Self>;
    /// `-x`.
    fn negate(&self, operand: Op<Self>) -> Op<Self>;
    /// An operand as a condition (`not`, `and`, `or`, the whole filter).
    fn as_predicate(&self, operand: Op<Self>) -> DSql<Self>;
    /// Finished boolean SQL as an operand.
    fn predicate(&self, sql: DSql<Self>) -> Op<Self>;
    /// Finished SQL computing a value as an operand (function results).
    fn value(&self, sql: DSql<Self>) -> Op<Self>;
    /// The template of a function call in this dialect.
    fn template(&self, spelling: &Spelling, args: &[Op<Self>]) -> &'static str;
    /// An argument of a function template in `role` (never [`Role::Date`]).
    fn argument(&self, operand: Op<Self>, role: Role) -> DSql<Self>;
    /// One `$orderby` key.
    fn order_key(&self, key: Op<Self>, direction: Direction) -> DSql<Self>;
    /// The last `ORDER BY` key, making the order total so paging neither repeats nor skips.
    fn tie_breaker(&self) -> &'static str;
}
