//! The line `make dev` shows every few seconds: what went through the pipeline since the last
//! one. Built from the function's answers ([`Counts`]: the processor's batch summary) and from
//! the failed invocations. Records in are counted by the loop itself.
//!
//! ```text
//! summary: 41.8 events/s in, 41.6 stored/s, 1 duplicates, 0 erased, 0 dead-lettered, 0 failed invocations, lag max 312 ms (p50 74 ms) over 5.0 s
//! ```

use crate::invoke::Counts;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a line is printed (only when something happened).
pub const EVERY: Duration = Duration::from_secs(5);

/// Totals since the last line.
#[derive(Debug)]
struct Window {
    since: Instant,
    records: u64,
    inserted: u64,
    duplicates: u64,
    erased: u64,
    dead_lettered: u64,
    failed: u64,
    lag_max_ms: u64,
    /// The largest batch median seen (a median of medians would need every value).
    lag_p50_ms: u64,
}

impl Window {
    fn new() -> Self {
        Self {
            since: Instant::now(),
            records: 0,
            inserted: 0,
            duplicates: 0,
            erased: 0,
            dead_lettered: 0,
            failed: 0,
            lag_max_ms: 0,
            lag_p50_ms: 0,
        }
    }
}

/// The running totals, shared by the loop and the deliverer.
#[derive(Debug)]
pub struct Summary {
    window: Mutex<Window>,
}

impl Default for Summary {
    fn default() -> Self {
        Self {
            window: Mutex::new(Window::new()),
        }
    }
}

impl Summary {
    /// A batch of `records` the function took, and what it said it did with them.
    pub fn delivered(&self, records: usize, r: &Counts) {
        let mut w = self.lock();
        w.records += u64::try_from(records).unwrap_or(u64::MAX);
        w.inserted += r.inserted;
        w.duplicates += r.duplicates;
        w.erased += r.erased;
        w.dead_lettered += r.dead_lettered;
        w.lag_max_ms = w.lag_max_ms.max(r.lag_max_ms);
        w.lag_p50_ms = w.lag_p50_ms.max(r.lag_p50_ms);
    }

    /// An invocation that failed (it is retried).
    pub fn failed(&self) {
        self.lock().failed += 1;
    }

    /// The line for the time since the last one, once [`EVERY`] has passed and something
    /// happened; the totals start again.
    pub fn due(&self) -> Option<String> {
        let mut w = self.lock();
        let elapsed = w.since.elapsed();
        if elapsed < EVERY {
            return None;
        }
        let line = (w.records > 0 || w.failed > 0).then(|| line(&w, elapsed));
        *w = Window::new();
        line
    }

    /// Prints the line on stdout when one is due (`make dev` shows these lines).
    pub fn print_if_due(&self) {
        if let Some(line) = self.due() {
            println!("{line}");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn line(w: &Window, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = |n: u64| n as f64 / secs;
    format!(
        "summary: {:.1} events/s in, {:.1} stored/s, {} duplicates, {} erased, {} dead-lettered, {} failed invocations, lag max {} ms (p50 {} ms) over {secs:.1} s",
        rate(w.records),
        rate(w.inserted),
        w.duplicates,
        w.erased,
        w.dead_lettered,
        w.failed,
        w.lag_max_ms,
        w.lag_p50_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_sums_the_window_and_says_nothing_when_idle() {
        let s = Summary::default();
        let counts = |inserted, duplicates, dead_lettered, lag_max_ms, lag_p50_ms| Counts {
            inserted,
            duplicates,
            erased: 0,
            dead_lettered,
            lag_max_ms,
            lag_p50_ms,
        };
        s.delivered(10, &counts(8, 1, 1, 300, 40));
        s.delivered(5, &counts(5, 0, 0, 100, 50));
        s.failed();
        assert_eq!(s.due(), None, "not yet due");
        s.lock().since -= EVERY;
        let line = s.due().expect("due");
        assert!(line.starts_with("summary: 3.0 events/s in, 2.6 stored/s, 1 duplicates, 0 erased, 1 dead-lettered, 1 failed invocations, lag max 300 ms (p50 50 ms)"), "{line}");
        s.lock().since -= EVERY;
        assert_eq!(s.due(), None, "nothing happened");
    }
}
