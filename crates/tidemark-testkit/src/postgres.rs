//! A real, throwaway PostgreSQL for tests: one cluster shared by every test process on the
//! machine, and a fresh database per test.
//!
//! `cargo nextest` runs each test in its own process, so a cluster per process would cost an
//! `initdb` per test. Instead the first process that needs PostgreSQL creates a cluster under
//! `$TMPDIR/tidemark-pg-<uid>/` (`initdb` + `pg_ctl start` on 127.0.0.1 and a free port, fsync
//! off) and starts a small watchdog; every process registers its pid there (under a `flock`),
//! and the watchdog stops the cluster and deletes it once no registered process has been alive
//! for [`LINGER_SECONDS`]. A test killed with SIGKILL therefore leaves nothing behind either.
//!
//! PostgreSQL refuses to run as root and CI runs as root: then the cluster runs as the
//! `postgres` user (created by Debian's package) through `runuser`. The binaries come from
//! `pg_config --bindir` or `/usr/lib/postgresql/<version>/bin` (Debian keeps them off `PATH`).

use std::fs::{self, File, OpenOptions};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// Seconds the cluster outlives its last test process (so back-to-back test processes share
/// it instead of each paying for `initdb`).
pub const LINGER_SECONDS: u32 = 3;

/// The watchdog: every second, forget registered processes that are gone; after
/// `LINGER_SECONDS` without any, stop the cluster, delete it and exit.
const WATCHDOG: &str = r#"
root="$1"; linger="$2"; pg_ctl="$3"; shift 3
idle=0
while sleep 1; do
  exec 9>>"$root/lock"
  flock 9
  for f in "$root"/users/*; do
    [ -e "$f" ] || continue
    kill -0 "${f##*/}" 2>/dev/null || rm -f "$f"
  done
  if [ -n "$(ls -A "$root/users" 2>/dev/null)" ]; then idle=0; else idle=$((idle + 1)); fi
  if [ "$idle" -ge "$linger" ]; then
    "$@" "$pg_ctl" stop -D "$root/pg/data" -m immediate -w >/dev/null 2>&1
    rm -rf "$root/pg" "$root/port"
    exit 0
  fi
  exec 9>&-
done
"#;

/// The shared cluster as this process sees it.
#[derive(Debug)]
struct Cluster {
    port: u16,
}

/// A fresh, empty database on the shared test cluster, dropped when this value is.
#[derive(Debug)]
pub struct PgDatabase {
    name: String,
    url: String,
    port: u16,
}

impl PgDatabase {
    /// Creates a database for one test (the cluster is started first if needed). Panics with
    /// the reason when PostgreSQL cannot be started: this is a test fixture.
    pub async fn create() -> Self {
        let port = match cluster() {
            Ok(cluster) => cluster.port,
            Err(e) => panic!("PostgreSQL for tests: {e}"),
        };
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            uuid_suffix()
        );
        // The name is ours (digits, letters, underscores), so it can be spliced as an identifier.
        let sql = format!("CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'");
        if let Err(e) = admin(port, &sql).await {
            panic!("PostgreSQL for tests: cannot create database {name}: {e:#}");
        }
        Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/{name}"),
            name,
            port,
        }
    }

    /// The connection URL, e.g. `postgres://postgres@127.0.0.1:40000/t123_0_ab12`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of the cluster's `postgres` database, for administration in tests.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (port, sql) = (
            self.port,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
        // Drop may run inside a runtime, which cannot block on another; use a thread of its own.
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                let _ = runtime.block_on(admin(port, &sql));
            }
        });
        let _ = done.join();
    }
}

/// Runs one statement on the cluster's `postgres` database.
async fn admin(port: u16, sql: &str) -> anyhow::Result<()> {
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("cannot connect to {url}"))?;
    let task = tokio::spawn(connection);
    let result = client.batch_execute(sql).await;
    drop(client);
    let _ = task.await;
    result.with_context(|| format!("{sql} failed"))
}

fn uuid_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{nanos:x}")
}

/// The cluster, started (or joined) once per process.
fn cluster() -> Result<&'static Cluster, String> {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| join_or_start().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(Clone::clone)
}

