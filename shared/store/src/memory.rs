//! In-process adapter for unit tests of code that needs a store. Never used to prove a feature:
//! the contract suite also runs against the real adapters.

use crate::keys::{decide, Decision, KeyClaim, KeyRecord, KeyTimes, Lease, StoredKey};
use crate::{
    after_cursor, matches, Eraser, Erasure, EventReader, EventWriter, HealthCheck, InsertOutcome,
    KeyStore, ListQuery, Page, PageBuilder, StoreError, StoreHealth,
};
use event_schema::UserEvent;
use std::collections::{BTreeMap, HashMap, HashSet};
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
    keys: HashMap<(String, String, String), StoredKey>,
    /// Each erased user's time: its events up to it are never stored.
    erased: HashMap<String, i64>,
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

impl EventWriter for MemoryStore {
    async fn insert_batch(&self, events: &[UserEvent]) -> Result<Vec<InsertOutcome>, StoreError> {
        let mut inner = self.lock();
        Ok(events
            .iter()
            .map(|e| {
                let ts = e.timestamp.timestamp_millis();
                if inner.erased.get(&e.user_id).is_some_and(|t| ts <= *t) {
                    InsertOutcome::Erased
                } else if inner.ids.insert(e.event_id) {
                    let key = (e.timestamp.timestamp_millis(), e.event_id.to_string());
                    inner.by_time.insert(key, e.clone());
                    InsertOutcome::Inserted
                } else {
                    InsertOutcome::Duplicate
                }
            })
            .collect())
    }
}

impl EventReader for MemoryStore {
    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        let inner = self.lock();
        let mut page = PageBuilder::new(&query);
        let matching = inner
            .by_time
            .values()
            .rev()
            .filter(|e| query.cursor.as_ref().is_none_or(|c| after_cursor(e, c)))
            .filter(|e| matches(e, &query));
        for event in matching {
            if !page.push(event.clone()) {
                break;
            }
        }
        Ok(page.finish())
    }
}

impl KeyStore for MemoryStore {
    async fn claim_key(&self, claim: &KeyRecord, times: KeyTimes) -> Result<KeyClaim, StoreError> {
        let mut inner = self.lock();
        let id = (
            claim.caller.clone(),
            claim.user_id.clone(),
            claim.key.clone(),
        );
        Ok(match decide(inner.keys.get(&id), claim, times) {
            Decision::Record => {
                let new = StoredKey::new(claim, times);
                let lease = new.lease();
                inner.keys.insert(id, new);
                KeyClaim::Recorded(lease)
            }
            Decision::Answer(answer) => answer,
            Decision::TakeLease { lease, .. } => {
                if let Some(stored) = inner.keys.get_mut(&id) {
                    stored.lease_until_ms = lease.until_ms;
                }
                KeyClaim::Resumed(lease)
            }
        })
    }

    async fn complete_key(&self, claim: &KeyRecord, lease: &Lease) -> Result<(), StoreError> {
        let id = (
            claim.caller.clone(),
            claim.user_id.clone(),
            claim.key.clone(),
        );
        if let Some(stored) = self
            .lock()
            .keys
            .get_mut(&id)
            .filter(|s| s.is_held_by(lease))
        {
            stored.completed = true;
        }
        Ok(())
    }

    async fn release_key(
        &self,
        claim: &KeyRecord,
        lease: &Lease,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let id = (
            claim.caller.clone(),
            claim.user_id.clone(),
            claim.key.clone(),
        );
        let held = |s: &&mut StoredKey| !s.completed && s.is_held_by(lease);
        if let Some(stored) = self.lock().keys.get_mut(&id).filter(held) {
            stored.lease_until_ms = now_ms;
        }
        Ok(())
    }
}

impl HealthCheck for MemoryStore {
    async fn health(&self) -> Result<StoreHealth, StoreError> {
        Ok(StoreHealth {
            backend: "memory",
            target: "process memory".to_owned(),
        })
    }
}

impl Eraser for MemoryStore {
    async fn erase(
        &self,
        user_id: &str,
        through_ms: i64,
        _max_deletes: usize,
    ) -> Result<Erasure, StoreError> {
        let mut inner = self.lock();
        let mark = inner.erased.entry(user_id.to_owned()).or_insert(through_ms);
        *mark = (*mark).max(through_ms);
        let gone: Vec<(i64, String)> = inner
            .by_time
            .iter()
            .filter(|((ts, _), e)| e.user_id == user_id && *ts <= through_ms)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &gone {
            if let Some(e) = inner.by_time.remove(key) {
                inner.ids.remove(&e.event_id);
            }
        }
        inner.keys.retain(|(_, user, _), _| user != user_id);
        Ok(Erasure {
            deleted: u64::try_from(gone.len()).unwrap_or(u64::MAX),
            complete: true,
        })
    }
}
