//! The engine suite: every rule of `spec/sync.md`, against the real server on loopback, with
//! real SQLite files in temp dirs. One behaviour per test, named after it.

#[path = "../common/mod.rs"]
mod common;

/// Generates, from one async test body taking the push mode (`async fn name(mode) -> TestResult
/// { … }`), the tests `name::per_request` and `name::batch`, so every push behaviour is proven
/// with one request per operation and with `POST /$batch`.
macro_rules! both_modes {
    ($(#[$meta:meta])* async fn $name:ident($mode:ident) -> TestResult $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($mode: crate::common::Mode) -> crate::common::TestResult $body

            #[tokio::test]
            async fn per_request() -> crate::common::TestResult {
                run(crate::common::Mode::PerRequest).await
            }

            #[tokio::test]
            async fn batch() -> crate::common::TestResult {
                run(crate::common::Mode::Batch).await
            }
        }
    };
}

mod accounts;
mod attempts;
mod batch;
mod collapse;
mod convergence;
mod deleted_elsewhere;
mod divergence;
mod error_kinds;
mod faults;
mod hostile;
mod https;
mod network_faults;
mod poison;
mod power_loss;
mod pull;
mod push;
mod refused;
mod resolve;
mod seed;
mod sign_in_stub;
mod store;
mod store_faults;
mod store_watch;
mod waiting;
