//! Test helpers shared by Tidemark's suites: real servers on 127.0.0.1 with free ports, the
//! stock `azure-mobile-apps` server and imitations of how it stamps writes, fault-injecting
//! proxies, simulated power cuts of SQLite files, and a hostile fake of the protocol (answers
//! the engine must not trust). Nothing here reaches any address but loopback.

pub mod hostile;
pub mod postgres;
pub mod power;
pub mod procfs;
pub mod proxy;
pub mod server;
pub mod stamps;
pub mod stock;
pub mod tls;
