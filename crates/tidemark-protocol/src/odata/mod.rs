//! The OData v3 query language of the table protocol: `$filter`, `$orderby`, `$top`, `$skip`,
//! `$select`, plus the protocol's own `$inlinecount` and `__includeDeleted` parameters.

mod ast;
pub mod builder;
mod lexer;
mod parser;
mod query;
mod render;

pub use ast::{BinaryOp, Direction, Expr, Function, Literal, OrderBy, UnaryOp};
pub use parser::{ParseError, parse_filter, parse_orderby, parse_select};
pub use query::{QueryError, TableQuery};
pub use render::render_orderby;
