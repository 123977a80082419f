//! The wire types: what a client sends, and the event the pipeline carries and stores.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// What happened. Serialized in upper case (`LOGIN`, `LOGOUT`, `PRODUCT_VIEW`); matching is
/// case-sensitive so that every consumer sees exactly one spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    /// A user signed in.
    Login,
    /// A user signed out.
    Logout,
    /// A user looked at a product page.
    ProductView,
}

impl EventType {
    /// Every event type, in documentation order.
    pub const ALL: [EventType; 3] = [Self::Login, Self::Logout, Self::ProductView];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "LOGIN",
            Self::Logout => "LOGOUT",
            Self::ProductView => "PRODUCT_VIEW",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string is not one of [`EventType::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEventType;

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(UnknownEventType)
    }
}

/// The body of `POST /events/generate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "EventRequest",
    description = "Body of POST /events/generate.",
    transform = crate::json_schema::body_limits
)]
pub struct EventRequest {
    /// Who did it: no control characters, no space at either end (see `maxLength`, `pattern`).
    #[schemars(length(min = 1, max = crate::MAX_USER_ID_CHARS), regex(pattern = crate::user_id::user_id_pattern()))]
    pub user_id: String,
    /// What happened.
    pub event_type: EventType,
    /// Free-form details (an object), or null / absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
}

/// The body of `POST /events/batch`: event requests, each judged alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "BatchRequest",
    description = "Body of POST /events/batch: 1 to 500 event requests, each judged alone by the rules of POST /events/generate.",
    transform = crate::json_schema::batch_limits
)]
pub struct BatchRequest {
    /// The event requests, in the order their results come back.
    #[schemars(length(min = 1, max = crate::MAX_BATCH_ITEMS))]
    pub events: Vec<EventRequest>,
}

/// An accepted event: the request plus the identity and time the pipeline gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "UserEvent",
    description = "An event as published to Kafka and stored by the processor.",
    transform = crate::json_schema::body_limits
)]
pub struct UserEvent {
    /// Unique id (UUID v4), the key of idempotent storage, in the canonical hyphenated form.
    #[schemars(regex(pattern = crate::json_schema::UUID_PATTERN))]
    pub event_id: Uuid,
    /// Who did it.
    #[schemars(length(min = 1, max = crate::MAX_USER_ID_CHARS), regex(pattern = crate::user_id::user_id_pattern()))]
    pub user_id: String,
    /// What happened.
    pub event_type: EventType,
    /// When the pipeline accepted it: RFC 3339, UTC, milliseconds (`2026-11-25T16:07:04.123Z`).
    #[schemars(regex(pattern = crate::json_schema::RFC3339_PATTERN))]
    #[serde(
        serialize_with = "timestamp::serialize",
        deserialize_with = "timestamp::deserialize"
    )]
    pub timestamp: DateTime<Utc>,
    /// Free-form details, or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
}

/// Free-form details of an event: a JSON object, held as its compact text (exactly what
/// `serde_json` writes for it). Events carry, store and answer with this text as it is, so a
/// payload is never parsed into a tree on the way through the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(String);

impl Payload {
    /// The payload as compact JSON text.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// The payload as a map, for code that looks inside it.
    pub fn to_map(&self) -> Map<String, Value> {
        serde_json::from_str(&self.0).unwrap_or_default()
    }

    /// Reads a payload from JSON text (an object, in any spelling). Stores use this for text they
    /// wrote themselves; the request and event validators check the limits as well.
    /// Held to the reader's rules (unique keys, depth) but not to the size limit.
    pub fn from_json(text: &str) -> Result<Self, String> {
        use crate::parse::{compacted, parse_object, Member};
        let mut body = String::with_capacity(text.len() + 12);
        body.push_str("{\"payload\":");
        body.push_str(text);
        body.push('}');
        let mut members = parse_object(body.as_bytes()).map_err(|e| e.message)?;
        match members.iter_mut().last().and_then(|(_, m)| m.take()) {
            Some(Member::Object { text, compact }) => {
                Ok(Self(compacted(text, compact).into_owned()))
            }
            Some(other) => Err(format!(
                "a payload must be an object, got {}",
                other.type_name()
            )),
            None => Err("no payload".to_owned()),
        }
    }

    /// Text already known to be compact.
    pub(crate) fn from_compact(text: String) -> Self {
        Self(text)
    }
}

impl From<Map<String, Value>> for Payload {
    fn from(map: Map<String, Value>) -> Self {
        Self(Value::Object(map).to_string())
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Written as raw JSON: the text is an object already, so nothing is parsed into a tree.
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Map::<String, Value>::deserialize(d).map(Self::from)
    }
}

impl schemars::JsonSchema for Payload {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        <Map<String, Value>>::schema_name()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Map<String, Value>>::json_schema(generator)
    }
}

/// Formats a time the way every event carries it: UTC, millisecond precision, `Z`.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses any RFC 3339 time and normalises it to UTC.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Serde adapter for event timestamps (see [`format_timestamp`]).
pub mod timestamp {
    use super::*;

    /// Serializes as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_timestamp(*t))
    }

    /// Accepts any RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        parse_timestamp(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 timestamp: {s}")))
    }
}
