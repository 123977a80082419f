//! Metrics as CloudWatch Embedded Metric Format (EMF): one JSON document per invocation, written
//! to stdout as one line before the invocation answers. On Lambda, CloudWatch Logs turns each
//! document into metrics; locally the lines sit in the function's log, where tests read them.
//!
//! Specification: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.
//! Every metric is recorded under the dimension [`SERVICE`] (the program: `events-api`,
//! `events-processor`), and, when a call names one more dimension (`EventType`, `ErrorCode`,
//! `Reason`), under that pair as well, so that dashboards can sum over the service or split by
//! the one dimension. The first document of a process carries `ColdStart = 1`.
//!
//! Settings: `METRICS_NAMESPACE` (default [`DEFAULT_NAMESPACE`]) and `METRICS` (`on`, or `off`
//! for no documents at all).

use crate::env::{self, Source};
use crate::ConfigError;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The namespace unless `METRICS_NAMESPACE` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "UserActivityPipeline";
/// The dimension every metric is recorded under: the program's name.
pub const SERVICE: &str = "Service";
/// The metric the first document of a process carries.
pub const COLD_START: &str = "ColdStart";
/// Longest namespace CloudWatch accepts.
const MAX_NAMESPACE: usize = 255;
/// Longest dimension value CloudWatch accepts.
const MAX_DIMENSION_VALUE: usize = 1024;

/// Where metrics go, read once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `METRICS_NAMESPACE`: the CloudWatch namespace.
    pub namespace: String,
    /// `METRICS`: whether documents are written at all.
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            enabled: true,
        }
    }
}

impl MetricsConfig {
    /// Reads `METRICS_NAMESPACE` and `METRICS`.
    pub fn from_source(src: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        let namespace = env::string(src, "METRICS_NAMESPACE", DEFAULT_NAMESPACE);
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
        if namespace.len() > MAX_NAMESPACE
            || !namespace.chars().all(allowed)
            || namespace.starts_with("AWS/")
        {
            return Err(ConfigError::new(
                "METRICS_NAMESPACE",
                format!(
                    "{namespace:?} is not a CloudWatch namespace: use at most {MAX_NAMESPACE} \
                     letters, digits and . - _ / # : or space, not starting with AWS/"
                ),
            ));
        }
        let enabled = match env::string(src, "METRICS", "on")
            .to_ascii_lowercase()
            .as_str()
        {
            "on" => true,
            "off" => false,
            other => {
                return Err(ConfigError::new(
                    "METRICS",
                    format!("{other:?}: use on or off"),
                ))
            }
        };
        Ok(Self { namespace, enabled })
    }
}

/// The unit of a metric (a subset of CloudWatch's units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of things.
    Count,
    /// A duration.
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// A program's metrics: hands out one [`Document`] per invocation. Built once per cold start.
#[derive(Debug)]
pub struct Metrics {
    config: MetricsConfig,
    service: &'static str,
    cold: AtomicBool,
}

impl Metrics {
    /// The metrics of `service` (the program's name, the [`SERVICE`] dimension's value).
    pub fn new(config: MetricsConfig, service: &'static str) -> Self {
        Self {
            config,
            service,
            cold: AtomicBool::new(true),
        }
    }

    /// Metrics that write nothing (unit tests, benchmarks).
    pub fn off(service: &'static str) -> Self {
        let config = MetricsConfig {
            enabled: false,
            ..MetricsConfig::default()
        };
        Self::new(config, service)
    }

    /// The document of one invocation; the first of the process records a cold start.
    pub fn document(&self) -> Document<'_> {
        let mut doc = Document {
            metrics: self,
            members: Vec::new(),
            directives: Vec::new(),
        };
        if self.config.enabled && self.cold.swap(false, Ordering::Relaxed) {
            doc.count(COLD_START, 1, None);
        }
        doc
    }
}

/// One invocation's metrics and the properties that help find its logs (request id, trace id).
/// Written by [`Document::emit`]; a document without metrics writes nothing.
#[derive(Debug)]
pub struct Document<'a> {
    metrics: &'a Metrics,
    /// Top-level members besides `_aws` and `Service`, in the order they were first set.
    members: Vec<(&'static str, Member)>,
    directives: Vec<Directive>,
}

