//! DynamoDB adapter (`STORE_URL=dynamodb://TABLE`).
//!
//! Inserting is a conditional `PutItem` per event (`attribute_not_exists(eventId)`): a failed
//! condition is a duplicate, anything else an error the caller retries. Where an item and its
//! index entries live is `layout`'s business; reading pages is `listing`'s.

mod erasure;
mod keys;
mod layout;
mod listing;

pub use layout::{
    TableLayout, BY_KEY_USER_INDEX, BY_TIME_INDEX, BY_TYPE_INDEX, BY_USER_INDEX,
    BY_USER_TYPE_INDEX, DAYS_INDEX, LAYOUT, SHARDS,
};
pub use listing::DAYS_PER_PAGE;

use crate::{
    Eraser, Erasure, EventReader, EventWriter, HealthCheck, InsertOutcome, KeyClaim, KeyRecord,
    KeyStore, KeyTimes, Lease, ListQuery, Page, StoreError, StoreHealth,
};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use event_schema::{format_timestamp, parse_timestamp, EventType, Payload, UserEvent};
use futures::StreamExt as _;
use layout::{day, day_list, shard, shard_partition, sort_key};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// Conditional puts in flight per batch.
const WRITE_CONCURRENCY: usize = 16;
/// How much longer a registry entry lives than the events it announces.
const REGISTRY_GRACE_SECS: i64 = 2 * 86_400;

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Events in one DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    ttl: Option<Duration>,
    requests: Arc<AtomicU64>,
    /// Bytes of the items listings read.
    read_bytes: Arc<AtomicU64>,
    /// Registry entries this process has written (or found) already.
    registered: Arc<Mutex<HashSet<String>>>,
}

fn backend<E: std::error::Error + 'static, R: std::fmt::Debug>(e: SdkError<E, R>) -> StoreError {
    StoreError::Backend(format!("dynamodb: {}", DisplayErrorContext(&e)))
}

