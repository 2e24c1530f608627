//! What one query may cost the server (issue 14, attacks 2 and 3), against the real binary so
//! that its memory and CPU can be read from `/proc/<pid>`: pages stop at their byte budget
//! whatever `$top` asks, an expensive filter stops with its request, queries beyond the limit
//! are told to come back later, and the SQLite store never opens more readers than configured.
//! Each runs on SQLite and, where the database does the work, on PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tidemark_testkit::postgres::PgDatabase;
use tidemark_testkit::procfs::{cpu_ticks, open_handles, status_kib};
use tidemark_testkit::server::ServerProcess;

use common::{Api, encode, link_target, lookups_until};

const BINARY: &str = env!("CARGO_BIN_EXE_tidemark-server");
const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// The page budget of the memory tests.
const PAGE_BUDGET: usize = MIB;
/// Items of the memory tests: 50 of 180 KiB (under the per-item limit the server will get),
/// 9 MiB in all, so one unbounded page would be nine budgets.
const BIG_ITEMS: usize = 50;
const BIG_ITEM_BYTES: usize = 180 * KIB;
/// How much the server's peak RSS may grow over its RSS after seeding while four clients each
/// ask for every item at once. Each page is about one budget plus one item (1.2 MiB), held as
/// the stored text, as parsed items and as the response body, plus what each reader's page
/// cache keeps: about 4 MiB per request, 16 MiB for four. Measured on a debug build: +11 MiB
/// on SQLite, +15 MiB on PostgreSQL; with the budget off (a 1 GiB budget), +79 MiB and
/// +66 MiB. The bound sits at twice the measured growth, well under the unbounded one.
const PEAK_GROWTH_BOUND_KIB: u64 = 32 * 1024;
/// The slowest an unrelated lookup may be answered while the attack runs.
const NORMAL_TIME: Duration = Duration::from_millis(1500);

/// A raw answer: status, `Link`, `Retry-After`, the body's length and its JSON.
struct Answer {
    status: StatusCode,
    link: Option<String>,
    retry_after: Option<String>,
    bytes: usize,
    body: Value,
}

