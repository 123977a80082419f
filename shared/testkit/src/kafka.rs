//! Topics on a real broker.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The broker the tests use: `KAFKA_BROKERS`, else the local default.
pub fn brokers() -> String {
    std::env::var("KAFKA_BROKERS")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "127.0.0.1:9092".to_owned())
}

/// A topic name no other test uses.
pub fn unique_topic(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Creates `topic` with `partitions` partitions (an existing topic is fine).
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &opts,
        )
        .await
        .unwrap_or_else(|e| panic!("cannot reach Kafka at {brokers} (run `make kafka`): {e}"));
    for r in results {
        if let Err((name, code)) = r {
            assert!(
                code == rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists,
                "creating topic {name}: {code}"
            );
        }
    }
}

/// A consumer that never joins its group: it assigns partitions or fetches offsets only.
fn group_consumer(brokers: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer")
}

/// The partition ids of `topic`. A broker busy rebalancing or just restarted can take a while
/// to answer, so this asks up to four times (20 s) before failing the test.
fn partitions(consumer: &BaseConsumer, topic: &str) -> Vec<i32> {
    let mut last = None;
    for _ in 0..4 {
        match consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            Ok(m) => {
                return m
                    .topics()
                    .iter()
                    .filter(|t| t.name() == topic)
                    .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                    .collect()
            }
            Err(e) => last = Some(e),
        }
    }
    panic!("no metadata for {topic}: {last:?}");
}

/// One record as read back.
#[derive(Debug, Clone)]
pub struct Record {
    /// Partition it was in.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Key bytes as UTF-8 (lossy).
    pub key: Option<String>,
    /// Value bytes.
    pub value: Option<Vec<u8>>,
    /// Headers, values as UTF-8 (lossy), in order.
    pub headers: Vec<(String, String)>,
}

impl Record {
    /// The first header called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every record of `topic`, reading each partition from the beginning to its current high
/// watermark. Blocking; fails the test if the broker does not deliver within `timeout`.
pub fn read_topic(brokers: &str, topic: &str, timeout: Duration) -> Vec<Record> {
    let consumer = group_consumer(brokers, "testkit-reader-unused");
    let deadline = Instant::now() + timeout;
    let partitions = partitions(&consumer, topic);
    assert!(!partitions.is_empty(), "topic {topic} has no partitions");
    let mut high = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for &p in &partitions {
        let (_, hw) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(5))
            .expect("watermarks");
        high.insert(p, hw);
        if hw > 0 {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .expect("partition");
        }
    }
    let mut records = Vec::new();
    if tpl.count() == 0 {
        return records;
    }
    consumer.assign(&tpl).expect("assign");
    let mut next: BTreeMap<i32, i64> = partitions.iter().map(|&p| (p, 0)).collect();
    while next.iter().any(|(p, o)| *o < high[p]) {
        assert!(
            Instant::now() < deadline,
            "reading {topic} timed out: at {next:?}, high watermarks {high:?}"
        );
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg.expect("consume");
        let headers = msg
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        next.insert(msg.partition(), msg.offset() + 1);
        records.push(Record {
            partition: msg.partition(),
            offset: msg.offset(),
            key: msg.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            value: msg.payload().map(<[u8]>::to_vec),
            headers,
        });
    }
    records
}

/// Waits until consumer group `group` has committed, for every partition of `topic`, the
/// partition's current end offset: everything produced so far was processed. Does not join the
/// group (offset fetch only).
pub fn wait_until_consumed(brokers: &str, group: &str, topic: &str, timeout: Duration) {
    let consumer = group_consumer(brokers, group);
    let deadline = Instant::now() + timeout;
    let partitions = partitions(&consumer, topic);
    loop {
        let mut behind = Vec::new();
        let mut tpl = TopicPartitionList::new();
        for &p in &partitions {
            tpl.add_partition(topic, p);
        }
        let committed = consumer
            .committed_offsets(tpl, Duration::from_secs(5))
            .expect("committed offsets");
        for &p in &partitions {
            let (_, high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(5))
                .expect("watermarks");
            let at = committed
                .find_partition(topic, p)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                })
                .unwrap_or(0);
            if at < high {
                behind.push((p, at, high));
            }
        }
        if behind.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "group {group} did not consume {topic} in time: (partition, committed, end) {behind:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A record to produce: key, value, headers.
pub type RawRecord = (Option<Vec<u8>>, Option<Vec<u8>>, Vec<(String, Vec<u8>)>);

/// Produces raw records (key, value, headers) to `topic`, waiting for each acknowledgement.
pub async fn produce(brokers: &str, topic: &str, records: &[RawRecord]) {
    produce_to(brokers, topic, None, records).await;
}

/// Produces raw records to one `partition` of `topic` (or where the key hashes, with `None`).
pub async fn produce_to(brokers: &str, topic: &str, partition: Option<i32>, records: &[RawRecord]) {
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .expect("producer");
    for (key, value, headers) in records {
        let mut h = OwnedHeaders::new();
        for (k, v) in headers {
            h = h.insert(Header {
                key: k,
                value: Some(v),
            });
        }
        let mut r: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(h);
        if let Some(p) = partition {
            r = r.partition(p);
        }
        if let Some(k) = key {
            r = r.key(k.as_slice());
        }
        if let Some(v) = value {
            r = r.payload(v.as_slice());
        }
        producer
            .send(r, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .expect("produce");
    }
}