/// Whether a conditional write was applied: `false` when its condition refused it.
fn applied<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(e))
            if e.err().code() == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(backend(e)),
    }
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
            requests: Arc::default(),
            read_bytes: Arc::default(),
            registered: Arc::default(),
        }
    }

    /// A store on a DynamoDB-API server (dynoxide, in memory) started in this process on a free
    /// port, with its table created: the real wire protocol, for tests and benchmarks.
    #[cfg(feature = "local-dynamodb")]
    pub async fn local(table: &str) -> Result<Self, StoreError> {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
        let io = |e: std::io::Error| StoreError::Backend(format!("local DynamoDB server: {e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        let db = dynoxide::Database::memory()
            .map_err(|e| StoreError::Backend(format!("local DynamoDB server: {e}")))?;
        tokio::spawn(async move { dynoxide::server::serve_on(listener, db).await });
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .endpoint_url(format!("http://{addr}"))
            .credentials_provider(Credentials::new("local", "local", None, None, "local"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        let store = Self::from_client(Client::from_conf(config), table);
        store.create_table().await?;
        Ok(store)
    }

    /// Makes stored events expire after `ttl` (DynamoDB TTL on `expiresAt`).
    pub fn with_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    /// Requests sent to DynamoDB so far by this store and its clones (the benchmark reports
    /// requests per page).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes of the items listings have read so far, by DynamoDB's measure (the tests hold a
    /// page to its budget with it).
    pub fn read_bytes(&self) -> u64 {
        self.read_bytes.load(Ordering::Relaxed)
    }

    fn count_read(&self, bytes: usize) {
        self.read_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Creates the table with [`LAYOUT`], as `template.yaml` deploys it (local servers, tests).
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
        let gsi = |(index, partition, sort, projection): &(&str, &str, &str, &str)| {
            GlobalSecondaryIndex::builder()
                .index_name(*index)
                .key_schema(key(partition, KeyType::Hash)?)
                .key_schema(key(sort, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(*projection))
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

    fn expires_at(&self, now_ms: i64, grace_secs: i64) -> Option<AttributeValue> {
        let ttl = i64::try_from(self.ttl?.as_secs()).unwrap_or(i64::MAX / 4);
        Some(AttributeValue::N(
            (now_ms / 1000 + ttl + grace_secs).to_string(),
        ))
    }

    fn item(&self, e: &UserEvent, now_ms: i64) -> Item {
        let ms = e.timestamp.timestamp_millis();
        let (d, s, t) = (day(ms), shard(&e.event_id), e.event_type.as_str());
        let text = |v: String| AttributeValue::S(v);
        let mut item = Item::from([
            ("eventId".into(), text(e.event_id.to_string())),
            ("userId".into(), text(e.user_id.clone())),
            ("eventType".into(), text(t.into())),
            ("timestamp".into(), text(format_timestamp(e.timestamp))),
            ("sortKey".into(), text(sort_key(ms, &e.event_id))),
            ("timeShard".into(), text(shard_partition("", &d, s))),
            (
                "typeShard".into(),
                text(shard_partition(&format!("{t}#"), &d, s)),
            ),
            ("userType".into(), text(format!("{t}#{}", e.user_id))),
            ("processedAt".into(), AttributeValue::N(now_ms.to_string())),
        ]);
        if let Some(p) = &e.payload {
            item.insert("payload".into(), text(p.as_json().to_owned()));
        }
        if let Some(expires) = self.expires_at(now_ms, 0) {
            item.insert(LAYOUT.ttl_attribute.into(), expires);
        }
        item
    }

    /// Writes the registry entries (every event's day, and its type's day) this process has not
    /// written yet, before the events: a listing never misses a day that holds events.
    async fn register_days(&self, events: &[UserEvent], now_ms: i64) -> Result<(), StoreError> {
        let mut wanted: Vec<(String, String)> = Vec::new();
        {
            let known = self.registered.lock().unwrap_or_else(|p| p.into_inner());
            for e in events {
                let d = day(e.timestamp.timestamp_millis());
                for list in [day_list(None), day_list(Some(e.event_type.as_str()))] {
                    let entry = (list, d.clone());
                    if !known.contains(&format!("{}#{}", entry.0, entry.1))
                        && !wanted.contains(&entry)
                    {
                        wanted.push(entry);
                    }
                }
            }
        }
        for (list, d) in wanted {
            let mut item = Item::from([
                ("eventId".into(), AttributeValue::S(format!("{list}#{d}"))),
                ("dayList".into(), AttributeValue::S(list.clone())),
                ("day".into(), AttributeValue::S(d.clone())),
            ]);
            if let Some(expires) = self.expires_at(now_ms, REGISTRY_GRACE_SECS) {
                item.insert(LAYOUT.ttl_attribute.into(), expires);
            }
            self.count_request();
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(backend)?;
            self.registered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(format!("{list}#{d}"));
        }
        Ok(())
    }

    /// The items [`EventWriter::insert_batch`] writes for `events`, built and not sent (the
    /// benchmark sends them alone with [`Self::put_items`], the ceiling of the batch path).
    pub fn items(&self, events: &[UserEvent]) -> Vec<Item> {
        let now = chrono::Utc::now().timestamp_millis();
        events.iter().map(|e| self.item(e, now)).collect()
    }

    /// Writes each item unless its `eventId` is there already, [`WRITE_CONCURRENCY`] in flight;
    /// the outcomes are in the items' order.
    pub async fn put_items(&self, items: Vec<Item>) -> Vec<Result<InsertOutcome, StoreError>> {
        futures::stream::iter(items.into_iter().map(|item| self.put_if_absent(item)))
            .buffered(WRITE_CONCURRENCY)
            .collect()
            .await
    }

    async fn put_if_absent(&self, item: Item) -> Result<InsertOutcome, StoreError> {
        self.count_request();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(eventId)")
            .send()
            .await;
        Ok(match applied(result)? {
            true => InsertOutcome::Inserted,
            false => InsertOutcome::Duplicate,
        })
    }
}

impl EventWriter for DynamoStore {
    async fn insert_batch(&self, events: &[UserEvent]) -> Result<Vec<InsertOutcome>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let now = chrono::Utc::now().timestamp_millis();
        // An erased user's events are not written (`erasure`).
        let erased = self.erased_among(events).await?;
        self.register_days(events, now).await?;
        // Only the first copy of an id in the batch is written: concurrent puts of one id would
        // race, and the outcome of the earlier copy must be the one that says "inserted".
        let mut seen = HashSet::new();
        let write: Vec<bool> = events
            .iter()
            .zip(&erased)
            .map(|(e, erased)| erased.is_none() && seen.insert(e.event_id))
            .collect();
        let items = events
            .iter()
            .zip(&write)
            .filter(|(_, write)| **write)
            .map(|(e, _)| self.item(e, now))
            .collect();
        let mut written = self.put_items(items).await.into_iter();
        write
            .into_iter()
            .zip(erased)
            .map(|(write, erased)| match (write, erased) {
                (true, _) => written.next().unwrap_or(Ok(InsertOutcome::Duplicate)),
                (false, Some(erased)) => Ok(erased),
                (false, None) => Ok(InsertOutcome::Duplicate),
            })
            .collect()
    }
}

impl EventReader for DynamoStore {
    async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        listing::list(self, &query).await
    }
}

impl KeyStore for DynamoStore {
    async fn claim_key(&self, claim: &KeyRecord, times: KeyTimes) -> Result<KeyClaim, StoreError> {
        self.claim(claim, times).await
    }

    async fn complete_key(&self, claim: &KeyRecord, lease: &Lease) -> Result<(), StoreError> {
        self.complete(claim, lease).await
    }

    async fn release_key(
        &self,
        claim: &KeyRecord,
        lease: &Lease,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.release(claim, lease, now_ms).await
    }
}

impl Eraser for DynamoStore {
    async fn erase(
        &self,
        user_id: &str,
        through_ms: i64,
        max_deletes: usize,
    ) -> Result<Erasure, StoreError> {
        self.erase_user(user_id, through_ms, max_deletes).await
    }
}

impl HealthCheck for DynamoStore {
    async fn health(&self) -> Result<StoreHealth, StoreError> {
        self.count_request();
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
        Some(p) => Some(Payload::from_json(p).map_err(corrupt)?),
    };
    Ok(UserEvent {
        event_id,
        user_id,
        event_type,
        timestamp,
        payload,
    })
}
