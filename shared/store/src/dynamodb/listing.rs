//! Reading pages newest first (see `layout` for where events live).
//!
//! With a user, one partition holds the answer in order: one query, continued only while a
//! response stops at DynamoDB's 1 MB. Without one, the page comes from the newest days in the
//! `days` registry (at most [`DAYS_PER_PAGE`] per page), each read as [`SHARDS`] sorted streams
//! merged lazily: each shard is asked for a share of the page and for more only when the merge
//! has used up what it sent. So a page costs at most one registry query plus a bounded number of
//! shard queries, whatever the table holds; a page that ends on a day boundary before it is full
//! says where to continue.

use super::layout::{
    day, day_list, day_start_ms, shard_partition, sort_key, BY_TIME_INDEX, BY_TYPE_INDEX,
    BY_USER_INDEX, BY_USER_TYPE_INDEX, DAYS_INDEX, SHARDS,
};
use super::{backend, event_from, DynamoStore, Item};
use crate::{finish_page, page_size, Cursor, ListQuery, Page, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{HashMap, VecDeque};

/// Days a page without a user filter reads at most.
pub const DAYS_PER_PAGE: usize = 3;
/// Fewest items asked of one shard at a time.
const MIN_SHARD_FETCH: usize = 4;

/// One index partition, read newest first from an optional upper bound.
struct Partition<'a> {
    index: &'a str,
    key: &'a str,
    value: String,
    below: Option<&'a str>,
}

impl DynamoStore {
    /// One Query: up to `limit` items of `partition` from `start`, and where to continue.
    async fn query(
        &self,
        p: &Partition<'_>,
        limit: usize,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut condition = "#p = :p".to_owned();
        let mut values = HashMap::from([(":p".to_owned(), AttributeValue::S(p.value.clone()))]);
        if let Some(below) = p.below {
            condition.push_str(" AND sortKey < :c");
            values.insert(":c".into(), AttributeValue::S(below.to_owned()));
        }
        self.count_request();
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(p.index)
            .key_condition_expression(condition)
            .expression_attribute_names("#p", p.key)
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(backend)?;
        Ok((out.items().to_vec(), out.last_evaluated_key().cloned()))
    }

