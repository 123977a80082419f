//! Whether the loop is turning and its batches going through, for a health check: the loop marks
//! each turn (an idle poll, a batch, an attempt), the deliverer each attempt's outcome. A process
//! that stopped turning, or whose batches have kept failing for a while, is not healthy; a
//! restart would not lose anything (nothing uncommitted was acknowledged) but says so to whoever
//! watches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a health check reads. Times are milliseconds since the value was made; 0 is never.
#[derive(Debug)]
pub struct Progress {
    start: Instant,
    turned: AtomicU64,
    failing_since: AtomicU64,
    delivered: AtomicU64,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            turned: AtomicU64::new(1),
            failing_since: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        }
    }
}

/// The health check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Turning, and the last attempt succeeded (or failures are recent).
    Ok,
    /// Not healthy, and why.
    Failing(String),
}

impl Progress {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// The loop turned (polled, formed a batch, made an attempt).
    pub fn turned(&self) {
        self.turned.store(self.now(), Ordering::Relaxed);
    }

    /// An attempt succeeded with `records` records done.
    pub fn succeeded(&self, records: usize) {
        self.turned();
        self.failing_since.store(0, Ordering::Relaxed);
        self.delivered.fetch_add(
            u64::try_from(records).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// An attempt failed; the batch will be tried again or skipped.
    pub fn failed(&self) {
        self.turned();
        let now = self.now();
        let _ = self
            .failing_since
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Records the function finished (or were skipped to the on-failure topic) since start.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Failing when the loop has not turned for `stale`, or every attempt for `stale` failed.
    pub fn health(&self, stale: Duration) -> Health {
        let now = self.now();
        let stale_ms = u64::try_from(stale.as_millis()).unwrap_or(u64::MAX);
        let idle = now.saturating_sub(self.turned.load(Ordering::Relaxed));
        if idle > stale_ms {
            return Health::Failing(format!("the consume loop has not turned for {idle} ms"));
        }
        let since = self.failing_since.load(Ordering::Relaxed);
        if since != 0 && now.saturating_sub(since) > stale_ms {
            return Health::Failing(format!(
                "every delivery attempt has failed for {} ms",
                now.saturating_sub(since)
            ));
        }
        Health::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_only_once_they_last_and_a_success_clears_them() {
        let p = Progress::default();
        assert_eq!(p.health(Duration::from_millis(50)), Health::Ok);
        p.failed();
        assert_eq!(p.health(Duration::from_millis(50)), Health::Ok, "recent");
        std::thread::sleep(Duration::from_millis(80));
        p.failed();
        assert!(
            matches!(p.health(Duration::from_millis(50)), Health::Failing(why) if why.contains("failed"))
        );
        p.succeeded(3);
        assert_eq!(p.health(Duration::from_millis(50)), Health::Ok);
        assert_eq!(p.delivered(), 3);
        std::thread::sleep(Duration::from_millis(80));
        assert!(
            matches!(p.health(Duration::from_millis(50)), Health::Failing(why) if why.contains("turned"))
        );
    }
}
