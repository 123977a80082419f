//! `make chaos`: the local pipeline (a private broker, cargo lambda watch serving both
//! functions, the trigger, an SQLite file) under a closed loop of clients, through four faults
//! in turn: the broker killed and restarted, the store locked for longer than its busy timeout,
//! the processor killed mid-stream, the trigger killed and restarted. After each fault it waits
//! until every accepted event is stored; at the end it reads the listing and checks that every
//! 201 is listed exactly once. Prints one row per fault and exits 1 if any rule was broken.
//!
//! Beside them, keyed clients send every event with an `Idempotency-Key` and send it again
//! after anything but a 201: each of their events must be stored exactly once, however often
//! it was sent.
//!
//! usage: chaos [--smoke] [--clients N] [--keyed-clients N] [--hold-secs S] (`chaos --help`)

mod load;
mod lock;
mod report;

use clap::Parser as _;
use event_store::sqlite_sql;
use load::Load;
use local_stack::{Options, Stack};
use report::Phase;
use std::collections::{HashMap, HashSet};
use std::path::Path;
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
/// Longest wait for the pipeline to store what was accepted before a fault ended.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(180);

/// The local pipeline under a closed loop of clients through four faults (broker killed, store
/// locked, processor killed, trigger killed); prints one row per fault and exits 1 if any rule
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
}

/// The run's settings.
struct Args {
    clients: usize,
    keyed_clients: usize,
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
fn trigger_failures(run: &Path, kind: &str) -> usize {
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

async fn listed_markers(http: &reqwest::Client, base: &str) -> HashMap<(usize, u64), usize> {
    let mut counts = HashMap::new();
    for e in testkit::http::listed(http, base).await {
        let m = &e["payload"]["chaos"];
        if let (Some(c), Some(n)) = (m["c"].as_u64(), m["n"].as_u64()) {
            *counts.entry((c as usize, n)).or_insert(0) += 1;
        }
    }
    counts
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> ExitCode {
    let args = Args::from(Cli::parse());
    // Kept until the run passes, so a failed or panicking run leaves its logs behind.
    let dir = tempfile::Builder::new()
        .prefix("chaos-")
        .tempdir()
        .expect("tempdir")
        .keep();
    let mut broker = Tansu::start();
    let (topic, dlq, group) = ("chaos-events", "chaos-events.dlq", "chaos-group");
    create_topic(&broker.brokers(), topic, 3).await;
    create_topic(&broker.brokers(), dlq, 3).await;
    let db = dir.join("events.db");
    let root = local_stack::workspace_root(env!("CARGO_MANIFEST_DIR"));
    let mut options = Options::new(root, dir.join("run"))
        .set("KAFKA_BROKERS", broker.brokers())
        .set("KAFKA_TOPIC", topic)
        .set("KAFKA_DLQ_TOPIC", dlq)
        .set("KAFKA_PRODUCE_TIMEOUT_MS", PRODUCE_TIMEOUT_MS.to_string())
        .set("STORE_URL", format!("sqlite://{}", db.display()))
        .set("RUST_LOG", "info")
        .set("TRIGGER_GROUP_ID", group)
        .set("TRIGGER_BATCH_WINDOW_MS", "100")
        .set("TRIGGER_SESSION_TIMEOUT_MS", "6000")
        .set("TRIGGER_ASSIGNMENT_TIMEOUT_MS", "8000")
        .set("TRIGGER_RETRY_MAX_MS", "1000");
    options.api_instances = args.clients + args.keyed_clients;
    let mut stack = Stack::start(options).await.expect("the local stack starts");
    let base = stack.function_url("events-api");
    let http = reqwest::Client::new();
    eprintln!("chaos: stack up at {base}; logs in {}", dir.display());

    // Warm-up: the first event through every piece (and the trigger in its group).
    let warm = Load::start(&base, 1, WARM_UP_CLIENT, Duration::from_secs(120), false);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = warm.stop().await;
    let store = loop {
        if db.exists() {
            break StoreView::open(&db);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // librdkafka fails the delivery at the produce timeout; the function adds its own margin.
    let slowest_allowed = Duration::from_millis(PRODUCE_TIMEOUT_MS) + Duration::from_secs(1);
    let load = Load::start(&base, args.clients, 0, Duration::from_secs(60), false);
    let keyed = Load::start(
        &base,
        args.keyed_clients,
        KEYED_FIRST_CLIENT,
        Duration::from_secs(60),
        true,
    );
    let mut phases = Vec::new();
    let faults = [
        "broker killed",
        "store locked",
        "processor killed",
        "trigger killed",
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        load.phase.store(i, std::sync::atomic::Ordering::Relaxed);
        keyed.phase.store(i, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(args.lead).await;
        eprintln!("chaos: {fault}");
        let mut probe_violations = Vec::new();
        match i {
            0 => {
                tokio::task::block_in_place(|| broker.kill());
                tokio::time::sleep(args.hold).await;
                tokio::task::block_in_place(|| broker.restart());
            }
            1 => {
                let list = format!("{base}/events/processed?limit=10");
                probe_violations = lock::lock_store(&db, STORE_LOCK, &list).await;
            }
            2 => {
                // A kill can land just after the function answered (a batch takes milliseconds),
                // which fails nothing; kill again until `kills` invocations died mid-way.
                let run = dir.join("run");
                let before = trigger_failures(&run, "Runtime.ExitError");
                let mut attempts = 0;
                while trigger_failures(&run, "Runtime.ExitError") < before + args.kills
                    && attempts < args.kills * 10
                {
                    attempts += 1;
                    let caught = stack
                        .kill_function_while_busy(
                            local_stack::EVENTS_PROCESSOR,
                            Duration::from_secs(10),
                        )
                        .await;
                    if !caught {
                        probe_violations
                            .push(format!("kill {attempts}: the processor was never busy"));
                    }
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                }
            }
            _ => {
                for k in 0..args.kills {
                    stack.kill_trigger();
                    stack
                        .start_trigger(&format!("trigger-restart-{k}.log"))
                        .expect("the trigger restarts");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
        let ended = Instant::now();
        let drained_at = drained(&load, &store, ended).await;
        phases.push(Phase {
            fault: fault.to_owned(),
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
        wait_until_consumed(&broker.brokers(), group, topic, DRAIN_TIMEOUT)
    });
    let stored = listed_markers(&http, &base).await;
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
    // The faults must have hit: batches failed on the locked store and on the killed processor.
    let run = dir.join("run");
    let (on_store, on_exit) = (
        trigger_failures(&run, "StoreUnavailable"),
        trigger_failures(&run, "Runtime.ExitError"),
    );
    println!(
        "chaos: batches that failed and were retried: {on_store} on the locked store, {on_exit} on a killed processor"
    );
    if on_store == 0 {
        violations
            .push("store locked: no batch failed, so the lock did not reach the processor".into());
    }
    if on_exit < args.kills {
        violations.push(format!(
            "processor killed: {on_exit} invocations failed for {} kills",
            args.kills
        ));
    }
    stack.stop().await;
    if violations.is_empty() {
        println!("chaos: every 201 stored exactly once, through every fault");
        let _ = std::fs::remove_dir_all(&dir);
        ExitCode::SUCCESS
    } else {
        for v in violations {
            eprintln!("chaos: {v}");
        }
        eprintln!("chaos: logs kept in {}", dir.display());
        ExitCode::FAILURE
    }
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
