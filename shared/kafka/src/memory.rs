//! A publisher for handler unit tests: records what it was given and can be told to fail.

use crate::{DeadLetter, DeadLetterSink, Delivered, Error, EventPublisher, KafkaHealth};
use event_schema::UserEvent;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The events a [`MemoryPublisher`] fails, as a broker would time out on them.
pub type FailRule = Box<dyn Fn(&UserEvent) -> bool + Send + Sync>;

/// Keeps published events in memory. `set_down(true)` makes every call time out;
/// `fail_when` only the calls for some events.
#[derive(Default)]
pub struct MemoryPublisher {
    /// Each published event with its `traceparent`.
    published: Mutex<Vec<(UserEvent, Option<String>)>>,
    down: AtomicBool,
    failing: Mutex<Option<FailRule>>,
}

impl MemoryPublisher {
    /// Everything published so far.
    pub fn published(&self) -> Vec<UserEvent> {
        self.lock().iter().map(|(e, _)| e.clone()).collect()
    }

    /// The `traceparent` of each published event, in order.
    pub fn traces(&self) -> Vec<Option<String>> {
        self.lock().iter().map(|(_, t)| t.clone()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(UserEvent, Option<String>)>> {
        self.published.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Simulates a broker outage.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Times out on every event `rule` picks (`None`: on none).
    pub fn fail_when(&self, rule: Option<FailRule>) {
        *self.failing.lock().unwrap_or_else(|p| p.into_inner()) = rule;
    }

    fn fails(&self, event: &UserEvent) -> bool {
        self.down.load(Ordering::SeqCst)
            || self
                .failing
                .lock()
                .map(|rule| rule.as_ref().is_some_and(|fails| fails(event)))
                .unwrap_or(false)
    }
}

impl EventPublisher for MemoryPublisher {
    async fn publish(
        &self,
        event: &UserEvent,
        traceparent: Option<&str>,
    ) -> Result<Delivered, Error> {
        if self.fails(event) {
            return Err(Error::Timeout(Duration::from_millis(1)));
        }
        let value = serde_json::to_vec(event)?;
        let mut published = self.lock();
        published.push((event.clone(), traceparent.map(str::to_owned)));
        Ok(Delivered {
            partition: 0,
            offset: i64::try_from(published.len()).unwrap_or(i64::MAX) - 1,
            value,
        })
    }

    async fn health(&self) -> Result<KafkaHealth, Error> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::Timeout(Duration::from_millis(1)));
        }
        Ok(KafkaHealth {
            brokers: 1,
            topic: "memory".to_owned(),
            partitions: 1,
        })
    }
}

/// Keeps dead letters in memory. `set_down(true)` makes every call fail.
#[derive(Default)]
pub struct MemoryDeadLetters {
    letters: Mutex<Vec<DeadLetter>>,
    down: AtomicBool,
}

impl MemoryDeadLetters {
    /// Everything sent so far.
    pub fn letters(&self) -> Vec<DeadLetter> {
        self.letters.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Simulates a broker outage.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

impl DeadLetterSink for MemoryDeadLetters {
    async fn send_all(&self, letters: &[DeadLetter]) -> Result<(), Error> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::Timeout(Duration::from_millis(1)));
        }
        self.letters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(letters);
        Ok(())
    }
}
