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
use serde_json::{Map, Value};
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
    pub fn document(&self) -> Document {
        let mut doc = Document {
            enabled: self.config.enabled,
            namespace: self.config.namespace.clone(),
            members: Map::new(),
            directives: Vec::new(),
        };
        if !doc.enabled {
            return doc;
        }
        doc.members.insert(SERVICE.to_owned(), self.service.into());
        if self.cold.swap(false, Ordering::Relaxed) {
            doc.count(COLD_START, 1, None);
        }
        doc
    }
}

/// One invocation's metrics and the properties that help find its logs (request id, trace id).
/// Written by [`Document::emit`]; a document without metrics writes nothing.
#[derive(Debug)]
pub struct Document {
    enabled: bool,
    namespace: String,
    members: Map<String, Value>,
    directives: Vec<Directive>,
}

/// Metrics that share their dimensions: the service alone, or also one more dimension.
#[derive(Debug)]
struct Directive {
    by: Option<&'static str>,
    metrics: Vec<(&'static str, Unit)>,
}

impl Document {
    /// Adds `n` to the count `name`, also split by `by` = its value when given.
    pub fn count(&mut self, name: &'static str, n: u64, by: Option<(&'static str, &str)>) {
        self.put(name, Unit::Count, n.into(), by);
    }

    /// Records the duration `name` in milliseconds (to the microsecond).
    pub fn millis(&mut self, name: &'static str, d: Duration, by: Option<(&'static str, &str)>) {
        let ms = (d.as_secs_f64() * 1e6).round() / 1e3;
        self.put(name, Unit::Milliseconds, ms.into(), by);
    }

    /// Adds a property: searchable in the logs, not a metric or a dimension.
    pub fn property(&mut self, name: &str, value: impl Into<Value>) {
        if self.enabled {
            self.members.insert(name.to_owned(), value.into());
        }
    }

    fn put(
        &mut self,
        name: &'static str,
        unit: Unit,
        value: Value,
        by: Option<(&'static str, &str)>,
    ) {
        if !self.enabled {
            return;
        }
        let dimension = match by {
            Some((key, v)) if !v.is_empty() => {
                let v: String = v.chars().take(MAX_DIMENSION_VALUE).collect();
                self.members.insert(key.to_owned(), v.into());
                Some(key)
            }
            _ => None,
        };
        // A count given twice adds up; any other metric keeps its last value.
        let previous = self.members.get(name).and_then(Value::as_u64);
        let value = match (unit, previous, value.as_u64()) {
            (Unit::Count, Some(a), Some(b)) => Value::from(a + b),
            _ => value,
        };
        self.members.insert(name.to_owned(), value);
        match self.directives.iter_mut().find(|d| d.by == dimension) {
            Some(d) if d.metrics.iter().any(|(n, _)| *n == name) => {}
            Some(d) => d.metrics.push((name, unit)),
            None => self.directives.push(Directive {
                by: dimension,
                metrics: vec![(name, unit)],
            }),
        }
    }

    /// The document as one line of JSON, `None` when there is nothing to write.
    pub fn to_line(&self, timestamp_ms: i64) -> Option<String> {
        if !self.enabled || self.directives.is_empty() {
            return None;
        }
        let directives: Vec<Value> = self
            .directives
            .iter()
            .map(|d| {
                let mut sets = vec![Value::from(vec![SERVICE])];
                if let Some(by) = d.by {
                    sets.push(Value::from(vec![SERVICE, by]));
                }
                let definitions: Vec<Value> = d
                    .metrics
                    .iter()
                    .map(|(name, unit)| serde_json::json!({"Name": name, "Unit": unit.as_str()}))
                    .collect();
                serde_json::json!({
                    "Namespace": self.namespace,
                    "Dimensions": sets,
                    "Metrics": definitions,
                })
            })
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".to_owned(),
            serde_json::json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
        );
        root.extend(self.members.clone());
        Some(Value::Object(root).to_string())
    }

    /// Writes the document to stdout as one line (nothing when empty or metrics are off).
    pub fn emit(self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        if let Some(mut line) = self.to_line(now) {
            line.push('\n');
            // One write of the whole line, so that concurrent documents do not interleave.
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut doc = Metrics::off("p").document();
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
