//! Embedded SQLite adapter.
//!
//! WAL mode lets the HTTP function read while the processor (another process) writes; a busy
//! timeout covers the moments another connection holds the lock. Each batch is one transaction
//! with `INSERT … ON CONFLICT(event_id) DO NOTHING`, so a redelivered batch changes nothing and a
//! crash mid-batch leaves either all or none of it. `synchronous=FULL`: the processor acknowledges
//! Kafka records only after this commit, so the commit must survive power loss too. Layout and
//! indexes are in `schema`; reads go through a few connections (`pool`); writes go through one
//! connection on a thread of its own, which commits the idempotency-key writes that arrive
//! together at once (`writer`, `keys`). The WAL is checkpointed by a thread of its own, not by
//! whichever commit happens to cross the threshold. The SQL and settings that tools use as well
//! are public in [`sql`].

mod keys;
mod pool;
mod reply;
mod schema;
pub mod sql;
mod writer;

use crate::keys::{KeyClaim, KeyRecord, KeyTimes, Lease};
use crate::{
    after_cursor, page_size, Eraser, Erasure, EventReader, EventWriter, HealthCheck, InsertOutcome,
    KeyStore, ListQuery, Page, PageBuilder, StoreError, StoreHealth,
};
use event_schema::{EventType, Payload, UserEvent};
use keys::KeyWrite;
use pool::Pool;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;
use uuid::Uuid;
use writer::Writer;

/// Reader connections per store.
const READERS: usize = 4;
/// WAL pages that make the checkpointer fold the log back into the database.
const CHECKPOINT_PAGES: i64 = 1000;
/// How often the checkpointer looks.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// WAL pages past which the checkpointer makes the writer wait for a full checkpoint. A passive
/// checkpoint never completes while batches arrive back to back (a backlog draining), and the
/// log only starts over after a complete one: filling a million events that way left a 3.9 GB
/// WAL. About 64 MB at the default 4 KiB page.
const WAL_CAP_PAGES: i64 = 16_384;

/// Events in one SQLite file. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Writer>,
    readers: Arc<Pool>,
    checkpointer: Arc<std::sync::Once>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, with its parent directory, moving a
    /// file of the earlier layout to the current one.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Config(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let mut writer = connect(&path)?;
        schema::ensure(&mut writer)?;
        // Checkpoints happen off the commit path (see `start_checkpointer`).
        sql::configure_writer(&writer)?;
        let readers = (0..READERS)
            .map(|_| connect(&path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            path,
            writer: Arc::new(Writer::start(writer)?),
            readers: Arc::new(Pool::new(readers)),
            checkpointer: Arc::new(std::sync::Once::new()),
        })
    }

    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.run(f).await
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.with(f)).await?
    }

    /// Starts, once per store, the thread that checkpoints the WAL when it has grown past
    /// [`CHECKPOINT_PAGES`]; it stops when the last clone of the store is dropped.
    fn start_checkpointer(&self) {
        let alive = Arc::downgrade(&self.writer);
        let path = self.path.clone();
        self.checkpointer.call_once(move || {
            let _ = std::thread::Builder::new()
                .name("sqlite-checkpoint".into())
                .spawn(move || checkpoint_loop(&path, &alive));
        });
    }

    /// The query plan SQLite picks for `query` (`EXPLAIN QUERY PLAN`), one step per line.
    pub async fn plan(&self, query: ListQuery) -> Result<String, StoreError> {
        self.read(move |conn| {
            let (sql, args) = list_sql(&query);
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let steps =
                stmt.query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))?;
            Ok(steps.collect::<Result<Vec<_>, _>>()?.join("\n"))
        })
        .await
    }
}