/// A top-level member's value.
#[derive(Debug, Clone, PartialEq)]
enum Member {
    Text(String),
    Count(u64),
    Millis(f64),
}

/// Metrics that share their dimensions: the service alone, or also one more dimension.
#[derive(Debug)]
struct Directive {
    by: Option<&'static str>,
    metrics: Vec<(&'static str, Unit)>,
}

impl Document<'_> {
    /// Adds `n` to the count `name`, also split by `by` = its value when given.
    pub fn count(&mut self, name: &'static str, n: u64, by: Option<(&'static str, &str)>) {
        let total = match self.get(name) {
            Some(Member::Count(previous)) => previous + n,
            _ => n,
        };
        self.put(name, Unit::Count, Member::Count(total), by);
    }

    /// Records the duration `name` in milliseconds (to the microsecond).
    pub fn millis(&mut self, name: &'static str, d: Duration, by: Option<(&'static str, &str)>) {
        let ms = (d.as_secs_f64() * 1e6).round() / 1e3;
        self.put(name, Unit::Milliseconds, Member::Millis(ms), by);
    }

    /// Adds a property: searchable in the logs, not a metric or a dimension.
    pub fn property(&mut self, name: &'static str, value: &str) {
        if self.metrics.config.enabled {
            self.set(name, Member::Text(value.to_owned()));
        }
    }

    fn get(&self, name: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| m)
    }

    fn set(&mut self, name: &'static str, value: Member) {
        match self.members.iter_mut().find(|(n, _)| *n == name) {
            Some((_, m)) => *m = value,
            None => self.members.push((name, value)),
        }
    }

    fn put(
        &mut self,
        name: &'static str,
        unit: Unit,
        value: Member,
        by: Option<(&'static str, &str)>,
    ) {
        if !self.metrics.config.enabled {
            return;
        }
        let dimension = match by {
            Some((key, v)) if !v.is_empty() => {
                let v: String = v.chars().take(MAX_DIMENSION_VALUE).collect();
                self.set(key, Member::Text(v));
                Some(key)
            }
            _ => None,
        };
        self.set(name, value);
        match self.directives.iter_mut().find(|d| d.by == dimension) {
            Some(d) if d.metrics.iter().any(|(n, _)| *n == name) => {}
            Some(d) => d.metrics.push((name, unit)),
            None => self.directives.push(Directive {
                by: dimension,
                metrics: vec![(name, unit)],
            }),
        }
    }

    /// The document as one line of JSON, `None` when there is nothing to write. Written
    /// directly, without building a tree: one document per request is on the hot path.
    pub fn to_line(&self, timestamp_ms: i64) -> Option<String> {
        if !self.metrics.config.enabled || self.directives.is_empty() {
            return None;
        }
        let namespace = &self.metrics.config.namespace;
        let mut out = String::with_capacity(256 + 96 * self.directives.len());
        out.push_str("{\"_aws\":{\"Timestamp\":");
        out.push_str(&timestamp_ms.to_string());
        out.push_str(",\"CloudWatchMetrics\":[");
        for (i, d) in self.directives.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"Namespace\":");
            push_str(&mut out, namespace);
            out.push_str(",\"Dimensions\":[[\"");
            out.push_str(SERVICE);
            out.push_str("\"]");
            if let Some(by) = d.by {
                out.push_str(",[\"");
                out.push_str(SERVICE);
                out.push_str("\",");
                push_str(&mut out, by);
                out.push(']');
            }
            out.push_str("],\"Metrics\":[");
            for (j, (name, unit)) in d.metrics.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push_str("{\"Name\":");
                push_str(&mut out, name);
                out.push_str(",\"Unit\":\"");
                out.push_str(unit.as_str());
                out.push_str("\"}");
            }
            out.push_str("]}");
        }
        out.push_str("]},");
        push_str(&mut out, SERVICE);
        out.push(':');
        push_str(&mut out, self.metrics.service);
        for (name, value) in &self.members {
            out.push(',');
            push_str(&mut out, name);
            out.push(':');
            match value {
                Member::Text(t) => push_str(&mut out, t),
                Member::Count(n) => out.push_str(&n.to_string()),
                Member::Millis(ms) => out.push_str(&ms.to_string()),
            }
        }
        out.push('}');
        Some(out)
    }

    /// Writes the document to stdout as one line (nothing when empty or metrics are off).
    pub fn emit(self) {
        if let Some(mut line) = self.to_line(crate::unix_millis()) {
            line.push('\n');
            // One write of the whole line, so that concurrent documents do not interleave.
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    }
}