impl Answer {
    fn ids(&self) -> Vec<String> {
        self.body
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

async fn get(http: &reqwest::Client, url: &str) -> Answer {
    let response = http
        .get(url)
        .header("ZUMO-API-VERSION", "2.0.0")
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (link, retry_after) = (header("link"), header("retry-after"));
    let body = response.bytes().await.unwrap_or_default();
    Answer {
        status,
        link,
        retry_after,
        bytes: body.len(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

/// `target` of a `Link`, made absolute against `base` when it is a path.
fn absolute(base: &str, target: &str) -> String {
    if target.starts_with('/') {
        format!("{base}{target}")
    } else {
        target.to_owned()
    }
}

/// Starts the binary without accounts (`--no-auth`) on `db` (a SQLite path or a PostgreSQL
/// URL) with `args`.
async fn spawn(dir: &tempfile::TempDir, db: &str, args: &[&str]) -> ServerProcess {
    let args: Vec<&str> = std::iter::once("--no-auth")
        .chain(args.iter().copied())
        .collect();
    ServerProcess::spawn_with_log(BINARY, db, dir.path().join("server.log"), &args).await
}

/// Stores `n` items whose text is `bytes` long.
async fn seed(api: &Api, n: usize, bytes: usize, filler: char) {
    for i in 0..n {
        let text: String = std::iter::repeat_n(filler, bytes).collect();
        let reply = api
            .post(
                "/tables/todoitem",
                json!({"id": format!("item-{i:03}"), "text": text}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
}

/// Attack 2: four clients ask for every big item at once with `$top=10000`.
async fn pages_stop_at_their_byte_budget(db: &str, dir: &tempfile::TempDir) {
    let budget = PAGE_BUDGET.to_string();
    let server = spawn(
        dir,
        db,
        &["--max-page-bytes", &budget, "--log-level", "warn"],
    )
    .await;
    let pid = server.pid().unwrap_or_else(|| panic!("no pid"));
    let api = Api::new(server.url());
    seed(&api, BIG_ITEMS, BIG_ITEM_BYTES, 'x').await;
    api.insert(json!({"id": "small", "text": "s"})).await;
    let baseline = status_kib(pid, "VmRSS");

    let http = reqwest::Client::new();
    let url = format!("{}?$top=10000", server.table_url("todoitem"));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let other = tokio::spawn(lookups_until(api.clone(), "small", stopped));
    let attacks: Vec<_> = (0..4)
        .map(|_| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move { get(&http, &url).await })
        })
        .collect();
    let mut answers = Vec::new();
    for attack in attacks {
        answers.push(attack.await.unwrap_or_else(|e| panic!("{e}")));
    }
    let _ = stop.send(true);
    let slowest_other = other.await.unwrap_or_else(|e| panic!("{e}"));
    let peak = status_kib(pid, "VmHWM");
    let growth = peak.saturating_sub(baseline);
    eprintln!(
        "attack 2 on {}: RSS after seeding {baseline} KiB, peak {peak} KiB (+{growth} KiB); \
         pages {:?} bytes; slowest other lookup {slowest_other:?}",
        if db.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        answers.iter().map(|a| a.bytes).collect::<Vec<_>>()
    );
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK);
        assert!(
            answer.bytes <= PAGE_BUDGET + BIG_ITEM_BYTES + KIB,
            "a page of {} bytes is over its budget plus one item",
            answer.bytes
        );
        let n = answer.ids().len();
        assert!((1..BIG_ITEMS).contains(&n), "{n} items");
        let link = answer.link.as_deref().unwrap_or_else(|| panic!("no Link"));
        let next = link_target(link);
        assert!(
            next.contains(&format!("$skip={n}")) && next.contains(&format!("$top={}", 10_000 - n)),
            "{next}"
        );
    }
    assert!(
        growth < PEAK_GROWTH_BOUND_KIB,
        "peak RSS grew by {growth} KiB, over the bound of {PEAK_GROWTH_BOUND_KIB} KiB"
    );
    assert!(slowest_other < NORMAL_TIME, "{slowest_other:?}");

    // Paging through with the links: every item exactly once, and the last page has no link.
    let mut ids = Vec::new();
    let mut next = Some(url);
    let mut pages = 0;
    while let Some(url) = next {
        pages += 1;
        assert!(pages <= BIG_ITEMS + 2, "paging does not end");
        let page = get(&http, &url).await;
        assert_eq!(page.status, StatusCode::OK);
        ids.extend(page.ids());
        next = page
            .link
            .as_deref()
            .map(|link| absolute(server.url(), &link_target(link)));
    }
    let mut expected: Vec<String> = (0..BIG_ITEMS).map(|i| format!("item-{i:03}")).collect();
    expected.push("small".into());
    assert_eq!(ids, expected, "in order, each exactly once");
}

#[tokio::test]
async fn sqlite_pages_stop_at_their_byte_budget_under_top() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("server.db");
    pages_stop_at_their_byte_budget(&db.to_string_lossy(), &dir).await;
}

#[tokio::test]
async fn postgres_pages_stop_at_their_byte_budget_under_top() {
    let pg = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    pages_stop_at_their_byte_budget(pg.url(), &dir).await;
}

/// Rows of the expensive-filter tests: 150 texts of 64 KiB of `a`.
const FILTER_ROWS: usize = 150;
const FILTER_ROW_BYTES: usize = 64 * KIB;

/// A filter within every limit that costs a lot: `terms` tests of `substringof` on the text
/// grown sixteenfold (four nested doublings, 1 MiB per row), none of which matches, so every
/// term is evaluated on every row. The terms are joined as a balanced tree, as the parser
/// limits nesting.
fn expensive_filter(terms: usize) -> String {
    let term = |i: usize| {
        format!(
            "substringof('q{i}', replace(replace(replace(replace(text, 'a', 'aa'), 'a', 'aa'), \
             'a', 'aa'), 'a', 'aa'))"
        )
    };
    fn join(parts: &[String]) -> String {
        match parts {
            [one] => one.clone(),
            _ => {
                let (left, right) = parts.split_at(parts.len() / 2);
                format!("({} or {})", join(left), join(right))
            }
        }
    }
    join(&(0..terms).map(term).collect::<Vec<_>>())
}

/// Attack 3 on SQLite: expensive filters stop with their request.
#[tokio::test]
async fn sqlite_an_expensive_filter_stops_with_its_request() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("server.db");
    let server = spawn(
        &dir,
        &db.to_string_lossy(),
        &["--request-timeout", "1", "--log-level", "warn"],
    )
    .await;
    let pid = server.pid().unwrap_or_else(|| panic!("no pid"));
    let api = Api::new(server.url());
    seed(&api, FILTER_ROWS, FILTER_ROW_BYTES, 'a').await;
    api.insert(json!({"id": "small", "text": "s"})).await;
    let http = reqwest::Client::new();
    let query = |filter: &str| {
        format!(
            "{}?$filter={}",
            server.table_url("todoitem"),
            encode(filter)
        )
    };

    // The filter, nested five deep: refused before it runs.
    let nested = "length(replace(replace(replace(replace(replace(text, 'a', 'aaaaaaaaaa'), 'a', \
                  'aaaaaaaaaa'), 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa')) gt 0";
    let refused = get(&http, &query(nested)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("the limit is 4"))
    );
    // Four deep but growing each row past the length limit: refused as soon as a row does.
    let growing = "length(replace(replace(replace(replace(text, 'a', 'aaaaaaaaaa'), 'a', \
                   'aaaaaaaaaa'), 'a', 'aaaaaaaaaa'), 'a', 'aaaaaaaaaa')) gt 0";
    let started = Instant::now();
    let too_big = get(&http, &query(growing)).await;
    assert_eq!(too_big.status, StatusCode::BAD_REQUEST, "{}", too_big.body);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // Within every limit but slow: answered at the request timeout, and its work stops.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let other = tokio::spawn(lookups_until(api.clone(), "small", stopped));
    let started = Instant::now();
    let slow = get(&http, &query(&expensive_filter(40))).await;
    let answered = started.elapsed();
    let at_answer = cpu_ticks(pid);
    assert_eq!(slow.status, StatusCode::REQUEST_TIMEOUT, "{}", slow.body);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let settled = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let later = cpu_ticks(pid);
    let _ = stop.send(true);
    let slowest_other = other.await.unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "attack 3 on SQLite: 408 after {answered:?}; server CPU ticks at the answer {at_answer}, \
         1 s later {settled}, 2 s later {later}; slowest other lookup {slowest_other:?}"
    );
    assert!(
        later - settled <= 10,
        "the server kept working after the 408: {} ticks in the second after",
        later - settled
    );
    assert!(slowest_other < NORMAL_TIME, "{slowest_other:?}");
    // The reader was freed: every reader still answers.
    for _ in 0..8 {
        assert_eq!(api.get("/tables/todoitem?$top=1").await.status, 200);
    }
}

