//! `tidemark-soak`: runs the soak (see the library) and prints its figures; exits 1 when the
//! soak found any error. `scripts/soak` builds it in release with the server and runs it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tidemark_soak::SoakConfig;

/// Many real sync engines against one real tidemark-server that is killed and restarted;
/// devices sign in as several users; checks that nothing is lost, duplicated, falsely conflicted
/// or crossed from one user to another, and prints the figures.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Simulated devices (each a sync engine on its own SQLite file).
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Users the devices sign in as (device n as user n % users; each user's rows are checked
    /// apart, and no row may cross from one user to another).
    #[arg(long, default_value_t = 4)]
    users: usize,
    /// Rounds per device (offline edits, then push and pull).
    #[arg(long, default_value_t = 40)]
    rounds: usize,
    /// Seed of the devices' random edits and of the kill schedule.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// SIGKILLs of the server during the rounds (each followed by a restart).
    #[arg(long, default_value_t = 25)]
    kills: usize,
    /// Items every device of a user edits (each user has its own; conflicts resolved by
    /// "server wins").
    #[arg(long, default_value_t = 10)]
    shared_items: usize,
    /// At most this many local edits per device per round.
    #[arg(long, default_value_t = 5)]
    max_edits: usize,
    /// The longest the server stays down after a kill, in milliseconds.
    #[arg(long, default_value_t = 300)]
    max_downtime_ms: u64,
    /// The longest a device pauses between rounds, in milliseconds.
    #[arg(long, default_value_t = 50)]
    max_think_ms: u64,
    /// The tidemark-server binary (default: next to this executable).
    #[arg(long)]
    server_binary: Option<PathBuf>,
    /// Log level of the harness and the engines (warn shows the engines' stopped pushes).
    #[arg(long, default_value = "error")]
    log_level: log::LevelFilter,
}

fn main() -> ExitCode {
    let args = Args::parse();
    env_logger::Builder::new()
        .filter_level(args.log_level)
        .init();
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("tidemark-soak: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<bool> {
    let config = SoakConfig {
        devices: args.devices,
        users: args.users,
        rounds: args.rounds,
        seed: args.seed,
        kills: args.kills,
        shared_items: args.shared_items,
        max_edits_per_round: args.max_edits,
        max_downtime: Duration::from_millis(args.max_downtime_ms),
        max_think_time: Duration::from_millis(args.max_think_ms),
        server_binary: args.server_binary,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(tidemark_soak::run(config))?;
    println!("{report}");
    let clean = report.is_clean();
    println!("result: {}", if clean { "PASS" } else { "FAIL" });
    Ok(clean)
}
