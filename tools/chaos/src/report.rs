//! Turns the recorded requests and the stored events into the table and the verdict.

use crate::load::{Outcome, Request};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// One fault's row.
#[derive(Debug, Default, Clone)]
pub struct Row {
    /// The fault.
    pub fault: String,
    /// Requests sent while it was the current phase.
    pub requests: usize,
    /// Answered 201.
    pub created: usize,
    /// Answered 503.
    pub unavailable: usize,
    /// Any other status, or no answer.
    pub other: usize,
    /// 201s whose event is not stored.
    pub lost: usize,
    /// Markers stored more than once.
    pub duplicated: usize,
    /// 503s whose event was stored anyway.
    pub stored_after_503: usize,
    /// From the fault's end to the first 201 sent after it.
    pub first_201: Option<Duration>,
    /// From the fault's end until every event accepted before it was stored.
    pub drained: Option<Duration>,
    /// Longest 503 answer.
    pub slowest_503: Duration,
    /// Rules the phase broke.
    pub violations: Vec<String>,
}

/// When a fault ended, and what was checked while it lasted.
#[derive(Debug, Clone)]
pub struct Phase {
    /// The fault's name.
    pub fault: String,
    /// When it ended (the broker restarted, the lock was released, the process restarted).
    pub ended: Instant,
    /// When every event accepted before `ended` was in the store.
    pub drained_at: Option<Instant>,
    /// Problems seen by the fault's own probes (e.g. a listing answered 500).
    pub probe_violations: Vec<String>,
}

/// Builds the rows. `stored` counts stored events per marker; `slowest_allowed` bounds a 503.
pub fn rows(
    phases: &[Phase],
    requests: &[Request],
    stored: &HashMap<(usize, u64), usize>,
    slowest_allowed: Duration,
) -> Vec<Row> {
    let mut rows: Vec<Row> = phases
        .iter()
        .map(|p| Row {
            fault: p.fault.clone(),
            violations: p.probe_violations.clone(),
            drained: p.drained_at.map(|t| t.saturating_duration_since(p.ended)),
            ..Row::default()
        })
        .collect();
    for r in requests {
        let Some(row) = rows.get_mut(r.phase) else {
            continue;
        };
        row.requests += 1;
        let copies = stored.get(&r.marker).copied().unwrap_or(0);
        if copies > 1 {
            row.duplicated += 1;
        }
        match &r.outcome {
            Outcome::Status {
                code: 201,
                event_id,
                ..
            } => {
                row.created += 1;
                if copies == 0 {
                    row.lost += 1;
                    row.violations.push(format!(
                        "201 for {:?} ({}) but not stored",
                        r.marker,
                        event_id.as_deref().unwrap_or("?")
                    ));
                }
                let ended = phases[r.phase].ended;
                if r.sent >= ended {
                    let at = (r.sent + r.latency).saturating_duration_since(ended);
                    row.first_201 = Some(row.first_201.map_or(at, |f| f.min(at)));
                }
            }
            Outcome::Status {
                code: 503,
                retry_after,
                ..
            } => {
                row.unavailable += 1;
                row.slowest_503 = row.slowest_503.max(r.latency);
                if copies > 0 {
                    row.stored_after_503 += 1;
                }
                if !retry_after {
                    row.violations.push("a 503 without Retry-After".into());
                }
                if r.latency > slowest_allowed {
                    row.violations.push(format!(
                        "a 503 after {:?}, over {slowest_allowed:?}",
                        r.latency
                    ));
                }
            }
            Outcome::Status { code, .. } => {
                row.other += 1;
                row.violations.push(format!("status {code}"));
            }
            Outcome::Transport(e) => {
                row.other += 1;
                row.violations.push(format!("no answer: {e}"));
            }
        }
    }
    for row in &mut rows {
        if row.duplicated > 0 {
            row.violations
                .push(format!("{} events stored twice", row.duplicated));
        }
        if row.first_201.is_none() {
            row.violations.push("no 201 after the fault ended".into());
        }
        if row.drained.is_none() {
            row.violations
                .push("the pipeline did not catch up after the fault".into());
        }
        row.violations.sort();
        row.violations.dedup();
    }
    rows
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("–".into(), |d| format!("{:.1}", d.as_secs_f64()))
}