/// A client that gives up on an expensive query: its connection closes, the server drops the
/// request and interrupts the statement long before the request timeout (30 s here, so only
/// the interrupt on drop can stop it).
#[tokio::test]
async fn sqlite_a_query_stops_when_its_client_goes_away() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("server.db");
    let server = spawn(&dir, &db.to_string_lossy(), &["--log-level", "warn"]).await;
    let pid = server.pid().unwrap_or_else(|| panic!("no pid"));
    let api = Api::new(server.url());
    seed(&api, FILTER_ROWS, FILTER_ROW_BYTES, 'a').await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "{}?$filter={}",
        server.table_url("todoitem"),
        encode(&expensive_filter(40))
    );
    let gave_up = impatient
        .get(&url)
        .header("ZUMO-API-VERSION", "2.0.0")
        .send()
        .await;
    assert!(gave_up.is_err_and(|e| e.is_timeout()));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let settled = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let later = cpu_ticks(pid);
    eprintln!("client gone: server CPU ticks 1 s after {settled}, 2 s after {later}");
    assert!(
        later - settled <= 10,
        "the server kept working for a client that left: {} ticks in a second",
        later - settled
    );
}

/// Attack 3 on PostgreSQL: `statement_timeout` cancels the query in the database.
#[tokio::test]
async fn postgres_an_expensive_filter_is_cancelled_by_the_statement_timeout() {
    let pg = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = spawn(
        &dir,
        pg.url(),
        &["--request-timeout", "1", "--log-level", "warn"],
    )
    .await;
    let api = Api::new(server.url());
    seed(&api, FILTER_ROWS, FILTER_ROW_BYTES, 'a').await;
    api.insert(json!({"id": "small", "text": "s"})).await;
    let http = reqwest::Client::new();
    let url = format!(
        "{}?$filter={}",
        server.table_url("todoitem"),
        encode(&expensive_filter(40))
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let other = tokio::spawn(lookups_until(api.clone(), "small", stopped));
    let started = Instant::now();
    let slow = get(&http, &url).await;
    let answered = started.elapsed();
    assert!(
        [StatusCode::REQUEST_TIMEOUT, StatusCode::SERVICE_UNAVAILABLE].contains(&slow.status),
        "{} {}",
        slow.status,
        slow.body
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let _ = stop.send(true);
    let slowest_other = other.await.unwrap_or_else(|e| panic!("{e}"));
    let (client, connection) = tokio_postgres::connect(&pg.admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(connection);
    let running: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active' \
             AND application_name = 'tidemark-server'",
            &[&pg.name()],
        )
        .await
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "attack 3 on PostgreSQL: {} after {answered:?}; active server queries 1 s later: \
         {running}; slowest other lookup {slowest_other:?}",
        slow.status
    );
    assert_eq!(running, 0, "the query still runs in PostgreSQL");
    assert!(slowest_other < NORMAL_TIME, "{slowest_other:?}");
}

/// More slow queries than slots: the extra ones are told to retry (503, `Retry-After`, a JSON
/// error), none fails otherwise, writes go on, and the SQLite store never opens more readers
/// than configured.
#[tokio::test]
async fn queries_beyond_the_limit_get_503_and_readers_stay_fixed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("server.db");
    let args = [
        "--max-concurrent-queries",
        "2",
        "--readers",
        "2",
        "--log-level",
        "warn",
    ];
    let server = spawn(&dir, &db.to_string_lossy(), &args).await;
    let pid = server.pid().unwrap_or_else(|| panic!("no pid"));
    let api = Api::new(server.url());
    seed(&api, FILTER_ROWS, FILTER_ROW_BYTES, 'a').await;
    let http = reqwest::Client::new();
    let url = format!(
        "{}?$filter={}",
        server.table_url("todoitem"),
        encode(&expensive_filter(1))
    );
    let started = Instant::now();
    let single = get(&http, &url).await;
    assert_eq!(single.status, StatusCode::OK, "{}", single.body);
    let one_query = started.elapsed();

    let queries: Vec<_> = (0..6)
        .map(|_| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move { get(&http, &url).await })
        })
        .collect();
    let mut handles = 0;
    let mut write_times = Vec::new();
    for i in 0..5 {
        handles = handles.max(open_handles(pid, &db));
        let started = Instant::now();
        let written = api
            .post("/tables/todoitem", json!({"id": format!("during-{i}")}))
            .await;
        assert_eq!(written.status, 201, "{}", written.body);
        write_times.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut statuses = Vec::new();
    for query in queries {
        let answer = query.await.unwrap_or_else(|e| panic!("{e}"));
        if answer.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(answer.retry_after.as_deref(), Some("1"));
            assert!(
                answer.body["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("retry")),
                "{}",
                answer.body
            );
        } else {
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        }
        statuses.push(answer.status.as_u16());
    }
    eprintln!(
        "concurrency: one query takes {one_query:?}; six at once answered {statuses:?}; \
         writes meanwhile {write_times:?}; database file handles at most {handles}"
    );
    assert!(
        statuses.contains(&503) && statuses.contains(&200),
        "{statuses:?}"
    );
    assert!(
        write_times.iter().all(|t| *t < NORMAL_TIME),
        "{write_times:?}"
    );
    // The writer, two readers and the quick connection of the per-request session lookups.
    assert!(handles <= 4, "{handles} handles on the database file");
}

