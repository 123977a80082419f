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

/// Whether any user was ever erased: while none was, an insert checks nothing more.
pub const ANY_ERASURE: &str = "SELECT EXISTS (SELECT 1 FROM erasures)";

/// The time up to which `?1`'s events are erased, if they are.
pub const ERASED_THROUGH: &str = "SELECT through_ms FROM erasures WHERE user_id = ?1";

/// Records that `?1`'s events up to `?2` (ms) are erased; a later time moves it on.
pub const RECORD_ERASURE: &str = "INSERT INTO erasures (user_id, through_ms) VALUES (?1, ?2)
     ON CONFLICT(user_id) DO UPDATE SET through_ms = max(through_ms, excluded.through_ms)";

/// Deletes `?1`'s events up to `?2` (ms).
pub const DELETE_ERASED: &str = "DELETE FROM events WHERE user_id = ?1 AND ts_ms <= ?2";

/// Forgets `?1`'s idempotency keys.
pub const FORGET_USER_KEYS: &str = "DELETE FROM idempotency_keys WHERE user_id = ?1";

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
