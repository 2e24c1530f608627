//! `tidemark`: the Tidemark todo list from a terminal, on the same engine and, by default, the
//! same local store as the desktop app. Every command works offline; `sync` talks to the server.
//!
//! Exit codes: 0 ok, 1 error, 2 sync finished with changes waiting for a decision (conflicts,
//! todos deleted on another device, refused changes; everything else was pulled), 3 server
//! unreachable (nothing lost), 4 sync finished but some server items could not be read (they were skipped and listed),
//! 5 sign-in required: not signed in, or the session expired or was revoked (nothing lost; the
//! queued changes go out with the first sync after `tidemark login`).
//!
//! Accounts: `login`, `signup`, `logout` and `whoami` keep one session per server in the
//! session file the desktop app reads (see `tidemark_todos::session`); `sync` uses it.

mod account;
mod cli;
mod output;

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use tidemark_todos::{Resolution, SessionStore, TodoError, TodoList};

use cli::{Args, Command, Keep};

/// Exit code: the sync finished (everything else pulled) but some changes wait for a decision.
const EXIT_CONFLICTS: u8 = 2;
/// Exit code: the server could not be reached; local changes are kept.
const EXIT_UNREACHABLE: u8 = 3;
/// Exit code: the sync finished, but some server items could not be read and were skipped.
const EXIT_SKIPPED: u8 = 4;
/// Exit code: the server wants a signed-in user (none, or an expired or revoked session);
/// nothing was lost.
const EXIT_SIGN_IN: u8 = 5;

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
        Err(TodoError::SignInRequired { pending, .. }) => fail(
            &format!("sign in again to sync: tidemark login — your {pending} changes are kept"),
            EXIT_SIGN_IN,
        ),
        Err(TodoError::ChangesWait { pending }) => fail(
            &format!(
                "{pending} change(s) have not been sent to the server yet and would be lost; \
                 nothing was removed. Run `tidemark sync` first, or `tidemark rebuild --lose \
                 {pending}` to drop them"
            ),
            1,
        ),
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
    let app_key = args.app_key.as_deref();
    let server = || account::server_of(args.server.as_deref());
    match &args.command {
        Command::Login(c) | Command::Signup(c) => {
            let how = match &args.command {
                Command::Signup(_) => account::Enter::SignUp,
                _ => account::Enter::SignIn,
            };
            let data_dir = args.data_dir()?;
            let sessions = args.sessions()?;
            account::enter(how, &server()?, app_key, &sessions, c, &data_dir).await?;
            return Ok(0);
        }
        Command::Logout => {
            account::logout(&server()?, app_key, &args.sessions()?).await?;
            return Ok(0);
        }
        Command::Whoami => {
            return account::whoami(&server()?, app_key, &args.sessions()?, EXIT_SIGN_IN).await;
        }
        _ => {}
    }
    let data_dir = args.data_dir()?;
    // Signed in, every command works on that account's store (the one the app opens for
    // it); otherwise on the local list.
    let session = match args.server.as_deref() {
        Some(_) => args.sessions()?.load(&server()?)?,
        None => None,
    };
    let list = match session {
        Some(session) => TodoList::open_account(&data_dir, &server()?, app_key, session).await?,
        None => TodoList::open_as(&data_dir, args.server.as_deref(), app_key, None).await?,
    };
    if let (Command::Sync, Some(server)) = (&args.command, list.server()) {
        let code = sync(&list, &args.sessions()?, server).await;
        list.close().await;
        return code;
    }
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
        // With a server, `run` syncs (saving a renewed session); without, this says so.
        Command::Sync => {
            list.sync().await?;
        }
        Command::Pending => println!("{}", list.pending().await?),
        Command::Conflicts { json } => output::conflicts(&list.conflicts().await?, json),
        Command::Resolve { id, keep, text } => {
            // clap takes exactly one of --keep and --text.
            let resolution = match (keep, text) {
                (_, Some(text)) => Resolution::KeepText(text),
                (Some(Keep::Theirs), None) => Resolution::KeepTheirs,
                (Some(Keep::Mine) | None, None) => Resolution::KeepMine,
            };
            list.resolve(&id, resolution).await?;
        }
        Command::Purge { force } => {
            let removed = list.purge(force).await?;
            println!("purged {removed} local todo(s)");
        }
        Command::Rebuild { lose } => {
            let done = list.rebuild(lose.unwrap_or(0)).await?;
            let lost = match done.lost {
                0 => String::new(),
                n => format!("; {n} unsent change(s) dropped"),
            };
            println!(
                "rebuilt the local copy: {} todo(s) removed, {} pulled from the server{lost}",
                done.removed, done.pulled
            );
        }
        Command::Status { json } => output::status(&list.status().await?, json),
        Command::Login(_) | Command::Signup(_) | Command::Logout | Command::Whoami => {}
    }
    Ok(0)
}

/// `sync`: pushes and pulls as the saved session, saving it again when the sync renewed it.
async fn sync(list: &TodoList, sessions: &SessionStore, server: &str) -> Result<u8, TodoError> {
    let outcome = list.sync().await?;
    if let Some(renewed) = &outcome.renewed_session {
        sessions.save(server, renewed)?;
    }
    output::sync(&outcome);
    if outcome.conflicts > 0 {
        return Ok(EXIT_CONFLICTS);
    }
    if !outcome.skipped.is_empty() {
        return Ok(EXIT_SKIPPED);
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
