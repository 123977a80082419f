//! The SQL and connection settings of the SQLite store that tools outside it use too (the
//! benchmarks' ceiling inserts rows the way the store does, the chaos run reads the ids it
//! stored), written once here and used by the store itself.

use rusqlite::Connection;
use std::time::Duration;

/// Inserts one event unless an event with its id is stored (a redelivered batch changes
/// nothing). Parameters: `?1` the id (its 16 bytes), `?2` the user id, `?3` the event type,
/// `?4` its time in ms since the epoch, `?5` the compact payload or NULL, `?6` when it was
/// stored, in ms since the epoch.
pub const INSERT_EVENT: &str =
    "INSERT INTO events (event_id, user_id, event_type, ts_ms, payload, processed_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(event_id) DO NOTHING";

/// The id (16 bytes) of every stored event.
pub const EVENT_IDS: &str = "SELECT event_id FROM events";

/// How long a connection waits for a lock another one holds.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Size the WAL file is cut back to when the log starts over (`journal_size_limit`).
pub const WAL_KEEP_BYTES: i64 = 64 << 20;

/// The settings of every connection of the store: WAL, so that the HTTP function reads while
/// the processor (another process) writes; `synchronous=FULL`, because the processor
/// acknowledges Kafka records only after a commit, which must survive power loss too; and
/// [`BUSY_TIMEOUT`].
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")
}

/// The writing connection's settings besides [`configure`]'s: no automatic checkpoint (the
/// store checkpoints off the commit path) and a WAL cut back to [`WAL_KEEP_BYTES`].
pub fn configure_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES)
}
