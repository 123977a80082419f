//! Figure 1: the processor's batch path beside its bounds.
//!
//! * the handler (decode, validate, insert-if-absent) into an SQLite file;
//! * ceiling: the same rows with one prepared statement in one transaction;
//! * floor: base64 decode + validation alone;
//! * the handler into a DynamoDB-API server (dynoxide, in process, over HTTP).
//!
//! CPU time is the process's user + system time, so the figures hold on a busy machine better
//! than wall time; both are reported.

use crate::batch;
use crate::report::{measure, row, Measured};
use aws_lambda_events::event::kafka::KafkaEvent;
use event_kafka::MemoryDeadLetters;
use event_store::{DynamoStore, SqliteStore};
use events_processor::Processor;

pub async fn processor(records: usize) {
    let event: KafkaEvent = batch::msk_batch(records);
    let n = records as f64;
    let dir = tempfile::tempdir().expect("tempdir");

    // The handler into SQLite.
    let store = SqliteStore::open(dir.path().join("handler.db")).expect("sqlite");
    let p = Processor::new(store, MemoryDeadLetters::default());
    let e = event.clone();
    let handler = measure(|| async {
        p.handle(e).await.expect("batch");
    })
    .await;

    // Ceiling: the same rows, one prepared statement, one transaction.
    let rows = batch::rows(&event);
    let path = dir.path().join("ceiling.db");
    let _ = SqliteStore::open(&path).expect("schema");
    let ceiling = measure(|| async {
        batch::insert_raw(&path, &rows);
    })
    .await;

    // Floor: decode and validate only.
    let e = event.clone();
    let floor = measure(|| async {
        batch::decode_and_validate(&e);
    })
    .await;

    let rate = |m: &Measured| n / m.wall.as_secs_f64();
    let cpu_us = |m: &Measured| m.cpu.as_secs_f64() * 1e6 / n;
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
        cpu_us(&floor).max(1.0),
    );
    row(
        "decode + validate, records/s",
        rate(&floor),
        "rec/s",
        "processor → SQLite",
        rate(&handler),
    );

    // The handler into a DynamoDB-API server.
    let dynamo = DynamoStore::local("events")
        .await
        .expect("local DynamoDB-API server");
    let p = Processor::new(dynamo, MemoryDeadLetters::default());
    let e = event.clone();
    let d = measure(|| async {
        p.handle(e).await.expect("batch");
    })
    .await;
    row(
        "processor → DynamoDB API (local), records/s",
        rate(&d),
        "rec/s",
        "processor → SQLite",
        rate(&handler),
    );
}
