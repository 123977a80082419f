//! [`Faulty`]: any store, failing on cue. The one decorator tests, benches and checks wrap a
//! store in when they need it to fail (a throttled partition, a store that is down), so that no
//! test writes a store of its own.

use crate::{
    Eraser, Erasure, EventReader, EventWriter, HealthCheck, InsertOutcome, KeyClaim, KeyRecord,
    KeyStore, KeyTimes, Lease, ListQuery, Page, StoreError, StoreHealth,
};
use event_schema::UserEvent;
use std::sync::atomic::{AtomicBool, Ordering};

/// Looks at each batch offered to [`EventWriter::insert_batch`] and says whether it fails.
type InsertFault = Box<dyn Fn(&[UserEvent]) -> Option<StoreError> + Send + Sync>;

/// `inner`, failing where told to.
pub struct Faulty<S> {
    inner: S,
    insert: InsertFault,
    down: AtomicBool,
}

impl<S> Faulty<S> {
    /// `inner` as it is, until [`Faulty::set_down`].
    pub fn new(inner: S) -> Self {
        Self::failing_inserts(inner, |_| None)
    }

    /// `inner`, whose inserts fail whenever `fault` answers an error for the batch offered
    /// (it sees every batch, so it may also count them).
    pub fn failing_inserts(
        inner: S,
        fault: impl Fn(&[UserEvent]) -> Option<StoreError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            insert: Box::new(fault),
            down: AtomicBool::new(false),
        }
    }

    /// While `down`, every operation fails.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The store behind it.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("the store is down".to_owned()));
        }
        Ok(())
    }
}

impl<S: EventWriter> EventWriter for Faulty<S> {
    async fn insert_batch(&self, events: &[UserEvent]) -> Result<Vec<InsertOutcome>, StoreError> {
        self.check()?;
        if let Some(e) = (self.insert)(events) {
            return Err(e);
        }
        self.inner.insert_batch(events).await
    }
}

impl<S: EventReader> EventReader for Faulty<S> {
    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        self.check()?;
        self.inner.list(query).await
    }
}

impl<S: KeyStore> KeyStore for Faulty<S> {
    async fn claim_key(&self, claim: &KeyRecord, times: KeyTimes) -> Result<KeyClaim, StoreError> {
        self.check()?;
        self.inner.claim_key(claim, times).await
    }

    async fn complete_key(&self, claim: &KeyRecord, lease: &Lease) -> Result<(), StoreError> {
        self.check()?;
        self.inner.complete_key(claim, lease).await
    }

    async fn release_key(
        &self,
        claim: &KeyRecord,
        lease: &Lease,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.release_key(claim, lease, now_ms).await
    }
}

impl<S: HealthCheck> HealthCheck for Faulty<S> {
    async fn health(&self) -> Result<StoreHealth, StoreError> {
        self.check()?;
        self.inner.health().await
    }
}

impl<S: Eraser> Eraser for Faulty<S> {
    async fn erase(
        &self,
        user_id: &str,
        through_ms: i64,
        max_deletes: usize,
    ) -> Result<Erasure, StoreError> {
        self.check()?;
        self.inner.erase(user_id, through_ms, max_deletes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    #[tokio::test]
    async fn it_fails_where_told_and_passes_everything_else_through() {
        let store = Faulty::failing_inserts(MemoryStore::default(), |events| {
            events
                .iter()
                .any(|e| e.user_id == "refused")
                .then(|| StoreError::Backend("throttled".into()))
        });
        let event = |user: &str| {
            let body = format!(r#"{{"userId":"{user}","eventType":"LOGIN"}}"#);
            event_schema::validate_request(body.as_bytes())
                .expect("valid")
                .into_event()
        };
        assert!(store.insert_batch(&[event("refused")]).await.is_err());
        assert!(store.insert_batch(&[event("ok")]).await.is_ok());
        assert_eq!(store.inner().len(), 1);
        store.set_down(true);
        assert!(store.health().await.is_err());
        assert!(store.list(ListQuery::default()).await.is_err());
        store.set_down(false);
        assert!(store.health().await.is_ok());
    }
}