fn join_or_start() -> anyhow::Result<Cluster> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let root = std::env::temp_dir().join(format!("tidemark-pg-{euid}"));
    fs::create_dir_all(root.join("users"))
        .with_context(|| format!("cannot create {}", root.display()))?;
    let lock = OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("lock"))
        .context("cannot open the cluster lock")?;
    let _guard = Flock::exclusive(&lock)?;
    // Registered under the lock, so the watchdog cannot stop the cluster between our check
    // and our first connection.
    File::create(root.join("users").join(std::process::id().to_string()))
        .context("cannot register this process with the test cluster")?;
    if let Some(port) = fs::read_to_string(root.join("port"))
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
        && accepts(port)
    {
        return Ok(Cluster { port });
    }
    start(&root, euid == 0)
}

/// Whether something listens on 127.0.0.1:`port`.
fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// Creates and starts a new cluster under `root` (called with the lock held).
fn start(root: &Path, as_root: bool) -> anyhow::Result<Cluster> {
    let bin = bindir()?;
    let pg_ctl = bin.join("pg_ctl");
    let run_as: Vec<String> = if as_root {
        ["runuser", "-u", "postgres", "--"]
            .map(str::to_owned)
            .to_vec()
    } else {
        Vec::new()
    };
    let pg = root.join("pg");
    let data = pg.join("data");
    if data.exists() {
        // Left by a crashed run: make sure nothing still runs on it, then start afresh.
        let _ = command(&run_as, &pg_ctl)
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = fs::remove_dir_all(&pg);
    fs::create_dir_all(&pg).with_context(|| format!("cannot create {}", pg.display()))?;
    if as_root {
        let (uid, gid) = postgres_ids()?;
        std::os::unix::fs::chown(&pg, Some(uid), Some(gid))
            .context("cannot hand the cluster directory to the postgres user")?;
    }
    run(command(&run_as, &bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]))
    .context("initdb failed")?;
    let port = free_port()?;
    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    );
    // setsid: the server must not die with the process group of the test that started it.
    let mut start = Command::new("setsid");
    start
        .args(&run_as)
        .arg(&pg_ctl)
        .arg("start")
        .arg("-w")
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(pg.join("log"))
        .arg("-o")
        .arg(&options);
    run(&mut start).with_context(|| {
        let log = fs::read_to_string(pg.join("log")).unwrap_or_default();
        format!("pg_ctl start failed; server log:\n{log}")
    })?;
    fs::write(root.join("port"), port.to_string()).context("cannot record the port")?;
    let script = root.join("watchdog.sh");
    fs::write(&script, WATCHDOG).context("cannot write the watchdog")?;
    Command::new("setsid")
        .arg("sh")
        .arg(&script)
        .arg(root)
        .arg(LINGER_SECONDS.to_string())
        .arg(&pg_ctl)
        .args(&run_as)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the cluster's watchdog")?;
    Ok(Cluster { port })
}

fn command(run_as: &[String], program: &Path) -> Command {
    let mut command = match run_as.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(program);
            c
        }
        None => Command::new(program),
    };
    // Run from a directory the postgres user can read, and never inherit the test's pipes
    // (nextest would wait for a server that holds them).
    command.current_dir("/").stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} exited with {}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Where `initdb` and `pg_ctl` live.
fn bindir() -> anyhow::Result<PathBuf> {
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL's initdb was not found (pg_config --bindir, /usr/lib/postgresql/*/bin); \
             install Debian's postgresql package (scripts/test does)"
        ),
    }
}

fn postgres_ids() -> anyhow::Result<(u32, u32)> {
    let id = |flag: &str| -> anyhow::Result<u32> {
        let output = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .context("cannot run id")?;
        if !output.status.success() {
            bail!("there is no postgres user to run the test cluster as (install postgresql)");
        }
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .context("unexpected output of id")
    };
    Ok((id("-u")?, id("-g")?))
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// An exclusive `flock` on a file, released when dropped.
struct Flock<'a>(&'a File);

impl<'a> Flock<'a> {
    fn exclusive(file: &'a File) -> anyhow::Result<Self> {
        // SAFETY: flock on a file descriptor we own for the lifetime of the guard.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            bail!("cannot lock: {}", std::io::Error::last_os_error());
        }
        Ok(Self(file))
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        // SAFETY: as in `exclusive`.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}
