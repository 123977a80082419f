//! Where processed events live, behind one port.
//!
//! The store offers four capabilities, each its own trait, and a caller asks for the ones it
//! uses: [`EventWriter`] (the processor writes batches with [`EventWriter::insert_batch`], which
//! is insert-if-absent by `eventId`: a redelivered Kafka batch stores nothing twice),
//! [`EventReader`] (the HTTP function reads pages with [`EventReader::list`], newest first by
//! event timestamp then event id, with an opaque [`Cursor`] that every adapter interprets
//! identically), [`KeyStore`] (idempotency keys), [`HealthCheck`] and [`Eraser`] (a user's
//! events erased, and never stored or listed again). [`EventStore`] is their sum: every adapter
//! is one.
//!
//! Layout: this file holds the port and its value types; `sqlite` the embedded SQLite adapter
//! (`STORE_URL=sqlite://PATH`; [`sqlite_sql`] is its SQL that tools run too); `dynamodb` the DynamoDB adapter (`STORE_URL=dynamodb://TABLE`,
//! feature `dynamodb`); `memory` an in-process adapter for unit tests; `contract` (feature
//! `contract`) the behaviour every adapter must show, and `Faulty` (feature `testing`) the one
//! decorator tests use to make a store fail on cue; [`open`] picks an adapter from a URL.
#![warn(missing_docs)]

#[cfg(feature = "contract")]
pub mod contract;
mod cursor;
#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(any(test, feature = "testing"))]
mod faulty;
pub mod keys;
mod memory;
mod sqlite;

pub use cursor::{Cursor, CursorError};
#[cfg(feature = "dynamodb")]
pub use dynamodb::{
    DynamoStore, TableLayout, BY_KEY_USER_INDEX, BY_TIME_INDEX, BY_TYPE_INDEX, BY_USER_INDEX,
    BY_USER_TYPE_INDEX, DAYS_INDEX, DAYS_PER_PAGE, LAYOUT as DYNAMODB_LAYOUT,
    SHARDS as DYNAMODB_SHARDS,
};
#[cfg(any(test, feature = "testing"))]
pub use faulty::Faulty;
pub use keys::{KeyClaim, KeyRecord, KeyTimes, KeyedEvent, Lease};
pub use memory::MemoryStore;
pub use sqlite::{sql as sqlite_sql, SqliteStore};

use event_schema::{EventType, UserEvent};
use std::future::Future;

/// `STORE_URL` when none is set: an SQLite file under the working directory.
pub const DEFAULT_STORE_URL: &str = "sqlite://./data/events.db";

/// Largest page a caller may ask for.
pub const MAX_PAGE_SIZE: usize = 1000;

/// What happened to one event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// It was not stored before and is now.
    Inserted,
    /// An event with this id was already stored; nothing changed.
    Duplicate,
    /// Its user's events up to a time at or after its timestamp were erased ([`Eraser`]): it
    /// is not stored, now or ever.
    Erased,
}

/// A page request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Page size, 1..=[`MAX_PAGE_SIZE`] (clamped by adapters).
    pub limit: usize,
    /// Only this user's events.
    pub user_id: Option<String>,
    /// Only events of this type.
    pub event_type: Option<EventType>,
    /// Continue after this position (from a previous [`Page::next`]).
    pub cursor: Option<Cursor>,
    /// Stop reading once the events read reach this many bytes (at least one event is still
    /// returned): a page ends early, and its `next` continues after its last event. The API
    /// sets its response limit here, so that no adapter reads what would be cut anyway.
    pub max_bytes: Option<usize>,
}

/// One page of events, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The events.
    pub events: Vec<UserEvent>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

/// What a healthy store reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreHealth {
    /// Adapter name (`sqlite`, `memory`, …).
    pub backend: &'static str,
    /// What it is connected to (a file path, a table name).
    pub target: String,
}

/// Why a store operation failed. Every variant is worth retrying except [`StoreError::Config`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite database refused the operation.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A blocking store task panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A stored row could not be read back as an event.
    #[error("stored event {event_id} is unreadable: {reason}")]
    Corrupt {
        /// The row's event id.
        event_id: String,
        /// What was wrong with it.
        reason: String,
    },
    /// `STORE_URL` (or a path in it) is unusable.
    #[error("STORE_URL: {0}")]
    Config(String),
    /// Any other backend failure, with the backend's words.
    #[error("{0}")]
    Backend(String),
}

/// Writing events: all the processor needs.
pub trait EventWriter: Send + Sync + 'static {
    /// Stores every event whose id is not stored yet, atomically where the backend allows; the
    /// outcomes are in input order. A duplicate inside one batch is stored once.
    fn insert_batch(
        &self,
        events: &[UserEvent],
    ) -> impl Future<Output = Result<Vec<InsertOutcome>, StoreError>> + Send;
}

