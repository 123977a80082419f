//! The table and its indexes, and moving an older file to them.
//!
//! Rows live in insertion order (`seq`, the rowid), so each batch appends to the end of the
//! table instead of landing on random pages, as rows keyed by a random UUID did (a 10 000-event
//! batch into a million rows dirtied about 18 000 pages). Event ids are 16-byte blobs, whose
//! byte order is the order of their lowercase text, and carry the uniqueness that makes
//! inserts idempotent. Each listing has an index that serves its filter in order, so a page
//! costs the same at a million rows as at a thousand (a test reads the plans). What still lands
//! on random pages is the id index and the user index, one page each per new event: at a
//! million rows a batch of 10 000 writes about 70 MB of WAL, against 6 MB at 20 000
//! (figure 6 of BENCHMARKS.md).

use rusqlite::Connection;

/// `PRAGMA user_version` of the current layout.
pub(super) const VERSION: i64 = 2;

const TABLE: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq          INTEGER PRIMARY KEY,
    event_id     BLOB NOT NULL UNIQUE,
    user_id      TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    ts_ms        INTEGER NOT NULL,
    payload      TEXT,
    processed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_newest ON events (ts_ms DESC, event_id DESC);
CREATE INDEX IF NOT EXISTS events_by_user ON events (user_id, ts_ms DESC, event_id DESC);
CREATE INDEX IF NOT EXISTS events_by_type ON events (event_type, ts_ms DESC, event_id DESC);
";

/// Idempotency keys (`crate::keys`), one row per caller, user and key. It is created where
/// missing, whatever the file's layout version, and a table of the first key layout (no
/// caller) is moved to it by [`KEYS_V1_TO_V2`].
const KEYS_TABLE: &str = "
CREATE TABLE IF NOT EXISTS idempotency_keys (
    caller      TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    event_id    BLOB NOT NULL,
    ts_ms       INTEGER NOT NULL,
    completed   INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (caller, user_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_keys_expiry ON idempotency_keys (expires_at);
";

/// Erased users (`Eraser`): one row per user, the time up to which its events are erased. It is
/// created where missing, whatever the file's layout version.
const ERASURES_TABLE: &str = "
CREATE TABLE IF NOT EXISTS erasures (
    user_id    TEXT PRIMARY KEY,
    through_ms INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Keys recorded before callers were told apart were anonymous ones: they move to the empty
/// caller, which is what `AUTH_MODE=none` scopes by, so their retries still replay.
const KEYS_V1_TO_V2: &str = "
ALTER TABLE idempotency_keys RENAME TO idempotency_keys_v1;
DROP INDEX IF EXISTS idempotency_keys_expiry;
";
const KEYS_V1_COPY: &str = "
INSERT INTO idempotency_keys (caller, user_id, key, fingerprint, event_id, ts_ms, completed,
    lease_until, expires_at)
SELECT '', user_id, key, fingerprint, event_id, ts_ms, completed, lease_until, expires_at
FROM idempotency_keys_v1;
DROP TABLE idempotency_keys_v1;
";

/// Creates the keys table, or moves one without callers to the current layout.
fn ensure_keys(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let (exists, has_caller): (i64, i64) = tx.query_row(
        "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table'
                 AND name = 'idempotency_keys'),
                (SELECT count(*) FROM pragma_table_info('idempotency_keys')
                 WHERE name = 'caller')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let old = exists > 0 && has_caller == 0;
    if old {
        tx.execute_batch(KEYS_V1_TO_V2)?;
    }
    tx.execute_batch(KEYS_TABLE)?;
    if old {
        tx.execute_batch(KEYS_V1_COPY)?;
    }
    tx.commit()
}

/// The index that serves a listing with these filters. A user and a type together read the
/// user's events and skip the other types: bounded by that user's events, never the table's.
/// (A fourth index for the pair cost a third more WAL per batch at a million rows: each
/// user-keyed index takes a random page write per event.)
pub(super) fn index_for(user: bool, event_type: bool) -> &'static str {
    match (user, event_type) {
        (false, false) => "events_newest",
        (true, _) => "events_by_user",
        (false, true) => "events_by_type",
    }
}

/// Creates the layout, or moves a file of the first layout (text ids, rows keyed by id) to it.
pub(super) fn ensure(conn: &mut Connection) -> rusqlite::Result<()> {
    ensure_keys(conn)?;
    conn.execute_batch(ERASURES_TABLE)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let old: bool = tx.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'
         AND sql LIKE '%WITHOUT ROWID%'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if old {
        tx.execute_batch(
            "ALTER TABLE events RENAME TO events_v1;
             DROP INDEX IF EXISTS events_newest;
             DROP INDEX IF EXISTS events_by_user;
             DROP INDEX IF EXISTS events_by_type;",
        )?;
    }
    tx.execute_batch(TABLE)?;
    if old {
        tx.execute_batch(
            "INSERT INTO events (event_id, user_id, event_type, ts_ms, payload, processed_at)
             SELECT unhex(replace(event_id, '-', '')), user_id, event_type, ts_ms, payload,
                    processed_at
             FROM events_v1 ORDER BY ts_ms, event_id;
             DROP TABLE events_v1;",
        )?;
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()
}
