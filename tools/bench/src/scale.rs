//! Figure 6: the store at scale. An SQLite file filled with a million events and a DynamoDB-API
//! server (dynoxide) with a hundred thousand, each beside the same store small: listing latency
//! (p50, p99) for every filter at the first page and deep in the list, DynamoDB requests per
//! page, the processor's batch of 10 000 into the full store against an empty one, and the WAL
//! a batch writes.

use crate::report::{row, Latencies};
use event_schema::{EventType, UserEvent};
use event_store::{Cursor, DynamoStore, EventStore, ListQuery, SqliteStore};
use event_store::{EventReader, EventWriter};
use std::path::Path;
use std::time::{Duration, Instant};

/// Days the generated events span.
const DAYS: i64 = 60;
/// Events per user, whatever the store's size, so a user's page holds as much at every size.
const EVENTS_PER_USER: usize = 100;
/// Listing queries per measured case.
const RUNS: usize = 40;

/// Event `i` of `total`: evenly over [`DAYS`] days, ending now, [`EVENTS_PER_USER`] per user;
/// types skewed as user activity is
/// (60% product views, 38% logins, 2% logouts, the rare type).
fn event(i: usize, total: usize) -> UserEvent {
    let now = 1_795_536_424_000_i64;
    let span = DAYS * 86_400_000;
    let ms = now - span + (i as i64) * span / (total.max(1) as i64);
    let t = match i % 50 {
        0 => EventType::Logout,
        1..=19 => EventType::Login,
        _ => EventType::ProductView,
    };
    UserEvent {
        event_id: uuid::Uuid::new_v4(),
        user_id: format!("user-{}", (i * 7919) % (total / EVENTS_PER_USER).max(1)),
        event_type: t,
        timestamp: chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default(),
        payload: serde_json::json!({"page": format!("/products/{}", i % 5000), "n": i})
            .as_object()
            .cloned()
            .map(event_schema::Payload::from),
    }
}

async fn fill<S: EventStore>(store: &S, total: usize, batch: usize) {
    let mut i = 0;
    while i < total {
        let end = (i + batch).min(total);
        let events: Vec<UserEvent> = (i..end).map(|k| event(k, total)).collect();
        store.insert_batch(&events).await.expect("fill");
        i = end;
    }
}

/// The cases: a name and the query (limit 100), first page or from the middle of the list.
fn cases(total: usize) -> Vec<(String, ListQuery)> {
    let middle = event(total / 2, total);
    let deep = Some(Cursor::after(&middle));
    let user = Some(format!("user-{}", 7919 % (total / EVENTS_PER_USER).max(1)));
    let mut out = Vec::new();
    for (filter, user_id, event_type) in [
        ("all", None, None),
        ("user", user.clone(), None),
        ("type (rare)", None, Some(EventType::Logout)),
        ("user + type", user.clone(), Some(EventType::Login)),
    ] {
        for (position, cursor) in [("first", None), ("deep", deep)] {
            out.push((
                format!("{filter}, {position} page"),
                ListQuery {
                    limit: 100,
                    user_id: user_id.clone(),
                    event_type,
                    cursor,
                    max_bytes: None,
                },
            ));
        }
    }
    out.push((
        "user + type, no match".to_owned(),
        ListQuery {
            limit: 100,
            user_id: Some("user-absent".into()),
            event_type: Some(EventType::Logout),
            ..ListQuery::default()
        },
    ));
    out
}

async fn latencies<S: EventStore>(store: &S, query: &ListQuery) -> Latencies {
    let mut all = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        store.list(query.clone()).await.expect("list");
        all.push(t.elapsed());
    }
    Latencies::new(all)
}

async fn listing_rows<S: EventStore>(name: &str, big: (&S, usize), small: (&S, usize)) {
    for ((case, q_big), (_, q_small)) in cases(big.1).into_iter().zip(cases(small.1)) {
        let (b, s) = (
            latencies(big.0, &q_big).await,
            latencies(small.0, &q_small).await,
        );
        let base = format!("same at {} events", small.1);
        for p in [50.0, 99.0] {
            row(
                &format!("{name} {} events: {case}, p{p}", big.1),
                b.ms(p) * 1e3,
                "µs",
                &base,
                s.ms(p) * 1e3,
            );
        }
    }
}

