//! `KAFKA_*` settings and the librdkafka configuration they produce. Finding the brokers of an
//! MSK cluster and signing IAM tokens is `msk`'s.

use crate::auth::{AuthContext, KafkaAuth};
use crate::{msk, Error};
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
/// `KAFKA_PRODUCE_TIMEOUT_MS` unless set.
const DEFAULT_PRODUCE_TIMEOUT_MS: u64 = 5000;
/// `KAFKA_HEALTH_TIMEOUT_MS` unless set (also its largest value: `GET /health` answers within it).
const DEFAULT_HEALTH_TIMEOUT_MS: u64 = 2000;
/// How long a producer holds a record for others to join its request (`linger.ms`) when many
/// are in flight at once. [`KafkaConfig::one_at_a_time`] sets none.
pub const BATCHING_LINGER: Duration = Duration::from_millis(2);

/// Connection and topic settings shared by every Kafka client of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `KAFKA_BROKERS`: comma-separated `host:port` list.
    pub brokers: String,
    /// `KAFKA_TOPIC`: where events are published.
    pub topic: String,
    /// `KAFKA_DLQ_TOPIC`: where the processor puts records it cannot use.
    pub dlq_topic: String,
    /// `KAFKA_PRODUCE_TIMEOUT_MS`: longest wait for an acknowledgement.
    pub produce_timeout: Duration,
    /// `KAFKA_HEALTH_TIMEOUT_MS`: deadline of the health check.
    pub health_timeout: Duration,
    /// `KAFKA_AUTH`: `plaintext` (default), `tls` or `iam`.
    pub auth: KafkaAuth,
    /// `MSK_CLUSTER_ARN`: when set and `KAFKA_BROKERS` is not, the brokers are looked up once per
    /// cold start with `GetBootstrapBrokers` ([`KafkaConfig::resolve`]).
    pub msk_cluster_arn: Option<String>,
    /// `AWS_REGION` (set by Lambda), else the cluster ARN's region: where IAM tokens are signed.
    pub region: Option<String>,
    /// `MSK_API_DUALSTACK`: call MSK's API (`GetBootstrapBrokers`) at its dual-stack endpoint.
    /// A VPC reaches it through the `kafka-api` interface endpoint, the one that takes new
    /// connections (https://docs.aws.amazon.com/msk/latest/developerguide/privatelink-vpc-endpoints.html);
    /// the other AWS clients keep their usual endpoints.
    pub msk_api_dual_stack: bool,
    /// `linger.ms` of the producers: [`BATCHING_LINGER`] unless the client sends one record at
    /// a time ([`KafkaConfig::one_at_a_time`]). Not a variable: it follows from how the process
    /// is run.
    pub linger: Duration,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: DEFAULT_BROKERS.to_owned(),
            topic: DEFAULT_TOPIC.to_owned(),
            dlq_topic: DEFAULT_DLQ_TOPIC.to_owned(),
            produce_timeout: Duration::from_millis(DEFAULT_PRODUCE_TIMEOUT_MS),
            health_timeout: Duration::from_millis(DEFAULT_HEALTH_TIMEOUT_MS),
            auth: KafkaAuth::Plaintext,
            msk_cluster_arn: None,
            region: None,
            msk_api_dual_stack: false,
            linger: BATCHING_LINGER,
        }
    }
}

/// Longest pause between reconnection attempts to a broker.
const RECONNECT_BACKOFF_MAX_MS: u32 = 1000;

/// `REPORT_BATCH_ITEM_FAILURES`: whether the event source mapping reads partial batch
/// responses (`FunctionResponseTypes: [ReportBatchItemFailures]`). The processor answers that
/// way and the local trigger honours the answer exactly when it is set, so both read it here.
pub fn report_batch_item_failures(src: &(impl Source + ?Sized)) -> Result<bool, ConfigError> {
    env::parse(src, "REPORT_BATCH_ITEM_FAILURES", false, "true or false")
}

