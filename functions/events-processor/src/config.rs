//! Every setting of the processor, read once at start-up.

use event_kafka::KafkaConfig;
use pipeline_runtime::env::{self, ProcessEnv, Source};
use pipeline_runtime::metrics::MetricsConfig;
use pipeline_runtime::ConfigError;

/// The processor's settings. Each field names its variable; what each means and its default are
/// in docs/configuration.md, which a test holds to this code's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// `KAFKA_*` (the dead-letter producer uses `KAFKA_BROKERS`, `KAFKA_DLQ_TOPIC` and
    /// `KAFKA_PRODUCE_TIMEOUT_MS`).
    pub kafka: KafkaConfig,
    /// `STORE_URL`.
    pub store_url: String,
    /// `EVENT_TTL_DAYS` (0: never).
    pub event_ttl_days: u32,
    /// `METRICS_NAMESPACE`, `METRICS`.
    pub metrics: MetricsConfig,
    /// `REPORT_BATCH_ITEM_FAILURES`: the event source mapping has `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    /// Reads settings from any source.
    pub fn from_source(src: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        Ok(Self {
            kafka: KafkaConfig::from_source(src)?,
            store_url: env::string(src, "STORE_URL", event_store::DEFAULT_STORE_URL),
            event_ttl_days: env::parse(src, "EVENT_TTL_DAYS", 0, "a whole number of days")?,
            metrics: MetricsConfig::from_source(src)?,
            report_batch_item_failures: event_kafka::report_batch_item_failures(src)?,
        })
    }
}
