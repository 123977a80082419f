//! `make chaos`: the local pipeline (a private broker, cargo lambda watch serving both
//! functions, the trigger, an SQLite file) under a closed loop of clients, through five faults
//! in turn: the broker killed and restarted, the store locked for longer than its busy timeout,
//! the processor killed mid-stream, the trigger killed and restarted, one user (not a client's)
//! erased while some of its events are still in Kafka. After each fault it waits
//! until every accepted event is stored; at the end it reads the listing and checks that every
//! 201 is listed exactly once. Prints one row per fault and exits 1 if any rule was broken.
//!
//! Beside them, keyed clients send every event with an `Idempotency-Key` and send it again
//! after anything but a 201: each of their events must be stored exactly once, however often
//! it was sent.
//!
//! usage: chaos [--smoke] [--clients N] [--keyed-clients N] [--hold-secs S] [--api-concurrency N]
//! (`chaos --help`)

mod faults;
mod load;
mod lock;
mod report;

use clap::Parser as _;
use event_store::sqlite_sql;
use load::Load;
use local_stack::{Options, Stack};
use report::Phase;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use testkit::kafka::{create_topic, wait_until_consumed};
use testkit::tansu::Tansu;

/// The produce timeout the functions run with here, so that an outage answers 503 quickly.
const PRODUCE_TIMEOUT_MS: u64 = 2000;
/// The warm-up's client number, apart from the measured clients' (0, 1, …).
const WARM_UP_CLIENT: usize = 1_000_000;
/// The keyed clients' first number.
const KEYED_FIRST_CLIENT: usize = 500_000;
/// How long the store stays locked: past its busy timeout and past SQLite's own retries of a
/// WAL read lock (about 10 s), so that both writes and reads fail.
const STORE_LOCK: Duration = Duration::from_secs(15);
/// The run's topic, its dead-letter topic and the trigger's group.
const TOPIC: &str = "chaos-events";
const DLQ: &str = "chaos-events.dlq";
const GROUP: &str = "chaos-group";
/// Longest wait for the pipeline to store what was accepted before a fault ended.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(180);

/// The local pipeline under a closed loop of clients through five faults (broker killed, store
/// locked, processor killed, trigger killed, a user erased); prints one row per fault and exits 1 if any rule
/// was broken (an accepted event lost or stored twice, a 500 while the store was locked, …).
#[derive(clap::Parser)]
#[command(name = "chaos")]
struct Cli {
    /// Short faults (make chaos-smoke): each held 3 s after 2 s of load, the processor killed
    /// once.
    #[arg(long)]
    smoke: bool,
    /// Clients sending events without an Idempotency-Key.
    #[arg(long, value_name = "N", default_value_t = 8)]
    clients: usize,
    /// Clients sending every event with an Idempotency-Key, and again after anything but a 201.
    #[arg(long, value_name = "N", default_value_t = 4)]
    keyed_clients: usize,
    /// How long each fault lasts, in seconds [default: 10, 3 with --smoke].
    #[arg(long, value_name = "S")]
    hold_secs: Option<u64>,
    /// Invocations each events-api instance runs at once, as on Lambda Managed Instances
    /// (`AWS_LAMBDA_MAX_CONCURRENCY`); the clients then share fewer instances.
    #[arg(long, value_name = "N", default_value_t = 1)]
    api_concurrency: usize,
}

/// The run's settings.
pub(crate) struct Args {
    clients: usize,
    keyed_clients: usize,
    api_concurrency: usize,
    hold: Duration,
    lead: Duration,
    kills: usize,
}

impl From<Cli> for Args {
    fn from(cli: Cli) -> Self {
        let (hold, lead, kills) = if cli.smoke { (3, 2, 1) } else { (10, 5, 3) };
        Self {
            clients: cli.clients,
            keyed_clients: cli.keyed_clients,
            api_concurrency: cli.api_concurrency.max(1),
            hold: Duration::from_secs(cli.hold_secs.unwrap_or(hold)),
            lead: Duration::from_secs(lead),
            kills,
        }
    }
}

/// The SQLite store, read directly to see when the pipeline caught up.
struct StoreView(rusqlite::Connection);

impl StoreView {
    fn open(path: &Path) -> Self {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let conn = rusqlite::Connection::open_with_flags(path, flags).expect("open the store");
        Self(conn)
    }

