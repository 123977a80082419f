//! The store contract against a real SQLite file, plus what only a file can show: data surviving a
//! reopen, and a reader process beside a writer process.

use event_schema::{EventType, UserEvent};
use event_store::{EventReader, EventWriter, KeyStore};
use event_store::{ListQuery, SqliteStore};
use std::process::Command;

async fn fresh() -> SqliteStore {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    SqliteStore::open(dir.join("nested/dir/events.db")).expect("open")
}

event_store::event_store_contract!(fresh());

fn sample(i: usize) -> UserEvent {
    UserEvent {
        event_id: uuid::Uuid::new_v4(),
        user_id: format!("user-{}", i % 7),
        event_type: EventType::ALL[i % 3],
        timestamp: chrono::Utc::now(),
        payload: None,
    }
}

#[tokio::test]
async fn events_survive_reopening_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let e = sample(1);
    {
        let store = SqliteStore::open(&path).expect("open");
        store
            .insert_batch(std::slice::from_ref(&e))
            .await
            .expect("insert");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    let page = store
        .list(ListQuery {
            limit: 10,
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].event_id, e.event_id);
}

const WRITER_BATCHES: usize = 200;
const WRITER_BATCH: usize = 10;

#[tokio::test]
async fn a_reader_process_works_beside_a_writer_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let reader = SqliteStore::open(&path).expect("open");
    // The writer is a binary of this crate (src/bin/sqlite-writer.rs).
    let mut child = Command::new(env!("CARGO_BIN_EXE_sqlite-writer"))
        .arg(&path)
        .arg(WRITER_BATCHES.to_string())
        .arg(WRITER_BATCH.to_string())
        .spawn()
        .expect("spawn writer");
    let mut last = 0;
    let mut reads = 0;
    let status = loop {
        let page = reader
            .list(ListQuery {
                limit: 1000,
                ..ListQuery::default()
            })
            .await
            .expect("reads never fail while another process writes");
        assert!(page.events.len() >= last, "reads only ever see more rows");
        last = page.events.len();
        reads += 1;
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
    };
    assert!(status.success(), "writer process failed");
    let total = reader
        .list(ListQuery {
            limit: 1000,
            ..ListQuery::default()
        })
        .await
        .expect("list")
        .events
        .len();
    let expected = (WRITER_BATCHES * WRITER_BATCH).min(1000);
    assert_eq!(total, expected);
    assert!(reads > 1, "the reader ran while the writer wrote");
}

/// A file whose keys were recorded before callers were told apart: its keys move to the
/// anonymous caller, so that a retry without credentials (`AUTH_MODE=none`, as then) still
/// replays, and a caller with an identity does not see them.
#[tokio::test]
async fn keys_of_the_first_layout_stay_an_anonymous_callers() {
    use event_store::{KeyClaim, KeyRecord, KeyTimes, KeyedEvent};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let event = KeyedEvent {
        event_id: uuid::Uuid::new_v4(),
        timestamp_ms: 1_795_000_000_000,
    };
    {
        let old = rusqlite::Connection::open(&path).expect("open");
        old.execute_batch(
            "CREATE TABLE idempotency_keys (
                user_id TEXT NOT NULL, key TEXT NOT NULL, fingerprint BLOB NOT NULL,
                event_id BLOB NOT NULL, ts_ms INTEGER NOT NULL, completed INTEGER NOT NULL,
                lease_until INTEGER NOT NULL, expires_at INTEGER NOT NULL,
                PRIMARY KEY (user_id, key)) WITHOUT ROWID;",
        )
        .expect("old layout");
        old.execute(
            "INSERT INTO idempotency_keys VALUES ('u', 'k', ?1, ?2, ?3, 1, 0, ?4)",
            rusqlite::params![
                [9u8; 32].to_vec(),
                event.event_id.as_bytes().to_vec(),
                event.timestamp_ms,
                i64::MAX
            ],
        )
        .expect("old key");
    }
    let store = SqliteStore::open(&path).expect("opens and moves the keys");
    let claim = |caller: &str| KeyRecord {
        caller: caller.to_owned(),
        user_id: "u".into(),
        key: "k".into(),
        fingerprint: [9; 32],
        event: KeyedEvent {
            event_id: uuid::Uuid::new_v4(),
            timestamp_ms: 1,
        },
    };
    let times = KeyTimes {
        now_ms: 1_795_000_001_000,
        lease_ms: 7_000,
        ttl_ms: 86_400_000,
    };
    assert_eq!(
        store.claim_key(&claim(""), times).await.expect("claim"),
        KeyClaim::Completed(event)
    );
    assert!(matches!(
        store
            .claim_key(&claim("jwt:u"), times)
            .await
            .expect("claim"),
        KeyClaim::Recorded(_)
    ));
}

/// Another connection holding the write lock for a moment (the checkpointer's RESTART, another
/// process) makes an insert wait, never fail, even once a user was erased and the insert reads
/// the erasures before it writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_waits_for_another_writer_after_an_erasure() {
    use event_store::Eraser;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let store = SqliteStore::open(&path).expect("open");
    store.erase("someone", 1, 100).await.expect("erase");
    for round in 0..3 {
        let holder = rusqlite::Connection::open(&path).expect("open");
        holder
            .execute_batch("BEGIN IMMEDIATE")
            .expect("the write lock");
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            holder
                .execute_batch("INSERT OR REPLACE INTO erasures VALUES ('other', 1); COMMIT")
                .expect("commit");
        });
        let inserted = store.insert_batch(&[sample(round)]).await;
        release.join().expect("the holder commits");
        inserted.unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
}