/// The reader pool under more concurrent queries than readers (and enough query slots): the
/// queries wait for a reader and all succeed, and the database file is never opened more than
/// once per reader plus the writer and the quick session-lookup connection.
#[tokio::test]
async fn sqlite_readers_stay_fixed_under_concurrent_queries() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("server.db");
    let args = [
        "--max-concurrent-queries",
        "16",
        "--readers",
        "2",
        "--log-level",
        "warn",
    ];
    let server = spawn(&dir, &db.to_string_lossy(), &args).await;
    let pid = server.pid().unwrap_or_else(|| panic!("no pid"));
    let api = Api::new(server.url());
    seed(&api, 40, 16 * KIB, 'a').await;
    let http = reqwest::Client::new();
    let url = format!(
        "{}?$filter={}",
        server.table_url("todoitem"),
        encode(&expensive_filter(2))
    );
    let queries: Vec<_> = (0..10)
        .map(|_| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move { get(&http, &url).await })
        })
        .collect();
    let mut handles = open_handles(pid, &db);
    while queries.iter().any(|q| !q.is_finished()) {
        handles = handles.max(open_handles(pid, &db));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for query in queries {
        let answer = query.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    eprintln!("reader pool: database file handles at most {handles} with 2 readers");
    assert!(
        (1..=4).contains(&handles),
        "{handles} handles on the database file"
    );
}
