//! The dead-letter producer: letters to `KAFKA_DLQ_TOPIC`, each bounded by
//! [`DeadLetter::encode`](crate::DeadLetter::encode).

use crate::dead_letter::MAX_LETTER_BYTES;
use crate::send::acknowledged;
use crate::{AuthContext, DeadLetter, DeadLetterSink, Error, KafkaConfig};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// Dead letters to `KAFKA_DLQ_TOPIC`, acknowledged by all in-sync replicas.
#[derive(Clone)]
pub struct KafkaDeadLetters {
    producer: FutureProducer<AuthContext>,
    topic: String,
    config: KafkaConfig,
}

impl KafkaDeadLetters {
    /// Builds the producer for a resolved configuration (once per cold start).
    pub fn new(config: KafkaConfig, context: AuthContext, client_id: &str) -> Result<Self, Error> {
        Ok(Self {
            producer: config
                .dead_letter_config(client_id)
                .create_with_context(context)?,
            topic: config.dlq_topic.clone(),
            config,
        })
    }

    /// Resolves the configuration (MSK brokers, IAM signer) and builds the producer.
    pub async fn connect(config: KafkaConfig, client_id: &str) -> Result<Self, Error> {
        let (config, context) = config.resolve().await?;
        Self::new(config, context, client_id)
    }
}

impl DeadLetterSink for KafkaDeadLetters {
    async fn send_all(&self, letters: &[DeadLetter]) -> Result<(), Error> {
        let sends = letters.iter().map(|l| {
            let letter = l.encode(MAX_LETTER_BYTES);
            let mut headers = OwnedHeaders::new_with_capacity(letter.headers.len());
            for (k, v) in &letter.headers {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v),
                });
            }
            let mut record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&self.topic).headers(headers);
            if let Some(k) = letter.key {
                record = record.key(k);
            }
            if let Some(v) = letter.value {
                record = record.payload(v);
            }
            acknowledged(&self.producer, record, self.config.produce_timeout)
        });
        for result in futures::future::join_all(sends).await {
            result?;
        }
        Ok(())
    }
}
