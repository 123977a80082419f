//! The one way a record is sent: wait for the broker's acknowledgement, and fail as
//! [`Error::Timeout`] exactly when the produce timeout passes, whichever side notices it
//! first (librdkafka's `message.timeout.ms`, or the outer deadline that guards against a lost
//! delivery callback). The publisher and the dead-letter producer both send through it.

use crate::{AuthContext, Error};
use rdkafka::error::KafkaError;
use rdkafka::message::ToBytes;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use std::time::Duration;

/// How much longer than the produce timeout the outer deadline waits for librdkafka's own.
const CALLBACK_MARGIN: Duration = Duration::from_millis(500);

/// Where the acknowledged record was written: `(partition, offset)`.
pub(crate) async fn acknowledged<K, P>(
    producer: &FutureProducer<AuthContext>,
    record: FutureRecord<'_, K, P>,
    timeout: Duration,
) -> Result<(i32, i64), Error>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    let sent = producer.send(record, Timeout::After(timeout));
    match tokio::time::timeout(timeout + CALLBACK_MARGIN, sent).await {
        Err(_) | Ok(Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut), _))) => {
            Err(Error::Timeout(timeout))
        }
        Ok(Err((e, _))) => Err(Error::Kafka(e)),
        Ok(Ok(delivery)) => Ok((delivery.partition, delivery.offset)),
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        DeadLetter, DeadLetterSink, Error, EventPublisher, KafkaConfig, KafkaDeadLetters,
        KafkaPublisher,
    };
    use std::time::Duration;

    /// Settings whose broker never answers (nothing listens on port 1), with a short timeout.
    fn unreachable() -> KafkaConfig {
        KafkaConfig {
            brokers: "127.0.0.1:1".into(),
            produce_timeout: Duration::from_millis(300),
            ..KafkaConfig::default()
        }
    }

    #[tokio::test]
    async fn both_producers_report_an_unacknowledged_record_as_a_timeout() {
        let config = unreachable();
        let publisher =
            KafkaPublisher::new(config.clone(), Default::default(), "t").expect("producer");
        let event = event_schema::validate_request(br#"{"userId":"u","eventType":"LOGIN"}"#)
            .expect("valid")
            .into_event();
        let published = publisher.publish(&event, None).await;
        assert!(matches!(published, Err(Error::Timeout(_))), "{published:?}");

        let letters = KafkaDeadLetters::new(config, Default::default(), "t").expect("producer");
        let letter = DeadLetter {
            reason: crate::Reason::MalformedJson,
            message: "x".into(),
            topic: "t".into(),
            partition: 0,
            offset: 0,
            key: None,
            value: Some(b"x".to_vec()),
            headers: Vec::new(),
        };
        let sent = letters.send_all(&[letter]).await;
        assert!(matches!(sent, Err(Error::Timeout(_))), "{sent:?}");
    }
}
