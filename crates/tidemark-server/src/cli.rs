//! The binary's command line: the serving flags (each with its environment variable) and the
//! `user` administration commands.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tidemark_server::Compression;

/// Tidemark sync server: serves the Azure Mobile Apps table protocol (ZUMO-API-VERSION 2.0.0)
/// on an embedded SQLite database, or on PostgreSQL shared by several server processes.
// No `Debug`: the arguments hold the database URL and the application key, which must not be
// printed.
#[derive(Parser)]
#[command(version, about)]
pub struct Args {
    /// Address to listen on; use port 0 for any free port (the chosen address is printed).
    #[arg(long, env = "TIDEMARK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The database: a SQLite file path (created if missing), or a PostgreSQL URL
    /// (postgres://user:password@host:5432/dbname) that several server processes can share. Its
    /// schema is migrated at start.
    #[arg(
        long,
        env = "TIDEMARK_DB",
        default_value = "./tidemark-server.db",
        hide_env_values = true
    )]
    pub db: String,

    /// PostgreSQL only: connections this process keeps open at most. Keep the sum over all
    /// processes below the database's max_connections.
    #[arg(long, env = "TIDEMARK_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,

    /// A table to serve (repeatable; the environment variable takes a comma-separated list).
    /// Names are identifiers (letters, digits, underscore); URLs match them case-insensitively,
    /// and any other table name answers 404.
    #[arg(
        long = "table",
        env = "TIDEMARK_TABLES",
        value_delimiter = ',',
        default_value = "todoitem"
    )]
    pub tables: Vec<String>,

    /// Application key; when set, every request must send it in X-ZUMO-APPLICATION (else 401).
    #[arg(long, env = "TIDEMARK_APP_KEY", hide_env_values = true)]
    pub app_key: Option<String>,

    /// Largest request body accepted, in bytes; larger bodies are answered 413.
    #[arg(long, env = "TIDEMARK_MAX_BODY", default_value_t = 1024 * 1024)]
    pub max_body: usize,

    /// Seconds a request may take once its headers are in; slower ones are answered 408.
    #[arg(long, env = "TIDEMARK_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,

    /// Seconds a connection has to send a request's headers; slower ones are closed, so clients
    /// that dribble bytes cannot hold connections.
    #[arg(long, env = "TIDEMARK_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,
    /// The most operations one POST /$batch may carry (clients push their queue in batches of
    /// at most this many; a larger batch is answered 400 and nothing of it is applied).
    #[arg(long, env = "TIDEMARK_MAX_BATCH_OPERATIONS", default_value_t = 1000)]
    pub max_batch_operations: usize,

    /// gzip level of responses to clients that accept gzip: fastest (level 1, most of the
    /// saving for little CPU), default (6), best (9), or off (never compress, e.g. behind a
    /// compressing proxy). Clients that do not send Accept-Encoding: gzip always get plain bodies.
    #[arg(long, env = "TIDEMARK_COMPRESSION", value_enum, default_value_t = Compression::Fastest)]
    pub compression: Compression,

    // Query cost limits (issue 14).
    /// A page stops once its items' JSON reaches this many bytes (always after at least one
    /// item), whatever $top asks, and a Link header points to the rest.
    #[arg(long, env = "TIDEMARK_MAX_PAGE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_page_bytes: usize,

    /// Queries (GET /tables/...) answered at once; another waits up to half a second for a
    /// slot, then is answered 503 with Retry-After. Default: one less than --readers on SQLite
    /// (so a lookup always finds a free reader soon), half of --db-pool-size on PostgreSQL.
    #[arg(long, env = "TIDEMARK_MAX_CONCURRENT_QUERIES")]
    pub max_concurrent_queries: Option<usize>,

    /// SQLite only: read connections, opened at start and never more (each keeps a page cache
    /// of at most 32 MiB); reads beyond this many wait for one.
    #[arg(long, env = "TIDEMARK_READERS", default_value_t = 4)]
    pub readers: usize,
    // --- The request edge (issue 14). ---
    /// The deepest an item may nest objects and arrays (the item itself is level 1); deeper
    /// items are answered 400 and never stored, so no client meets one it cannot parse.
    #[arg(long, env = "TIDEMARK_MAX_ITEM_DEPTH", default_value_t = 32)]
    pub max_item_depth: usize,

    /// The largest an item may be, in bytes of its compact JSON (at most --max-body); larger
    /// inserts and updates are answered 400.
    #[arg(long, env = "TIDEMARK_MAX_ITEM_BYTES", default_value_t = 256 * 1024)]
    pub max_item_bytes: usize,

    /// A browser origin (scheme://host[:port]) allowed to call this server (repeatable; the
    /// environment variable takes a comma-separated list). Requests carrying any other Origin
    /// header are answered 403; allowed origins get CORS answers. None by default.
    #[arg(
        long = "allow-origin",
        env = "TIDEMARK_ALLOW_ORIGINS",
        value_delimiter = ','
    )]
    pub allow_origins: Vec<String>,

    /// The URL clients reach this server at (e.g. https://todo.example.com behind a proxy):
    /// next-page links are built on it (relative otherwise), and its host is accepted in the
    /// Host header. On a loopback listen only loopback hosts are accepted without it (DNS
    /// rebinding); on other listens, setting it makes the server refuse any other Host.
    #[arg(long, env = "TIDEMARK_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Connections served at once; while all are taken, new ones wait in the listen backlog.
    #[arg(long, env = "TIDEMARK_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key. Both files
    /// are read again on SIGHUP (a renewed certificate needs no restart).
    #[arg(long, env = "TIDEMARK_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "TIDEMARK_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Log level: error, warn, info (one line per request), debug or trace. Passwords,
    /// tokens and their headers are never logged at any level.
    #[arg(long, env = "TIDEMARK_LOG_LEVEL", default_value = "info")]
    pub log_level: log::LevelFilter,

    // --- Accounts (issue 15). ---
    /// Serve without accounts: no sign-in, every client reads and changes one shared list.
    /// Only for a trusted machine: refused on a non-loopback --listen unless
    /// --allow-open-network is given too.
    #[arg(long)]
    pub no_auth: bool,

    /// Allow --no-auth on a listen address other machines can reach (everyone who can reach
    /// the server then reads and changes every todo).
    #[arg(long, requires = "no_auth")]
    pub allow_open_network: bool,

    /// Whether anyone may create an account over HTTP (POST /.auth/signup): open or closed.
    /// Closed by default: accounts are made with `tidemark-server user add`.
    #[arg(long, env = "TIDEMARK_SIGNUP", value_enum, default_value_t = Signup::Closed)]
    pub signup: Signup,

    /// The file holding the key session tokens are signed with (created with mode 0600 and
    /// random bytes when missing; refused when group or others may read it). Default: next
    /// to a SQLite database (DB.token-key); required with PostgreSQL, where every server
    /// process on the database must use the same file contents.
    #[arg(long, env = "TIDEMARK_TOKEN_KEY_FILE")]
    pub token_key_file: Option<PathBuf>,

    /// Seconds a token is valid after sign-in or refresh (at most 30 days).
    #[arg(long, env = "TIDEMARK_TOKEN_LIFETIME", default_value_t = 86_400)]
    pub token_lifetime: u64,

    /// Also accept tokens of this OpenID Connect issuer (its discovery document and keys
    /// are fetched from it); the user is the issuer and the token's `sub`.
    #[arg(long, env = "TIDEMARK_OIDC_ISSUER", requires = "oidc_audience")]
    pub oidc_issuer: Option<String>,

    /// The audience (`aud`) OIDC tokens must be for.
    #[arg(long, env = "TIDEMARK_OIDC_AUDIENCE", requires = "oidc_issuer")]
    pub oidc_audience: Option<String>,

    /// Administration instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Whether sign-up over HTTP is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Signup {
    /// Anyone who reaches the server may create an account.
    Open,
    /// Only `tidemark-server user add` creates accounts.
    Closed,
}

