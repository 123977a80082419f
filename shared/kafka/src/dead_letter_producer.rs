//! The dead-letter producer: letters to `KAFKA_DLQ_TOPIC`, each bounded by
//! [`DeadLetter::encode`](crate::DeadLetter::encode).

use crate::dead_letter::MAX_LETTER_BYTES;
use crate::{AuthContext, DeadLetter, DeadLetterSink, KafkaConfig, PublishError};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

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
