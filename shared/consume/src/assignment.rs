//! A workaround for the local broker (tansu 0.6): a member that joins its consumer group while a
//! crashed member's session is still open sometimes gets an empty or partial assignment, and the
//! broker never corrects it. The loop watches its assignment and, once it has been short for
//! `ASSIGNMENT_TIMEOUT_MS`, leaves the group and joins again (`ASSIGNMENT_CHECK`
//! says what counts as short; `off` on a broker without the defect).

use crate::config::{AssignmentCheck, Config};
use rdkafka::consumer::{Consumer, ConsumerContext};
use std::time::{Duration, Instant};
use tracing::warn;

/// Partition count of the consumed topic (0 when unknown: then only an empty assignment counts).
pub(crate) fn topic_partitions<C: ConsumerContext>(
    consumer: &impl Consumer<C>,
    config: &Config,
) -> usize {
    consumer
        .fetch_metadata(Some(&config.kafka.topic), Duration::from_secs(5))
        .map(|m| {
            m.topics()
                .iter()
                .filter(|t| t.name() == config.kafka.topic)
                .map(|t| t.partitions().len())
                .sum()
        })
        .unwrap_or(0)
}

/// Watches the consumer's assignment. The local broker sometimes gives a member that joins
/// while a crashed member's session is still open an empty or partial assignment, and never
/// corrects it; leaving and joining again does. Checked at most once a second.
pub(crate) struct AssignmentWatch {
    partitions: usize,
    short_since: Option<Instant>,
    last_check: Instant,
}

impl AssignmentWatch {
    pub(crate) fn new(partitions: usize) -> Self {
        Self {
            partitions,
            short_since: None,
            last_check: Instant::now(),
        }
    }

    /// True when the assignment has been short of what it should be for longer than the
    /// assignment timeout: the consumer should leave the group and join again.
    pub(crate) fn stuck<C: ConsumerContext>(
        &mut self,
        consumer: &impl Consumer<C>,
        config: &Config,
    ) -> bool {
        if config.assignment_timeout.is_zero() || config.assignment_check == AssignmentCheck::Off {
            return false;
        }
        if self.last_check.elapsed() < Duration::from_secs(1) && self.short_since.is_some() {
            return self.overdue(config);
        }
        self.last_check = Instant::now();
        let assigned = consumer.assignment().map(|a| a.count()).unwrap_or(0);
        let expected = match config.assignment_check {
            AssignmentCheck::All => self.partitions.max(1),
            _ => 1,
        };
        if assigned >= expected {
            self.short_since = None;
            return false;
        }
        self.short_since.get_or_insert_with(Instant::now);
        self.overdue(config)
    }

    fn overdue(&self, config: &Config) -> bool {
        let Some(since) = self.short_since else {
            return false;
        };
        if since.elapsed() < config.assignment_timeout {
            return false;
        }
        warn!(
            waited_ms = since.elapsed().as_millis() as u64,
            partitions = self.partitions,
            "assignment incomplete; leaving and rejoining the consumer group"
        );
        true
    }
}
