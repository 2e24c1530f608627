//! The server binary when its PostgreSQL is wrong or away: a bad URL and a database that is
//! down at start stop the server with a clear message; a database that goes away while it runs
//! gives 503 with a message (no crash), and service resumes, with nothing lost, once it is back.
//! The outage is made by a TCP relay between the server and the shared test cluster.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use tidemark_testkit::postgres::PgDatabase;
use tidemark_testkit::server::ServerProcess;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use common::Api;

const BINARY: &str = env!("CARGO_BIN_EXE_tidemark-server");

/// A TCP relay to a PostgreSQL port that the test can cut (every connection closed, new ones
/// refused) and restore.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
}

impl Relay {
    async fn start(target_port: u16) -> Self {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("relay: {e}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let (up_flag, cuts) = (Arc::clone(&up), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up_flag.load(Ordering::SeqCst) {
                    continue; // dropping the socket refuses the connection
                }
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", target_port)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self {
            port,
            up,
            generation,
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}

#[tokio::test]
async fn a_database_that_goes_away_gives_503_and_service_resumes_with_nothing_lost() {
    let db = PgDatabase::create().await;
    let relay = Relay::start(port_of(db.url())).await;
    let url = format!("postgres://postgres@127.0.0.1:{}/{}", relay.port, db.name());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = ServerProcess::spawn_with_log(
        BINARY,
        &url,
        dir.path().join("server.log"),
        &["--no-auth", "--db-pool-size", "2"],
    )
    .await;
    let api = Api::new(server.url());
    let before = api.insert(json!({"id": "before", "text": "kept"})).await;

    relay.cut();
    let write = api.post("/tables/todoitem", json!({"id": "during"})).await;
    assert_eq!(write.status, 503, "{}", write.body);
    assert!(
        write.error().contains("database is unavailable"),
        "{}",
        write.body
    );
    let read = api.get("/tables/todoitem").await;
    assert_eq!(read.status, 503, "{}", read.body);

    relay.restore();
    // The pool reconnects on the next requests; allow it a moment.
    let mut lookup = api.get("/tables/todoitem/before").await;
    for _ in 0..50 {
        if lookup.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        lookup = api.get("/tables/todoitem/before").await;
    }
    assert_eq!(lookup.status, 200, "{}", lookup.body);
    assert_eq!(lookup.body, before);
    let after = api.post("/tables/todoitem", json!({"id": "during"})).await;
    assert_eq!(
        after.status, 201,
        "the refused write was not half-applied: {}",
        after.body
    );
}

/// The binary's error output when it fails to start on `db` (without accounts: these tests are
/// about the database).
fn start_failure(db: &str) -> String {
    let output = std::process::Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--no-auth", "--db", db])
        .env("TIDEMARK_LOG_LEVEL", "error")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!output.status.success(), "the server started on {db}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_bad_url_stops_the_server_with_a_clear_message_that_hides_the_password() {
    let message = start_failure("postgres://tidemark:s3cret@[bad-host/db");
    assert!(message.contains("not a PostgreSQL URL"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn a_database_down_at_start_stops_the_server_with_a_clear_message() {
    // Port 1 on loopback: nothing listens there.
    let message = start_failure("postgres://tidemark:s3cret@127.0.0.1:1/tidemark");
    assert!(message.contains("cannot open database"), "{message}");
    assert!(message.contains("unavailable"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}
