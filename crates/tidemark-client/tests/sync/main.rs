//! The engine suite: every rule of `spec/sync.md`, against the real server on loopback, with
//! real SQLite files in temp dirs. One behaviour per test, named after it.

#[path = "../common/mod.rs"]
mod common;

mod attempts;
mod collapse;
mod convergence;
mod faults;
mod network_faults;
mod pull;
mod push;
mod resolve;
mod seed;
mod store;
mod store_faults;
