//! The consumer's settings: the loop's, read as `CONSUMER_*` (the same settings the local
//! trigger reads as `TRIGGER_*`, docs/containers.md), the processor's (the store, the
//! dead-letter topic, metrics) read as the function reads them, and `CONSUMER_HEALTH_ADDR`.
//!
//! Until this release the consumer read the loop's settings as `TRIGGER_*`. For one release
//! each old name still counts when the new one is unset, and the consumer says so at start
//! ([`Config::renamed`]).

use pipeline_runtime::env::{ProcessEnv, Source};
use pipeline_runtime::ConfigError;
use std::cell::RefCell;
use std::net::SocketAddr;

/// The prefix of the loop's settings when the consumer reads them.
pub const PREFIX: &str = "CONSUMER_";
/// The prefix they had before.
pub const OLD_PREFIX: &str = "TRIGGER_";

/// The consumer's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The loop's: topic, group, batch size and window, retries, bisecting, skipping.
    pub consume: event_consume::Config,
    /// The handler's: `STORE_URL`, `KAFKA_DLQ_TOPIC`, `EVENT_TTL_DAYS`, metrics.
    pub processor: events_processor::Config,
    /// `CONSUMER_HEALTH_ADDR`: where `GET /health` answers; unset, no listener.
    pub health_addr: Option<SocketAddr>,
    /// Each setting read under its old name, as (old, new).
    pub renamed: Vec<(String, String)>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    /// Reads settings from any source.
    pub fn from_source(src: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        let renaming = Renamed {
            src,
            used: RefCell::default(),
        };
        let consume = event_consume::Config::from_source(&renaming, PREFIX)?;
        Ok(Self {
            consume,
            processor: events_processor::Config::from_source(src)?,
            health_addr: health_addr(src)?,
            renamed: renaming.used.into_inner(),
        })
    }
}

/// A source that answers a `CONSUMER_*` name from its `TRIGGER_*` name when only that is set,
/// and remembers it did.
struct Renamed<'a, S: ?Sized> {
    src: &'a S,
    used: RefCell<Vec<(String, String)>>,
}

impl<S: Source + ?Sized> Source for Renamed<'_, S> {
    fn get(&self, name: &str) -> Option<String> {
        if let Some(value) = self.src.get(name) {
            return Some(value);
        }
        let old = format!("{OLD_PREFIX}{}", name.strip_prefix(PREFIX)?);
        let value = self.src.get(&old)?;
        self.used.borrow_mut().push((old, name.to_owned()));
        Some(value)
    }

    fn default_of(&self, name: &str, default: &str) {
        self.src.default_of(name, default);
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
    fn the_loop_reads_consumer_names_and_the_handler_the_processors() {
        let src: &[(&str, &str)] = &[
            ("KAFKA_BROKERS", "b:9092"),
            ("CONSUMER_BATCH_SIZE", "7"),
            ("STORE_URL", "sqlite:///tmp/x.db"),
            ("REPORT_BATCH_ITEM_FAILURES", "true"),
            ("CONSUMER_HEALTH_ADDR", "127.0.0.1:8081"),
        ];
        let c = Config::from_source(src).expect("config");
        assert_eq!(c.consume.batch_size, 7);
        assert_eq!(c.consume.group_id, "user-activity-consumer-group");
        assert_eq!(c.processor.store_url, "sqlite:///tmp/x.db");
        assert!(c.consume.report_batch_item_failures && c.processor.report_batch_item_failures);
        assert_eq!(
            c.health_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 8081)))
        );
        assert!(c.renamed.is_empty());
        let bad: &[(&str, &str)] = &[
            ("KAFKA_BROKERS", "b:9092"),
            ("CONSUMER_HEALTH_ADDR", "8081"),
        ];
        assert_eq!(
            Config::from_source(bad).expect_err("bad").var,
            "CONSUMER_HEALTH_ADDR"
        );
    }

    #[test]
    fn an_old_name_counts_only_where_the_new_one_is_unset_and_is_told() {
        let src: &[(&str, &str)] = &[
            ("TRIGGER_GROUP_ID", "old-group"),
            ("TRIGGER_BATCH_SIZE", "9"),
            ("CONSUMER_BATCH_SIZE", "7"),
        ];
        let c = Config::from_source(src).expect("config");
        assert_eq!(c.consume.group_id, "old-group");
        assert_eq!(c.consume.batch_size, 7, "the new name wins");
        assert_eq!(
            c.renamed,
            [(
                "TRIGGER_GROUP_ID".to_owned(),
                "CONSUMER_GROUP_ID".to_owned()
            )]
        );
        let bad: &[(&str, &str)] = &[("TRIGGER_BATCH_SIZE", "0")];
        let e = Config::from_source(bad).expect_err("refused");
        assert_eq!(e.var, "CONSUMER_BATCH_SIZE", "named as it is read now");
    }
}
