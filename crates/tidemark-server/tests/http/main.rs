//! The table protocol over real HTTP: a server on 127.0.0.1:0 per test, driven with reqwest.

#[path = "../common/mod.rs"]
mod common;

mod change_clock;
mod crud;
mod idempotency;
mod internal;
mod malformed;
mod query;
