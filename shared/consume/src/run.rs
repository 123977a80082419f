//! The consume → batch → invoke → commit loop, over any [`Invoke`]: the local trigger runs it
//! with the Lambda Invoke API client, the consumer with the processor in process.

use crate::assignment::{topic_partitions, AssignmentWatch};
use crate::batch::{Batch, Record};
use crate::config::{Config, StartingPosition};
use crate::deliver::{Deliverer, Delivery};
use crate::error::LoopError;
use crate::invoke::Invoke;
use crate::progress::Progress;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, ClientContext};
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

/// How often an idle consumer checks its assignment.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Logs group membership changes.
struct Membership;

impl ClientContext for Membership {}

impl ConsumerContext for Membership {
    fn post_rebalance(&self, _: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let parts: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                info!(partitions = ?parts, "partitions assigned");
            }
            Rebalance::Revoke(tpl) => info!(count = tpl.count(), "partitions revoked"),
            Rebalance::Error(e) => warn!(error = %e, "rebalance error"),
        }
    }
}

type Member = StreamConsumer<Membership>;

fn consumer(config: &Config, client_id: &str) -> Result<Member, KafkaError> {
    let consumer: Member = consumer_config(config, client_id).create_with_context(Membership)?;
    consumer.subscribe(&[&config.kafka.topic])?;
    Ok(consumer)
}

fn consumer_config(config: &Config, client_id: &str) -> ClientConfig {
    let mut c: ClientConfig = config.kafka.client_config(client_id);
    let reset = match config.starting_position {
        StartingPosition::TrimHorizon => "earliest",
        StartingPosition::Latest => "latest",
    };
    c.set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", reset)
        .set(
            "session.timeout.ms",
            config.session_timeout.as_millis().to_string(),
        )
        .set(
            "heartbeat.interval.ms",
            (config.session_timeout.as_millis() / 5)
                .max(100)
                .to_string(),
        )
        // A batch may be retried for a long time; staying in the group meanwhile is the point.
        .set("max.poll.interval.ms", "86400000")
        .set("enable.partition.eof", "false")
        .set(
            "fetch.wait.max.ms",
            config.fetch_wait.as_millis().to_string(),
        );
    c
}

/// The loop itself: consumes `config`'s topic in its group as Kafka client `client_id`, hands
/// each batch to `invoker` under the configured retry, bisect and skip rules, and commits a
/// batch's offsets only once it is done. Returns when `shutdown` turns true, after leaving the
/// group; a batch still being retried then stays uncommitted. Each turn is marked in `progress`.
/// Needs the multi-threaded runtime (commits block a worker).
pub async fn consume<I: Invoke>(
    config: &Config,
    invoker: &I,
    client_id: &str,
    progress: &Progress,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), LoopError> {
    let deliverer = Deliverer::new(invoker, config, progress)?;
    info!(
        topic = %config.kafka.topic,
        group = %config.group_id,
        function = %invoker.target(),
        batch_size = config.batch_size,
        window_ms = config.batch_window.as_millis() as u64,
        "{client_id} starting"
    );
    let mut carry: Option<Record> = None;
    loop {
        let consumer = consumer(config, client_id)?;
        let partitions = tokio::task::block_in_place(|| topic_partitions(&consumer, config));
        let mut watch = AssignmentWatch::new(partitions);
        let rejoin = loop {
            progress.turned();
            if *shutdown.borrow() {
                break false;
            }
            // Wait for the first record of a batch, watching the assignment while idle.
            let mut batch = Batch::default();
            if let Some(r) = carry.take() {
                batch.push(r);
            } else {
                tokio::select! {
                    _ = shutdown.changed() => break false,
                    received = tokio::time::timeout(IDLE_POLL, consumer.recv()) => match received {
                        Err(_) => {
                            deliverer.summary.print_if_due();
                            if watch.stuck(&consumer, config) {
                                break true;
                            }
                            continue;
                        }
                        Ok(Err(e)) => {
                            warn!(error = %e, "consume error");
                            continue;
                        }
                        Ok(Ok(m)) => batch.push(Record::from_message(&m)),
                    }
                }
            }

            // Fill it until the batch size, the payload cap or the end of the window.
            let window_end = tokio::time::Instant::now() + config.batch_window;
            while batch.len() < config.batch_size {
                match tokio::time::timeout_at(window_end, consumer.recv()).await {
                    Err(_) => break,
                    Ok(Err(e)) => warn!(error = %e, "consume error"),
                    Ok(Ok(m)) => {
                        let r = Record::from_message(&m);
                        if !batch.fits(&r, config.max_payload_bytes) {
                            carry = Some(r);
                            break;
                        }
                        batch.push(r);
                    }
                }
            }

            let (commit_list, records) = (batch.commit_list(), batch.len());
            let delivery = deliverer.deliver(batch, &mut shutdown).await?;
            deliverer.summary.print_if_due();
            if delivery == Delivery::Interrupted {
                info!(
                    records,
                    "stopping during a retry; the batch stays uncommitted"
                );
                break false;
            }
            // A synchronous commit waits for the broker: keep it off the async workers.
            let committed =
                tokio::task::block_in_place(|| consumer.commit(&commit_list, CommitMode::Sync));
            if let Err(e) = committed {
                // The records were processed; after a rebalance they come back to whoever owns
                // the partition, and the store's insert-if-absent absorbs the repeat.
                warn!(error = %e, "offset commit failed; the batch may be delivered again");
            }
            if watch.stuck(&consumer, config) {
                break true;
            }
        };
        consumer.unsubscribe();
        drop(consumer);
        if !rejoin {
            info!("{client_id} stopped; left the consumer group");
            return Ok(());
        }
        carry = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consumer_commits_by_hand_and_waits_at_most_the_fetch_wait() {
        let src: &[(&str, &str)] = &[("CONSUMER_FETCH_WAIT_MS", "40")];
        let config = Config::from_source(src, "CONSUMER_").expect("config");
        let c = consumer_config(&config, "events-consumer");
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("fetch.wait.max.ms"), Some("40"));
        assert_eq!(c.get("group.id"), Some("user-activity-consumer-group"));
    }
}
