//! Erasing a user's events in the table.
//!
//! An erasure is an item of its own (`erasure#<user id>`, holding `throughMs`), written before
//! anything is deleted and read with strong consistency wherever it matters: an insert skips
//! the events it covers ([`InsertOutcome::Erased`]), and a listing drops any it still finds and
//! deletes them then. That is what makes the promise hold on DynamoDB, where deleting cannot be
//! one transaction: the user's events are found through the `by-user` index, which is
//! eventually consistent (an event written a moment before the erasure may not be in it yet),
//! and an insert that read no erasure a moment before one was written still writes its event.
//! Such a straggler is never listed, and the first listing that meets it deletes it.
//!
//! The user's idempotency keys are found through the `by-key-user` index (`keyUser` is written
//! on every key of a user) and deleted.

use super::layout::BY_KEY_USER_INDEX;
use super::{backend, DynamoStore, Item, BY_USER_INDEX};
use crate::{Erasure, InsertOutcome, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, WriteRequest};
use event_schema::UserEvent;
use std::collections::{HashMap, HashSet};

/// Keys one `BatchGetItem` may ask for.
const GET_BATCH: usize = 100;
/// Deletes one `BatchWriteItem` may carry.
const WRITE_BATCH: usize = 25;
/// Times unprocessed items are sent again before the call fails (the caller retries it).
const UNPROCESSED_ROUNDS: usize = 8;