/// Reading events: the listing.
pub trait EventReader: Send + Sync + 'static {
    /// A page of events, newest first.
    fn list(&self, query: ListQuery) -> impl Future<Output = Result<Page, StoreError>> + Send;
}

/// Idempotency keys: what `POST /events/generate` records for `Idempotency-Key`.
pub trait KeyStore: Send + Sync + 'static {
    /// Claims an idempotency key for a request, following [`keys::decide`] with conditional
    /// writes, so that two requests racing for one key get one `Recorded` or `Resumed` between
    /// them.
    fn claim_key(
        &self,
        claim: &KeyRecord,
        times: KeyTimes,
    ) -> impl Future<Output = Result<KeyClaim, StoreError>> + Send;

    /// Marks the key's event as published, while the key still holds `lease` (its event, its
    /// lease unmoved): later claims answer `Completed`. A lease no longer held changes nothing.
    fn complete_key(
        &self,
        claim: &KeyRecord,
        lease: &Lease,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends `lease` now (its publish failed), while the key still holds it, so that a retry
    /// resumes at once.
    fn release_key(
        &self,
        claim: &KeyRecord,
        lease: &Lease,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Whether the store answers.
pub trait HealthCheck: Send + Sync + 'static {
    /// Proves the store answers.
    fn health(&self) -> impl Future<Output = Result<StoreHealth, StoreError>> + Send;
}

/// Erasing one user's events, as its owner may ask (GDPR art. 17).
pub trait Eraser: Send + Sync + 'static {
    /// Erases `user_id`'s events whose timestamp is at or before `through_ms`. Before it
    /// answers, the erasure is recorded, and every later write and read honours it: no such
    /// event is stored ([`InsertOutcome::Erased`]) or listed again, whether it was stored
    /// already, is still on its way, or is being stored at that moment. The user's idempotency
    /// keys are forgotten. The stored events are deleted, at most `max_deletes` of them in
    /// this call where the backend deletes in pages; calling again continues, and
    /// [`Erasure::complete`] says when none is left. Erasing again later moves the time on.
    fn erase(
        &self,
        user_id: &str,
        through_ms: i64,
        max_deletes: usize,
    ) -> impl Future<Output = Result<Erasure, StoreError>> + Send;
}

/// What one call of [`Eraser::erase`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erasure {
    /// Stored events deleted by this call.
    pub deleted: u64,
    /// No stored event of the erasure is left.
    pub complete: bool,
}

/// Every capability: what an adapter is, what [`open`] gives and what the contract suite
/// checks. A caller asks for the capabilities it uses (the processor an [`EventWriter`]).
pub trait EventStore: EventWriter + EventReader + KeyStore + HealthCheck + Eraser {}

impl<T: EventWriter + EventReader + KeyStore + HealthCheck + Eraser> EventStore for T {}

/// Any adapter chosen at start-up from `STORE_URL`.
pub enum Store {
    /// `sqlite://PATH`
    Sqlite(SqliteStore),
    /// `memory://` (tests and demos only: nothing survives a restart)
    Memory(MemoryStore),
    /// `dynamodb://TABLE[?endpoint=URL]`
    #[cfg(feature = "dynamodb")]
    Dynamo(DynamoStore),
}

/// Opens the store a `STORE_URL` names:
///
/// * `sqlite://PATH` — relative paths from the working directory (`sqlite://./data/events.db`),
///   absolute as `sqlite:///var/data/events.db`;
/// * `dynamodb://TABLE` — region and credentials from the environment; `?endpoint=URL` (or the
///   SDK's `AWS_ENDPOINT_URL_DYNAMODB`) for a local DynamoDB-API server; events expire after
///   `ttl_days` when it is non-zero;
/// * `memory://` — tests and demos.
pub async fn open(url: &str, ttl_days: u32) -> Result<Store, StoreError> {
    // Only DynamoDB expires events.
    #[cfg(not(feature = "dynamodb"))]
    let _ = ttl_days;
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(StoreError::Config(format!(
                "{url:?} has no path; use sqlite://./data/events.db"
            )));
        }
        return Ok(Store::Sqlite(SqliteStore::open(path)?));
    }
    if url == "memory://" {
        return Ok(Store::Memory(MemoryStore::default()));
    }
    #[cfg(feature = "dynamodb")]
    if let Some(rest) = url.strip_prefix("dynamodb://") {
        let (table, query) = rest.split_once('?').unwrap_or((rest, ""));
        if table.is_empty() {
            return Err(StoreError::Config(format!(
                "{url:?} has no table; use dynamodb://TABLE"
            )));
        }
        let endpoint = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("endpoint="))
            .filter(|e| !e.is_empty());
        let ttl =
            (ttl_days > 0).then(|| std::time::Duration::from_secs(u64::from(ttl_days) * 86_400));
        let store = DynamoStore::connect(table, endpoint).await?.with_ttl(ttl);
        return Ok(Store::Dynamo(store));
    }
    Err(StoreError::Config(format!(
        "{url:?} is not a supported store; use sqlite://PATH, dynamodb://TABLE or memory://"
    )))
}