fn wal_bytes(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

/// Checkpoints the whole WAL into the file and empties it, so what the next batch writes is
/// the WAL's size after it. Waits for the store's own checkpoint thread and readers; a WAL that
/// cannot be emptied would make the figure meaningless, so that fails the bench.
fn truncate_wal(db: &Path) {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    for _ in 0..50 {
        let busy: rusqlite::Result<i64> =
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0));
        if matches!(busy, Ok(0)) && wal_bytes(db) == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the WAL of {} could not be emptied", db.display());
}

/// A batch of 10 000 (5% repeating earlier events of the batch) into `store`: its wall time and
/// the WAL it wrote.
async fn batch_into(store: &SqliteStore, db: &Path, total: usize) -> (Duration, u64) {
    let mut events: Vec<UserEvent> = (0..10_000)
        .map(|k| event(total + k, total + 10_000))
        .collect();
    for k in (19..events.len()).step_by(20) {
        events[k] = events[k / 2].clone();
    }
    truncate_wal(db);
    let t = Instant::now();
    store.insert_batch(&events).await.expect("batch");
    (t.elapsed(), wal_bytes(db))
}

pub async fn scale(sqlite_rows: usize, dynamo_rows: usize, small: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (big_db, small_db, empty_db) = (
        dir.path().join("big.db"),
        dir.path().join("small.db"),
        dir.path().join("empty.db"),
    );
    let big = SqliteStore::open(&big_db).expect("open");
    let little = SqliteStore::open(&small_db).expect("open");
    let empty = SqliteStore::open(&empty_db).expect("open");
    fill(&big, sqlite_rows, 10_000).await;
    fill(&little, small, 10_000).await;
    // Batches back to back, as when a backlog drains: the checkpointer must still bound the WAL.
    row(
        &format!("WAL file after writing {sqlite_rows} events in back-to-back batches"),
        wal_bytes(&big_db) as f64 / 1e6,
        "MB",
        &format!("after {small} events"),
        wal_bytes(&small_db) as f64 / 1e6,
    );
    listing_rows("SQLite", (&big, sqlite_rows), (&little, small)).await;

    let (full_time, full_wal) = batch_into(&big, &big_db, sqlite_rows).await;
    let (empty_time, empty_wal) = batch_into(&empty, &empty_db, 0).await;
    let (_, small_wal) = batch_into(&little, &small_db, small).await;
    row(
        &format!("processor batch of 10000 into SQLite at {sqlite_rows} events"),
        full_time.as_secs_f64() * 1e3,
        "ms",
        "into an empty file",
        empty_time.as_secs_f64() * 1e3,
    );
    row(
        &format!("WAL written by that batch at {sqlite_rows} events"),
        full_wal as f64 / 1e6,
        "MB",
        &format!("at {small} events"),
        small_wal as f64 / 1e6,
    );
    row(
        &format!("WAL written by a batch at {small} events"),
        small_wal as f64 / 1e6,
        "MB",
        "into an empty file",
        empty_wal as f64 / 1e6,
    );

    let dynamo_big = DynamoStore::local("big")
        .await
        .expect("local DynamoDB-API server");
    let dynamo_small = DynamoStore::local("small")
        .await
        .expect("local DynamoDB-API server");
    let dynamo_small_rows = (small / 10).max(100);
    fill(&dynamo_big, dynamo_rows, 1_000).await;
    fill(&dynamo_small, dynamo_small_rows, 1_000).await;
    listing_rows(
        "DynamoDB API",
        (&dynamo_big, dynamo_rows),
        (&dynamo_small, dynamo_small_rows),
    )
    .await;
    for ((case, q_big), (_, q_small)) in
        cases(dynamo_rows).into_iter().zip(cases(dynamo_small_rows))
    {
        let per_page = |store: &DynamoStore, q: ListQuery| {
            let store = store.clone();
            async move {
                let before = store.requests();
                store.list(q).await.expect("list");
                (store.requests() - before) as f64
            }
        };
        let (b, s) = (
            per_page(&dynamo_big, q_big).await,
            per_page(&dynamo_small, q_small).await,
        );
        row(
            &format!("DynamoDB requests per page at {dynamo_rows} events: {case}"),
            b,
            "requests",
            &format!("same at {dynamo_small_rows} events"),
            s,
        );
    }
}
