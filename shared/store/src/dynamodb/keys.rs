//! Idempotency keys in the events table: one item per caller, user and key, under an `eventId`
//! that no event can have (`key#c<length of the caller>#<caller>#<length of the user id>#<user
//! id>#<key>`, unambiguous whatever they hold; an anonymous caller's keep the first layout,
//! `key#<length of the user id>#<user id>#<key>`, so that keys recorded before callers were told
//! apart still answer). The item has none of the listings' index attributes, so no listing ever
//! sees it; `keyUser` puts it in the `by-key-user` index, where an erasure finds it; and it
//! carries the table's TTL attribute, so DynamoDB deletes it once it is forgotten.

use super::{applied, backend, DynamoStore, Item, LAYOUT};
use crate::keys::{decide, Decision, KeyClaim, KeyRecord, KeyTimes, KeyedEvent, Lease, StoredKey};
use crate::StoreError;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use uuid::Uuid;

/// Times a claim reads and writes again after losing a race before calling the key in flight.
const RACES: usize = 3;

fn item_id(claim: &KeyRecord) -> AttributeValue {
    let user = format!("{}#{}#{}", claim.user_id.len(), claim.user_id, claim.key);
    AttributeValue::S(if claim.caller.is_empty() {
        format!("key#{user}")
    } else {
        format!("key#c{}#{}#{user}", claim.caller.len(), claim.caller)
    })
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn stored_from(item: &Item) -> Option<StoredKey> {
    let n = |name: &str| match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
        _ => None,
    };
    let fingerprint = match item.get("fingerprint") {
        Some(AttributeValue::B(b)) => b.as_ref().to_vec(),
        _ => return None,
    };
    let event_id = match item.get("keyEventId") {
        Some(AttributeValue::S(s)) => Uuid::try_parse(s).ok()?,
        _ => return None,
    };
    Some(StoredKey {
        fingerprint,
        event: KeyedEvent {
            event_id,
            timestamp_ms: n("keyTimestampMs")?,
        },
        completed: matches!(item.get("completed"), Some(AttributeValue::Bool(true))),
        lease_until_ms: n("leaseUntilMs")?,
        expires_at_ms: n("keyExpiresMs")?,
    })
}

impl DynamoStore {
    async fn read_key(&self, claim: &KeyRecord) -> Result<Option<StoredKey>, StoreError> {
        self.count_request();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("eventId", item_id(claim))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(out.item().and_then(stored_from))
    }

    /// Writes a free key's record, unless the key holds a live record. `Ok(None)` when written;
    /// otherwise the record found, when the service returns it (else `Some(None)`: read it).
    async fn record_key(
        &self,
        claim: &KeyRecord,
        times: KeyTimes,
    ) -> Result<Option<Option<StoredKey>>, StoreError> {
        let new = StoredKey::new(claim, times);
        let mut item = Item::from([
            ("eventId".into(), item_id(claim)),
            (
                "fingerprint".into(),
                AttributeValue::B(Blob::new(new.fingerprint)),
            ),
            (
                "keyEventId".into(),
                AttributeValue::S(new.event.event_id.to_string()),
            ),
            ("keyTimestampMs".into(), number(new.event.timestamp_ms)),
            ("completed".into(), AttributeValue::Bool(false)),
            ("leaseUntilMs".into(), number(new.lease_until_ms)),
            ("keyExpiresMs".into(), number(new.expires_at_ms)),
            (
                LAYOUT.ttl_attribute.into(),
                number(new.expires_at_ms / 1000 + 1),
            ),
        ]);
        // A user's keys are found through it when the user is erased. A key that is not one
        // user's (a service's batch) has none, and stays out of the index.
        if event_schema::check_user_id(&claim.user_id).is_ok() {
            item.insert("keyUser".into(), AttributeValue::S(claim.user_id.clone()));
        }
        self.count_request();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(eventId) OR keyExpiresMs <= :now")
            .expression_attribute_values(":now", number(times.now_ms))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(e)) => match e.err() {
                PutItemError::ConditionalCheckFailedException(failed) => {
                    Ok(Some(failed.item().and_then(stored_from)))
                }
                _ => Err(backend(SdkError::ServiceError(e))),
            },
            Err(e) => Err(backend(e)),
        }
    }

    /// Moves the lease, unless another request moved it first. False when it did.
    async fn take_lease(&self, claim: &KeyRecord, from: i64, to: i64) -> Result<bool, StoreError> {
        self.update_key(
            claim,
            "SET leaseUntilMs = :to",
            "leaseUntilMs = :from AND completed = :no",
            &[
                (":to", number(to)),
                (":from", number(from)),
                (":no", AttributeValue::Bool(false)),
            ],
        )
        .await
    }

    /// Most keys are new: the record is written first, in one request, and only a key that
    /// holds a record costs more (the record comes back with the refusal).
    pub(super) async fn claim(
        &self,
        claim: &KeyRecord,
        times: KeyTimes,
    ) -> Result<KeyClaim, StoreError> {
        let recorded = KeyClaim::Recorded(StoredKey::new(claim, times).lease());
        let mut found = match self.record_key(claim, times).await? {
            None => return Ok(recorded),
            Some(found) => found,
        };
        for _ in 0..RACES {
            let stored = match found.take() {
                Some(stored) => Some(stored),
                None => self.read_key(claim).await?,
            };
            match decide(stored.as_ref(), claim, times) {
                Decision::Answer(answer) => return Ok(answer),
                Decision::Record => match self.record_key(claim, times).await? {
                    None => return Ok(recorded),
                    Some(again) => found = again,
                },
                Decision::TakeLease {
                    previous_lease_ms,
                    lease,
                } => {
                    if self
                        .take_lease(claim, previous_lease_ms, lease.until_ms)
                        .await?
                    {
                        return Ok(KeyClaim::Resumed(lease));
                    }
                }
            }
        }
        Ok(KeyClaim::InFlight {
            lease_until_ms: times.now_ms + times.lease_ms,
        })
    }

    /// Applies `update` to the key's item if `condition` holds; false when it did not.
    async fn update_key(
        &self,
        claim: &KeyRecord,
        update: &str,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<bool, StoreError> {
        self.count_request();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("eventId", item_id(claim))
            .update_expression(update)
            .condition_expression(condition);
        for (name, value) in values {
            request = request.expression_attribute_values(*name, value.clone());
        }
        applied(request.send().await)
    }

    /// Marks the key completed while it still holds `lease`.
    pub(super) async fn complete(
        &self,
        claim: &KeyRecord,
        lease: &Lease,
    ) -> Result<(), StoreError> {
        self.update_key(
            claim,
            "SET completed = :yes",
            "keyEventId = :event AND leaseUntilMs = :lease",
            &[
                (":yes", AttributeValue::Bool(true)),
                (
                    ":event",
                    AttributeValue::S(lease.event.event_id.to_string()),
                ),
                (":lease", number(lease.until_ms)),
            ],
        )
        .await
        .map(drop)
    }

    /// Ends `lease` now while the key still holds it, not completed.
    pub(super) async fn release(
        &self,
        claim: &KeyRecord,
        lease: &Lease,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.update_key(
            claim,
            "SET leaseUntilMs = :now",
            "completed = :no AND keyEventId = :event AND leaseUntilMs = :lease",
            &[
                (":now", number(now_ms)),
                (":no", AttributeValue::Bool(false)),
                (
                    ":event",
                    AttributeValue::S(lease.event.event_id.to_string()),
                ),
                (":lease", number(lease.until_ms)),
            ],
        )
        .await
        .map(drop)
    }
}
