//! A publisher for handler unit tests: records what it was given and can be told to fail.

use crate::{DeadLetter, DeadLetterSink, Delivered, Error, EventPublisher, KafkaHealth};
use event_schema::UserEvent;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Keeps published events in memory. `set_down(true)` makes every call time out.
#[derive(Default)]
pub struct MemoryPublisher {
    events: Mutex<Vec<UserEvent>>,
    traces: Mutex<Vec<Option<String>>>,
    down: AtomicBool,
}

impl MemoryPublisher {
    /// Everything published so far.
    pub fn published(&self) -> Vec<UserEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The `traceparent` of each published event, in order.
    pub fn traces(&self) -> Vec<Option<String>> {
        self.traces.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Simulates a broker outage.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

impl EventPublisher for MemoryPublisher {
    async fn publish(
        &self,
        event: &UserEvent,
        traceparent: Option<&str>,
    ) -> Result<Delivered, Error> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::Timeout(Duration::from_millis(1)));
        }
        let value = serde_json::to_vec(event)?;
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        events.push(event.clone());
        if let Ok(mut traces) = self.traces.lock() {
            traces.push(traceparent.map(str::to_owned));
        }
        Ok(Delivered {
            partition: 0,
            offset: i64::try_from(events.len()).unwrap_or(i64::MAX) - 1,
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
