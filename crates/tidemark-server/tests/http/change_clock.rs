//! The ordered change clock (guarantee 1) under real concurrency: writers hammer the server
//! over HTTP while a reader pulls incrementally with `updatedAt ge <last seen>`; when the
//! writers are done, one more pull from the reader's watermark must leave it holding every row
//! at its final version. A missed row could only come back by being written again, so a reader
//! that ever skipped one would fail here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::Method;
use serde_json::json;
use tidemark_testkit::postgres::PgDatabase;
use tidemark_testkit::server::{Backend, ServerProcess, TestServer};

use crate::common::{Api, encode};

const SEEDS: u64 = 6;
const WRITERS: usize = 4;
const OPS_PER_WRITER: usize = 15;
const PAGE: usize = 20;
const SERVER_BINARY: &str = env!("CARGO_BIN_EXE_tidemark-server");

/// A tiny deterministic PRNG (xorshift64*), enough to vary interleavings per seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// What a reader knows: id → version, and its watermark.
#[derive(Default)]
struct Reader {
    seen: BTreeMap<String, String>,
    watermark: Option<String>,
}

impl Reader {
    /// Pulls every change since the watermark, page by page, as the sync engine does.
    async fn pull(&mut self, api: &Api) {
        loop {
            let mut path =
                format!("/tables/todoitem?__includeDeleted=true&$orderby=updatedAt&$top={PAGE}");
            if let Some(mark) = &self.watermark {
                let filter = format!("updatedAt ge datetimeoffset'{mark}'");
                path.push_str(&format!("&$filter={}", encode(&filter)));
            }
            let reply = api.get(&path).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let items = reply.items();
            for item in &items {
                let id = item["id"].as_str().unwrap_or_default().to_owned();
                let version = item["version"].as_str().unwrap_or_default().to_owned();
                self.seen.insert(id, version);
            }
            if let Some(last) = items.last() {
                self.watermark = last["updatedAt"].as_str().map(str::to_owned);
            }
            if items.len() < PAGE {
                return;
            }
        }
    }
}

async fn writer(api: Api, writer: usize, seed: u64) {
    let mut rng = Rng::new(seed * 31 + writer as u64);
    let mut mine: Vec<String> = Vec::new();
    for op in 0..OPS_PER_WRITER {
        let choice = if mine.is_empty() { 0 } else { rng.below(10) };
        match choice {
            0..=4 => {
                let id = format!("w{writer}-{op}");
                api.insert(json!({"id": id, "n": op})).await;
                mine.push(id);
            }
            5..=7 => {
                let id = &mine[rng.below(mine.len())];
                let path = format!("/tables/todoitem/{id}");
                // 404 when it is deleted; either way the table changed or did not, atomically.
                api.patch(&path, json!({"n": op})).await;
            }
            8 => {
                let id = &mine[rng.below(mine.len())];
                api.delete(&format!("/tables/todoitem/{id}")).await;
            }
            _ => {
                let id = &mine[rng.below(mine.len())];
                api.req(Method::POST, &format!("/tables/todoitem/{id}"))
                    .send()
                    .await;
            }
        }
    }
}

pub async fn an_incremental_reader_ends_with_every_row_at_its_final_version_for_many_seeds(
    backend: Backend,
) {
    for seed in 1..=SEEDS {
        let server = TestServer::start_open_on_backend(backend).await;
        let api = Api::new(server.url());
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (api, done) = (api.clone(), Arc::clone(&done));
            tokio::spawn(async move {
                let mut reader = Reader::default();
                while !done.load(Ordering::Acquire) {
                    reader.pull(&api).await;
                }
                reader
            })
        };
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| tokio::spawn(writer(api.clone(), w, seed)))
            .collect();
        for w in writers {
            if let Err(e) = w.await {
                panic!("writer failed: {e}");
            }
        }
        done.store(true, Ordering::Release);
        let mut reader = match reader.await {
            Ok(r) => r,
            Err(e) => panic!("reader failed: {e}"),
        };
        // The catch-up pull continues from the watermark; it never starts over.
        reader.pull(&api).await;
        let truth: BTreeMap<String, String> = api
            .get("/tables/todoitem?__includeDeleted=true&$top=10000")
            .await
            .items()
            .iter()
            .map(|i| {
                (
                    i["id"].as_str().unwrap_or_default().to_owned(),
                    i["version"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert!(!truth.is_empty());
        assert_eq!(
            reader.seen, truth,
            "seed {seed}: the reader missed a change"
        );
    }
}

/// Guarantee 1 across processes: three `tidemark-server` processes on one PostgreSQL
/// database, each with several concurrent writers, while a reader keeps pulling with
/// `updatedAt ge <last seen>`, each pull through another process. (That stamping with `now()`
/// would miss rows here is shown deterministically in the store tests, `postgres_only`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_server_processes_on_one_postgres_keep_the_reader_complete_for_many_seeds() {
    const PROCESSES: usize = 3;
    const WRITERS_PER_PROCESS: usize = 3;
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    for seed in 1..=SEEDS {
        let db = PgDatabase::create().await;
        let mut servers = Vec::new();
        for p in 0..PROCESSES {
            let log = dir.path().join(format!("seed{seed}-server{p}.log"));
            servers.push(
                ServerProcess::spawn_with_log(SERVER_BINARY, db.url(), log, &["--no-auth"]).await,
            );
        }
        let apis: Vec<Api> = servers.iter().map(|s| Api::new(s.url())).collect();
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (apis, done) = (apis.clone(), Arc::clone(&done));
            tokio::spawn(async move {
                let mut reader = Reader::default();
                let mut turn = 0;
                while !done.load(Ordering::Acquire) {
                    reader.pull(&apis[turn % apis.len()]).await;
                    turn += 1;
                }
                reader
            })
        };
        let writers: Vec<_> = (0..PROCESSES * WRITERS_PER_PROCESS)
            .map(|w| tokio::spawn(writer(apis[w % PROCESSES].clone(), w, seed)))
            .collect();
        for w in writers {
            if let Err(e) = w.await {
                panic!("writer failed: {e}");
            }
        }
        done.store(true, Ordering::Release);
        let mut reader = match reader.await {
            Ok(r) => r,
            Err(e) => panic!("reader failed: {e}"),
        };
        reader.pull(&apis[0]).await;
        let truth: BTreeMap<String, String> = apis[1]
            .get("/tables/todoitem?__includeDeleted=true&$top=10000")
            .await
            .items()
            .iter()
            .map(|i| {
                (
                    i["id"].as_str().unwrap_or_default().to_owned(),
                    i["version"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert!(!truth.is_empty());
        assert_eq!(
            reader.seen, truth,
            "seed {seed}: the reader missed a change"
        );
    }
}

backend_tests!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)];
    an_incremental_reader_ends_with_every_row_at_its_final_version_for_many_seeds,
);