    /// The stored event ids, as their text; empty while the store cannot be read (locked).
    /// A row that is not a 16-byte id is a bug here, and fails the run.
    fn ids(&self) -> HashSet<String> {
        let Ok(mut stmt) = self.0.prepare_cached(sqlite_sql::EVENT_IDS) else {
            return HashSet::new();
        };
        let Ok(rows) = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)) else {
            return HashSet::new();
        };
        rows.flatten()
            .map(|id| {
                uuid::Uuid::from_slice(&id)
                    .unwrap_or_else(|e| panic!("stored event id {id:02x?}: {e}"))
                    .to_string()
            })
            .collect()
    }
}

/// Waits until every event answered 201 by `ended` is in the store; when that happened.
async fn drained(load: &Load, store: &StoreView, ended: Instant) -> Option<Instant> {
    let accepted: Vec<String> = load
        .snapshot()
        .into_iter()
        .filter(|r| r.sent + r.latency <= ended)
        .filter_map(|r| match r.outcome {
            load::Outcome::Status {
                code: 201,
                event_id,
                ..
            } => event_id,
            _ => None,
        })
        .collect();
    let deadline = ended + DRAIN_TIMEOUT;
    while Instant::now() < deadline {
        let ids = store.ids();
        if accepted.iter().all(|id| ids.contains(id)) {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

/// Batches the trigger logged as failed with `kind`, over all its logs in `run`.
pub(crate) fn trigger_failures(run: &Path, kind: &str) -> usize {
    std::fs::read_dir(run)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("trigger"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .map(|log| {
            log.lines()
                .filter(|l| l.contains("batch failed") && l.contains(kind))
                .count()
        })
        .sum()
}

fn listed_markers(listed: &[serde_json::Value]) -> HashMap<(usize, u64), usize> {
    let mut counts = HashMap::new();
    for e in listed {
        let m = &e["payload"]["chaos"];
        if let (Some(c), Some(n)) = (m["c"].as_u64(), m["n"].as_u64()) {
            *counts.entry((c as usize, n)).or_insert(0) += 1;
        }
    }
    counts
}

/// The pipeline under test and where its files are.
pub(crate) struct World {
    broker: Tansu,
    stack: Stack,
    /// Kept until the run passes, so a failed or panicking run leaves its logs behind.
    dir: PathBuf,
    db: PathBuf,
    base: String,
    /// What the erasure fault erased, checked against the listing at the end.
    erased: faults::Erased,
}

impl World {
    /// A private broker with the topics, and the local stack over it and an SQLite file.
    async fn start(args: &Args) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("chaos-")
            .tempdir()
            .expect("tempdir")
            .keep();
        let broker = Tansu::start();
        create_topic(&broker.brokers(), TOPIC, 3).await;
        create_topic(&broker.brokers(), DLQ, 3).await;
        let db = dir.join("events.db");
        let root = local_stack::workspace_root(env!("CARGO_MANIFEST_DIR"));
        let mut options = Options::new(root, dir.join("run"))
            .set("KAFKA_BROKERS", broker.brokers())
            .set("KAFKA_TOPIC", TOPIC)
            .set("KAFKA_DLQ_TOPIC", DLQ)
            .set("KAFKA_PRODUCE_TIMEOUT_MS", PRODUCE_TIMEOUT_MS.to_string())
            .set("STORE_URL", format!("sqlite://{}", db.display()))
            .set("RUST_LOG", "info")
            .set("TRIGGER_GROUP_ID", GROUP)
            .set("TRIGGER_BATCH_WINDOW_MS", "100")
            .set("TRIGGER_SESSION_TIMEOUT_MS", "6000")
            .set("TRIGGER_ASSIGNMENT_TIMEOUT_MS", "8000")
            .set("TRIGGER_RETRY_MAX_MS", "1000");
        // As on AWS: each client's request finds an environment with a free slot.
        options.api_concurrency = args.api_concurrency;
        options.api_instances = (args.clients + args.keyed_clients).div_ceil(args.api_concurrency);
        let options_summary = (options.api_instances, options.api_concurrency);
        let stack = Stack::start(options).await.expect("the local stack starts");
        let base = stack.function_url("events-api");
        eprintln!(
            "chaos: stack up at {base} ({} events-api instances of {} invocations at once); logs in {}",
            options_summary.0,
            options_summary.1,
            dir.display()
        );
        Self {
            broker,
            stack,
            dir,
            db,
            base,
            erased: faults::Erased::default(),
        }
    }

    /// The trigger's and the functions' logs.
    fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// The first event through every piece (and the trigger in its group); then the store
    /// exists and can be watched.
    async fn warm_up(&self) -> StoreView {
        let warm = Load::start(
            &self.base,
            1,
            WARM_UP_CLIENT,
            Duration::from_secs(120),
            false,
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _ = warm.stop().await;
        loop {
            if self.db.exists() {
                return StoreView::open(&self.db);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> ExitCode {
    let args = Args::from(Cli::parse());
    let mut world = World::start(&args).await;
    let store = world.warm_up().await;

    // librdkafka fails the delivery at the produce timeout; the function adds its own margin.
    let slowest_allowed = Duration::from_millis(PRODUCE_TIMEOUT_MS) + Duration::from_secs(1);
    let load = Load::start(&world.base, args.clients, 0, Duration::from_secs(60), false);
    let keyed = Load::start(
        &world.base,
        args.keyed_clients,
        KEYED_FIRST_CLIENT,
        Duration::from_secs(60),
        true,
    );
    let mut phases = Vec::new();
    for (i, fault) in faults::FAULTS.iter().enumerate() {
        load.phase.store(i, std::sync::atomic::Ordering::Relaxed);
        keyed.phase.store(i, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(args.lead).await;
        eprintln!("chaos: {}", fault.name);
        let probe_violations = fault.inject(&mut world, &args).await;
        let ended = Instant::now();
        let drained_at = drained(&load, &store, ended).await;
        phases.push(Phase {
            fault: fault.name.to_owned(),
            ended,
            drained_at,
            probe_violations,
        });
    }
    let requests = load.stop().await;
    let keyed_requests = keyed.stop().await;
    let end = Instant::now();
    let _ = drained_all(&store, &requests, end).await;
    let _ = drained_all(&store, &keyed_requests, end).await;
    tokio::task::block_in_place(|| {
        wait_until_consumed(&world.broker.brokers(), GROUP, TOPIC, DRAIN_TIMEOUT)
    });
    let listed = testkit::http::listed(&reqwest::Client::new(), &world.base).await;
    let stored = listed_markers(&listed);
    let rows = report::rows(&phases, &requests, &stored, slowest_allowed);
    println!("{}", report::table(&rows));
    let keys = report::keyed(&keyed_requests, &stored);
    println!("{}", keys.line());
    let mut violations: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            r.violations
                .iter()
                .map(move |v| format!("{}: {v}", r.fault))
        })
        .collect();
    violations.extend(
        keys.violations
            .iter()
            .map(|v| format!("keyed clients: {v}")),
    );
    if keys.retried == 0 {
        violations.push("keyed clients: no event needed a retry, so the faults missed them".into());
    }
    violations.extend(faults_hit(&world.run_dir(), args.kills));
    violations.extend(
        faults::erasure_violations(&world.erased, &listed)
            .into_iter()
            .map(|v| format!("user erased: {v}")),
    );
    world.stack.stop().await;
    if violations.is_empty() {
        println!("chaos: every 201 stored exactly once, through every fault");
        let _ = std::fs::remove_dir_all(&world.dir);
        ExitCode::SUCCESS
    } else {
        for v in violations {
            eprintln!("chaos: {v}");
        }
        eprintln!("chaos: logs kept in {}", world.dir.display());
        ExitCode::FAILURE
    }
}

/// The faults must have hit: batches failed on the locked store and on the killed processor.
fn faults_hit(run: &Path, kills: usize) -> Vec<String> {
    let (on_store, on_exit) = (
        trigger_failures(run, "StoreUnavailable"),
        trigger_failures(run, "Runtime.ExitError"),
    );
    println!(
        "chaos: batches that failed and were retried: {on_store} on the locked store, {on_exit} on a killed processor"
    );
    let mut violations = Vec::new();
    if on_store == 0 {
        violations
            .push("store locked: no batch failed, so the lock did not reach the processor".into());
    }
    if on_exit < kills {
        violations.push(format!(
            "processor killed: {on_exit} invocations failed for {kills} kills"
        ));
    }
    violations
}

/// Waits until every 201 of `requests` is in the store.
async fn drained_all(store: &StoreView, requests: &[load::Request], since: Instant) -> bool {
    let ids: Vec<&str> = requests
        .iter()
        .filter_map(|r| match &r.outcome {
            load::Outcome::Status {
                code: 201,
                event_id,
                ..
            } => event_id.as_deref(),
            _ => None,
        })
        .collect();
    while since.elapsed() < DRAIN_TIMEOUT {
        let stored = store.ids();
        if ids.iter().all(|id| stored.contains(*id)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}