fn checkpoint_loop(path: &Path, alive: &Weak<Writer>) {
    let Ok(conn) = connect(path) else {
        return;
    };
    while alive.upgrade().is_some() {
        std::thread::sleep(CHECKPOINT_EVERY);
        // PASSIVE never waits for readers or the writer; what it cannot copy now waits for the
        // next round.
        let log: rusqlite::Result<i64> =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1));
        if let Ok(pages) = log {
            if pages >= WAL_CAP_PAGES {
                // RESTART waits (up to the busy timeout) for the writer and for readers of older
                // snapshots, copies everything, and makes the next write start the log over.
                let _ =
                    conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
            } else if pages < CHECKPOINT_PAGES {
                std::thread::sleep(CHECKPOINT_EVERY);
            }
        }
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    sql::configure(&conn)?;
    Ok(conn)
}

impl EventWriter for SqliteStore {
    async fn insert_batch(&self, events: &[UserEvent]) -> Result<Vec<InsertOutcome>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let rows = events.iter().map(NewRow::from_event).collect::<Vec<_>>();
        self.start_checkpointer();
        self.write(move |conn| {
            let now = chrono::Utc::now().timestamp_millis();
            // IMMEDIATE: the transaction reads the erasures before it writes, and a deferred one
            // that read first cannot wait for the write lock (SQLite answers SQLITE_BUSY at
            // once when another connection, the checkpointer's RESTART, holds it).
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut outcomes = Vec::with_capacity(rows.len());
            {
                let mut erased = Erased::read(&tx)?;
                let mut insert = tx.prepare_cached(sql::INSERT_EVENT)?;
                for r in &rows {
                    if erased.covers(&tx, &r.user_id, r.ts_ms)? {
                        outcomes.push(InsertOutcome::Erased);
                        continue;
                    }
                    let changed = insert.execute(params![
                        &r.event_id[..],
                        r.user_id,
                        r.event_type,
                        r.ts_ms,
                        r.payload,
                        now
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
}

/// The erasures an insert honours, read in its own transaction (so an erasure is either before
/// it, and honoured, or after it, and deletes what it stored).
enum Erased {
    /// No user was ever erased.
    None,
    /// Some were: each user's time is looked up once.
    Some(std::collections::HashMap<String, Option<i64>>),
}

impl Erased {
    fn read(tx: &rusqlite::Transaction<'_>) -> Result<Self, StoreError> {
        let any: bool = tx.query_row(sql::ANY_ERASURE, [], |r| r.get(0))?;
        Ok(if any {
            Self::Some(std::collections::HashMap::new())
        } else {
            Self::None
        })
    }

    /// Whether `user`'s event at `ts_ms` is erased.
    fn covers(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        user: &str,
        ts_ms: i64,
    ) -> Result<bool, StoreError> {
        let Self::Some(seen) = self else {
            return Ok(false);
        };
        let through = match seen.get(user) {
            Some(t) => *t,
            None => {
                let t = tx
                    .prepare_cached(sql::ERASED_THROUGH)?
                    .query_row([user], |r| r.get::<_, i64>(0))
                    .optional()?;
                seen.insert(user.to_owned(), t);
                t
            }
        };
        Ok(through.is_some_and(|t| ts_ms <= t))
    }
}

impl Eraser for SqliteStore {
    /// One transaction on the writer, in turn with every insert: the erasure is recorded, the
    /// events deleted and the keys forgotten together, all of them at once (SQLite deletes a
    /// user's rows through its index).
    async fn erase(
        &self,
        user_id: &str,
        through_ms: i64,
        _max_deletes: usize,
    ) -> Result<Erasure, StoreError> {
        let user = user_id.to_owned();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(sql::RECORD_ERASURE, params![user, through_ms])?;
            let deleted = tx.execute(sql::DELETE_ERASED, params![user, through_ms])?;
            tx.execute(sql::FORGET_USER_KEYS, params![user])?;
            tx.commit()?;
            Ok(Erasure {
                deleted: u64::try_from(deleted).unwrap_or(u64::MAX),
                complete: true,
            })
        })
        .await
    }
}

impl EventReader for SqliteStore {
    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        self.read(move |conn| list_blocking(conn, &query)).await
    }
}

impl KeyStore for SqliteStore {
    async fn claim_key(&self, claim: &KeyRecord, times: KeyTimes) -> Result<KeyClaim, StoreError> {
        let claim = claim.clone();
        // The API writes keys even where no processor writes events: keep the WAL bounded.
        self.start_checkpointer();
        self.writer
            .key(|reply| KeyWrite::Claim {
                claim,
                times,
                reply,
            })
            .await
    }

    /// Answers once the completion is queued: the writer writes every later claim after it, so
    /// a retry that arrives after the 201 finds the key completed. The completion was never
    /// synced to disk (see `KeyWrite::must_sync`), so waiting for its commit bought nothing a
    /// power cut could not take away.
    async fn complete_key(&self, claim: &KeyRecord, lease: &Lease) -> Result<(), StoreError> {
        let (claim, lease) = (claim.clone(), *lease);
        self.writer.queue_key(|reply| KeyWrite::Complete {
            claim,
            lease,
            reply,
        })
    }

    async fn release_key(
        &self,
        claim: &KeyRecord,
        lease: &Lease,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (claim, lease) = (claim.clone(), *lease);
        self.writer
            .key(|reply| KeyWrite::Release {
                claim,
                lease,
                now_ms,
                reply,
            })
            .await
    }
}

impl HealthCheck for SqliteStore {
    async fn health(&self) -> Result<StoreHealth, StoreError> {
        let target = self.path.display().to_string();
        self.read(move |conn| {
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

/// The listing's SQL and arguments. `INDEXED BY` pins the index that serves the filter in
/// order (`schema::index_for`), so the plan cannot drift to one that walks the table.
fn list_sql(query: &ListQuery) -> (String, Vec<rusqlite::types::Value>) {
    let limit = page_size(query.limit);
    let index = schema::index_for(query.user_id.is_some(), query.event_type.is_some());
    let mut sql = format!(
        "SELECT event_id, user_id, event_type, ts_ms, payload FROM events INDEXED BY {index} \
         WHERE 1 = 1"
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
        args.push(c.event_id().as_bytes().to_vec().into());
    }
    sql.push_str(" ORDER BY ts_ms DESC, event_id DESC LIMIT ?");
    // One extra row tells whether another page exists.
    args.push(i64::try_from(limit + 1).unwrap_or(i64::MAX).into());
    (sql, args)
}

fn list_blocking(conn: &Connection, query: &ListQuery) -> Result<Page, StoreError> {
    let (sql, args) = list_sql(query);
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
    let mut page = PageBuilder::new(query);
    for row in rows {
        let event = row?.into_event()?;
        debug_assert!(query
            .cursor
            .as_ref()
            .is_none_or(|c| after_cursor(&event, c)));
        if !page.push(event) {
            break;
        }
    }
    Ok(page.finish())
}

/// An event as stored: the id as 16 bytes, the timestamp as Unix milliseconds (exact,
/// sortable), the payload as JSON.
struct Row {
    event_id: Vec<u8>,
    user_id: String,
    event_type: String,
    ts_ms: i64,
    payload: Option<String>,
}

/// A row to insert: what [`Row`] holds, without a copy the insert does not need.
struct NewRow {
    event_id: [u8; 16],
    user_id: String,
    event_type: &'static str,
    ts_ms: i64,
    payload: Option<String>,
}

impl NewRow {
    fn from_event(e: &UserEvent) -> Self {
        Self {
            event_id: *e.event_id.as_bytes(),
            user_id: e.user_id.clone(),
            event_type: e.event_type.as_str(),
            ts_ms: e.timestamp.timestamp_millis(),
            // The payload is compact JSON text already: stored as it is.
            payload: e.payload.as_ref().map(|p| p.as_json().to_owned()),
        }
    }
}

impl Row {
    fn into_event(self) -> Result<UserEvent, StoreError> {
        let shown = Uuid::from_slice(&self.event_id)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("{:02x?}", self.event_id));
        let corrupt = |reason: String| StoreError::Corrupt {
            event_id: shown.clone(),
            reason,
        };
        let event_id = Uuid::from_slice(&self.event_id).map_err(|e| corrupt(e.to_string()))?;
        let event_type: EventType = self
            .event_type
            .parse()
            .map_err(|_| corrupt(format!("event type {:?}", self.event_type)))?;
        let timestamp = chrono::DateTime::from_timestamp_millis(self.ts_ms)
            .ok_or_else(|| corrupt(format!("timestamp {}", self.ts_ms)))?;
        let payload = match &self.payload {
            None => None,
            Some(text) => Some(Payload::from_json(text).map_err(corrupt)?),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cursor;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("events.db")).expect("open");
        (dir, store)
    }

    #[tokio::test]
    async fn every_listing_is_an_index_search_in_order() {
        let (_dir, store) = store().await;
        let event = UserEvent {
            event_id: Uuid::new_v4(),
            user_id: "u".into(),
            event_type: EventType::Login,
            timestamp: chrono::Utc::now(),
            payload: None,
        };
        let cursor = Some(Cursor::after(&event));
        for user in [None, Some("alice".to_owned())] {
            for event_type in [None, Some(EventType::Logout)] {
                for cursor in [None, cursor] {
                    let query = ListQuery {
                        limit: 100,
                        user_id: user.clone(),
                        event_type,
                        cursor,
                        max_bytes: None,
                    };
                    let plan = store.plan(query.clone()).await.expect("plan");
                    let index = schema::index_for(user.is_some(), event_type.is_some());
                    // With nothing to seek, reading the newest index from its start is the
                    // search (LIMIT stops it); anything else must seek. Never a sort.
                    let unbounded = user.is_none() && event_type.is_none() && cursor.is_none();
                    let expected = if unbounded {
                        format!("SCAN events USING INDEX {index}")
                    } else {
                        format!("SEARCH events USING INDEX {index} (")
                    };
                    assert!(plan.starts_with(&expected), "{query:?}: {plan}");
                    assert!(!plan.contains("TEMP B-TREE"), "{query:?}: {plan}");
                    assert_eq!(plan.lines().count(), 1, "{query:?}: {plan}");
                    // The columns the index seeks on: the user, else the type; then the cursor.
                    let equality = usize::from(user.is_some() || event_type.is_some());
                    let bound = plan.matches("=?").count() + plan.matches(")<(").count();
                    assert!(
                        bound >= equality + usize::from(cursor.is_some()),
                        "{query:?}: {plan}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn a_file_of_the_first_layout_moves_over_with_its_events() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(
                "CREATE TABLE events (event_id TEXT PRIMARY KEY NOT NULL, user_id TEXT NOT NULL,
                 event_type TEXT NOT NULL, ts_ms INTEGER NOT NULL, payload TEXT,
                 processed_at INTEGER NOT NULL) WITHOUT ROWID;
                 CREATE INDEX events_newest ON events (ts_ms DESC, event_id DESC);
                 INSERT INTO events VALUES ('5d1f0b8e-2c4a-4e9b-8f3d-1a2b3c4d5e01', 'u', 'LOGIN',
                   1795000000000, '{\"a\":1}', 0);",
            )
            .expect("old layout");
        }
        let store = SqliteStore::open(&path).expect("migrates");
        let page = store
            .list(ListQuery {
                limit: 10,
                ..ListQuery::default()
            })
            .await
            .expect("list");
        assert_eq!(page.events.len(), 1);
        assert_eq!(
            page.events[0].event_id.to_string(),
            "5d1f0b8e-2c4a-4e9b-8f3d-1a2b3c4d5e01"
        );
        let again = store.insert_batch(&page.events).await.expect("insert");
        assert_eq!(
            again,
            [InsertOutcome::Duplicate],
            "the moved id still deduplicates"
        );
    }
}
