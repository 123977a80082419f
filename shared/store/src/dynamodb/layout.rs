//! Where an event lives in the table and its indexes, written once.
//!
//! The table is keyed by `eventId`. Listing newest first needs indexes sorted by time, and a
//! single partition for "every event" would cap the whole table at one partition's write rate
//! (about 1000 items/s, and a throttled index slows the table's writes too). So the time and type
//! indexes spread each UTC day over [`SHARDS`] partitions (`timeShard` = `DAY#SS`, `typeShard` =
//! `TYPE#DAY#SS`, the shard from the event id's last byte), and a listing reads a day's shards in
//! parallel and merges them. Which days hold events is kept in small registry items (`day#…`)
//! in a `days` index, so a listing never walks empty days. A user's own partition is naturally
//! spread (`userId`, and `userType` = `TYPE#USER` for both filters). Every index sorts by
//! `sortKey` = zero-padded Unix milliseconds, `#`, event id: the same order and cursor meaning
//! as the SQLite adapter.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Partitions per day in the time and type indexes.
pub const SHARDS: u8 = 16;

/// The table's layout: [`super::DynamoStore::create_table`] builds the table from it, and a test
/// holds `template.yaml`'s `EventsTable` to it.
pub struct TableLayout {
    /// The partition key of the table (every key here is a string).
    pub key: &'static str,
    /// Each global secondary index: name, partition key, sort key, projection (`ALL`, or
    /// `KEYS_ONLY` for the days registry, which only lists keys).
    pub indexes: &'static [(&'static str, &'static str, &'static str, &'static str)],
    /// The attribute holding the expiry time (DynamoDB TTL), when `EVENT_TTL_DAYS` is set.
    pub ttl_attribute: &'static str,
}

/// Every event, by day and shard.
pub const BY_TIME_INDEX: &str = "by-time";
/// Every event of one type, by day and shard.
pub const BY_TYPE_INDEX: &str = "by-type";
/// One user's events.
pub const BY_USER_INDEX: &str = "by-user";
/// One user's events of one type.
pub const BY_USER_TYPE_INDEX: &str = "by-user-type";
/// The registry of days that hold events.
pub const DAYS_INDEX: &str = "days";
/// Each user's idempotency keys (only key items have `keyUser`), found to erase them.
pub const BY_KEY_USER_INDEX: &str = "by-key-user";

/// The layout of the events table.
pub const LAYOUT: TableLayout = TableLayout {
    key: "eventId",
    indexes: &[
        (BY_TIME_INDEX, "timeShard", "sortKey", "ALL"),
        (BY_TYPE_INDEX, "typeShard", "sortKey", "ALL"),
        (BY_USER_INDEX, "userId", "sortKey", "ALL"),
        (BY_USER_TYPE_INDEX, "userType", "sortKey", "ALL"),
        (DAYS_INDEX, "dayList", "day", "KEYS_ONLY"),
        (BY_KEY_USER_INDEX, "keyUser", "eventId", "KEYS_ONLY"),
    ],
    ttl_attribute: "expiresAt",
};

impl TableLayout {
    /// Every key attribute, once each, sorted.
    pub fn attributes(&self) -> Vec<&'static str> {
        let mut names: Vec<&str> = std::iter::once(self.key)
            .chain(self.indexes.iter().flat_map(|(_, p, s, _)| [*p, *s]))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// `sortKey`: fixed-width milliseconds so that string order is time order, then the id.
pub(super) fn sort_key(ms: i64, id: &Uuid) -> String {
    format!("{:013}#{id}", ms.max(0))
}

/// The UTC day of a time, `YYYYMMDD`.
pub(super) fn day(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y%m%d")
        .to_string()
}

/// Unix milliseconds at the start of a `YYYYMMDD` day.
pub(super) fn day_start_ms(day: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y%m%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// The shard of an event: the last byte of its (random) id.
pub(super) fn shard(id: &Uuid) -> u8 {
    id.as_bytes()[15] % SHARDS
}

/// The partition of one shard of a day, for every event (`prefix` empty) or one type
/// (`prefix` = `TYPE#`).
pub(super) fn shard_partition(prefix: &str, day: &str, shard: u8) -> String {
    format!("{prefix}{day}#{shard:02}")
}

/// The registry list of days with events: all, or of one type.
pub(super) fn day_list(event_type: Option<&str>) -> String {
    match event_type {
        None => "days".to_owned(),
        Some(t) => format!("days#{t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_shards_are_stable() {
        let ms = 1_795_000_000_123; // 2026-11-18
        assert_eq!(day(ms), "20261118");
        let start = day_start_ms("20261118").expect("day");
        assert!(start <= ms && ms - start < 86_400_000);
        assert_eq!(day(start - 1), "20261117");
        let id = Uuid::from_u128(0x1f);
        assert_eq!(shard(&id), 0x1f % SHARDS);
        assert_eq!(
            shard_partition("LOGIN#", "20261118", 3),
            "LOGIN#20261118#03"
        );
        assert!(sort_key(5, &id) < sort_key(10, &Uuid::nil()));
    }
}
