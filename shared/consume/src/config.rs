//! The loop's settings, named after the event source mapping properties they mirror. Every
//! program on the loop reads them under its own prefix: the local trigger as `TRIGGER_*`, the
//! consumer as `CONSUMER_*` ([`Config::from_source`]); what each means, its default and its
//! range are in docs/configuration.md, which a test holds to this code's defaults.

use event_kafka::{KafkaAuth, KafkaConfig};
use pipeline_runtime::env::{self, Source};
use pipeline_runtime::ConfigError;
use std::time::Duration;

/// Lambda's limit on a synchronous invocation's request payload: 6 MB (6 × 2^20 bytes).
pub const MAX_INVOKE_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// Where to start when the group has no committed offset (`StartingPosition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    /// `TRIM_HORIZON`: the oldest record.
    TrimHorizon,
    /// `LATEST`: only records produced from now on.
    Latest,
}

/// When the loop leaves and rejoins its group because of its partition assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentCheck {
    /// `all` (default): this member is the group's only one, as in the local setup, so it must
    /// own every partition of the topic; a partial or empty assignment that lasts longer than
    /// the assignment timeout makes it rejoin.
    All,
    /// `any`: several members share the group; only an empty assignment makes it rejoin.
    Any,
    /// `off`: never rejoin on its own.
    Off,
}

/// Settings of the loop. Each field names its variable after the prefix (`TRIGGER_` or
/// `CONSUMER_`) and the mapping's property it mirrors.
#[derive(Debug, Clone)]
pub struct Config {
    /// `KAFKA_BROKERS` and `KAFKA_TOPIC` (the topic consumed).
    pub kafka: KafkaConfig,
    /// `GROUP_ID` (`ConsumerGroupId`).
    pub group_id: String,
    /// `BATCH_SIZE` (`BatchSize`).
    pub batch_size: usize,
    /// `BATCH_WINDOW_MS` (`MaximumBatchingWindowInSeconds`).
    pub batch_window: Duration,
    /// `FETCH_WAIT_MS`: longest time the broker may hold an empty fetch. Kafka answers a waiting
    /// fetch as soon as records arrive; brokers that only answer when the wait ends (tansu) add
    /// up to this much to every record's latency. Lower is faster against tansu, but at 100 ms
    /// cargo lambda watch 1.9.2 more often answers a function URL request with a stray 500
    /// while the processor is being invoked (docs/local-development.md).
    pub fetch_wait: Duration,
    /// `MAX_PAYLOAD_BYTES`: at most [`MAX_INVOKE_PAYLOAD_BYTES`].
    pub max_payload_bytes: usize,
    /// `MAX_RETRY_ATTEMPTS` (`MaximumRetryAttempts`); see [`Config::max_retry_attempts`].
    pub retry_attempts: i32,
    /// `MAX_RECORD_AGE_S` (`MaximumRecordAgeInSeconds`); `None` for -1.
    pub max_record_age: Option<Duration>,
    /// `BISECT_ON_ERROR` (`BisectBatchOnFunctionError`).
    pub bisect_on_error: bool,
    /// `REPORT_BATCH_ITEM_FAILURES`, unprefixed (`FunctionResponseTypes:
    /// [ReportBatchItemFailures]`): the same setting tells the processor to answer that way.
    pub report_batch_item_failures: bool,
    /// `ON_FAILURE_TOPIC` (`DestinationConfig.OnFailure` with a `kafka://` topic).
    pub on_failure_topic: Option<String>,
    /// `RETRY_BASE_MS`: the first backoff.
    pub retry_base: Duration,
    /// `RETRY_MAX_MS`: the longest backoff.
    pub retry_max: Duration,
    /// `INVOKE_TIMEOUT_MS`: the longest one invocation may take.
    pub invoke_timeout: Duration,
    /// `STARTING_POSITION`.
    pub starting_position: StartingPosition,
    /// `SESSION_TIMEOUT_MS`.
    pub session_timeout: Duration,
    /// `ASSIGNMENT_TIMEOUT_MS` (see `assignment`).
    pub assignment_timeout: Duration,
    /// `ASSIGNMENT_CHECK`.
    pub assignment_check: AssignmentCheck,
    /// `EVENT_SOURCE_ARN`: the `eventSourceArn` each batch carries.
    pub event_source_arn: String,
}

/// Reads the settings under one prefix, so that each error names the variable as it is set.
struct Prefixed<'a, S: ?Sized> {
    src: &'a S,
    prefix: &'a str,
}

