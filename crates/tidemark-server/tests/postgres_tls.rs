//! PostgreSQL over TLS: a cluster of its own with `ssl=on` and a certificate made for the test
//! (a CA and a server certificate for `localhost`, by the `openssl` CLI), and the store
//! connecting with each `sslmode`: `require` is encrypted (seen in `pg_stat_ssl`), `verify-full`
//! with the right root connects and with a wrong root or a wrong name is refused with a clear
//! error, `verify-ca` checks the chain but not the name, `disable` stays plain.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tidemark_server::store::PostgresTableStore;

/// A throwaway cluster with TLS on, stopped when dropped.
struct TlsCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl TlsCluster {
    fn start() -> Self {
        let bin = bindir();
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let root = dir.path();
        run(Command::new("chown").args(["postgres:postgres"]).arg(root));
        make_certificates(root);
        let data = root.join("data");
        run(as_postgres(&bin.join("initdb")).arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]));
        let port = free_port();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off \
             -c ssl=on -c ssl_cert_file={root}/server.crt -c ssl_key_file={root}/server.key",
            root = root.display()
        );
        run(as_postgres(&bin.join("pg_ctl"))
            .args(["start", "-w", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(root.join("log"))
            .arg("-o")
            .arg(options));
        Self { dir, bin, port }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A URL for host `host` with extra query parameters.
    fn url(&self, host: &str, params: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{params}", self.port)
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.dir.path().join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn as_postgres(program: &Path) -> Command {
    let mut command = Command::new("runuser");
    command
        .args(["-u", "postgres", "--"])
        .arg(program)
        .current_dir("/")
        .stdin(Stdio::null());
    command
}

fn run(command: &mut Command) {
    match command.stdin(Stdio::null()).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "{command:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("{command:?}: {e}"),
    }
}

fn bindir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("PostgreSQL's initdb was not found under /usr/lib/postgresql"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `ca.crt` (trusted root), `server.crt`/`server.key` (for DNS name `localhost` only, signed
/// by the CA) and `other-ca.crt` (a root that signed nothing here).
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| run(Command::new("openssl").current_dir(dir).args(args));
    for ca in ["ca", "other-ca"] {
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=tidemark test {ca}"),
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.crt"),
        ]);
    }
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    if let Err(e) = std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n") {
        panic!("{e}");
    }
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
    run(Command::new("chown")
        .arg("postgres:postgres")
        .arg(dir.join("server.key"))
        .arg(dir.join("server.crt")));
    run(Command::new("chmod").arg("600").arg(dir.join("server.key")));
}

/// Whether the newest connection of a store (application `tidemark-server`) uses TLS, as the
/// server itself reports in `pg_stat_ssl`.
async fn store_uses_tls(cluster: &TlsCluster) -> bool {
    let url = cluster.url("127.0.0.1", "sslmode=disable");
    let (client, connection) = match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
        Ok(c) => c,
        Err(e) => panic!("admin connection: {e}"),
    };
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'tidemark-server' ORDER BY a.backend_start DESC LIMIT 1",
            &[],
        )
        .await;
    match row {
        Ok(row) => row.get::<_, bool>(0),
        Err(e) => panic!("pg_stat_ssl: {e}"),
    }
}

#[tokio::test]
async fn the_store_honours_sslmode_against_a_tls_cluster() {
    let cluster = TlsCluster::start();
    let ca = cluster.path("ca.crt");
    let other = cluster.path("other-ca.crt");

    let store = PostgresTableStore::connect(&cluster.url("127.0.0.1", "sslmode=require")).await;
    let store = store.unwrap_or_else(|e| panic!("sslmode=require: {e}"));
    assert!(store_uses_tls(&cluster).await, "require did not use TLS");
    drop(store);

    // The right root and the certificate's name.
    let url = cluster.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let store = PostgresTableStore::connect(&url).await;
    let store = store.unwrap_or_else(|e| panic!("verify-full: {e}"));
    assert!(store_uses_tls(&cluster).await);
    drop(store);

    // verify-ca: the chain is checked, the name (127.0.0.1, not in the certificate) is not.
    let url = cluster.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"));
    let store = PostgresTableStore::connect(&url).await;
    drop(store.unwrap_or_else(|e| panic!("verify-ca: {e}")));

    for (url, why) in [
        (
            cluster.url(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={other}"),
            ),
            "a root that did not sign the server's certificate",
        ),
        (
            cluster.url(
                "127.0.0.1",
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            "a name the certificate is not for",
        ),
        (
            cluster.url(
                "localhost",
                &format!("sslmode=verify-ca&sslrootcert={other}"),
            ),
            "verify-ca with a root that did not sign it",
        ),
    ] {
        let error = match PostgresTableStore::connect(&url).await {
            Ok(_) => panic!("connected despite {why}"),
            Err(e) => format!("{e:#}"),
        };
        eprintln!("refused, {why}: {error}");
        let lower = error.to_lowercase();
        assert!(
            lower.contains("invalid peer certificate"),
            "{why}: the error should say why: {error}"
        );
    }

    // disable: plain, even though the server offers TLS.
    let store = PostgresTableStore::connect(&cluster.url("127.0.0.1", "sslmode=disable")).await;
    let store = store.unwrap_or_else(|e| panic!("sslmode=disable: {e}"));
    assert!(!store_uses_tls(&cluster).await, "disable used TLS");
    drop(store);
}
