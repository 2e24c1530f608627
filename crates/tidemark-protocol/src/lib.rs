//! The Tidemark table protocol, with no I/O: the one place where wire names, date formats,
//! ETags, error bodies and the OData query grammar live.
//!
//! Both the sync server and the sync engine depend on this crate; it depends on neither.
//! See `shared/spec/protocol.md` for the contract it implements.

pub mod batch;
pub mod checksum;
pub mod date;
pub mod error;
pub mod etag;
pub mod headers;
pub mod odata;
pub mod system;

pub use error::ErrorBody;
pub use odata::{Direction, Expr, Literal, OrderBy, TableQuery};
