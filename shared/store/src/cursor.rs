//! The page cursor: the position of the last event served, encoded opaquely so that clients do
//! not build cursors by hand and adapters can share one meaning.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use event_schema::UserEvent;
use std::fmt;
use uuid::Uuid;

/// Position after which the next page starts (newest-first order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    timestamp_ms: i64,
    event_id: Uuid,
}

/// A cursor string that this service did not produce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor is not one this service issued; use the Link header of the previous page")]
pub struct CursorError;

impl Cursor {
    /// The cursor that continues after `event`.
    pub fn after(event: &UserEvent) -> Self {
        Self {
            timestamp_ms: event.timestamp.timestamp_millis(),
            event_id: event.event_id,
        }
    }

    /// The position just before every event at `timestamp_ms` and later: what follows it is
    /// everything older (an adapter that has read a whole time range continues here).
    #[cfg_attr(not(feature = "dynamodb"), allow(dead_code))]
    pub(crate) fn before_time(timestamp_ms: i64) -> Self {
        Self {
            timestamp_ms,
            event_id: Uuid::nil(),
        }
    }

    /// Event time of the position, in Unix milliseconds.
    pub fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }

    /// Event id of the position.
    pub fn event_id(&self) -> Uuid {
        self.event_id
    }

    /// The opaque, URL-safe form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.timestamp_ms, self.event_id))
    }

    /// Reads the opaque form. Its time must be one an event can have (what chrono represents,
    /// about 262 000 years either side of 1970): a crafted `i64::MIN` would otherwise overflow
    /// where an adapter steps a millisecond before it.
    pub fn decode(s: &str) -> Result<Self, CursorError> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| CursorError)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| CursorError)?;
        let (ms, id) = text.split_once('.').ok_or(CursorError)?;
        let timestamp_ms: i64 = ms.parse().map_err(|_| CursorError)?;
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(timestamp_ms)
            .and_then(|t| t.checked_sub_signed(chrono::TimeDelta::milliseconds(1)))
            .ok_or(CursorError)?;
        Ok(Self {
            timestamp_ms,
            event_id: Uuid::try_parse(id).map_err(|_| CursorError)?,
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_foreign_strings() {
        let c = Cursor {
            timestamp_ms: 1_795_000_000_123,
            event_id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        assert_eq!(Cursor::decode("not a cursor"), Err(CursorError));
        assert_eq!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode("12.x")),
            Err(CursorError)
        );
        // Times no event can have, i64's ends among them, are foreign too.
        let id = Uuid::new_v4();
        for ms in [i64::MIN, i64::MIN + 1, i64::MAX, -9_000_000_000_000_000] {
            let crafted = URL_SAFE_NO_PAD.encode(format!("{ms}.{id}"));
            assert_eq!(Cursor::decode(&crafted), Err(CursorError), "{ms}");
        }
        let earliest = chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp_millis() + 1;
        let edge = URL_SAFE_NO_PAD.encode(format!("{earliest}.{id}"));
        let c = Cursor::decode(&edge).expect("an event could have this time");
        assert!(c.timestamp_ms().checked_sub(1).is_some());
    }
}
