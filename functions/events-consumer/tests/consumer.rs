//! The consumer's production path against the local broker (`make kafka`) and an SQLite file:
//! `run(config, shutdown)` stores valid events once, sends a poison record to the dead-letter
//! topic, commits the offsets, and neither a clean stop nor an abandoned run loses or repeats an
//! event; the binary answers its health check and leaves on SIGTERM.

use event_store::EventReader;
use event_store::{ListQuery, SqliteStore};
use events_consumer::{run, Config};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use testkit::kafka::{
    brokers, create_topic, produce, read_topic, unique_topic, wait_until_consumed, RawRecord,
};
use tokio::sync::watch;

const CONSUMER: &str = env!("CARGO_BIN_EXE_events-consumer");

/// A topic, its dead-letter topic, a group and an SQLite file of one test's own.
struct Setup {
    topic: String,
    dlq: String,
    group: String,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new(name: &str) -> Self {
        let setup = Self {
            topic: unique_topic(name),
            dlq: unique_topic(&format!("{name}-dlq")),
            group: unique_topic(&format!("{name}-group")),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        create_topic(&brokers(), &setup.topic, 3).await;
        create_topic(&brokers(), &setup.dlq, 1).await;
        setup
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("events.db")
    }

    fn env(&self) -> Vec<(String, String)> {
        [
            ("KAFKA_BROKERS", brokers()),
            ("KAFKA_TOPIC", self.topic.clone()),
            ("KAFKA_DLQ_TOPIC", self.dlq.clone()),
            ("CONSUMER_GROUP_ID", self.group.clone()),
            ("STORE_URL", format!("sqlite://{}", self.db().display())),
            ("CONSUMER_BATCH_SIZE", "5".to_owned()),
            ("CONSUMER_BATCH_WINDOW_MS", "100".to_owned()),
            ("CONSUMER_FETCH_WAIT_MS", "100".to_owned()),
            ("CONSUMER_SESSION_TIMEOUT_MS", "6000".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec()
    }

    fn config(&self) -> Config {
        let env = self.env();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Config::from_source(pairs.as_slice()).expect("config")
    }

    async fn consumed(&self) {
        let (b, g, t) = (brokers(), self.group.clone(), self.topic.clone());
        tokio::task::spawn_blocking(move || {
            wait_until_consumed(&b, &g, &t, Duration::from_secs(90))
        })
        .await
        .expect("consumed");
    }
}

/// `n` valid events, each with a new id; their ids.
async fn produce_events(topic: &str, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let records: Vec<RawRecord> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let user = format!("user-{}", i % 4);
            let value = format!(
                r#"{{"eventId":"{id}","userId":"{user}","eventType":"LOGIN","timestamp":"2026-12-03T18:00:00.000Z"}}"#
            );
            (Some(user.into_bytes()), Some(value.into_bytes()), Vec::new())
        })
        .collect();
    produce(&brokers(), topic, &records).await;
    ids
}

/// Each stored event id and how many times it is listed.
async fn stored(db: &Path) -> BTreeMap<String, usize> {
    if !db.exists() {
        return BTreeMap::new();
    }
    let store = SqliteStore::open(db).expect("sqlite");
    let page = store
        .list(ListQuery {
            limit: 1000,
            ..ListQuery::default()
        })
        .await
        .expect("list");
    let mut out = BTreeMap::new();
    for e in page.events {
        *out.entry(e.event_id.to_string()).or_insert(0) += 1;
    }
    out
}

fn exactly_once(stored: &BTreeMap<String, usize>, ids: &[String]) {
    assert_eq!(stored.len(), ids.len(), "every event stored, nothing else");
    for id in ids {
        assert_eq!(stored.get(id), Some(&1), "event {id} stored once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn events_are_stored_once_poison_is_dead_lettered_and_nothing_is_lost_across_restarts() {
    let setup = Setup::new("consumer").await;
    let mut ids = produce_events(&setup.topic, 12).await;
    let poison: RawRecord = (
        Some(b"mallory".to_vec()),
        Some(b"{not json".to_vec()),
        Vec::new(),
    );
    produce(&brokers(), &setup.topic, &[poison]).await;

    // First run: everything consumed, then a clean stop.
    let (stop, stopped) = watch::channel(false);
    let first = tokio::spawn(run(setup.config(), stopped));
    setup.consumed().await;
    exactly_once(&stored(&setup.db()).await, &ids);
    let letters = read_topic(&brokers(), &setup.dlq, Duration::from_secs(20));
    assert_eq!(letters.len(), 1, "the poison record, once");
    assert_eq!(letters[0].header("dlq-reason"), Some("malformed_json"));
    assert_eq!(letters[0].value.as_deref(), Some(&b"{not json"[..]));
    assert_eq!(
        letters[0].header("dlq-source-topic"),
        Some(setup.topic.as_str())
    );
    stop.send(true).expect("stop");
    let stopped_in = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), first)
        .await
        .expect("stops promptly")
        .expect("join")
        .expect("a clean stop");
    assert!(stopped_in.elapsed() < Duration::from_secs(20));

    // Events produced while no consumer runs; a run abandoned part-way (its task dropped
    // between or inside batches, nothing committed for what was in flight).
    ids.extend(produce_events(&setup.topic, 30).await);
    let (_stop, stopped) = watch::channel(false);
    let second = tokio::spawn(run(setup.config(), stopped));
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored(&setup.db()).await.len() < 17 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    second.abort();
    let _ = second.await;

    // A new run finishes the topic: every event once, the poison still dead-lettered once.
    let (stop, stopped) = watch::channel(false);
    let third = tokio::spawn(run(setup.config(), stopped));
    setup.consumed().await;
    exactly_once(&stored(&setup.db()).await, &ids);
    assert_eq!(
        read_topic(&brokers(), &setup.dlq, Duration::from_secs(20)).len(),
        1,
        "committed work is not redelivered"
    );
    stop.send(true).expect("stop");
    tokio::time::timeout(Duration::from_secs(20), third)
        .await
        .expect("stops promptly")
        .expect("join")
        .expect("a clean stop");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The running binary, killed if the test fails before it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start(setup: &Setup, health: &str) -> Running {
    let mut cmd = Command::new(CONSUMER);
    cmd.envs(setup.env())
        .env("CONSUMER_HEALTH_ADDR", health)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Running(cmd.spawn().expect("spawn events-consumer"))
}

/// `events-consumer --health-check`, as a container's HEALTHCHECK runs it; what it said.
fn health_check(health: &str) -> bool {
    let out = Command::new(CONSUMER)
        .arg("--health-check")
        .env("CONSUMER_HEALTH_ADDR", health)
        .output()
        .expect("run --health-check");
    eprintln!(
        "health check: {} {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out.status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn the_binary_is_healthy_survives_a_kill_and_leaves_on_sigterm() {
    let setup = Setup::new("consumer-bin").await;
    let health = format!("127.0.0.1:{}", free_port());
    assert!(
        !health_check(&health),
        "nothing listens yet: the check fails"
    );

    let mut ids = produce_events(&setup.topic, 10).await;
    let mut killed = start(&setup, &health);
    setup.consumed().await;
    assert!(health_check(&health), "a consumer that consumes is healthy");
    // SIGKILL: no goodbye to the group; the next member waits out the session or rejoins.
    ids.extend(produce_events(&setup.topic, 10).await);
    killed.0.kill().expect("kill");
    let _ = killed.0.wait();

    let mut child = start(&setup, &health);
    setup.consumed().await;
    exactly_once(&stored(&setup.db()).await, &ids);
    let mut healthy = false;
    for _ in 0..50 {
        if health_check(&health) {
            healthy = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(healthy, "the restarted consumer answers its health check");

    // SAFETY: kill(2) on our own child's pid.
    let pid = libc::pid_t::try_from(child.0.id()).expect("pid");
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit within 20 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "a clean exit on SIGTERM: {status}");
    assert!(!health_check(&health), "and its health listener is gone");
}