/// `self`'s adapter, whichever it is, as `$s` in `$call`.
macro_rules! each {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            Store::Sqlite($s) => $call,
            Store::Memory($s) => $call,
            #[cfg(feature = "dynamodb")]
            Store::Dynamo($s) => $call,
        }
    };
}

impl EventWriter for Store {
    async fn insert_batch(&self, events: &[UserEvent]) -> Result<Vec<InsertOutcome>, StoreError> {
        each!(self, s => s.insert_batch(events).await)
    }
}

impl EventReader for Store {
    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        each!(self, s => s.list(query).await)
    }
}

impl KeyStore for Store {
    async fn claim_key(&self, claim: &KeyRecord, times: KeyTimes) -> Result<KeyClaim, StoreError> {
        each!(self, s => s.claim_key(claim, times).await)
    }

    async fn complete_key(&self, claim: &KeyRecord, lease: &Lease) -> Result<(), StoreError> {
        each!(self, s => s.complete_key(claim, lease).await)
    }

    async fn release_key(
        &self,
        claim: &KeyRecord,
        lease: &Lease,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        each!(self, s => s.release_key(claim, lease, now_ms).await)
    }
}

impl HealthCheck for Store {
    async fn health(&self) -> Result<StoreHealth, StoreError> {
        each!(self, s => s.health().await)
    }
}

impl Eraser for Store {
    async fn erase(
        &self,
        user_id: &str,
        through_ms: i64,
        max_deletes: usize,
    ) -> Result<Erasure, StoreError> {
        each!(self, s => s.erase(user_id, through_ms, max_deletes).await)
    }
}

/// True when `event` comes strictly after `cursor` in newest-first order, i.e. belongs on a
/// later page. Shared by adapters that filter in process.
pub(crate) fn after_cursor(event: &UserEvent, cursor: &Cursor) -> bool {
    let key = (
        event.timestamp.timestamp_millis(),
        event.event_id.to_string(),
    );
    key < (cursor.timestamp_ms(), cursor.event_id().to_string())
}

/// Whether `event` passes the query's filters.
pub(crate) fn matches(event: &UserEvent, query: &ListQuery) -> bool {
    query.user_id.as_ref().is_none_or(|u| &event.user_id == u)
        && query.event_type.is_none_or(|t| event.event_type == t)
}

/// Cuts a newest-first run of up to `limit + 1` events into a page: the extra event, when
/// present, only proves that a next page exists.
pub(crate) fn finish_page(mut events: Vec<UserEvent>, limit: usize) -> Page {
    let next = if events.len() > limit {
        events.truncate(limit);
        events.last().map(Cursor::after)
    } else {
        None
    };
    Page { events, next }
}

/// A page that ended early because its byte budget was spent: the next one continues after
/// its last event.
pub(crate) fn cut_page(events: Vec<UserEvent>) -> Page {
    let next = events.last().map(Cursor::after);
    Page { events, next }
}

/// Bytes an event counts for against [`ListQuery::max_bytes`]: about its size as JSON.
pub(crate) fn event_bytes(e: &UserEvent) -> usize {
    // eventId, eventType, timestamp and the JSON around them.
    const FIXED: usize = 120;
    FIXED + e.user_id.len() + e.payload.as_ref().map_or(0, |p| p.as_json().len())
}

/// Collects a newest-first run of events into a page for `query`, saying when to stop reading:
/// at `limit + 1` events, or once the events kept reach the byte budget.
pub(crate) struct PageBuilder {
    events: Vec<UserEvent>,
    limit: usize,
    left: Option<usize>,
}

impl PageBuilder {
    pub(crate) fn new(query: &ListQuery) -> Self {
        let limit = page_size(query.limit);
        Self {
            events: Vec::with_capacity((limit + 1).min(256)),
            limit,
            left: query.max_bytes,
        }
    }

    /// Adds the next event; `false` once the page needs no more.
    pub(crate) fn push(&mut self, event: UserEvent) -> bool {
        if let Some(left) = &mut self.left {
            *left = left.saturating_sub(event_bytes(&event));
        }
        self.events.push(event);
        self.events.len() <= self.limit && self.left != Some(0)
    }

    pub(crate) fn finish(self) -> Page {
        if self.left == Some(0) && self.events.len() <= self.limit {
            cut_page(self.events)
        } else {
            finish_page(self.events, self.limit)
        }
    }
}

/// The page size actually served.
pub(crate) fn page_size(limit: usize) -> usize {
    limit.clamp(1, MAX_PAGE_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_rejects_unknown_schemes_naming_the_choices() {
        let err = open("postgres://x", 0).await.err().expect("rejected");
        assert!(err.to_string().contains("sqlite://PATH"), "{err}");
        assert!(open("sqlite://", 0).await.is_err());
        assert!(open("dynamodb://", 0).await.is_err());
    }
}
