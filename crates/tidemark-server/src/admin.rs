//! `tidemark-server user …`: account administration on the database given by `--db`, which a
//! running server may be using (a change is honoured by it at once: tokens are checked against
//! the database on every request).

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;
use tidemark_server::TableStore;
use tidemark_server::accounts::{Password, users};
use tidemark_server::store::Owner;

use crate::cli::UserCommand;

/// Runs one `user` command on `store`.
pub async fn run<S: TableStore>(store: &S, command: &UserCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    match command {
        UserCommand::Add {
            name,
            password_stdin,
            adopt_unowned: adopt,
        } => {
            let password = new_password(name, *password_stdin)?;
            let user = users::add_user(store, name, password).await?;
            writeln!(out, "added user '{}' (id {})", user.display_name, user.id)?;
            if *adopt {
                let moved = store.adopt_unowned(&Owner::user(user.id.clone())).await?;
                writeln!(out, "gave {moved} unowned rows to '{}'", user.display_name)?;
            }
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let password = new_password(name, *password_stdin)?;
            let user = users::set_password(store, name, password).await?;
            writeln!(
                out,
                "changed the password of '{}'; their earlier sign-ins are ended",
                user.display_name
            )?;
        }
        UserCommand::Disable { name } => {
            let user = users::set_enabled(store, name, false).await?;
            writeln!(
                out,
                "disabled '{}'; their sign-ins are ended",
                user.display_name
            )?;
        }
        UserCommand::Enable { name } => {
            let user = users::set_enabled(store, name, true).await?;
            writeln!(out, "enabled '{}'", user.display_name)?;
        }
        UserCommand::List => {
            for user in store.list_users().await? {
                let status = if user.disabled_at.is_some() {
                    "disabled"
                } else {
                    "enabled"
                };
                let created = chrono::DateTime::<chrono::Utc>::from_timestamp(user.created_at, 0)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{}\t{}\t{status}\tcreated {created}",
                    user.display_name, user.id
                )?;
            }
        }
        UserCommand::Delete { name, yes } => {
            let user = users::find_user(store, name).await?;
            if !yes && !confirm_delete(&user.display_name)? {
                anyhow::bail!("not confirmed: nothing was deleted");
            }
            let rows = store.delete_rows_of(&Owner::user(user.id.clone())).await?;
            users::delete_user(store, name).await?;
            writeln!(
                out,
                "deleted user '{}' and their {rows} rows",
                user.display_name
            )?;
        }
    }
    Ok(())
}

/// The new password of `name`: the first line of stdin, or typed twice at a prompt that does
/// not echo.
fn new_password(name: &str, from_stdin: bool) -> anyhow::Result<Password> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("no terminal to ask for the password on; use --password-stdin");
        }
        let first = rpassword::prompt_password(format!("New password for '{name}': "))
            .context("cannot read the password")?;
        let again = rpassword::prompt_password("The same password again: ")
            .context("cannot read the password")?;
        if first != again {
            anyhow::bail!("the two passwords differ; nothing was changed");
        }
        first
    };
    Ok(Password::new(password)?)
}

/// Asks on the terminal to type the user name again; true when it was.
fn confirm_delete(name: &str) -> anyhow::Result<bool> {
    let mut err = std::io::stderr();
    write!(
        err,
        "Delete user '{name}' and every row they own, for good? Type the user name to confirm: "
    )?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the confirmation")?;
    Ok(line.trim_end_matches(['\n', '\r']) == name)
}