/// What the binary does instead of serving.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage accounts in the database given by --db (the server may be running).
    #[command(subcommand)]
    User(UserCommand),
}

/// `tidemark-server user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (the password is prompted for, or read from stdin).
    Add {
        /// The user name (compared case-insensitively).
        name: String,
        /// Read the password from the first line of standard input instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
        /// Give every row that belongs to nobody (a database from before accounts) to this
        /// user.
        #[arg(long)]
        adopt_unowned: bool,
    },
    /// Set an account's password; its earlier tokens stop working.
    Passwd {
        /// The user name.
        name: String,
        /// Read the password from the first line of standard input instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account: it cannot sign in and its tokens stop working.
    Disable {
        /// The user name.
        name: String,
    },
    /// Enable a disabled account again.
    Enable {
        /// The user name.
        name: String,
    },
    /// List the accounts.
    List,
    /// Delete an account and all its rows, after a confirmation.
    Delete {
        /// The user name.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_defaults_to_fastest_and_takes_every_level() {
        let parse = |extra: &[&str]| {
            Args::try_parse_from(std::iter::once("tidemark-server").chain(extra.iter().copied()))
        };
        let args = parse(&[]).expect("no flags parse");
        assert_eq!(args.compression, Compression::Fastest);
        for (name, level) in [
            ("fastest", Compression::Fastest),
            ("default", Compression::Default),
            ("best", Compression::Best),
            ("off", Compression::Off),
        ] {
            let args = parse(&["--compression", name]).expect("a known level parses");
            assert_eq!(args.compression, level);
        }
        for bad in ["fast", "1", ""] {
            assert!(parse(&["--compression", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn tls_cert_and_key_go_together() {
        let parse = |extra: &[&str]| {
            Args::try_parse_from(std::iter::once("tidemark-server").chain(extra.iter().copied()))
        };
        assert!(parse(&["--tls-cert", "c.pem"]).is_err());
        assert!(parse(&["--tls-key", "k.pem"]).is_err());
        let args = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).expect("both parse");
        assert_eq!(
            args.tls_cert.as_deref(),
            Some(std::path::Path::new("c.pem"))
        );
        assert!(parse(&[]).expect("neither").tls_cert.is_none());
    }

    #[test]
    fn accounts_flags_and_user_commands_parse() {
        let parse = |extra: &[&str]| {
            Args::try_parse_from(std::iter::once("tidemark-server").chain(extra.iter().copied()))
        };
        let args = parse(&[]).expect("no flags parse");
        assert!(!args.no_auth);
        assert_eq!(args.signup, Signup::Closed);
        assert_eq!(args.token_lifetime, 86_400);
        assert!(args.command.is_none());
        assert!(parse(&["--allow-open-network"]).is_err(), "needs --no-auth");
        assert!(parse(&["--no-auth", "--allow-open-network"]).is_ok());
        assert!(
            parse(&["--oidc-issuer", "https://id.example"]).is_err(),
            "needs an audience"
        );
        let args = parse(&[
            "--signup",
            "open",
            "user",
            "add",
            "alice",
            "--password-stdin",
        ])
        .expect("user add parses");
        assert_eq!(args.signup, Signup::Open);
        assert!(matches!(
            args.command,
            Some(Command::User(UserCommand::Add { ref name, password_stdin: true, adopt_unowned: false })) if name == "alice"
        ));
        assert!(parse(&["user", "delete", "bob", "--yes"]).is_ok());
        assert!(parse(&["user", "frobnicate"]).is_err());
    }
}