impl KafkaConfig {
    /// Reads the `KAFKA_*` variables (and `MSK_CLUSTER_ARN`, `AWS_REGION`) from `src`.
    pub fn from_source(src: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        let msk_cluster_arn = src.get("MSK_CLUSTER_ARN");
        if let Some(arn) = &msk_cluster_arn {
            if msk::arn_region(arn).is_none() {
                return Err(ConfigError::new(
                    "MSK_CLUSTER_ARN",
                    format!("expected arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID, got {arn:?}"),
                ));
            }
        }
        let brokers = match (src.get("KAFKA_BROKERS"), &msk_cluster_arn) {
            (Some(b), _) => b,
            // Looked up with GetBootstrapBrokers by `resolve`.
            (None, Some(_)) => String::new(),
            (None, None) => DEFAULT_BROKERS.to_owned(),
        };
        if !brokers.is_empty() && brokers.split(',').any(|b| !b.trim().contains(':')) {
            return Err(ConfigError::new(
                "KAFKA_BROKERS",
                format!("expected host:port[,host:port…], got {brokers:?}"),
            ));
        }
        let auth_raw = env::string(src, "KAFKA_AUTH", "plaintext");
        let auth = KafkaAuth::parse(&auth_raw).ok_or_else(|| {
            ConfigError::new(
                "KAFKA_AUTH",
                format!("expected plaintext, tls or iam, got {auth_raw:?}"),
            )
        })?;
        let region = src
            .get("AWS_REGION")
            .or_else(|| src.get("AWS_DEFAULT_REGION"))
            .or_else(|| {
                msk_cluster_arn
                    .as_deref()
                    .and_then(msk::arn_region)
                    .map(str::to_owned)
            });
        if auth == KafkaAuth::Iam && region.is_none() {
            return Err(ConfigError::new(
                "KAFKA_AUTH",
                "iam signs tokens for a region: set AWS_REGION or MSK_CLUSTER_ARN",
            ));
        }
        Ok(Self {
            brokers,
            topic: env::string(src, "KAFKA_TOPIC", DEFAULT_TOPIC),
            dlq_topic: env::string(src, "KAFKA_DLQ_TOPIC", DEFAULT_DLQ_TOPIC),
            produce_timeout: env::millis(
                src,
                "KAFKA_PRODUCE_TIMEOUT_MS",
                DEFAULT_PRODUCE_TIMEOUT_MS,
                100..=300_000,
            )?,
            health_timeout: env::millis(
                src,
                "KAFKA_HEALTH_TIMEOUT_MS",
                DEFAULT_HEALTH_TIMEOUT_MS,
                100..=DEFAULT_HEALTH_TIMEOUT_MS,
            )?,
            auth,
            msk_cluster_arn,
            region,
            msk_api_dual_stack: env::parse(src, "MSK_API_DUALSTACK", false, "true or false")?,
            linger: BATCHING_LINGER,
        })
    }

    /// Fills in the brokers from `MSK_CLUSTER_ARN` (`GetBootstrapBrokers`, the listener that
    /// matches `KAFKA_AUTH`) when `KAFKA_BROKERS` was not given, and builds the client context
    /// (the IAM token signer for `iam`). Call once per cold start. See [`crate::msk`].
    pub async fn resolve(self) -> Result<(Self, AuthContext), Error> {
        crate::msk::resolve(self).await
    }

    /// For a client that never has a second record to send while one is in flight (a Lambda
    /// environment serving one invocation at a time): records leave at once. A linger there only
    /// delays every request, and keeps librdkafka's broker thread waking through it (measured in
    /// docs/benchmarks-notes.md). Under load without a linger, librdkafka still batches what
    /// queues while its in-flight requests are full.
    pub fn one_at_a_time(mut self) -> Self {
        self.linger = Duration::ZERO;
        self
    }

