//! `login`, `signup`, `logout` and `whoami`: the account commands. They talk to the server's
//! `/.auth` routes and keep the session in the session file the desktop app reads too; no
//! token is ever printed. The password is read without echo from the terminal, or from the
//! first line of standard input with `--password-stdin` (for scripts).

use std::io::BufRead;
use std::path::Path;

use tidemark_todos::tidemark_client::AuthError;
use tidemark_todos::{
    SessionStore, TodoError, TodoList, auth_client, import_local_list, normalize_server_url,
};

use crate::cli::Credentials;
use crate::output;

/// Which account command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enter {
    /// Sign in to an existing account.
    SignIn,
    /// Create an account, then sign in.
    SignUp,
}

/// The server URL every account command needs, normalised (the session file's key).
pub fn server_of(server: Option<&str>) -> Result<String, TodoError> {
    normalize_server_url(server.ok_or(TodoError::NoServer)?)
}

/// `login` / `signup`: asks for what is missing, signs in, saves the session and brings the
/// local list (todos written while signed out, in `data_dir`) into the account's store.
pub async fn enter(
    how: Enter,
    server: &str,
    app_key: Option<&str>,
    sessions: &SessionStore,
    credentials: &Credentials,
    data_dir: &Path,
) -> Result<(), TodoError> {
    let user = match &credentials.user {
        Some(user) => user.clone(),
        None => prompt_line("user name: ")?,
    };
    let password = if credentials.password_stdin {
        read_stdin_line()?
    } else {
        rpassword::prompt_password("password: ")
            .map_err(|e| TodoError::ReadInput(format!("cannot read the password: {e}")))?
    };
    let auth = auth_client(server, app_key)?;
    let session = match how {
        Enter::SignIn => auth.sign_in(&user, &password).await?,
        Enter::SignUp => auth.sign_up(&user, &password).await?,
    };
    sessions.save(server, &session)?;
    let verb = match how {
        Enter::SignIn => "signed in",
        Enter::SignUp => "account created; signed in",
    };
    println!(
        "{verb} as {} on {server}",
        output::clean(&session.display_name())
    );
    let account = TodoList::open_account(data_dir, server, app_key, session).await?;
    let brought = import_local_list(data_dir, &account).await;
    account.close().await;
    match brought? {
        0 => {}
        n => println!("brought {n} todo(s) written while signed out into this account"),
    }
    Ok(())
}

/// `logout`: ends the session on the server and forgets it here; offline, forgets it here and
/// says that the server still honours it until it expires.
pub async fn logout(
    server: &str,
    app_key: Option<&str>,
    sessions: &SessionStore,
) -> Result<(), TodoError> {
    let Some(session) = sessions.load(server)? else {
        println!("not signed in to {server}");
        return Ok(());
    };
    let ended = auth_client(server, app_key)?.logout(&session).await;
    sessions.forget(server)?;
    match ended {
        Ok(()) => println!("signed out of {server}"),
        Err(AuthError::Unreachable(_)) => println!(
            "signed out here; {server} could not be reached, so the session stays valid there \
             until it expires (run `tidemark logout` again online to end it now)"
        ),
        Err(e) => println!(
            "signed out here; the server answered: {}",
            output::clean(&e.to_string())
        ),
    }
    Ok(())
}

/// `whoami`: who the saved session belongs to, as the server sees it. Not signed in, or a
/// session the server no longer honours, is said on one line and is the exit code `sign_in`.
pub async fn whoami(
    server: &str,
    app_key: Option<&str>,
    sessions: &SessionStore,
    sign_in: u8,
) -> Result<u8, TodoError> {
    let not_signed_in = |why: &str| {
        eprintln!("tidemark: {why}: tidemark login --server {server}");
        Ok(sign_in)
    };
    let Some(session) = sessions.load(server)? else {
        return not_signed_in(&format!("not signed in to {server}"));
    };
    let me = match auth_client(server, app_key)?.me(&session).await {
        Ok(me) => me,
        Err(AuthError::SignInRequired(reason)) => {
            return not_signed_in(&format!(
                "the saved session is no longer valid ({})",
                output::clean(&reason)
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let name = me.user_name.clone().unwrap_or_else(|| me.user_id.clone());
    let until = me
        .expires_at
        .map(|t| format!(" until {}", t.to_rfc3339()))
        .unwrap_or_default();
    println!(
        "{} (user id {}) on {server}{until}",
        output::clean(&name),
        output::clean(&me.user_id)
    );
    Ok(0)
}

/// The name to show for a session: its user name, else its id.
/// Asks on stderr and reads one line of standard input.
fn prompt_line(prompt: &str) -> Result<String, TodoError> {
    eprint!("{prompt}");
    read_stdin_line()
}

/// The first line of standard input, without its line ending.
fn read_stdin_line() -> Result<String, TodoError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| TodoError::ReadInput(format!("cannot read standard input: {e}")))?;
    let line = line.trim_end_matches(['\n', '\r']).to_owned();
    if line.is_empty() {
        return Err(TodoError::ReadInput(
            "nothing on standard input (expected one line)".into(),
        ));
    }
    Ok(line)
}