/// The table, as Markdown.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| fault | requests | 201 | 503 | other | lost | duplicated | 503 but stored | first 201 after (s) | drained after (s) | slowest 503 (s) |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            r.fault,
            r.requests,
            r.created,
            r.unavailable,
            r.other,
            r.lost,
            r.duplicated,
            r.stored_after_503,
            secs(r.first_201),
            secs(r.drained),
            r.slowest_503.as_secs_f64(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(phase: usize, n: u64, code: u16, at: Instant) -> Request {
        Request {
            phase,
            marker: (0, n),
            sent: at,
            latency: Duration::from_millis(10),
            outcome: Outcome::Status {
                code,
                retry_after: code == 503,
                event_id: (code == 201).then(|| format!("id-{n}")),
            },
        }
    }

    #[test]
    fn a_201_that_was_not_stored_is_lost_and_a_marker_stored_twice_is_a_duplicate() {
        let t = Instant::now();
        let phases = [Phase {
            fault: "broker".into(),
            ended: t,
            drained_at: Some(t + Duration::from_secs(2)),
            probe_violations: vec![],
        }];
        let requests = [
            request(0, 0, 201, t - Duration::from_secs(1)),
            request(0, 1, 201, t + Duration::from_secs(1)),
            request(0, 2, 503, t),
            request(0, 3, 201, t + Duration::from_secs(2)),
        ];
        let stored = HashMap::from([((0, 0), 1), ((0, 2), 1), ((0, 3), 2)]);
        let rows = rows(&phases, &requests, &stored, Duration::from_secs(5));
        let r = &rows[0];
        assert_eq!(
            (r.requests, r.created, r.unavailable, r.other),
            (4, 3, 1, 0)
        );
        assert_eq!((r.lost, r.duplicated, r.stored_after_503), (1, 1, 1));
        assert_eq!(r.first_201, Some(Duration::from_millis(1010)));
        assert_eq!(r.violations.len(), 2, "{:?}", r.violations);
        assert!(table(&rows).contains("| broker | 4 | 3 | 1 | 0 | 1 | 1 | 1 | 1.0 | 2.0 |"));
    }
}

/// What the keyed clients saw: each event (marker) sent until a 201, however many attempts.
#[derive(Debug, Default)]
pub struct Keyed {
    /// Events that got their 201.
    pub created: usize,
    /// Requests sent in all.
    pub attempts: usize,
    /// Events that needed more than one attempt.
    pub retried: usize,
    /// Answers that asked for a retry, by fault: (503s, 409s).
    pub retry_answers: Vec<(usize, usize)>,
    /// Events created but not stored.
    pub lost: usize,
    /// Events stored more than once.
    pub duplicated: usize,
    /// Broken rules.
    pub violations: Vec<String>,
}

impl Keyed {
    /// One line for the report.
    pub fn line(&self) -> String {
        let by_fault: Vec<String> = self
            .retry_answers
            .iter()
            .enumerate()
            .map(|(i, (u, c))| format!("fault {}: {u} × 503, {c} × 409", i + 1))
            .collect();
        format!(
            "chaos: keyed clients: {} events created in {} requests, {} of them sent more than once ({}); lost {}, duplicated {}",
            self.created,
            self.attempts,
            self.retried,
            by_fault.join(", "),
            self.lost,
            self.duplicated
        )
    }
}

/// Checks the keyed clients' requests against the stored events: every event that got a 201 is
/// stored exactly once, and none is stored twice, whatever it took to get there.
pub fn keyed(requests: &[Request], stored: &HashMap<(usize, u64), usize>) -> Keyed {
    let mut events: HashMap<(usize, u64), (usize, bool)> = HashMap::new();
    let mut k = Keyed {
        attempts: requests.len(),
        ..Keyed::default()
    };
    for r in requests {
        let e = events.entry(r.marker).or_default();
        e.0 += 1;
        e.1 |= matches!(r.outcome, Outcome::Status { code: 201, .. });
        if k.retry_answers.len() <= r.phase {
            k.retry_answers.resize(r.phase + 1, (0, 0));
        }
        match r.outcome {
            Outcome::Status { code: 503, .. } => k.retry_answers[r.phase].0 += 1,
            Outcome::Status { code: 409, .. } => k.retry_answers[r.phase].1 += 1,
            _ => {}
        }
    }
    for (marker, (attempts, created)) in events {
        let copies = stored.get(&marker).copied().unwrap_or(0);
        if attempts > 1 {
            k.retried += 1;
        }
        if copies > 1 {
            k.duplicated += 1;
            k.violations.push(format!(
                "{marker:?} stored {copies} times after {attempts} requests"
            ));
        }
        if created {
            k.created += 1;
            if copies == 0 {
                k.lost += 1;
                k.violations
                    .push(format!("{marker:?} answered 201 but not stored"));
            }
        }
    }
    k
}
