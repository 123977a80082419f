//! The trigger's settings, named after the event source mapping properties they mirror.

use event_kafka::{KafkaAuth, KafkaConfig};
use pipeline_runtime::env::{self, ProcessEnv, Source};
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

/// When the trigger leaves and rejoins its group because of its partition assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentCheck {
    /// `all` (default): this trigger is the group's only member, as in the local setup, so it
    /// must own every partition of the topic; a partial or empty assignment that lasts longer
    /// than the assignment timeout makes it rejoin.
    All,
    /// `any`: several triggers share the group; only an empty assignment makes it rejoin.
    Any,
    /// `off`: never rejoin on its own.
    Off,
}

/// Settings of the local event source mapping. Each field names its variable (and the mapping's
/// property it mirrors); what each means, its default and its range are in
/// docs/configuration.md, which a test holds to this code's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// `KAFKA_BROKERS` and `KAFKA_TOPIC` (the topic consumed).
    pub kafka: KafkaConfig,
    /// `TRIGGER_GROUP_ID` (`ConsumerGroupId`).
    pub group_id: String,
    /// `TRIGGER_FUNCTION_NAME`: the function invoked.
    pub function_name: String,
    /// `LAMBDA_ENDPOINT`: the Lambda Invoke API.
    pub endpoint: String,
    /// `TRIGGER_BATCH_SIZE` (`BatchSize`).
    pub batch_size: usize,
    /// `TRIGGER_BATCH_WINDOW_MS` (`MaximumBatchingWindowInSeconds`).
    pub batch_window: Duration,
    /// `TRIGGER_FETCH_WAIT_MS`: longest time the broker may hold an empty fetch. Kafka answers a
    /// waiting fetch as soon as records arrive; brokers that only answer when the wait ends
    /// (tansu) add up to this much to every record's latency. Lower is
    /// faster against tansu, but at 100 ms cargo lambda watch 1.9.2 more often answers a function
    /// URL request with a stray 500 while the processor is being invoked (docs/local-development.md).
    pub fetch_wait: Duration,
    /// `TRIGGER_MAX_PAYLOAD_BYTES`: at most [`MAX_INVOKE_PAYLOAD_BYTES`].
    pub max_payload_bytes: usize,
    /// `TRIGGER_MAX_RETRY_ATTEMPTS` (`MaximumRetryAttempts`); see [`Config::max_retry_attempts`].
    pub retry_attempts: i32,
    /// `TRIGGER_MAX_RECORD_AGE_S` (`MaximumRecordAgeInSeconds`); `None` for -1.
    pub max_record_age: Option<Duration>,
    /// `TRIGGER_BISECT_ON_ERROR` (`BisectBatchOnFunctionError`).
    pub bisect_on_error: bool,
    /// `REPORT_BATCH_ITEM_FAILURES` (`FunctionResponseTypes: [ReportBatchItemFailures]`): the
    /// same setting tells the processor to answer that way.
    pub report_batch_item_failures: bool,
    /// `TRIGGER_ON_FAILURE_TOPIC` (`DestinationConfig.OnFailure` with a `kafka://` topic).
    pub on_failure_topic: Option<String>,
    /// `TRIGGER_RETRY_BASE_MS`: the first backoff.
    pub retry_base: Duration,
    /// `TRIGGER_RETRY_MAX_MS`: the longest backoff.
    pub retry_max: Duration,
    /// `TRIGGER_INVOKE_TIMEOUT_MS`.
    pub invoke_timeout: Duration,
    /// `TRIGGER_STARTING_POSITION`.
    pub starting_position: StartingPosition,
    /// `TRIGGER_SESSION_TIMEOUT_MS`.
    pub session_timeout: Duration,
    /// `TRIGGER_ASSIGNMENT_TIMEOUT_MS` (see `assignment`).
    pub assignment_timeout: Duration,
    /// `TRIGGER_ASSIGNMENT_CHECK`.
    pub assignment_check: AssignmentCheck,
    /// `TRIGGER_EVENT_SOURCE_ARN`.
    pub event_source_arn: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    /// Reads settings from any source.
    pub fn from_source(src: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        let batch_size: usize = env::parse(src, "TRIGGER_BATCH_SIZE", 100, "a record count")?;
        if !(1..=10_000).contains(&batch_size) {
            return Err(ConfigError::new(
                "TRIGGER_BATCH_SIZE",
                format!("{batch_size} is out of range; MSK allows 1 to 10000"),
            ));
        }
        let starting_position = match env::string(src, "TRIGGER_STARTING_POSITION", "TRIM_HORIZON")
            .to_ascii_uppercase()
            .as_str()
        {
            "TRIM_HORIZON" => StartingPosition::TrimHorizon,
            "LATEST" => StartingPosition::Latest,
            other => {
                return Err(ConfigError::new(
                    "TRIGGER_STARTING_POSITION",
                    format!("expected TRIM_HORIZON or LATEST, got {other:?}"),
                ))
            }
        };
        let assignment_check = match env::string(src, "TRIGGER_ASSIGNMENT_CHECK", "all")
            .to_ascii_lowercase()
            .as_str()
        {
            "all" => AssignmentCheck::All,
            "any" => AssignmentCheck::Any,
            "off" => AssignmentCheck::Off,
            other => {
                return Err(ConfigError::new(
                    "TRIGGER_ASSIGNMENT_CHECK",
                    format!("expected all, any or off, got {other:?}"),
                ))
            }
        };
        let retry_base = env::millis(src, "TRIGGER_RETRY_BASE_MS", 200, 1..=60_000)?;
        let retry_max = env::millis(src, "TRIGGER_RETRY_MAX_MS", 30_000, 1..=3_600_000)?;
        if retry_max < retry_base {
            return Err(ConfigError::new(
                "TRIGGER_RETRY_MAX_MS",
                "must not be below TRIGGER_RETRY_BASE_MS",
            ));
        }
        let kafka = KafkaConfig::from_source(src)?;
        // The trigger talks to a local or plaintext/TLS broker only: it has no IAM token
        // provider and does not look brokers up from a cluster ARN (the functions do both).
        if kafka.auth == KafkaAuth::Iam {
            return Err(ConfigError::new(
                "KAFKA_AUTH",
                "the local trigger supports plaintext and tls only; on AWS the event source mapping consumes the topic",
            ));
        }
        if kafka.brokers.is_empty() {
            return Err(ConfigError::new(
                "KAFKA_BROKERS",
                "the local trigger needs KAFKA_BROKERS (it does not look brokers up from MSK_CLUSTER_ARN)",
            ));
        }
        let max_payload_bytes = env::parse(
            src,
            "TRIGGER_MAX_PAYLOAD_BYTES",
            MAX_INVOKE_PAYLOAD_BYTES,
            "a byte count",
        )?;
        if !(1..=MAX_INVOKE_PAYLOAD_BYTES).contains(&max_payload_bytes) {
            return Err(ConfigError::new(
                "TRIGGER_MAX_PAYLOAD_BYTES",
                format!(
                    "{max_payload_bytes} is out of range; Lambda takes at most {MAX_INVOKE_PAYLOAD_BYTES} bytes per invocation"
                ),
            ));
        }
        let retry_attempts: i32 = env::parse(
            src,
            "TRIGGER_MAX_RETRY_ATTEMPTS",
            -1,
            "a count, or -1 for no limit",
        )?;
        if !(-1..=10_000).contains(&retry_attempts) {
            return Err(ConfigError::new(
                "TRIGGER_MAX_RETRY_ATTEMPTS",
                format!(
                    "{retry_attempts} is out of range; the event source mapping allows -1 to 10000"
                ),
            ));
        }
        let age: i64 = env::parse(
            src,
            "TRIGGER_MAX_RECORD_AGE_S",
            -1,
            "seconds, or -1 for no limit",
        )?;
        let max_record_age = match age {
            -1 => None,
            60..=604_800 => Some(Duration::from_secs(age.unsigned_abs())),
            other => {
                return Err(ConfigError::new(
                    "TRIGGER_MAX_RECORD_AGE_S",
                    format!(
                    "{other} is out of range; the event source mapping allows -1 or 60 to 604800"
                ),
                ))
            }
        };
        let on_failure_topic = src.get("TRIGGER_ON_FAILURE_TOPIC");
        if on_failure_topic.is_none() {
            for (var, skips) in [
                ("TRIGGER_MAX_RETRY_ATTEMPTS", retry_attempts != -1),
                ("TRIGGER_MAX_RECORD_AGE_S", max_record_age.is_some()),
            ] {
                if skips {
                    return Err(ConfigError::new(
                        var,
                        "skipping a batch needs TRIGGER_ON_FAILURE_TOPIC to keep its records",
                    ));
                }
            }
        }
        Ok(Self {
            kafka,
            group_id: env::string(src, "TRIGGER_GROUP_ID", "user-activity-consumer-group"),
            function_name: env::string(src, "TRIGGER_FUNCTION_NAME", "events-processor"),
            endpoint: env::string(src, "LAMBDA_ENDPOINT", "http://127.0.0.1:9000")
                .trim_end_matches('/')
                .to_owned(),
            batch_size,
            batch_window: env::millis(src, "TRIGGER_BATCH_WINDOW_MS", 500, 0..=300_000)?,
            fetch_wait: env::millis(src, "TRIGGER_FETCH_WAIT_MS", 500, 1..=10_000)?,
            max_payload_bytes,
            retry_attempts,
            max_record_age,
            bisect_on_error: env::parse(src, "TRIGGER_BISECT_ON_ERROR", false, "true or false")?,
            report_batch_item_failures: event_kafka::report_batch_item_failures(src)?,
            on_failure_topic,
            retry_base,
            retry_max,
            invoke_timeout: env::millis(src, "TRIGGER_INVOKE_TIMEOUT_MS", 900_000, 1..=3_600_000)?,
            starting_position,
            session_timeout: env::millis(src, "TRIGGER_SESSION_TIMEOUT_MS", 10_000, 1_000..=300_000)?,
            assignment_timeout: env::millis(
                src,
                "TRIGGER_ASSIGNMENT_TIMEOUT_MS",
                15_000,
                0..=3_600_000,
            )?,
            assignment_check,
            event_source_arn: env::string(
                src,
                "TRIGGER_EVENT_SOURCE_ARN",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_mirror_the_msk_event_source_mapping() {
        let empty: &[(&str, &str)] = &[];
        let c = Config::from_source(empty).expect("defaults");
        assert_eq!(c.group_id, "user-activity-consumer-group");
        assert_eq!(c.batch_size, 100);
        assert_eq!(c.batch_window, Duration::from_millis(500));
        assert_eq!(c.fetch_wait, Duration::from_millis(500));
        assert_eq!(c.max_retry_attempts(), None, "never skips");
        assert!(!c.bisect_on_error);
        assert_eq!(c.starting_position, StartingPosition::TrimHorizon);
    }

    #[test]
    fn batch_size_is_bounded_like_msk() {
        let src: &[(&str, &str)] = &[("TRIGGER_BATCH_SIZE", "10001")];
        assert_eq!(
            Config::from_source(src).expect_err("too big").var,
            "TRIGGER_BATCH_SIZE"
        );
    }

    #[test]
    fn what_only_aws_can_do_is_refused_with_the_variable_named() {
        let iam: &[(&str, &str)] = &[("KAFKA_AUTH", "iam"), ("AWS_REGION", "eu-west-1")];
        assert_eq!(Config::from_source(iam).expect_err("iam").var, "KAFKA_AUTH");
        let arn_only: &[(&str, &str)] = &[(
            "MSK_CLUSTER_ARN",
            "arn:aws:kafka:eu-west-1:123456789012:cluster/demo/abc-1",
        )];
        assert_eq!(
            Config::from_source(arn_only).expect_err("arn").var,
            "KAFKA_BROKERS"
        );
        let huge: &[(&str, &str)] = &[("TRIGGER_MAX_PAYLOAD_BYTES", "6291457")];
        assert_eq!(
            Config::from_source(huge).expect_err("over 6 MB").var,
            "TRIGGER_MAX_PAYLOAD_BYTES"
        );
        let max: &[(&str, &str)] = &[("TRIGGER_MAX_PAYLOAD_BYTES", "6291456")];
        assert!(Config::from_source(max).is_ok());
    }

    #[test]
    fn skipping_needs_a_destination_and_a_destination_caps_retries_at_ten() {
        let no_dest: &[(&str, &str)] = &[("TRIGGER_MAX_RETRY_ATTEMPTS", "3")];
        assert_eq!(
            Config::from_source(no_dest).expect_err("refused").var,
            "TRIGGER_MAX_RETRY_ATTEMPTS"
        );
        let old: &[(&str, &str)] = &[("TRIGGER_MAX_RECORD_AGE_S", "120")];
        assert_eq!(
            Config::from_source(old).expect_err("refused").var,
            "TRIGGER_MAX_RECORD_AGE_S"
        );
        let dest: &[(&str, &str)] = &[("TRIGGER_ON_FAILURE_TOPIC", "failed")];
        assert_eq!(
            Config::from_source(dest)
                .expect("config")
                .max_retry_attempts(),
            Some(10)
        );
        let three: &[(&str, &str)] = &[
            ("TRIGGER_ON_FAILURE_TOPIC", "failed"),
            ("TRIGGER_MAX_RETRY_ATTEMPTS", "3"),
        ];
        assert_eq!(
            Config::from_source(three)
                .expect("config")
                .max_retry_attempts(),
            Some(3)
        );
        let young: &[(&str, &str)] = &[
            ("TRIGGER_ON_FAILURE_TOPIC", "f"),
            ("TRIGGER_MAX_RECORD_AGE_S", "59"),
        ];
        assert_eq!(
            Config::from_source(young).expect_err("range").var,
            "TRIGGER_MAX_RECORD_AGE_S"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let src: &[(&str, &str)] = &[
            ("TRIGGER_RETRY_BASE_MS", "100"),
            ("TRIGGER_RETRY_MAX_MS", "1000"),
        ];
        let c = Config::from_source(src).expect("config");
        let delays: Vec<u128> = (1..=7).map(|a| c.backoff(a).as_millis()).collect();
        assert_eq!(delays, [0, 100, 200, 400, 800, 1000, 1000]);
    }
}
