//! A second process writing to a SQLite store: the child of the store's test
//! `a_reader_process_works_beside_a_writer_process` (`tests/sqlite.rs`), which reads the same file
//! meanwhile. Not a tool of the pipeline.
//!
//! usage: sqlite-writer DB BATCHES EVENTS_PER_BATCH

use event_schema::{EventType, UserEvent};
use event_store::EventWriter;
use event_store::SqliteStore;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(db), Some(Ok(batches)), Some(Ok(size))) = (
        args.first(),
        args.get(1).map(|n| n.parse::<usize>()),
        args.get(2).map(|n| n.parse::<usize>()),
    ) else {
        eprintln!("usage: sqlite-writer DB BATCHES EVENTS_PER_BATCH");
        return ExitCode::from(2);
    };
    let store = match SqliteStore::open(db) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("sqlite-writer: cannot open {db}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for b in 0..batches {
        let batch: Vec<_> = (0..size).map(|i| event(b * size + i)).collect();
        if let Err(e) = store.insert_batch(&batch).await {
            eprintln!("sqlite-writer: batch {b}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn event(i: usize) -> UserEvent {
    UserEvent {
        event_id: uuid::Uuid::new_v4(),
        user_id: format!("user-{}", i % 7),
        event_type: EventType::ALL[i % 3],
        timestamp: chrono::Utc::now(),
        payload: None,
    }
}