/// The erasure item of `user`.
fn mark_id(user: &str) -> AttributeValue {
    AttributeValue::S(format!("erasure#{user}"))
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

impl DynamoStore {
    /// The erasure time of each of `users` that was erased, read with strong consistency.
    pub(super) async fn erasures<'a>(
        &self,
        users: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, i64>, StoreError> {
        let unique: Vec<&str> = users
            .into_iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut found = HashMap::new();
        for chunk in unique.chunks(GET_BATCH) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|u| Item::from([("eventId".to_owned(), mark_id(u))]))
                .collect();
            let mut ask = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .projection_expression("eventId, throughMs")
                    .build()
                    .map_err(|e| StoreError::Backend(e.to_string()))?,
            );
            for _ in 0..UNPROCESSED_ROUNDS {
                let Some(request) = ask.take() else { break };
                self.count_request();
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(backend)?;
                for item in out
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let user = text(item, "eventId")
                        .and_then(|id| id.strip_prefix("erasure#").map(str::to_owned));
                    let through = match item.get("throughMs") {
                        Some(AttributeValue::N(n)) => n.parse::<i64>().ok(),
                        _ => None,
                    };
                    if let (Some(user), Some(through)) = (user, through) {
                        found.insert(user, through);
                    }
                }
                ask = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .filter(|k| !k.keys().is_empty())
                    .cloned();
            }
            if ask.is_some() {
                return Err(StoreError::Backend(
                    "dynamodb: erasures still unread after retries".into(),
                ));
            }
        }
        Ok(found)
    }

    /// Which of `events` an erasure covers (`Erased`), the others `None`.
    pub(super) async fn erased_among(
        &self,
        events: &[UserEvent],
    ) -> Result<Vec<Option<InsertOutcome>>, StoreError> {
        let marks = self
            .erasures(events.iter().map(|e| e.user_id.as_str()))
            .await?;
        Ok(events
            .iter()
            .map(|e| {
                marks
                    .get(&e.user_id)
                    .is_some_and(|t| e.timestamp.timestamp_millis() <= *t)
                    .then_some(InsertOutcome::Erased)
            })
            .collect())
    }

    /// `events` without those an erasure covers, which are deleted on the way (best effort: the
    /// next listing that meets one tries again).
    pub(super) async fn without_erased(
        &self,
        events: Vec<UserEvent>,
    ) -> Result<Vec<UserEvent>, StoreError> {
        if events.is_empty() {
            return Ok(events);
        }
        let marks = self
            .erasures(events.iter().map(|e| e.user_id.as_str()))
            .await?;
        if marks.is_empty() {
            return Ok(events);
        }
        let (gone, kept): (Vec<UserEvent>, Vec<UserEvent>) = events.into_iter().partition(|e| {
            marks
                .get(&e.user_id)
                .is_some_and(|t| e.timestamp.timestamp_millis() <= *t)
        });
        let ids: Vec<AttributeValue> = gone
            .iter()
            .map(|e| AttributeValue::S(e.event_id.to_string()))
            .collect();
        if let Err(e) = self.delete_ids(ids).await {
            tracing::warn!(error = %e, "erased events met by a listing were not deleted");
        }
        Ok(kept)
    }

    /// Records the erasure of `user` through `through_ms`, or keeps a later one.
    async fn record_erasure(&self, user: &str, through_ms: i64) -> Result<(), StoreError> {
        self.count_request();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("eventId", mark_id(user))
            .update_expression("SET throughMs = :t")
            .condition_expression("attribute_not_exists(throughMs) OR throughMs < :t")
            .expression_attribute_values(":t", AttributeValue::N(through_ms.to_string()))
            .send()
            .await;
        super::applied(result).map(drop)
    }

    /// Up to `limit` item ids of partition `value` of `index` (with a sort-key bound) from
    /// `start`, and where the next ones start. A full page whose answer names no next key
    /// continues after its last item (its key attributes are read for that), so a server that
    /// stops at the limit without saying more may follow still gets asked.
    async fn ids_in(
        &self,
        (index, key, sort): (&str, &str, &str),
        value: &str,
        below: Option<&str>,
        (limit, start): (usize, Option<Item>),
    ) -> Result<(Vec<AttributeValue>, Option<Item>), StoreError> {
        let limit = limit.clamp(1, 1000);
        let mut condition = "#k = :v".to_owned();
        // The item's key in the index: the table's key and the index's (once each).
        let projection = if sort == "eventId" {
            "eventId, #k"
        } else {
            "eventId, #k, #s"
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .expression_attribute_names("#k", key)
            .expression_attribute_values(":v", AttributeValue::S(value.to_owned()))
            .projection_expression(projection)
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit).unwrap_or(1000));
        if sort != "eventId" {
            query = query.expression_attribute_names("#s", sort);
        }
        if let Some(below) = below {
            condition.push_str(" AND #s < :b");
            query = query.expression_attribute_values(":b", AttributeValue::S(below.to_owned()));
        }
        self.count_request();
        let out = query
            .key_condition_expression(condition)
            .send()
            .await
            .map_err(backend)?;
        let items = out.items();
        let ids = items
            .iter()
            .filter_map(|i| i.get("eventId").cloned())
            .collect();
        let next = match (out.last_evaluated_key(), items.last()) {
            (Some(next), _) => Some(next.clone()),
            (None, Some(last)) if items.len() == limit => Some(last.clone()),
            _ => None,
        };
        Ok((ids, next))
    }

    /// Deletes the items with these ids, [`WRITE_BATCH`] at a time.
    async fn delete_ids(&self, ids: Vec<AttributeValue>) -> Result<(), StoreError> {
        for chunk in ids.chunks(WRITE_BATCH) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|id| {
                    DeleteRequest::builder()
                        .key("eventId", id.clone())
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(|e| StoreError::Backend(e.to_string()))
                })
                .collect::<Result<_, _>>()?;
            for _ in 0..UNPROCESSED_ROUNDS {
                if pending.is_empty() {
                    break;
                }
                self.count_request();
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut pending))
                    .send()
                    .await
                    .map_err(backend)?;
                pending = out
                    .unprocessed_items()
                    .and_then(|u| u.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Backend(
                    "dynamodb: deletes still unprocessed after retries".into(),
                ));
            }
        }
        Ok(())
    }

    /// The erasure: recorded first, then the keys forgotten, then up to `max_deletes` events
    /// deleted through the user's index.
    pub(super) async fn erase_user(
        &self,
        user: &str,
        through_ms: i64,
        max_deletes: usize,
    ) -> Result<Erasure, StoreError> {
        self.record_erasure(user, through_ms).await?;
        let mut start = None;
        loop {
            let (keys, next) = self
                .ids_in(
                    (BY_KEY_USER_INDEX, "keyUser", "eventId"),
                    user,
                    None,
                    (1000, start),
                )
                .await?;
            self.delete_ids(keys).await?;
            match next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        // Every sort key of an event at or before `through_ms` sorts below the next millisecond.
        let below = format!("{:013}", through_ms.saturating_add(1).max(0));
        let (mut deleted, mut start) = (0u64, None);
        loop {
            let room = max_deletes.saturating_sub(usize::try_from(deleted).unwrap_or(usize::MAX));
            if room == 0 {
                return Ok(Erasure {
                    deleted,
                    complete: false,
                });
            }
            let (ids, next) = self
                .ids_in(
                    (BY_USER_INDEX, "userId", "sortKey"),
                    user,
                    Some(&below),
                    (room, start),
                )
                .await?;
            deleted += u64::try_from(ids.len()).unwrap_or(u64::MAX);
            self.delete_ids(ids).await?;
            match next {
                Some(next) => start = Some(next),
                None => {
                    return Ok(Erasure {
                        deleted,
                        complete: true,
                    })
                }
            }
        }
    }
}
