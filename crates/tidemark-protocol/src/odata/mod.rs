//! The OData v3 query language of the table protocol: `$filter`, `$orderby`, `$top`, `$skip`,
//! `$select`, plus the protocol's own `$inlinecount` and `__includeDeleted` parameters.

mod ast;
pub mod builder;
mod lexer;
mod names;
mod parser;
#[cfg(test)]
mod proptests;
mod query;
mod render;

pub use ast::{BinaryOp, Direction, Expr, Function, Literal, OrderBy, UnaryOp};
pub use parser::{
    MAX_DEPTH, MAX_INPUT_LEN, MAX_ORDERBY_KEYS, MAX_SELECT_NAMES, ParseError, parse_filter,
    parse_orderby, parse_select,
};
pub use query::{CountedPage, QueryError, TableQuery, params};
pub use render::render_orderby;