impl<S: Source + ?Sized> Prefixed<'_, S> {
    fn name(&self, setting: &str) -> String {
        format!("{}{setting}", self.prefix)
    }

    fn parse<T>(&self, setting: &str, default: T, what: &str) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + std::fmt::Display,
        T::Err: std::fmt::Display,
    {
        env::parse(self.src, &self.name(setting), default, what)
    }

    fn millis(
        &self,
        setting: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        env::millis(self.src, &self.name(setting), default, range)
    }

    fn string(&self, setting: &str, default: &str) -> String {
        env::string(self.src, &self.name(setting), default)
    }

    /// A whole number in `range`, refused with `why` otherwise.
    fn bounded<T>(
        &self,
        setting: &str,
        default: T,
        what: &str,
        range: std::ops::RangeInclusive<T>,
        why: &str,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + std::fmt::Display + PartialOrd,
        T::Err: std::fmt::Display,
    {
        let value = self.parse(setting, default, what)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(self.error(setting, format!("{value} is out of range; {why}")))
        }
    }

    /// One of `choices` (matched without regard to case), each with its value.
    fn choice<T: Copy>(
        &self,
        setting: &str,
        default: &str,
        choices: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let given = self.string(setting, default);
        choices
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&given))
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                self.error(
                    setting,
                    format!("expected {}, got {given:?}", names.join(" or ")),
                )
            })
    }

    fn error(&self, setting: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::new(self.name(setting), reason)
    }
}

impl Config {
    /// Reads settings from any source, each loop setting under `prefix` (`"TRIGGER_"`,
    /// `"CONSUMER_"`); the Kafka settings and `REPORT_BATCH_ITEM_FAILURES` are read as every
    /// program reads them.
    pub fn from_source(src: &(impl Source + ?Sized), prefix: &str) -> Result<Self, ConfigError> {
        let p = Prefixed { src, prefix };
        let (retry_base, retry_max) = backoff(&p)?;
        let (retry_attempts, max_record_age, on_failure_topic) = skipping(&p)?;
        Ok(Self {
            kafka: kafka(src)?,
            group_id: p.string("GROUP_ID", "user-activity-consumer-group"),
            batch_size: p.bounded("BATCH_SIZE", 100, "a record count", 1..=10_000, "MSK allows 1 to 10000")?,
            batch_window: p.millis("BATCH_WINDOW_MS", 500, 0..=300_000)?,
            fetch_wait: p.millis("FETCH_WAIT_MS", 500, 1..=10_000)?,
            max_payload_bytes: p.bounded(
                "MAX_PAYLOAD_BYTES",
                MAX_INVOKE_PAYLOAD_BYTES,
                "a byte count",
                1..=MAX_INVOKE_PAYLOAD_BYTES,
                &format!("Lambda takes at most {MAX_INVOKE_PAYLOAD_BYTES} bytes per invocation"),
            )?,
            retry_attempts,
            max_record_age,
            bisect_on_error: p.parse("BISECT_ON_ERROR", false, "true or false")?,
            report_batch_item_failures: event_kafka::report_batch_item_failures(src)?,
            on_failure_topic,
            retry_base,
            retry_max,
            invoke_timeout: p.millis("INVOKE_TIMEOUT_MS", 900_000, 1..=3_600_000)?,
            starting_position: p.choice(
                "STARTING_POSITION",
                "TRIM_HORIZON",
                &[
                    ("TRIM_HORIZON", StartingPosition::TrimHorizon),
                    ("LATEST", StartingPosition::Latest),
                ],
            )?,
            session_timeout: p.millis("SESSION_TIMEOUT_MS", 10_000, 1_000..=300_000)?,
            assignment_timeout: p.millis("ASSIGNMENT_TIMEOUT_MS", 15_000, 0..=3_600_000)?,
            assignment_check: p.choice(
                "ASSIGNMENT_CHECK",
                "all",
                &[
                    ("all", AssignmentCheck::All),
                    ("any", AssignmentCheck::Any),
                    ("off", AssignmentCheck::Off),
                ],
            )?,
            event_source_arn: p.string(
                "EVENT_SOURCE_ARN",
                "arn:aws:kafka:local:000000000000:cluster/local/00000000-0000-0000-0000-000000000000-1",
            ),
        })
    }