    /// Settings every client needs (bootstrap servers, client id).
    pub fn client_config(&self, client_id: &str) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("client.id", client_id)
            .set("socket.keepalive.enable", "true")
            // librdkafka backs off reconnecting up to 10 s by default, so a broker back from a
            // restart waited up to that long for its clients (5 s to the first 201, measured by
            // `make chaos`). One second bounds the gap without hammering a broker that is down.
            .set(
                "reconnect.backoff.max.ms",
                RECONNECT_BACKOFF_MAX_MS.to_string(),
            );
        match self.auth {
            KafkaAuth::Plaintext => {
                c.set("security.protocol", "plaintext");
            }
            KafkaAuth::Tls => {
                c.set("security.protocol", "ssl")
                    .set("ssl.ca.location", "probe");
            }
            KafkaAuth::Iam => {
                c.set("security.protocol", "sasl_ssl")
                    .set("sasl.mechanism", "OAUTHBEARER")
                    .set("ssl.ca.location", "probe");
            }
        }
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
            .set("linger.ms", self.linger.as_millis().to_string())
            .set("compression.type", "none")
            // Connect to every broker the metadata names at once rather than on first use, so
            // the idempotent producer finds a broker up when it asks for its producer id (see
            // `publisher::warm_up`): a cold start's first event waited 50-500 ms without it.
            .set("enable.sparse.connections", "false");
        c
    }

    /// The dead-letter producer: every record written by all in-sync replicas (`acks=all`) before
    /// the batch is acknowledged, but not idempotent. Dead-lettering is at-least-once by
    /// construction (a failed invocation redelivers the batch and dead-letters its poison records
    /// again), so idempotence would buy nothing here, while it costs every cold start a producer
    /// id round (librdkafka retries it on a 500 ms timer; see BENCHMARKS.md).
    pub fn dead_letter_config(&self, client_id: &str) -> ClientConfig {
        let mut c = self.producer_config(client_id);
        c.set("enable.idempotence", "false").set(
            "message.max.bytes",
            crate::dead_letter::PRODUCER_MESSAGE_MAX_BYTES.to_string(),
        );
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
        assert_eq!(p.get("enable.sparse.connections"), Some("false"));
        assert_eq!(p.get("linger.ms"), Some("2"));
        let alone = cfg.one_at_a_time().producer_config("test");
        assert_eq!(alone.get("linger.ms"), Some("0"));
    }

    #[test]
    fn the_dead_letter_producer_waits_for_all_replicas_without_idempotence() {
        let src: &[(&str, &str)] = &[("KAFKA_PRODUCE_TIMEOUT_MS", "1234")];
        let cfg = KafkaConfig::from_source(src).expect("config");
        let p = cfg.dead_letter_config("test");
        assert_eq!(p.get("enable.idempotence"), Some("false"));
        assert_eq!(p.get("acks"), Some("all"));
        assert_eq!(p.get("message.timeout.ms"), Some("1234"));
    }

    #[test]
    fn each_auth_mode_sets_its_protocol() {
        let iam: &[(&str, &str)] = &[
            ("KAFKA_AUTH", "iam"),
            (
                "MSK_CLUSTER_ARN",
                "arn:aws:kafka:eu-west-1:123456789012:cluster/demo/abc-1",
            ),
        ];
        let cfg = KafkaConfig::from_source(iam).expect("iam");
        assert_eq!(cfg.brokers, "", "resolved later from the cluster ARN");
        assert_eq!(cfg.region.as_deref(), Some("eu-west-1"));
        let c = cfg.producer_config("t");
        assert_eq!(c.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(c.get("sasl.mechanism"), Some("OAUTHBEARER"));

        let tls: &[(&str, &str)] = &[("KAFKA_AUTH", "TLS"), ("KAFKA_BROKERS", "b-1:9094")];
        let c = KafkaConfig::from_source(tls)
            .expect("tls")
            .client_config("t");
        assert_eq!(c.get("security.protocol"), Some("ssl"));
        assert_eq!(c.get("sasl.mechanism"), None);

        let plain: &[(&str, &str)] = &[];
        let c = KafkaConfig::from_source(plain)
            .expect("plaintext")
            .client_config("t");
        assert_eq!(c.get("security.protocol"), Some("plaintext"));
        assert_eq!(c.get("bootstrap.servers"), Some(DEFAULT_BROKERS));
    }

    #[test]
    fn iam_needs_a_region_and_arns_are_checked() {
        let src: &[(&str, &str)] = &[("KAFKA_AUTH", "iam"), ("KAFKA_BROKERS", "b-1:9098")];
        assert_eq!(
            KafkaConfig::from_source(src).expect_err("no region").var,
            "KAFKA_AUTH"
        );
        let src: &[(&str, &str)] = &[("MSK_CLUSTER_ARN", "arn:aws:s3:::bucket")];
        assert_eq!(
            KafkaConfig::from_source(src).expect_err("bad arn").var,
            "MSK_CLUSTER_ARN"
        );
        let src: &[(&str, &str)] = &[("KAFKA_AUTH", "sasl")];
        assert_eq!(
            KafkaConfig::from_source(src).expect_err("bad mode").var,
            "KAFKA_AUTH"
        );
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
