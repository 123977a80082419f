//! Figure 1: the processor's batch path beside its bounds.
//!
//! * the handler (decode, validate, insert-if-absent) into an SQLite file;
//! * ceiling: the same rows with one prepared statement in one transaction;
//! * floor: base64 decode + validation alone;
//! * the handler into a DynamoDB-API server (dynoxide, in process, over HTTP), beside its
//!   ceiling: the same conditional `PutItem`s sent alone at the same concurrency.
//!
//! CPU time is the process's user + system time from the kernel's CPU clock, so the figures hold
//! on a busy machine better than wall time; both are reported. Each SQLite figure is the median
//! of five runs after a warm-up.

use crate::batch;
use crate::report::{measure, median, row, Measured};
use aws_lambda_events::event::kafka::KafkaEvent;
use event_kafka::MemoryDeadLetters;
use event_store::{DynamoStore, SqliteStore};
use events_processor::Processor;
use std::time::Duration;

/// Measured runs of each SQLite figure, after one discarded warm-up run.
const RUNS: usize = 5;
/// Longer than the store's checkpoint thread takes to notice its store is gone.
const SETTLE: Duration = Duration::from_millis(1200);

/// The median wall and CPU time of `RUNS` runs after a warm-up; `run(i)` gets a fresh index
/// so it can use a fresh file.
async fn median_of<F, Fut>(mut run: F) -> Measured
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Measured>,
{
    let _ = run(0).await;
    let mut all = Vec::with_capacity(RUNS);
    for i in 1..=RUNS {
        all.push(run(i).await);
    }
    let secs = |f: fn(&Measured) -> Duration| {
        Duration::from_secs_f64(median(all.iter().map(|m| f(m).as_secs_f64()).collect()))
    };
    Measured {
        wall: secs(|m| m.wall),
        cpu: secs(|m| m.cpu),
    }
}

pub async fn processor(records: usize) {
    let event: KafkaEvent = batch::msk_batch(records);
    let n = records as f64;
    let dir = tempfile::tempdir().expect("tempdir");

    // Floor: decode and validate only.
    let floor = median_of(|_| {
        let e = &event;
        async move {
            measure(|| async {
                std::hint::black_box(batch::decode_and_validate(e));
            })
            .await
        }
    })
    .await;

    // Ceiling: the same rows in the same layout, one prepared statement, one transaction.
    let rows = batch::rows(&event);
    let ceiling = median_of(|i| {
        let path = dir.path().join(format!("ceiling-{i}.db"));
        drop(SqliteStore::open(&path).expect("schema"));
        let mut conn = batch::raw_connection(&path);
        let rows = &rows;
        async move {
            measure(|| async {
                batch::insert_raw(&mut conn, rows);
            })
            .await
        }
    })
    .await;

    // The handler into SQLite: each run into a fresh file, opened before the clock starts.
    let handler = median_of(|i| {
        let store = SqliteStore::open(dir.path().join(format!("handler-{i}.db"))).expect("sqlite");
        let p = Processor::new(store, MemoryDeadLetters::default());
        let e = event.clone();
        async move {
            // The previous run's store closes its last connection (its checkpoint thread's)
            // up to half a second after it is dropped; that work is not this run's.
            tokio::time::sleep(SETTLE).await;
            measure(|| async {
                p.handle(e).await.expect("batch");
            })
            .await
        }
    })
    .await;

    // The same with the logs Lambda would receive at INFO (a JSON line per stored record and
    // one per batch), written to a sink.
    let logged = median_of(|i| {
        let store = SqliteStore::open(dir.path().join(format!("logged-{i}.db"))).expect("sqlite");
        let p = Processor::new(store, MemoryDeadLetters::default());
        // The payload as the runtime hands it over: JSON, read record by record.
        let e = serde_json::to_value(&event).expect("an MSK event as JSON");
        async move {
            tokio::time::sleep(SETTLE).await;
            measure(|| async {
                let filter = tracing_subscriber::EnvFilter::new("info");
                let logs = pipeline_runtime::json_logs(filter, std::io::sink);
                let _on = tracing::subscriber::set_default(logs);
                p.invoke(e, "bench").await.expect("batch");
            })
            .await
        }
    })
    .await;

    let rate = |m: &Measured| n / m.wall.as_secs_f64();
    let cpu_us = |m: &Measured| m.cpu.as_secs_f64() * 1e6 / n;
    row(
        "processor → SQLite with its INFO logs (JSON), CPU µs/record",
        cpu_us(&logged),
        "µs",
        "processor → SQLite, no subscriber",
        cpu_us(&handler),
    );
    row(
        "processor → SQLite, records/s",
        rate(&handler),
        "rec/s",
        "one prepared INSERT, one transaction",
        rate(&ceiling),
    );
    row(
        "processor → SQLite, CPU µs/record",
        cpu_us(&handler),
        "µs",
        "decode + validate only",
        cpu_us(&floor),
    );
    row(
        "one prepared INSERT (the ceiling), CPU µs/record",
        cpu_us(&ceiling),
        "µs",
        "processor → SQLite",
        cpu_us(&handler),
    );
    row(
        "decode + validate, records/s",
        rate(&floor),
        "rec/s",
        "processor → SQLite",
        rate(&handler),
    );

    // The handler into a DynamoDB-API server, beside the same conditional puts sent alone at
    // the same concurrency (built before the clock starts): the ceiling of the batch path. Each
    // run gets a fresh server; the two alternate, and each figure is the median of three.
    let mut unique = std::collections::HashSet::new();
    let valid: Vec<_> = batch::decode_and_validate(&event)
        .into_iter()
        .filter(|e| unique.insert(e.event_id))
        .collect();
    let (mut handled, mut alone, mut requests) = (Vec::new(), Vec::new(), 0.0);
    for _ in 0..3 {
        let dynamo = DynamoStore::local("events")
            .await
            .expect("local DynamoDB-API server");
        let p = Processor::new(dynamo.clone(), MemoryDeadLetters::default());
        let (e, before) = (event.clone(), dynamo.requests());
        handled.push(
            measure(|| async {
                p.handle(e).await.expect("batch");
            })
            .await,
        );
        requests = (dynamo.requests() - before) as f64 / valid.len().max(1) as f64;

        let dynamo = DynamoStore::local("events")
            .await
            .expect("local DynamoDB-API server");
        let items = dynamo.items(&valid);
        alone.push(
            measure(|| async {
                for outcome in dynamo.put_items(items).await {
                    outcome.expect("a put");
                }
            })
            .await,
        );
    }
    let wall = |runs: &[Measured]| Measured {
        wall: Duration::from_secs_f64(median(runs.iter().map(|m| m.wall.as_secs_f64()).collect())),
        cpu: Duration::ZERO,
    };
    let (handled, alone) = (wall(&handled), wall(&alone));
    // Both in events written per second: the batch's duplicates and invalid records are not.
    let written = |m: &Measured| valid.len() as f64 / m.wall.as_secs_f64();
    row(
        "processor → DynamoDB API (local), events written/s",
        written(&handled),
        "ev/s",
        "the same conditional PutItems alone, 16 in flight",
        written(&alone),
    );
    row(
        "processor → DynamoDB API (local), requests per event written",
        requests,
        "requests",
        "one conditional PutItem per event",
        1.0,
    );
    row(
        "processor → DynamoDB API (local), records/s",
        rate(&handled),
        "rec/s",
        "processor → SQLite",
        rate(&handler),
    );
}