    /// Retries before a failing batch is skipped, `None` for never. With an on-failure
    /// destination and no limit set, Lambda applies 10
    /// (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html).
    pub fn max_retry_attempts(&self) -> Option<u32> {
        match (self.retry_attempts, &self.on_failure_topic) {
            (-1, None) => None,
            (-1, Some(_)) => Some(10),
            (n, _) => Some(n.unsigned_abs()),
        }
    }

    /// The delay before attempt `attempt` (1-based; attempt 1 has none): base × 2^(n−2), capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let factor = 2u32.saturating_pow(attempt.saturating_sub(2).min(20));
        self.retry_base.saturating_mul(factor).min(self.retry_max)
    }
}

/// The Kafka settings: a plaintext or TLS broker named by `KAFKA_BROKERS`. The loop has no IAM
/// token provider and does not look brokers up from a cluster ARN (the functions do both; on
/// AWS the event source mapping consumes the topic).
fn kafka(src: &(impl Source + ?Sized)) -> Result<KafkaConfig, ConfigError> {
    let kafka = KafkaConfig::from_source(src)?;
    if kafka.auth == KafkaAuth::Iam {
        return Err(ConfigError::new(
            "KAFKA_AUTH",
            "the consume loop supports plaintext and tls only; on AWS the event source mapping consumes the topic",
        ));
    }
    if kafka.brokers.is_empty() {
        return Err(ConfigError::new(
            "KAFKA_BROKERS",
            "the consume loop needs KAFKA_BROKERS (it does not look brokers up from MSK_CLUSTER_ARN)",
        ));
    }
    Ok(kafka)
}

/// `RETRY_BASE_MS` and `RETRY_MAX_MS`, the second not below the first.
fn backoff<S: Source + ?Sized>(p: &Prefixed<'_, S>) -> Result<(Duration, Duration), ConfigError> {
    let base = p.millis("RETRY_BASE_MS", 200, 1..=60_000)?;
    let max = p.millis("RETRY_MAX_MS", 30_000, 1..=3_600_000)?;
    if max < base {
        let reason = format!("must not be below {}", p.name("RETRY_BASE_MS"));
        return Err(p.error("RETRY_MAX_MS", reason));
    }
    Ok((base, max))
}