/// `s` as a JSON string (serde_json's escaping; writing a `str` cannot fail).
fn push_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(doc: &Document) -> Value {
        serde_json::from_str(&doc.to_line(1_700_000_000_000).expect("a line")).expect("json")
    }

    #[test]
    fn a_document_has_the_service_dimension_and_one_directive_per_split() {
        let metrics = Metrics::new(MetricsConfig::default(), "events-api");
        let mut doc = metrics.document();
        doc.count("Accepted", 1, Some(("EventType", "LOGIN")));
        doc.millis("ProduceLatency", Duration::from_micros(2_500), None);
        doc.property("requestId", "r-1");
        let v = parse(&doc);
        assert_eq!(v["Service"], "events-api");
        assert_eq!(v["EventType"], "LOGIN");
        assert_eq!(v["Accepted"], 1);
        assert_eq!(v["ColdStart"], 1);
        assert_eq!(v["ProduceLatency"], 2.5);
        assert_eq!(v["requestId"], "r-1");
        let directives = v["_aws"]["CloudWatchMetrics"].as_array().expect("array");
        assert_eq!(directives.len(), 2);
        assert_eq!(
            directives[1]["Dimensions"],
            serde_json::json!([["Service"], ["Service", "EventType"]])
        );
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_i64);
    }

    #[test]
    fn only_the_first_document_records_a_cold_start_and_counts_add_up() {
        let metrics = Metrics::new(MetricsConfig::default(), "p");
        drop(metrics.document());
        let mut doc = metrics.document();
        doc.count("DeadLettered", 2, None);
        doc.count("DeadLettered", 3, None);
        let v = parse(&doc);
        assert!(v.get("ColdStart").is_none());
        assert_eq!(v["DeadLettered"], 5);
    }

    #[test]
    fn off_writes_nothing_and_neither_does_an_empty_document() {
        let off = Metrics::off("p");
        let mut doc = off.document();
        doc.count("Accepted", 1, None);
        assert_eq!(doc.to_line(0), None);
        let metrics = Metrics::new(MetricsConfig::default(), "p");
        drop(metrics.document());
        assert_eq!(metrics.document().to_line(0), None);
    }

    #[test]
    fn documents_conform_to_the_specification() {
        let metrics = Metrics::new(MetricsConfig::default(), "events-processor");
        let mut doc = metrics.document();
        doc.count("Received", 10, None);
        doc.count("DeadLettered", 1, Some(("Reason", "malformed_json")));
        doc.millis("LagMax", Duration::from_millis(1500), None);
        doc.property("traceId", "4bf92f3577b34da6a3ce929d0e0e4736");
        let line = doc.to_line(1_700_000_000_000).expect("a line");
        testkit::emf::check(&line).expect("conforms");
    }

    #[test]
    fn strings_are_escaped() {
        let metrics = Metrics::new(MetricsConfig::default(), "p");
        let mut doc = metrics.document();
        let odd = "a\"b\\c\nd\u{1}é\u{2028}";
        doc.count("Rejected", 1, Some(("ErrorCode", odd)));
        doc.property("requestId", odd);
        let v = parse(&doc);
        assert_eq!(v["ErrorCode"], odd);
        assert_eq!(v["requestId"], odd);
    }

    #[test]
    fn settings_are_checked() {
        let ok: &[(&str, &str)] = &[("METRICS_NAMESPACE", "Shop/prod"), ("METRICS", "OFF")];
        let c = MetricsConfig::from_source(ok).expect("valid");
        assert_eq!(c.namespace, "Shop/prod");
        assert!(!c.enabled);
        for bad in [
            [("METRICS_NAMESPACE", "AWS/Lambda"), ("METRICS", "on")],
            [("METRICS_NAMESPACE", "a\u{e9}"), ("METRICS", "on")],
            [("METRICS_NAMESPACE", "x"), ("METRICS", "maybe")],
        ] {
            assert!(MetricsConfig::from_source(&bad[..]).is_err(), "{bad:?}");
        }
    }
}
