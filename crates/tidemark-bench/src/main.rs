//! `tidemark-bench`, run by `scripts/bench`: every figure of issue 6's benchmark table, measured
//! in one run on this machine through the real engine (`SyncContext`/`SyncTable`) against real
//! server processes on 127.0.0.1 (`tidemark-server` in release mode, and the stock npm
//! `azure-mobile-apps` v4 server), printed as one Markdown table with each target and whether
//! it is met, and optionally written into `docs/benchmarks.md`.
//!
//! The 100 000-row pull runs in a child process (this binary re-executed with the hidden
//! `pull-child` command) so that its peak RSS (`VmHWM`) is the client's alone.
//!
//! `tidemark-bench stores` (`scripts/bench --stores`) measures the server alone instead, on
//! SQLite and on PostgreSQL.

mod machine;
mod phases;
mod report;
mod seed;
mod stores;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::report::Section;

/// Measures the Tidemark engine and server and prints the benchmark table.
#[derive(Debug, Parser)]
#[command(name = "tidemark-bench", version)]
struct Args {
    /// Another benchmark than the table (or the hidden child of the pull phase).
    #[command(subcommand)]
    command: Option<Command>,
    /// Local inserts timed one by one, and queued inserts pushed.
    #[arg(long, default_value_t = 10_000)]
    inserts: usize,
    /// Rows pulled into an empty store.
    #[arg(long, default_value_t = 100_000)]
    pull_rows: usize,
    /// Rows pushed to and pulled from the stock server and ours, side by side.
    #[arg(long, default_value_t = 10_000)]
    stock_rows: usize,
    /// Only these phases (comma-separated); all by default.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Phase>,
    /// The push phase measures batch mode only (skips the slow per-request run; for profiling).
    #[arg(long)]
    batch_only: bool,
    /// Operations per request of the push phase's batch mode (the engine's default if absent).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    batch_size: Option<usize>,
    /// The desktop app's figures: a file holding `{"launch_ms":..,"add_ms":..}` (what
    /// `scripts/bench-app` prints).
    #[arg(long, env = "TIDEMARK_APP_FIGURES")]
    app_figures: Option<PathBuf>,
    /// Why the app's figures are missing when `--app-figures` is not given.
    #[arg(long, default_value = "scripts/bench-app missing")]
    app_missing_reason: String,
    /// Rewrites the generated part of this Markdown file (e.g. `docs/benchmarks.md`).
    #[arg(long)]
    write_doc: Option<PathBuf>,
    /// The commit measured, shown in the document.
    #[arg(long, env = "TIDEMARK_BENCH_COMMIT")]
    commit: Option<String>,
}

/// The benchmarks other than the table, and the one the benchmark runs in a child process.
#[derive(Debug, Subcommand)]
enum Command {
    /// The server alone on SQLite and on PostgreSQL (a throwaway cluster): inserts one at a
    /// time, a paged pull, and writes/s of 1, 2 and 4 server processes.
    Stores {
        /// Inserts pushed one request at a time.
        #[arg(default_value_t = 10_000)]
        push_rows: usize,
        /// Rows seeded, then pulled in pages of 1000 by `updatedAt`.
        #[arg(default_value_t = 100_000)]
        pull_rows: usize,
    },
    /// Pulls every row of `todoitem` from `url` into the (empty) store at `store` and prints
    /// the figures as one JSON line.
    #[command(hide = true)]
    PullChild {
        /// The server's base URL.
        url: String,
        /// The store file to create.
        store: PathBuf,
    },
}

/// The parts of the benchmark, selectable with `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Phase {
    /// Local inserts through the sync table.
    Local,
    /// Push of queued inserts to our server, per request and in batches.
    Push,
    /// Pull of many rows into an empty store, the SQLite floor, and a pull with no changes.
    Pull,
    /// Push and pull against the stock server and ours, side by side.
    Stock,
    /// The desktop app's figures (measured by `scripts/bench-app`).
    App,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,tidemark_bench=info"),
    )
    .init();
    let args = Args::parse();
    match &args.command {
        Some(Command::PullChild { url, store }) => return phases::pull_child(url, store).await,
        Some(Command::Stores {
            push_rows,
            pull_rows,
        }) => return stores::run(*push_rows, *pull_rows).await,
        None => {}
    }
    let wanted = |phase: Phase| args.only.is_empty() || args.only.contains(&phase);
    let started = chrono::Utc::now();
    let mut sections: Vec<Section> = Vec::new();
    if wanted(Phase::Local) {
        sections.push(phases::local_inserts(args.inserts).await?);
    }
    if wanted(Phase::Push) {
        sections.push(phases::push(args.inserts, args.batch_only, args.batch_size).await?);
    }
    if wanted(Phase::Pull) {
        sections.push(phases::pull(args.pull_rows).await?);
    }
    if wanted(Phase::Stock) {
        sections.push(phases::stock(args.stock_rows).await?);
    }
    if wanted(Phase::App) {
        sections.push(phases::app(
            args.app_figures.as_deref(),
            &args.app_missing_reason,
        )?);
    }
    let machine = machine::describe();
    let text = report::render(&sections, &machine, started, args.commit.as_deref());
    println!("{text}");
    if let Some(doc) = &args.write_doc {
        report::write_doc(doc, &text).with_context(|| format!("writing {}", doc.display()))?;
        log::info!("wrote {}", doc.display());
    }
    Ok(())
}
