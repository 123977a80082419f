//! DynamoDB adapter (`STORE_URL=dynamodb://TABLE`).
//!
//! Item layout: `eventId` is the table key. Two GSIs serve listing newest first: `by-time`
//! (partition `listPartition` = `"events"` for every item) and `by-user` (partition `userId`),
//! both sorted by `sortKey` = zero-padded Unix milliseconds, `#`, event id — the same order and
//! cursor meaning as the SQLite adapter. Inserting is a conditional `PutItem`
//! (`attribute_not_exists(eventId)`): a failed condition is a duplicate, anything else an error
//! the caller retries. The single `by-time` partition caps listing-index writes at about 1000
//! items/s; see ARCHITECTURE.md.

use crate::{
    finish_page, page_size, EventStore, InsertOutcome, ListQuery, Page, StoreError, StoreHealth,
};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use event_schema::{format_timestamp, parse_timestamp, EventType, UserEvent};
use futures::StreamExt as _;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

/// Index for newest-first listing of every event.
pub const BY_TIME_INDEX: &str = "by-time";
/// Index for newest-first listing of one user's events.
pub const BY_USER_INDEX: &str = "by-user";

/// The table's layout, written once: [`DynamoStore::create_table`] builds the table from it, and
/// a test holds `template.yaml`'s `EventsTable` to it.
pub struct TableLayout {
    /// The partition key of the table (every key here is a string).
    pub key: &'static str,
    /// Each global secondary index: name, partition key, sort key (projection: all).
    pub indexes: &'static [(&'static str, &'static str, &'static str)],
    /// The attribute holding the expiry time (DynamoDB TTL), when `EVENT_TTL_DAYS` is set.
    pub ttl_attribute: &'static str,
}

/// The layout of the events table.
pub const LAYOUT: TableLayout = TableLayout {
    key: "eventId",
    indexes: &[
        (BY_TIME_INDEX, "listPartition", "sortKey"),
        (BY_USER_INDEX, "userId", "sortKey"),
    ],
    ttl_attribute: "expiresAt",
};

impl TableLayout {
    /// Every key attribute, once each, sorted.
    pub fn attributes(&self) -> Vec<&'static str> {
        let mut names: Vec<&str> = std::iter::once(self.key)
            .chain(self.indexes.iter().flat_map(|(_, p, s)| [*p, *s]))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}
/// The one `listPartition` value.
const LIST_PARTITION: &str = "events";
/// Conditional puts in flight per batch.
const WRITE_CONCURRENCY: usize = 16;

type Item = HashMap<String, AttributeValue>;

/// Events in one DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    ttl: Option<Duration>,
}

fn backend<E: std::error::Error + 'static, R: std::fmt::Debug>(e: SdkError<E, R>) -> StoreError {
    StoreError::Backend(format!("dynamodb: {}", DisplayErrorContext(&e)))
}

impl DynamoStore {
    /// Connects with the default AWS configuration (region and credentials from the
    /// environment, as in Lambda), optionally to another endpoint (a local DynamoDB-API server).
    pub async fn connect(table: &str, endpoint: Option<&str>) -> Result<Self, StoreError> {
        let config = pipeline_runtime::aws::sdk_config(None, endpoint).await;
        Ok(Self::from_client(Client::new(&config), table))
    }

    /// Uses a ready client (tests, custom configuration).
    pub fn from_client(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_owned(),
            ttl: None,
        }
    }

    /// Makes stored events expire after `ttl` (DynamoDB TTL on `expiresAt`).
    pub fn with_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    /// Creates the table with the layout `template.yaml` deploys (local servers and tests).
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let gsi = |(index, partition, sort): &(&str, &str, &str)| {
            GlobalSecondaryIndex::builder()
                .index_name(*index)
                .key_schema(key(partition, KeyType::Hash)?)
                .key_schema(key(sort, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
        };
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend(e.to_string());
        let mut request = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(LAYOUT.key, KeyType::Hash).map_err(build)?);
        for name in LAYOUT.attributes() {
            request = request.attribute_definitions(attr(name).map_err(build)?);
        }
        for index in LAYOUT.indexes {
            request = request.global_secondary_indexes(gsi(index).map_err(build)?);
        }
        request.send().await.map_err(backend)?;
        Ok(())
    }

    fn item(&self, e: &UserEvent, now_ms: i64) -> Item {
        let ms = e.timestamp.timestamp_millis();
        let mut item = Item::from([
            ("eventId".into(), AttributeValue::S(e.event_id.to_string())),
            ("userId".into(), AttributeValue::S(e.user_id.clone())),
            (
                "eventType".into(),
                AttributeValue::S(e.event_type.as_str().into()),
            ),
            (
                "timestamp".into(),
                AttributeValue::S(format_timestamp(e.timestamp)),
            ),
            (
                "listPartition".into(),
                AttributeValue::S(LIST_PARTITION.into()),
            ),
            (
                "sortKey".into(),
                AttributeValue::S(sort_key(ms, &e.event_id)),
            ),
            ("processedAt".into(), AttributeValue::N(now_ms.to_string())),
        ]);
        if let Some(p) = &e.payload {
            item.insert(
                "payload".into(),
                AttributeValue::S(Value::Object(p.clone()).to_string()),
            );
        }
        if let Some(ttl) = self.ttl {
            let expires = now_ms / 1000 + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
            item.insert(
                LAYOUT.ttl_attribute.into(),
                AttributeValue::N(expires.to_string()),
            );
        }
        item
    }

    async fn put_if_absent(&self, item: Item) -> Result<InsertOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(eventId)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(InsertOutcome::Inserted),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(InsertOutcome::Duplicate)
            }
            Err(e) => Err(backend(e)),
        }
    }
}

