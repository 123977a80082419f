//! In-process adapter for unit tests of code that needs a store. Never used to prove a feature:
//! the contract suite also runs against the real adapters.

use crate::{
    after_cursor, finish_page, matches, page_size, EventStore, InsertOutcome, ListQuery, Page,
    StoreError, StoreHealth,
};
use event_schema::UserEvent;
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use uuid::Uuid;

/// Events in a map, newest-first order by (timestamp, id). Nothing survives the process.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    ids: HashSet<Uuid>,
    by_time: BTreeMap<(i64, String), UserEvent>,
}

impl MemoryStore {
    /// Number of stored events.
    pub fn len(&self) -> usize {
        self.lock().ids.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl EventStore for MemoryStore {
    async fn insert_batch(&self, events: &[UserEvent]) -> Result<Vec<InsertOutcome>, StoreError> {
        let mut inner = self.lock();
        Ok(events
            .iter()
            .map(|e| {
                if inner.ids.insert(e.event_id) {
                    let key = (e.timestamp.timestamp_millis(), e.event_id.to_string());
                    inner.by_time.insert(key, e.clone());
                    InsertOutcome::Inserted
                } else {
                    InsertOutcome::Duplicate
                }
            })
            .collect())
    }

    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        let limit = page_size(query.limit);
        let inner = self.lock();
        let events: Vec<UserEvent> = inner
            .by_time
            .values()
            .rev()
            .filter(|e| query.cursor.as_ref().is_none_or(|c| after_cursor(e, c)))
            .filter(|e| matches(e, &query))
            .take(limit + 1)
            .cloned()
            .collect();
        Ok(finish_page(events, limit))
    }

    async fn health(&self) -> Result<StoreHealth, StoreError> {
        Ok(StoreHealth {
            backend: "memory",
            target: "process memory".to_owned(),
        })
    }
}
