//! The Lambda edge of the loop: [`Invoker`] sends a batch as the exact event an MSK event source
//! mapping passes to a function, through the Lambda Invoke API, and reads the function's answer
//! (its batch summary, or `batchItemFailures`) back into a [`Reply`].

use crate::config::Config;
use event_consume::{Batch, Counts, Invoke, InvokeError, Record, Reply};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The event an MSK event source mapping passes to a function.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MskEvent<'a> {
    /// Always `aws:kafka`.
    pub event_source: &'static str,
    /// The cluster ARN.
    pub event_source_arn: &'a str,
    /// Bootstrap servers, comma-separated.
    pub bootstrap_servers: &'a str,
    /// Records keyed `"<topic>-<partition>"`, each list in offset order.
    pub records: BTreeMap<String, Vec<&'a Record>>,
}

impl<'a> MskEvent<'a> {
    /// The event for `batch`.
    pub fn new(batch: &'a Batch, arn: &'a str, bootstrap: &'a str) -> Self {
        Self {
            event_source: "aws:kafka",
            event_source_arn: arn,
            bootstrap_servers: bootstrap,
            records: batch.by_partition(),
        }
    }
}

/// A client of one function's invocation endpoint.
pub struct Invoker {
    client: reqwest::Client,
    url: String,
    function_arn: String,
    event_source_arn: String,
    bootstrap: String,
}

impl Invoker {
    /// `POST {LAMBDA_ENDPOINT}/2015-03-31/functions/{TRIGGER_FUNCTION_NAME}/invocations`,
    /// waiting at most `TRIGGER_INVOKE_TIMEOUT_MS`.
    pub fn new(config: &Config) -> Result<Self, reqwest::Error> {
        let (endpoint, function) = (&config.endpoint, &config.function_name);
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(config.consume.invoke_timeout)
                .connect_timeout(Duration::from_secs(5))
                .build()?,
            url: format!("{endpoint}/2015-03-31/functions/{function}/invocations"),
            function_arn: format!("arn:aws:lambda:local:000000000000:function:{function}"),
            event_source_arn: config.consume.event_source_arn.clone(),
            bootstrap: config.consume.kafka.brokers.clone(),
        })
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The invocation payload for `batch`.
    pub fn payload(&self, batch: &Batch) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&MskEvent::new(
            batch,
            &self.event_source_arn,
            &self.bootstrap,
        ))
    }
}

impl Invoke for Invoker {
    fn target(&self) -> &str {
        &self.function_arn
    }

    async fn invoke(&self, batch: &Batch) -> Result<Reply, InvokeError> {
        let payload = self.payload(batch).map_err(|e| InvokeError::Function {
            status: 0,
            body: format!("the event could not be written: {e}"),
        })?;
        let res = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-amz-invocation-type", "RequestResponse")
            .body(payload)
            .send()
            .await
            .map_err(transport)?;
        let status = res.status();
        let function_error = res.headers().contains_key("x-amz-function-error");
        let body = res.text().await.map_err(transport)?;
        if status.is_success() && !function_error {
            Ok(reply(&body))
        } else {
            Err(InvokeError::Function {
                status: status.as_u16(),
                body: body.chars().take(2000).collect(),
            })
        }
    }
}

fn transport(e: reqwest::Error) -> InvokeError {
    InvokeError::Transport(e.to_string())
}

/// The function's answer read as the mapping reads it: `batchItemFailures` (an empty or null
/// answer, or one without the list, is a complete success), and the processor's summary fields
/// (those it lacks count as 0).
pub fn reply(body: &str) -> Reply {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Answer {
        batch_item_failures: Option<Vec<Failure>>,
        inserted: u64,
        duplicates: u64,
        erased: u64,
        dead_lettered: u64,
        lag_max_ms: u64,
        lag_p50_ms: u64,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Failure {
        item_identifier: Identifier,
    }
    #[derive(Deserialize)]
    struct Identifier {
        partition: String,
        offset: i64,
    }
    let trimmed = body.trim();
    if trimmed.is_empty() || trimmed == "null" {
        return Reply::default();
    }
    let Ok(answer) = serde_json::from_str::<Answer>(body) else {
        return Reply {
            unreadable: Some("the answer is not a batch response".to_owned()),
            ..Reply::default()
        };
    };
    Reply {
        counts: Counts {
            inserted: answer.inserted,
            duplicates: answer.duplicates,
            erased: answer.erased,
            dead_lettered: answer.dead_lettered,
            lag_max_ms: answer.lag_max_ms,
            lag_p50_ms: answer.lag_p50_ms,
        },
        item_failures: answer
            .batch_item_failures
            .unwrap_or_default()
            .into_iter()
            .map(|f| (f.item_identifier.partition, f.item_identifier.offset))
            .collect(),
        unreadable: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the loop holds it: key `alice`, header `event-type` = [76, -1].
    fn record(partition: i32, offset: i64, value: Option<&str>) -> Record {
        Record {
            topic: "user-activity-events".to_owned(),
            partition,
            offset,
            timestamp: 1_795_536_424_123,
            timestamp_type: "CREATE_TIME",
            key: Some("YWxpY2U=".to_owned()),
            value: value.map(str::to_owned),
            headers: vec![BTreeMap::from([("event-type".to_owned(), vec![76, -1])])],
        }
    }

    #[test]
    fn event_json_is_what_lambda_parses_as_an_msk_event() {
        let mut batch = Batch::default();
        for (p, o) in [(2, 7), (0, 41), (0, 42), (2, 8)] {
            batch.push(record(p, o, Some("eyJhIjoxfQ==")));
        }
        batch.push(record(1, 3, None));
        let json =
            serde_json::to_value(MskEvent::new(&batch, "arn:x", "127.0.0.1:9092")).expect("json");
        assert_eq!(json["eventSource"], "aws:kafka");
        let p0 = &json["records"]["user-activity-events-0"];
        assert_eq!(p0[0]["offset"], 41);
        assert_eq!(p0[1]["offset"], 42);
        assert_eq!(p0[0]["value"], "eyJhIjoxfQ==");
        assert_eq!(p0[0]["key"], "YWxpY2U=");
        assert_eq!(p0[0]["timestampType"], "CREATE_TIME");
        assert_eq!(
            p0[0]["headers"][0]["event-type"],
            serde_json::json!([76, -1])
        );
        assert!(json["records"]["user-activity-events-1"][0]
            .get("value")
            .is_none());

        let parsed: aws_lambda_events::event::kafka::KafkaEvent =
            serde_json::from_value(json).expect("aws_lambda_events reads it");
        assert_eq!(parsed.records.len(), 3);
        assert_eq!(parsed.records["user-activity-events-2"][1].offset, 8);
        assert_eq!(parsed.records["user-activity-events-1"][0].value, None);
    }

    #[test]
    fn the_answer_is_read_as_the_mapping_reads_it() {
        assert_eq!(reply(""), Reply::default());
        assert_eq!(reply("null"), Reply::default());
        let summary = reply(r#"{"received":3,"inserted":2,"duplicates":1,"lagMaxMs":9}"#);
        assert_eq!((summary.counts.inserted, summary.counts.lag_max_ms), (2, 9));
        assert!(summary.item_failures.is_empty() && summary.unreadable.is_none());
        let named =
            reply(r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":5}}]}"#);
        assert_eq!(named.item_failures, [("t-0".to_owned(), 5)]);
        assert!(reply(r#""done""#).unreadable.is_some());
        assert!(reply("[1]").unreadable.is_some());
    }
}
