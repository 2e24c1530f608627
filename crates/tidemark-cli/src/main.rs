//! `tidemark`: the Tidemark todo list from a terminal, on the same engine and, by default, the
//! same local store as the desktop app. Every command works offline; `sync` talks to the server.
//!
//! Exit codes: 0 ok, 1 error, 2 sync finished with conflicts, 3 server unreachable (nothing lost),
//! 4 sync finished but some server items could not be read (they were skipped and listed).

mod cli;
mod output;

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use tidemark_todos::{Resolution, TodoError, TodoList};

use cli::{Args, Command, Keep};

/// Exit code: the sync finished but some changes conflict with the server's.
const EXIT_CONFLICTS: u8 = 2;
/// Exit code: the server could not be reached; local changes are kept.
const EXIT_UNREACHABLE: u8 = 3;
/// Exit code: the sync finished, but some server items could not be read and were skipped.
const EXIT_SKIPPED: u8 = 4;

fn main() -> ExitCode {
    let args = Args::parse();
    env_logger::Builder::new()
        .parse_filters(&args.log_level)
        .format_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}"), 1),
    };
    match runtime.block_on(run(args)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            let code = match &error {
                TodoError::Unreachable(_) => EXIT_UNREACHABLE,
                _ => 1,
            };
            fail(&error.to_string(), code)
        }
    }
}

/// Prints the one-line error (server text in it escaped) and returns its exit code.
fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("tidemark: {}", output::clean(&message.replace('\n', " ")));
    ExitCode::from(code)
}

async fn run(args: Args) -> Result<u8, TodoError> {
    let data_dir = args.data_dir()?;
    let list = TodoList::open(&data_dir, args.server.as_deref(), args.app_key.as_deref()).await?;
    let code = execute(&list, args.command).await;
    list.close().await;
    code
}

async fn execute(list: &TodoList, command: Command) -> Result<u8, TodoError> {
    match command {
        Command::Add { text } => {
            let todo = list.add(&text).await?;
            println!("{}", output::clean(&todo.id));
        }
        Command::List { all, json } => {
            let todos = list.list(all).await?;
            output::todos(&todos, json);
        }
        Command::Done { id } => {
            list.set_complete(&id, true).await?;
        }
        Command::Undone { id } => {
            list.set_complete(&id, false).await?;
        }
        Command::Edit { id, text } => {
            list.edit(&id, &text).await?;
        }
        Command::Rm { id } => list.delete(&id).await?,
        Command::Import { file } => {
            let content = read_input(&file)?;
            let lines: Vec<&str> = content.lines().filter(|l| !l.trim().is_empty()).collect();
            let added = list.add_many(lines).await?;
            println!("imported {} todo(s)", added.len());
        }
        Command::Sync => {
            let outcome = list.sync().await?;
            output::sync(&outcome);
            if outcome.conflicts > 0 {
                return Ok(EXIT_CONFLICTS);
            }
            if !outcome.skipped.is_empty() {
                return Ok(EXIT_SKIPPED);
            }
        }
        Command::Pending => println!("{}", list.pending().await?),
        Command::Conflicts { json } => output::conflicts(&list.conflicts().await?, json),
        Command::Resolve { id, keep } => {
            let resolution = match keep {
                Keep::Mine => Resolution::KeepMine,
                Keep::Theirs => Resolution::KeepTheirs,
            };
            list.resolve(&id, resolution).await?;
        }
        Command::Purge { force } => {
            let removed = list.purge(force).await?;
            println!("purged {removed} local todo(s)");
        }
        Command::Status { json } => output::status(&list.status().await?, json),
    }
    Ok(0)
}

/// Reads a file, or standard input for `-`.
fn read_input(file: &str) -> Result<String, TodoError> {
    let io_error = |e: std::io::Error| TodoError::ReadInput(format!("cannot read {file}: {e}"));
    if file == "-" {
        let mut content = String::new();
        std::io::stdin()
            .read_to_string(&mut content)
            .map_err(io_error)?;
        Ok(content)
    } else {
        std::fs::read_to_string(file).map_err(io_error)
    }
}
