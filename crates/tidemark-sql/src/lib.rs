//! The one translator from the protocol's OData AST (`$filter`, `$orderby`) to SQL, used by the
//! engine's local queries and by both server stores, so one filter selects the same rows
//! everywhere.
//!
//! [`filter`] and [`order_by`] walk the AST once and apply every rule once: nesting depth,
//! arity, literal checks and the date rule (when one side of a comparison is a date, a string
//! literal on the other side is parsed here and anything else is converted by the dialect). A
//! [`Dialect`] spells only what differs: how a property is read and quoted, how a date is
//! represented and bound, placeholders and casts, function spellings, PostgreSQL's typed
//! coercions. [`sqlite::SqliteDialect`] serves the engine's typed local tables and the server's
//! `items` table alike; [`postgres::PostgresDialect`] the PostgreSQL store. [`sqlite::register`]
//! adds the SQL functions SQLite lacks, on every connection of the engine and the server.
//!
//! To add an OData function (after the protocol crate's AST and parser): one arm in
//! `functions::spelling` (arity, SQLite and PostgreSQL spelling); a new SQL function it needs goes
//! to `sqlite/functions.rs` and to a new PostgreSQL migration of the server.

mod dialect;
mod functions;
pub mod postgres;
pub mod sqlite;
mod translate;

pub use dialect::{DSql, Dialect, Kind, Op, Operand, Role, Scalar};
pub use functions::Spelling;
pub use translate::{MAX_DEPTH, MAX_STRING_NESTING, filter, order_by};

/// A fragment of SQL with its bound parameters, in the order their placeholders appear.
#[derive(Debug, Clone, PartialEq)]
pub struct Sql<P> {
    /// The SQL text (placeholders as the dialect writes them).
    pub text: String,
    /// The values of the placeholders, in order.
    pub params: Vec<P>,
}

impl<P> Default for Sql<P> {
    fn default() -> Self {
        Self {
            text: String::new(),
            params: Vec::new(),
        }
    }
}

impl<P> Sql<P> {
    /// Fixed SQL text without parameters.
    pub fn raw(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            params: Vec::new(),
        }
    }

    /// Appends fixed SQL text.
    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// Appends another fragment, parameters included.
    pub fn append(&mut self, other: Sql<P>) {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
    }

    /// Appends a placeholder (written as `placeholder`) bound to `param`.
    pub fn bind(&mut self, placeholder: &str, param: P) {
        self.text.push_str(placeholder);
        self.params.push(param);
    }

    /// `prefix inner suffix`.
    pub fn wrapped(prefix: &str, inner: Sql<P>, suffix: &str) -> Self {
        let mut out = Self::raw(prefix);
        out.append(inner);
        out.push(suffix);
        out
    }
}

/// Why an expression cannot be translated (a bad filter: the caller answers 400 or refuses the
/// local query).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TranslateError(pub String);