/// `sortKey` of an event: fixed-width milliseconds so that string order is time order.
fn sort_key(ms: i64, id: &Uuid) -> String {
    format!("{:013}#{id}", ms.max(0))
}

impl EventStore for DynamoStore {
    async fn insert_batch(&self, events: &[UserEvent]) -> Result<Vec<InsertOutcome>, StoreError> {
        let now = chrono::Utc::now().timestamp_millis();
        // Only the first copy of an id in the batch is written: concurrent puts of one id would
        // race, and the outcome of the earlier copy must be the one that says "inserted".
        let mut seen = std::collections::HashSet::new();
        let first: Vec<bool> = events.iter().map(|e| seen.insert(e.event_id)).collect();
        let puts: Vec<_> = events
            .iter()
            .zip(&first)
            .filter(|(_, first)| **first)
            .map(|(e, _)| self.put_if_absent(self.item(e, now)))
            .collect();
        let written: Vec<Result<InsertOutcome, StoreError>> = futures::stream::iter(puts)
            .buffered(WRITE_CONCURRENCY)
            .collect()
            .await;
        let mut written = written.into_iter();
        first
            .into_iter()
            .map(|first| match first {
                true => written.next().unwrap_or(Ok(InsertOutcome::Duplicate)),
                false => Ok(InsertOutcome::Duplicate),
            })
            .collect()
    }

    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        let limit = page_size(query.limit);
        let (index, partition_attr, partition_value) = match &query.user_id {
            Some(u) => (BY_USER_INDEX, "userId", u.clone()),
            None => (BY_TIME_INDEX, "listPartition", LIST_PARTITION.to_owned()),
        };
        let mut condition = "#p = :p".to_owned();
        let mut values = HashMap::from([(":p".to_owned(), AttributeValue::S(partition_value))]);
        if let Some(c) = &query.cursor {
            condition.push_str(" AND sortKey < :c");
            values.insert(
                ":c".into(),
                AttributeValue::S(sort_key(c.timestamp_ms(), &c.event_id())),
            );
        }
        let mut names = HashMap::from([("#p".to_owned(), partition_attr.to_owned())]);
        let filter = query.event_type.map(|t| {
            values.insert(":t".into(), AttributeValue::S(t.as_str().into()));
            names.insert("#t".into(), "eventType".into());
            "#t = :t".to_owned()
        });

        let mut events = Vec::with_capacity(limit + 1);
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(&condition)
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend)?;
            for item in out.items() {
                events.push(event_from(item)?);
                if events.len() > limit {
                    break;
                }
            }
            match out.last_evaluated_key() {
                Some(k) if events.len() <= limit => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(finish_page(events, limit))
    }

    async fn health(&self) -> Result<StoreHealth, StoreError> {
        let out = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(backend)?;
        let status = out
            .table()
            .and_then(|t| t.table_status())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        if status != "ACTIVE" && status != "UPDATING" {
            return Err(StoreError::Backend(format!(
                "table {} is {status}",
                self.table
            )));
        }
        Ok(StoreHealth {
            backend: "dynamodb",
            target: self.table.clone(),
        })
    }
}

fn event_from(item: &Item) -> Result<UserEvent, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    };
    let id = text("eventId").unwrap_or_default().to_owned();
    let corrupt = |reason: String| StoreError::Corrupt {
        event_id: id.clone(),
        reason,
    };
    let event_id = Uuid::try_parse(&id).map_err(|e| corrupt(e.to_string()))?;
    let user_id = text("userId")
        .ok_or_else(|| corrupt("no userId".into()))?
        .to_owned();
    let event_type: EventType = text("eventType")
        .unwrap_or_default()
        .parse()
        .map_err(|_| corrupt("bad eventType".into()))?;
    let timestamp = text("timestamp")
        .and_then(parse_timestamp)
        .ok_or_else(|| corrupt("bad timestamp".into()))?;
    let payload = match text("payload") {
        None => None,
        Some(p) => Some(
            serde_json::from_str::<Map<String, Value>>(p).map_err(|e| corrupt(e.to_string()))?,
        ),
    };
    Ok(UserEvent {
        event_id,
        user_id,
        event_type,
        timestamp,
        payload,
    })
}
