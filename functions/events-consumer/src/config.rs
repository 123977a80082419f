//! The consumer's settings: the trigger's (the loop: `KAFKA_TOPIC`, `TRIGGER_*`,
//! `REPORT_BATCH_ITEM_FAILURES`) and the processor's (the store, the dead-letter topic, metrics)
//! read as each reads them, and the one setting of its own, `CONSUMER_HEALTH_ADDR`.

use pipeline_runtime::env::{ProcessEnv, Source};
use pipeline_runtime::ConfigError;
use std::net::SocketAddr;

/// The consumer's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The loop's: topic, group, batch size and window, retries, bisecting, skipping.
    pub trigger: msk_trigger::Config,
    /// The handler's: `STORE_URL`, `KAFKA_DLQ_TOPIC`, `EVENT_TTL_DAYS`, metrics.
    pub processor: events_processor::Config,
    /// `CONSUMER_HEALTH_ADDR`: where `GET /health` answers; unset, no listener.
    pub health_addr: Option<SocketAddr>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    /// Reads settings from any source.
    pub fn from_source(src: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        Ok(Self {
            trigger: msk_trigger::Config::from_source(src)?,
            processor: events_processor::Config::from_source(src)?,
            health_addr: health_addr(src)?,
        })
    }
}

/// `CONSUMER_HEALTH_ADDR` alone (what `--health-check` needs).
pub fn health_addr(src: &(impl Source + ?Sized)) -> Result<Option<SocketAddr>, ConfigError> {
    const VAR: &str = "CONSUMER_HEALTH_ADDR";
    match src.get(VAR).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|e| {
            ConfigError::new(
                VAR,
                format!("expected host:port like 0.0.0.0:8081, got {v:?} ({e})"),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_and_the_handler_read_the_same_variables_as_trigger_and_processor() {
        let src: &[(&str, &str)] = &[
            ("KAFKA_BROKERS", "b:9092"),
            ("TRIGGER_BATCH_SIZE", "7"),
            ("STORE_URL", "sqlite:///tmp/x.db"),
            ("REPORT_BATCH_ITEM_FAILURES", "true"),
            ("CONSUMER_HEALTH_ADDR", "127.0.0.1:8081"),
        ];
        let c = Config::from_source(src).expect("config");
        assert_eq!(c.trigger.batch_size, 7);
        assert_eq!(c.trigger.group_id, "user-activity-consumer-group");
        assert_eq!(c.processor.store_url, "sqlite:///tmp/x.db");
        assert!(c.trigger.report_batch_item_failures && c.processor.report_batch_item_failures);
        assert_eq!(
            c.health_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 8081)))
        );
        let bad: &[(&str, &str)] = &[
            ("KAFKA_BROKERS", "b:9092"),
            ("CONSUMER_HEALTH_ADDR", "8081"),
        ];
        assert_eq!(
            Config::from_source(bad).expect_err("bad").var,
            "CONSUMER_HEALTH_ADDR"
        );
    }
}
