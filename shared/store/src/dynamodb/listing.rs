//! Reading pages newest first (see `layout` for where events live).
//!
//! With a user, one partition holds the answer in order: one query, continued only while a
//! response stops at DynamoDB's 1 MB. Without one, the page comes from the newest days in the
//! `days` registry (at most [`DAYS_PER_PAGE`] per page), each read as [`SHARDS`] sorted streams
//! merged lazily: each shard is asked for a share of the page and for more only when the merge
//! has used up what it sent. So a page costs at most one registry query plus a bounded number of
//! shard queries, whatever the table holds; a page that ends on a day boundary before it is full
//! says where to continue.
//!
//! With a byte budget ([`ListQuery::max_bytes`]), no query asks for more items than the largest
//! possible items could fit in what is left of it ([`Budget`]), and once it is spent no query is
//! made: the page ends with what the merge can still order, and continues after its last event.

use super::layout::{
    day, day_list, day_start_ms, shard_partition, sort_key, BY_TIME_INDEX, BY_TYPE_INDEX,
    BY_USER_INDEX, BY_USER_TYPE_INDEX, DAYS_INDEX, SHARDS,
};
use super::{backend, event_from, DynamoStore, Item};
use crate::{cut_page, finish_page, page_size, Cursor, ListQuery, Page, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use event_schema::{MAX_PAYLOAD_BYTES, MAX_USER_ID_CHARS};
use std::collections::{HashMap, VecDeque};

/// Days a page without a user filter reads at most.
pub const DAYS_PER_PAGE: usize = 3;
/// Fewest items asked of one shard at a time.
const MIN_SHARD_FETCH: usize = 4;

/// Largest item an event can be in an index: its payload, its user id twice (`userId`,
/// `userType`) at four bytes a character, and the other attributes with their names.
const MAX_ITEM_BYTES: usize = MAX_PAYLOAD_BYTES + 2 * 4 * MAX_USER_ID_CHARS + 512;

/// The size DynamoDB gives an item: each attribute's name and value.
pub(super) fn item_bytes(item: &Item) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    V::S(s) | V::N(s) => s.len(),
                    V::B(b) => b.as_ref().len(),
                    _ => 1,
                }
        })
        .sum()
}

/// What a page may still read, in bytes.
struct Budget {
    left: Option<usize>,
}

impl Budget {
    /// How many items a query may ask for when it wants `want`: fewer when even the largest
    /// items must fit in what is left, and always at least one.
    fn items(&self, want: usize) -> usize {
        match self.left {
            None => want,
            Some(left) => want.min((left / MAX_ITEM_BYTES).max(1)),
        }
    }

    fn spend(&mut self, items: &[Item]) {
        if let Some(left) = &mut self.left {
            *left = left.saturating_sub(items.iter().map(item_bytes).sum());
        }
    }

    fn spent(&self) -> bool {
        self.left == Some(0)
    }
}

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
        self.count_read(out.items().iter().map(item_bytes).sum());
        Ok((out.items().to_vec(), out.last_evaluated_key().cloned()))
    }

    /// Up to `want` items of one partition, newest first, and whether the budget cut them
    /// short.
    async fn read_partition(
        &self,
        p: &Partition<'_>,
        want: usize,
        budget: &mut Budget,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let mut items = Vec::with_capacity(want.min(256));
        let mut start = None;
        loop {
            let ask = budget.items(want - items.len());
            let (got, next) = self.query(p, ask, start).await?;
            budget.spend(&got);
            items.extend(got);
            match next {
                Some(_) if items.len() < want && budget.spent() => return Ok((items, true)),
                Some(k) if items.len() < want => start = Some(k),
                _ => return Ok((items, false)),
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

    /// Up to `want` items of one day, newest first, merged from its shards, and whether the
    /// budget cut them short.
    #[allow(clippy::too_many_arguments)]
    async fn read_day(
        &self,
        index: &str,
        key: &str,
        prefix: &str,
        day: &str,
        below: Option<&str>,
        want: usize,
        budget: &mut Budget,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        struct Stream<'a> {
            partition: Partition<'a>,
            buffer: VecDeque<Item>,
            next: Option<Item>,
            done: bool,
        }
        let share = (want * 2 / usize::from(SHARDS) + 1).clamp(MIN_SHARD_FETCH.min(want), want);
        let share = share.min((budget.items(usize::MAX) / usize::from(SHARDS)).max(1));
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
            budget.spend(&items);
            stream.buffer.extend(items);
            stream.done = next.is_none();
            stream.next = next;
        }
        let mut out = Vec::with_capacity(want.min(256));
        while out.len() < want {
            for stream in streams
                .iter_mut()
                .filter(|s| s.buffer.is_empty() && !s.done)
            {
                // A shard that needs reading again when nothing is left to read with: the
                // items merged so far are in order, and the page ends with them.
                if budget.spent() && !out.is_empty() {
                    return Ok((out, true));
                }
                let more = budget.items((want - out.len()).max(MIN_SHARD_FETCH));
                let (items, next) = self
                    .query(&stream.partition, more, stream.next.take())
                    .await?;
                budget.spend(&items);
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
        Ok((out, false))
    }
}

fn sort_key_of(item: Option<&Item>) -> &str {
    match item.and_then(|i| i.get("sortKey")) {
        Some(AttributeValue::S(s)) => s,
        _ => "",
    }
}

/// A page for `query` (see the module docs), without any event an erasure covers: such an
/// event is dropped (and deleted) after the page was cut, so the page may hold fewer events
/// than asked for, and its `next` still continues where it ended.
pub(super) async fn list(store: &DynamoStore, query: &ListQuery) -> Result<Page, StoreError> {
    let mut page = read_page(store, query).await?;
    page.events = store.without_erased(page.events).await?;
    Ok(page)
}

async fn read_page(store: &DynamoStore, query: &ListQuery) -> Result<Page, StoreError> {
    let limit = page_size(query.limit);
    let mut budget = Budget {
        left: query.max_bytes,
    };
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
        let (items, cut) = store
            .read_partition(&partition, limit + 1, &mut budget)
            .await?;
        let events = items
            .iter()
            .map(event_from)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if cut {
            cut_page(events)
        } else {
            finish_page(events, limit)
        });
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
        let (items, cut) = store
            .read_day(index, key, &prefix, d, below.as_deref(), want, &mut budget)
            .await?;
        for item in &items {
            events.push(event_from(item)?);
        }
        if events.len() > limit {
            return Ok(finish_page(events, limit));
        }
        if cut || (budget.spent() && !events.is_empty()) {
            return Ok(cut_page(events));
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
