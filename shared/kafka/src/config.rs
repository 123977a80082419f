//! `KAFKA_*` settings and the librdkafka configuration they produce.

use pipeline_runtime::env::{self, Source};
use pipeline_runtime::ConfigError;
use rdkafka::ClientConfig;
use std::time::Duration;

/// Default bootstrap servers: the local broker of `make kafka` or `docker compose up`.
pub const DEFAULT_BROKERS: &str = "127.0.0.1:9092";
/// Default event topic.
pub const DEFAULT_TOPIC: &str = "user-activity-events";
/// Default dead-letter topic.
pub const DEFAULT_DLQ_TOPIC: &str = "user-activity-events.dlq";

/// Connection and topic settings shared by every Kafka client of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `KAFKA_BROKERS`: comma-separated `host:port` list.
    pub brokers: String,
    /// `KAFKA_TOPIC`: where events are published.
    pub topic: String,
    /// `KAFKA_DLQ_TOPIC`: where the processor puts records it cannot use.
    pub dlq_topic: String,
    /// `KAFKA_PRODUCE_TIMEOUT_MS`: longest wait for an acknowledgement (default 5000).
    pub produce_timeout: Duration,
    /// `KAFKA_HEALTH_TIMEOUT_MS`: deadline of the health check (default 2000, at most 2000).
    pub health_timeout: Duration,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: DEFAULT_BROKERS.to_owned(),
            topic: DEFAULT_TOPIC.to_owned(),
            dlq_topic: DEFAULT_DLQ_TOPIC.to_owned(),
            produce_timeout: Duration::from_millis(5000),
            health_timeout: Duration::from_millis(2000),
        }
    }
}

impl KafkaConfig {
    /// Reads the `KAFKA_*` variables from `src`.
    pub fn from_source(src: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        let brokers = env::string(src, "KAFKA_BROKERS", DEFAULT_BROKERS);
        if brokers.split(',').any(|b| !b.trim().contains(':')) {
            return Err(ConfigError::new(
                "KAFKA_BROKERS",
                format!("expected host:port[,host:port…], got {brokers:?}"),
            ));
        }
        Ok(Self {
            brokers,
            topic: env::string(src, "KAFKA_TOPIC", DEFAULT_TOPIC),
            dlq_topic: env::string(src, "KAFKA_DLQ_TOPIC", DEFAULT_DLQ_TOPIC),
            produce_timeout: env::millis(src, "KAFKA_PRODUCE_TIMEOUT_MS", 5000, 100..=300_000)?,
            health_timeout: env::millis(src, "KAFKA_HEALTH_TIMEOUT_MS", 2000, 100..=2000)?,
        })
    }

    /// Settings every client needs (bootstrap servers, client id).
    pub fn client_config(&self, client_id: &str) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("client.id", client_id)
            .set("socket.keepalive.enable", "true");
        c
    }

    /// A producer that never reports success for a record the in-sync replicas did not all
    /// write, never duplicates on retry, and gives up exactly at the produce timeout, so a
    /// request is never left waiting past it.
    pub fn producer_config(&self, client_id: &str) -> ClientConfig {
        let mut c = self.client_config(client_id);
        let timeout_ms = self.produce_timeout.as_millis().to_string();
        c.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", &timeout_ms)
            .set("linger.ms", "2")
            .set("compression.type", "none");
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_is_idempotent_with_acks_all_and_the_produce_timeout() {
        let src: &[(&str, &str)] = &[("KAFKA_PRODUCE_TIMEOUT_MS", "1234")];
        let cfg = KafkaConfig::from_source(src).expect("config");
        let p = cfg.producer_config("test");
        assert_eq!(p.get("enable.idempotence"), Some("true"));
        assert_eq!(p.get("acks"), Some("all"));
        assert_eq!(p.get("message.timeout.ms"), Some("1234"));
        assert_eq!(p.get("bootstrap.servers"), Some(DEFAULT_BROKERS));
    }

    #[test]
    fn bad_settings_name_their_variable() {
        let src: &[(&str, &str)] = &[("KAFKA_BROKERS", "localhost")];
        assert_eq!(
            KafkaConfig::from_source(src).expect_err("no port").var,
            "KAFKA_BROKERS"
        );
        let src: &[(&str, &str)] = &[("KAFKA_HEALTH_TIMEOUT_MS", "5000")];
        assert_eq!(
            KafkaConfig::from_source(src).expect_err("over 2 s").var,
            "KAFKA_HEALTH_TIMEOUT_MS"
        );
    }
}