/// `MAX_RETRY_ATTEMPTS`, `MAX_RECORD_AGE_S` and `ON_FAILURE_TOPIC`: either limit skips a batch,
/// which needs the topic to keep its records.
fn skipping<S: Source + ?Sized>(
    p: &Prefixed<'_, S>,
) -> Result<(i32, Option<Duration>, Option<String>), ConfigError> {
    let attempts = p.bounded(
        "MAX_RETRY_ATTEMPTS",
        -1,
        "a count, or -1 for no limit",
        -1..=10_000,
        "the event source mapping allows -1 to 10000",
    )?;
    let age: i64 = p.parse("MAX_RECORD_AGE_S", -1, "seconds, or -1 for no limit")?;
    let max_age = match age {
        -1 => None,
        60..=604_800 => Some(Duration::from_secs(age.unsigned_abs())),
        other => {
            let why = "the event source mapping allows -1 or 60 to 604800";
            return Err(p.error(
                "MAX_RECORD_AGE_S",
                format!("{other} is out of range; {why}"),
            ));
        }
    };
    let topic = p.src.get(&p.name("ON_FAILURE_TOPIC"));
    if topic.is_none() {
        for (setting, skips) in [
            ("MAX_RETRY_ATTEMPTS", attempts != -1),
            ("MAX_RECORD_AGE_S", max_age.is_some()),
        ] {
            if skips {
                let reason = format!(
                    "skipping a batch needs {} to keep its records",
                    p.name("ON_FAILURE_TOPIC")
                );
                return Err(p.error(setting, reason));
            }
        }
    }
    Ok((attempts, max_age, topic))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "TRIGGER_";

    fn read(src: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_source(src, P)
    }

    #[test]
    fn defaults_mirror_the_msk_event_source_mapping() {
        let c = read(&[("KAFKA_BROKERS", "b:9092")]).expect("defaults");
        assert_eq!(c.group_id, "user-activity-consumer-group");
        assert_eq!(c.batch_size, 100);
        assert_eq!(c.batch_window, Duration::from_millis(500));
        assert_eq!(c.fetch_wait, Duration::from_millis(500));
        assert_eq!(c.max_retry_attempts(), None, "never skips");
        assert!(!c.bisect_on_error);
        assert_eq!(c.starting_position, StartingPosition::TrimHorizon);
        assert_eq!(c.assignment_check, AssignmentCheck::All);
    }

    #[test]
    fn each_setting_is_read_and_refused_under_the_prefix() {
        let src: &[(&str, &str)] = &[
            ("CONSUMER_BATCH_SIZE", "7"),
            ("CONSUMER_STARTING_POSITION", "latest"),
            ("TRIGGER_BATCH_SIZE", "9"),
        ];
        let c = Config::from_source(src, "CONSUMER_").expect("config");
        assert_eq!(c.batch_size, 7);
        assert_eq!(c.starting_position, StartingPosition::Latest);
        let bad: &[(&str, &str)] = &[("CONSUMER_ASSIGNMENT_CHECK", "some")];
        let e = Config::from_source(bad, "CONSUMER_").expect_err("refused");
        assert_eq!(e.var, "CONSUMER_ASSIGNMENT_CHECK");
        assert!(e.reason.contains("all or any or off"), "{}", e.reason);
    }

    #[test]
    fn batch_size_is_bounded_like_msk() {
        let e = read(&[("TRIGGER_BATCH_SIZE", "10001")]).expect_err("too big");
        assert_eq!(e.var, "TRIGGER_BATCH_SIZE");
        assert!(e.reason.contains("MSK allows 1 to 10000"), "{}", e.reason);
    }

    #[test]
    fn what_only_aws_can_do_is_refused_with_the_variable_named() {
        let iam: &[(&str, &str)] = &[("KAFKA_AUTH", "iam"), ("AWS_REGION", "eu-west-1")];
        assert_eq!(read(iam).expect_err("iam").var, "KAFKA_AUTH");
        let arn_only: &[(&str, &str)] = &[(
            "MSK_CLUSTER_ARN",
            "arn:aws:kafka:eu-west-1:123456789012:cluster/demo/abc-1",
        )];
        assert_eq!(read(arn_only).expect_err("arn").var, "KAFKA_BROKERS");
        let huge: &[(&str, &str)] = &[("TRIGGER_MAX_PAYLOAD_BYTES", "6291457")];
        assert_eq!(
            read(huge).expect_err("over 6 MB").var,
            "TRIGGER_MAX_PAYLOAD_BYTES"
        );
        assert!(read(&[("TRIGGER_MAX_PAYLOAD_BYTES", "6291456")]).is_ok());
    }

    #[test]
    fn skipping_needs_a_destination_and_a_destination_caps_retries_at_ten() {
        let no_dest = read(&[("TRIGGER_MAX_RETRY_ATTEMPTS", "3")]).expect_err("refused");
        assert_eq!(no_dest.var, "TRIGGER_MAX_RETRY_ATTEMPTS");
        assert!(no_dest.reason.contains("TRIGGER_ON_FAILURE_TOPIC"));
        let old = read(&[("TRIGGER_MAX_RECORD_AGE_S", "120")]).expect_err("refused");
        assert_eq!(old.var, "TRIGGER_MAX_RECORD_AGE_S");
        let dest = read(&[("TRIGGER_ON_FAILURE_TOPIC", "failed")]).expect("config");
        assert_eq!(dest.max_retry_attempts(), Some(10));
        let three = read(&[
            ("TRIGGER_ON_FAILURE_TOPIC", "failed"),
            ("TRIGGER_MAX_RETRY_ATTEMPTS", "3"),
        ])
        .expect("config");
        assert_eq!(three.max_retry_attempts(), Some(3));
        let young = read(&[
            ("TRIGGER_ON_FAILURE_TOPIC", "f"),
            ("TRIGGER_MAX_RECORD_AGE_S", "59"),
        ]);
        assert_eq!(young.expect_err("range").var, "TRIGGER_MAX_RECORD_AGE_S");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = read(&[
            ("TRIGGER_RETRY_BASE_MS", "100"),
            ("TRIGGER_RETRY_MAX_MS", "1000"),
        ])
        .expect("config");
        let delays: Vec<u128> = (1..=7).map(|a| c.backoff(a).as_millis()).collect();
        assert_eq!(delays, [0, 100, 200, 400, 800, 1000, 1000]);
        let below = read(&[
            ("TRIGGER_RETRY_BASE_MS", "500"),
            ("TRIGGER_RETRY_MAX_MS", "100"),
        ]);
        assert_eq!(below.expect_err("below").var, "TRIGGER_RETRY_MAX_MS");
    }
}
