//! The rdkafka publisher.

use crate::send::acknowledged;
use crate::{headers, AuthContext, Delivered, Error, EventPublisher, KafkaConfig, KafkaHealth};
use event_schema::{UserEvent, SCHEMA_VERSION};
use rdkafka::client::Client;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use std::time::Duration;
use tracing::debug;

/// Publishes events to `KAFKA_TOPIC`. Create one per process (cold start) and share it: the
/// producer holds the broker connections and the idempotence state.
#[derive(Clone)]
pub struct KafkaPublisher {
    producer: FutureProducer<AuthContext>,
    config: KafkaConfig,
}

impl KafkaPublisher {
    /// Builds the producer for a resolved configuration (see [`KafkaConfig::resolve`]).
    /// Connecting happens in the background; nothing blocks here.
    pub fn new(config: KafkaConfig, context: AuthContext, client_id: &str) -> Result<Self, Error> {
        let producer: FutureProducer<AuthContext> = config
            .producer_config(client_id)
            .create_with_context(context)?;
        warm_up(&producer, &config);
        Ok(Self { producer, config })
    }

    /// Resolves the configuration (MSK brokers, IAM signer) and builds the producer.
    pub async fn connect(config: KafkaConfig, client_id: &str) -> Result<Self, Error> {
        let (config, context) = config.resolve().await?;
        Self::new(config, context, client_id)
    }
}

impl EventPublisher for KafkaPublisher {
    async fn publish(
        &self,
        event: &UserEvent,
        traceparent: Option<&str>,
    ) -> Result<Delivered, Error> {
        let value = serde_json::to_vec(event)?;
        let mut record_headers = OwnedHeaders::new_with_capacity(4)
            .insert(Header {
                key: headers::EVENT_TYPE,
                value: Some(event.event_type.as_str()),
            })
            .insert(Header {
                key: headers::SCHEMA_VERSION,
                value: Some(SCHEMA_VERSION),
            })
            .insert(Header {
                key: headers::CONTENT_TYPE,
                value: Some("application/json"),
            });
        if let Some(trace) = traceparent {
            record_headers = record_headers.insert(Header {
                key: pipeline_runtime::trace::TRACEPARENT,
                value: Some(trace),
            });
        }
        let record = FutureRecord::to(&self.config.topic)
            .key(event.user_id.as_str())
            .payload(&value)
            .headers(record_headers);
        let (partition, offset) =
            acknowledged(&self.producer, record, self.config.produce_timeout).await?;
        debug!(event_id = %event.event_id, partition, offset, "acknowledged");
        Ok(Delivered {
            partition,
            offset,
            value,
        })
    }

    async fn health(&self) -> Result<KafkaHealth, Error> {
        let client = self.producer.clone();
        let topic = self.config.topic.clone();
        let timeout = self.config.health_timeout;
        tokio::task::spawn_blocking(move || health(client.client(), &topic, timeout)).await?
    }

    fn flush(&self, timeout: Duration) {
        if let Err(e) = self.producer.flush(Timeout::After(timeout)) {
            tracing::warn!(error = "kafka_flush_incomplete", cause = %e, "producer flush incomplete at shutdown");
        }
    }
}

/// Starts the idempotent producer's producer-id request now rather than half a second later.
///
/// librdkafka asks for a producer id on a fixed 500 ms timer (`rdkafka_idempotence.c`) that a
/// broker connecting does not cut short; only a metadata response re-runs the request at once,
/// and it finds no broker to ask unless one is already up. So, as the producer is created, a
/// thread of its own asks for the topic's metadata twice: the first answer (from the bootstrap
/// address) makes librdkafka connect to the brokers it names (`enable.sparse.connections=false`),
/// the second comes over one of those connections, so the id request it triggers has a broker.
/// Nothing waits for this thread. Measured on the local broker: exec → first 201 of a cold
/// start went from about 510 ms to about 10 ms (BENCHMARKS.md, figure 4).
fn warm_up(producer: &FutureProducer<AuthContext>, config: &KafkaConfig) {
    let producer = producer.clone();
    let (topic, timeout) = (config.topic.clone(), config.produce_timeout);
    let _ = std::thread::Builder::new()
        .name("kafka-warm-up".into())
        .spawn(move || {
            for _ in 0..2 {
                let asked = producer
                    .client()
                    .fetch_metadata(Some(&topic), Timeout::After(timeout));
                if let Err(e) = asked {
                    debug!(error = %e, "metadata warm-up failed; the producer id comes on its timer");
                    return;
                }
            }
        });
}

/// Asks the cluster for `topic`'s metadata, waiting at most `timeout`. Blocking: call it from a
/// blocking thread.
pub fn health<C: rdkafka::ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<KafkaHealth, Error> {
    let metadata = client.fetch_metadata(Some(topic), Timeout::After(timeout))?;
    let t = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .ok_or_else(|| Error::MissingTopic(topic.to_owned()))?;
    Ok(KafkaHealth {
        brokers: metadata.brokers().len(),
        topic: topic.to_owned(),
        partitions: t.partitions().len(),
    })
}
