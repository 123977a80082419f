//! The dead-letter topic: records the processor cannot use, kept with the reason, never dropped.

use crate::{AuthContext, KafkaConfig, PublishError};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use std::future::Future;

/// Header names added to a dead-lettered record (after the original headers).
pub mod dlq_headers {
    /// Stable reason code (`missing_value`, `bad_base64`, `malformed_json`, `invalid_event`).
    pub const REASON: &str = "dlq-reason";
    /// A sentence explaining the reason.
    pub const MESSAGE: &str = "dlq-message";
    /// Topic the record was read from.
    pub const SOURCE_TOPIC: &str = "dlq-source-topic";
    /// Its partition.
    pub const SOURCE_PARTITION: &str = "dlq-source-partition";
    /// Its offset.
    pub const SOURCE_OFFSET: &str = "dlq-source-offset";
}

/// One unusable record, as it arrived, with why it was set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Stable reason code.
    pub reason: String,
    /// Explanation.
    pub message: String,
    /// Source topic.
    pub topic: String,
    /// Source partition.
    pub partition: i64,
    /// Source offset.
    pub offset: i64,
    /// Original key bytes.
    pub key: Option<Vec<u8>>,
    /// Original value bytes (absent when the record had none).
    pub value: Option<Vec<u8>>,
    /// Original headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Where the processor puts unusable records.
pub trait DeadLetterSink: Send + Sync + 'static {
    /// Writes every letter and resolves once all are acknowledged; any failure fails the call
    /// (the caller then fails its batch so that nothing is lost).
    fn send_all(
        &self,
        letters: &[DeadLetter],
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

/// Dead letters to `KAFKA_DLQ_TOPIC`, acknowledged by all in-sync replicas.
#[derive(Clone)]
pub struct KafkaDeadLetters {
    producer: FutureProducer<AuthContext>,
    topic: String,
    config: KafkaConfig,
}

impl KafkaDeadLetters {
    /// Builds the producer for a resolved configuration (once per cold start).
    pub fn new(
        config: KafkaConfig,
        context: AuthContext,
        client_id: &str,
    ) -> Result<Self, PublishError> {
        Ok(Self {
            producer: config
                .dead_letter_config(client_id)
                .create_with_context(context)?,
            topic: config.dlq_topic.clone(),
            config,
        })
    }

    /// Resolves the configuration (MSK brokers, IAM signer) and builds the producer.
    pub async fn connect(config: KafkaConfig, client_id: &str) -> Result<Self, PublishError> {
        let (config, context) = config.resolve().await?;
        Self::new(config, context, client_id)
    }
}

impl DeadLetterSink for KafkaDeadLetters {
    async fn send_all(&self, letters: &[DeadLetter]) -> Result<(), PublishError> {
        let sends = letters.iter().map(|l| {
            let mut headers = OwnedHeaders::new_with_capacity(l.headers.len() + 5);
            for (k, v) in &l.headers {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v),
                });
            }
            let partition = l.partition.to_string();
            let offset = l.offset.to_string();
            for (k, v) in [
                (dlq_headers::REASON, l.reason.as_str()),
                (dlq_headers::MESSAGE, l.message.as_str()),
                (dlq_headers::SOURCE_TOPIC, l.topic.as_str()),
                (dlq_headers::SOURCE_PARTITION, partition.as_str()),
                (dlq_headers::SOURCE_OFFSET, offset.as_str()),
            ] {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v),
                });
            }
            let mut record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&self.topic).headers(headers);
            if let Some(k) = &l.key {
                record = record.key(k.as_slice());
            }
            if let Some(v) = &l.value {
                record = record.payload(v.as_slice());
            }
            let timeout = self.config.produce_timeout;
            let producer = &self.producer;
            async move {
                let sent = producer.send(record, Timeout::After(timeout));
                match tokio::time::timeout(timeout + std::time::Duration::from_millis(500), sent)
                    .await
                {
                    Err(_) => Err(PublishError::Timeout(timeout)),
                    Ok(Err((e, _))) => Err(PublishError::Kafka(e)),
                    Ok(Ok(_)) => Ok(()),
                }
            }
        });
        for result in futures::future::join_all(sends).await {
            result?;
        }
        Ok(())
    }
}
