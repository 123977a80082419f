//! What every figure shares: the row format, CPU time, latency percentiles.

use std::future::Future;
use std::time::{Duration, Instant};

/// Prints one row: figure, value, unit, baseline, baseline value, value / baseline.
pub fn row(figure: &str, value: f64, unit: &str, baseline: &str, base_value: f64) {
    let ratio = if base_value > 0.0 {
        value / base_value
    } else {
        0.0
    };
    let digits = if value.abs() < 100.0 { 1 } else { 0 };
    let base_digits = if base_value.abs() < 100.0 { 1 } else { 0 };
    println!(
        "{figure}\t{value:.digits$}\t{unit}\t{baseline}\t{base_value:.base_digits$}\t{ratio:.2}"
    );
}

/// The process's user + system CPU time.
pub fn cpu_time() -> Duration {
    let read = |f: &str| -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string(f).ok()?;
        let after = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        Some((fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?))
    };
    // utime + stime in clock ticks (100 Hz on Linux).
    let (u, s) = read("/proc/self/stat").unwrap_or((0, 0));
    Duration::from_millis((u + s) * 10)
}

/// Wall and CPU time of one run.
pub struct Measured {
    pub wall: Duration,
    pub cpu: Duration,
}

pub async fn measure<F, Fut>(f: F) -> Measured
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let (c0, t0) = (cpu_time(), Instant::now());
    f().await;
    Measured {
        wall: t0.elapsed(),
        cpu: cpu_time().saturating_sub(c0),
    }
}

/// Latencies of one run, sorted.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut all: Vec<Duration>) -> Self {
        all.sort_unstable();
        Self(all)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`-th percentile (nearest rank) in milliseconds; 0 when nothing was measured.
    pub fn ms(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1].as_secs_f64() * 1e3
    }
}

/// A sample's median.
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(l.ms(50.0), 50.0);
        assert_eq!(l.ms(99.0), 99.0);
        assert_eq!(l.ms(100.0), 100.0);
        assert_eq!(Latencies::new(vec![]).ms(50.0), 0.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    }
}