    /// Up to `want` items of one partition, newest first.
    async fn read_partition(
        &self,
        p: &Partition<'_>,
        want: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::with_capacity(want);
        let mut start = None;
        loop {
            let (got, next) = self.query(p, want - items.len(), start).await?;
            items.extend(got);
            match next {
                Some(k) if items.len() < want => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// The newest days (at most [`DAYS_PER_PAGE`]) of `list` up to `up_to`, newest first.
    async fn days(&self, list: String, up_to: &str) -> Result<Vec<String>, StoreError> {
        self.count_request();
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DAYS_INDEX)
            .key_condition_expression("dayList = :l AND #d <= :d")
            .expression_attribute_names("#d", "day")
            .expression_attribute_values(":l", AttributeValue::S(list))
            .expression_attribute_values(":d", AttributeValue::S(up_to.to_owned()))
            .scan_index_forward(false)
            .limit(i32::try_from(DAYS_PER_PAGE).unwrap_or(3))
            .send()
            .await
            .map_err(backend)?;
        Ok(out
            .items()
            .iter()
            .filter_map(|i| match i.get("day") {
                Some(AttributeValue::S(d)) => Some(d.clone()),
                _ => None,
            })
            .collect())
    }

    /// Up to `want` items of one day, newest first, merged from its shards.
    async fn read_day(
        &self,
        index: &str,
        key: &str,
        prefix: &str,
        day: &str,
        below: Option<&str>,
        want: usize,
    ) -> Result<Vec<Item>, StoreError> {
        struct Stream<'a> {
            partition: Partition<'a>,
            buffer: VecDeque<Item>,
            next: Option<Item>,
            done: bool,
        }
        let share = (want * 2 / usize::from(SHARDS) + 1).clamp(MIN_SHARD_FETCH.min(want), want);
        let mut streams: Vec<Stream> = (0..SHARDS)
            .map(|s| Stream {
                partition: Partition {
                    index,
                    key,
                    value: shard_partition(prefix, day, s),
                    below,
                },
                buffer: VecDeque::new(),
                next: None,
                done: false,
            })
            .collect();
        let first = futures::future::join_all(
            streams
                .iter()
                .map(|s| self.query(&s.partition, share, None)),
        )
        .await;
        for (stream, result) in streams.iter_mut().zip(first) {
            let (items, next) = result?;
            stream.buffer.extend(items);
            stream.done = next.is_none();
            stream.next = next;
        }
        let mut out = Vec::with_capacity(want);
        while out.len() < want {
            for stream in streams
                .iter_mut()
                .filter(|s| s.buffer.is_empty() && !s.done)
            {
                let more = (want - out.len()).max(MIN_SHARD_FETCH);
                let (items, next) = self
                    .query(&stream.partition, more, stream.next.take())
                    .await?;
                stream.buffer.extend(items);
                stream.done = next.is_none();
                stream.next = next;
            }
            let newest = streams
                .iter_mut()
                .filter(|s| !s.buffer.is_empty())
                .max_by(|a, b| sort_key_of(a.buffer.front()).cmp(sort_key_of(b.buffer.front())));
            match newest.and_then(|s| s.buffer.pop_front()) {
                Some(item) => out.push(item),
                None => break,
            }
        }
        Ok(out)
    }
}

fn sort_key_of(item: Option<&Item>) -> &str {
    match item.and_then(|i| i.get("sortKey")) {
        Some(AttributeValue::S(s)) => s,
        _ => "",
    }
}

/// A page for `query` (see the module docs).
pub(super) async fn list(store: &DynamoStore, query: &ListQuery) -> Result<Page, StoreError> {
    let limit = page_size(query.limit);
    let below = query
        .cursor
        .as_ref()
        .map(|c| sort_key(c.timestamp_ms(), &c.event_id()));
    let type_name = query.event_type.map(|t| t.as_str());
    if let Some(user) = &query.user_id {
        let partition = match type_name {
            None => Partition {
                index: BY_USER_INDEX,
                key: "userId",
                value: user.clone(),
                below: below.as_deref(),
            },
            Some(t) => Partition {
                index: BY_USER_TYPE_INDEX,
                key: "userType",
                value: format!("{t}#{user}"),
                below: below.as_deref(),
            },
        };
        let items = store.read_partition(&partition, limit + 1).await?;
        let events = items
            .iter()
            .map(event_from)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(finish_page(events, limit));
    }

    let (index, key, prefix) = match type_name {
        None => (BY_TIME_INDEX, "timeShard", String::new()),
        Some(t) => (BY_TYPE_INDEX, "typeShard", format!("{t}#")),
    };
    // Events before a cursor are at or before its time; strictly before when it marks the start
    // of a time (`Cursor::before_time`), which skips the day just read whole.
    let up_to = query.cursor.as_ref().map_or_else(
        || "99999999".to_owned(),
        |c| day(c.timestamp_ms() - i64::from(c.event_id().is_nil())),
    );
    let days = store.days(day_list(type_name), &up_to).await?;
    let mut events = Vec::with_capacity(limit + 1);
    for d in &days {
        let want = limit + 1 - events.len();
        let items = store
            .read_day(index, key, &prefix, d, below.as_deref(), want)
            .await?;
        for item in &items {
            events.push(event_from(item)?);
        }
        if events.len() > limit {
            return Ok(finish_page(events, limit));
        }
    }
    // Every day read was read whole. If the registry may hold older days, continue before the
    // oldest day read; otherwise this is the last page.
    let next = match days.last() {
        Some(oldest) if days.len() == DAYS_PER_PAGE => {
            day_start_ms(oldest).map(Cursor::before_time)
        }
        _ => None,
    };
    Ok(Page { events, next })
}
