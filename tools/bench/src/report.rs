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

/// The process's user + system CPU time, from the kernel's per-process CPU clock (nanoseconds,
/// not the 10 ms ticks of `/proc/self/stat`).
pub fn cpu_time() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// Another process's user + system CPU time so far, threads that ended included; `None` once
/// it is gone.
pub fn process_cpu_time(pid: u32) -> Option<Duration> {
    let mut id: libc::clockid_t = 0;
    // SAFETY: `id` is a valid place for the clock id; the call only writes it.
    let found = unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut id) };
    (found == 0).then(|| clock(id))
}

fn clock(id: libc::clockid_t) -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec the call writes; a failure leaves it at zero.
    unsafe { libc::clock_gettime(id, &mut t) };
    Duration::new(
        t.tv_sec.max(0) as u64,
        t.tv_nsec.clamp(0, 999_999_999) as u32,
    )
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

    #[test]
    fn cpu_clocks_have_sub_tick_resolution() {
        let t0 = cpu_time();
        let mut x = 0u64;
        while cpu_time() - t0 < Duration::from_micros(200) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let spent = cpu_time() - t0;
        // Ticks would jump from 0 to 10 ms; the clock stops just past 200 µs.
        assert!(spent < Duration::from_millis(5), "{spent:?}");
        let me = process_cpu_time(std::process::id()).expect("own clock");
        assert!(me >= spent);
    }
}
