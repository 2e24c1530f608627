//! The short soak of the test command: 10 devices on their own stores, signed in as 3 users,
//! against a real `tidemark-server` process with accounts on, killed with SIGKILL and restarted
//! at least 3 times, checked against the exact model (nothing lost, nothing duplicated, no false
//! conflict, every device equal to its user's rows, no row crossed from one user to another). `scripts/soak` runs the full one. Needs the server binary built in the same
//! target directory (`cargo nextest run --workspace` does; else `cargo build -p tidemark-server`).

use std::time::Duration;

use tidemark_soak::{SoakConfig, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_with_server_kills_loses_and_duplicates_nothing() {
    let config = SoakConfig {
        devices: 10,
        users: 3,
        rounds: 16,
        seed: 7,
        kills: 3,
        shared_items: 3,
        max_edits_per_round: 4,
        max_downtime: Duration::from_millis(150),
        max_think_time: Duration::from_millis(100),
        server_binary: None,
    };
    let report = match run(config).await {
        Ok(r) => r,
        Err(e) => panic!("the soak could not run: {e:#}"),
    };
    println!("{report}");
    assert!(report.is_clean(), "{report}");
    assert!(report.kills >= 3, "{report}");
    assert!(report.operations >= 80, "{report}");
    assert!(report.acknowledged_shared_writes > 0, "{report}");
    assert_eq!(
        (
            report.lost,
            report.duplicated,
            report.false_conflicts,
            report.crossed
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(report.users, 3, "{report}");
    // Three users with their own 3 shared items each, besides the devices' own items.
    assert!(report.server_rows >= 9, "{report}");
    assert!(
        report.requests > 0 && report.server_peak_rss_kib > 0,
        "{report}"
    );
}
