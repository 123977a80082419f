//! Embedded SQLite adapter.
//!
//! WAL mode lets the HTTP function read while the processor (another process) writes; a busy
//! timeout covers the moments a checkpoint holds the lock. Each batch is one transaction with
//! `INSERT … ON CONFLICT(event_id) DO NOTHING`, so a redelivered batch changes nothing and a
//! crash mid-batch leaves either all or none of it. `synchronous=FULL`: the processor acknowledges
//! Kafka records only after this commit, so the commit must survive power loss too.

use crate::{
    after_cursor, finish_page, page_size, EventStore, InsertOutcome, ListQuery, Page, StoreError,
    StoreHealth,
};
use event_schema::{EventType, UserEvent};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    event_id     TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    ts_ms        INTEGER NOT NULL,
    payload      TEXT,
    processed_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_newest ON events (ts_ms DESC, event_id DESC);
CREATE INDEX IF NOT EXISTS events_by_user ON events (user_id, ts_ms DESC, event_id DESC);
CREATE INDEX IF NOT EXISTS events_by_type ON events (event_type, ts_ms DESC, event_id DESC);
";

/// Events in one SQLite file. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, with its parent directory.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Config(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let writer = connect(&path)?;
        writer.execute_batch(SCHEMA)?;
        let reader = connect(&path)?;
        Ok(Self {
            path,
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    async fn with<T, F>(conn: &Arc<Mutex<Connection>>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the connection itself intact (every
            // transaction rolls back on drop), so a poisoned lock is safe to reuse.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await?
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

impl EventStore for SqliteStore {
    async fn insert_batch(&self, events: &[UserEvent]) -> Result<Vec<InsertOutcome>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<Row> = events.iter().map(Row::from_event).collect();
        Self::with(&self.writer, move |conn| {
            let now = chrono::Utc::now().timestamp_millis();
            let tx = conn.transaction()?;
            let mut outcomes = Vec::with_capacity(rows.len());
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO events (event_id, user_id, event_type, ts_ms, payload, processed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(event_id) DO NOTHING",
                )?;
                for r in &rows {
                    let changed = insert.execute(params![
                        r.event_id, r.user_id, r.event_type, r.ts_ms, r.payload, now
                    ])?;
                    outcomes.push(if changed == 1 {
                        InsertOutcome::Inserted
                    } else {
                        InsertOutcome::Duplicate
                    });
                }
            }
            tx.commit()?;
            Ok(outcomes)
        })
        .await
    }

    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        Self::with(&self.reader, move |conn| list_blocking(conn, &query)).await
    }

    async fn health(&self) -> Result<StoreHealth, StoreError> {
        let target = self.path.display().to_string();
        Self::with(&self.reader, move |conn| {
            conn.query_row("SELECT 1 FROM events LIMIT 1", [], |_| Ok(()))
                .optional()?;
            Ok(StoreHealth {
                backend: "sqlite",
                target,
            })
        })
        .await
    }
}

fn list_blocking(conn: &Connection, query: &ListQuery) -> Result<Page, StoreError> {
    let limit = page_size(query.limit);
    let mut sql = String::from(
        "SELECT event_id, user_id, event_type, ts_ms, payload FROM events WHERE 1 = 1",
    );
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(user) = &query.user_id {
        sql.push_str(" AND user_id = ?");
        args.push(user.clone().into());
    }
    if let Some(t) = query.event_type {
        sql.push_str(" AND event_type = ?");
        args.push(t.as_str().to_owned().into());
    }
    if let Some(c) = &query.cursor {
        sql.push_str(" AND (ts_ms, event_id) < (?, ?)");
        args.push(c.timestamp_ms().into());
        args.push(c.event_id().to_string().into());
    }
    sql.push_str(" ORDER BY ts_ms DESC, event_id DESC LIMIT ?");
    // One extra row tells whether another page exists.
    args.push(i64::try_from(limit + 1).unwrap_or(i64::MAX).into());

    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
        Ok(Row {
            event_id: r.get(0)?,
            user_id: r.get(1)?,
            event_type: r.get(2)?,
            ts_ms: r.get(3)?,
            payload: r.get(4)?,
        })
    })?;
    let mut events = Vec::with_capacity(limit + 1);
    for row in rows {
        events.push(row?.into_event()?);
    }

    debug_assert!(query
        .cursor
        .as_ref()
        .is_none_or(|c| events.iter().all(|e| after_cursor(e, c))));
    Ok(finish_page(events, limit))
}

/// An event as stored: the timestamp as Unix milliseconds (exact, sortable), the payload as JSON.
struct Row {
    event_id: String,
    user_id: String,
    event_type: String,
    ts_ms: i64,
    payload: Option<String>,
}

impl Row {
    fn from_event(e: &UserEvent) -> Self {
        Self {
            event_id: e.event_id.to_string(),
            user_id: e.user_id.clone(),
            event_type: e.event_type.as_str().to_owned(),
            ts_ms: e.timestamp.timestamp_millis(),
            payload: e
                .payload
                .as_ref()
                .map(|p| Value::Object(p.clone()).to_string()),
        }
    }

    fn into_event(self) -> Result<UserEvent, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            event_id: self.event_id.clone(),
            reason,
        };
        let event_id = Uuid::try_parse(&self.event_id).map_err(|e| corrupt(e.to_string()))?;
        let event_type: EventType = self
            .event_type
            .parse()
            .map_err(|_| corrupt(format!("event type {:?}", self.event_type)))?;
        let timestamp = chrono::DateTime::from_timestamp_millis(self.ts_ms)
            .ok_or_else(|| corrupt(format!("timestamp {}", self.ts_ms)))?;
        let payload = match &self.payload {
            None => None,
            Some(text) => Some(
                serde_json::from_str::<Map<String, Value>>(text)
                    .map_err(|e| corrupt(e.to_string()))?,
            ),
        };
        Ok(UserEvent {
            event_id,
            user_id: self.user_id,
            event_type,
            timestamp,
            payload,
        })
    }
}
