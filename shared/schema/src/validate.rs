//! The rules. Both validators read the body once with the strict reader, then check every field
//! and report every problem together, so a client fixes its request in one round trip.

use crate::error::{ErrorCode, FieldError, ValidationErrors};
use crate::parse::{self, Member};
use crate::types::{parse_timestamp, EventRequest, EventType, Payload, UserEvent};
use crate::user_id::check_user_id;
use crate::{MAX_BODY_BYTES, MAX_PAYLOAD_BYTES};
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use uuid::Uuid;

/// Validates a `POST /events/generate` body.
pub fn validate_request(body: &[u8]) -> Result<EventRequest, ValidationErrors> {
    read_request(body).map(|(user_id, event_type, payload)| EventRequest {
        user_id: user_id.into_owned(),
        event_type,
        payload: payload.map(|p| Payload::from_compact(p.into_owned())),
    })
}

/// The verdict of [`validate_request`] alone, for callers that only need to know (the browser's
/// `check`): nothing of the body is copied.
pub fn check_request(body: &[u8]) -> Result<(), ValidationErrors> {
    read_request(body).map(drop)
}

/// A request's user id, type and compact payload, borrowed from the body where they can be.
type RequestParts<'a> = (Cow<'a, str>, EventType, Option<Cow<'a, str>>);

fn read_request(body: &[u8]) -> Result<RequestParts<'_>, ValidationErrors> {
    let mut fields = read(body, &["userId", "eventType", "payload"])?;
    let mut errors = Vec::new();
    let user_id = user_id_field(fields.take("userId"), &mut errors);
    let event_type = event_type_field(fields.take("eventType"), &mut errors);
    let payload = payload_field(fields.take("payload"), &mut errors);
    fields.report_unknown(&mut errors);
    match (ValidationErrors::from_vec(errors), user_id, event_type) {
        (None, Some(user_id), Some(event_type)) => Ok((user_id, event_type, payload)),
        (Some(errors), _, _) => Err(errors),
        // Every `None` above pushed an error, so this arm is unreachable; stay total anyway.
        (None, _, _) => Err(internal()),
    }
}

/// Validates a complete event, as the processor receives it from Kafka.
pub fn validate_event(body: &[u8]) -> Result<UserEvent, ValidationErrors> {
    let mut fields = read(
        body,
        &["eventId", "userId", "eventType", "timestamp", "payload"],
    )?;
    let mut errors = Vec::new();
    let event_id = event_id_field(fields.take("eventId"), &mut errors);
    let user_id = user_id_field(fields.take("userId"), &mut errors);
    let event_type = event_type_field(fields.take("eventType"), &mut errors);
    let timestamp = timestamp_field(fields.take("timestamp"), &mut errors);
    let payload = payload_field(fields.take("payload"), &mut errors);
    fields.report_unknown(&mut errors);
    match (
        ValidationErrors::from_vec(errors),
        event_id,
        user_id,
        event_type,
        timestamp,
    ) {
        (None, Some(event_id), Some(user_id), Some(event_type), Some(timestamp)) => Ok(UserEvent {
            event_id,
            user_id: user_id.into_owned(),
            event_type,
            timestamp,
            payload: payload.map(|p| Payload::from_compact(p.into_owned())),
        }),
        (Some(errors), ..) => Err(errors),
        (None, ..) => Err(internal()),
    }
}

/// Parses an event type, with the message a client sees when it is not one of the three.
pub fn check_event_type(value: &str) -> Result<EventType, (ErrorCode, String)> {
    value.parse().map_err(|_| {
        let hint = EventType::ALL
            .iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(value))
            .map(|t| format!(" (event types are case-sensitive: did you mean {t}?)"))
            .unwrap_or_default();
        (
            ErrorCode::NotAllowed,
            format!(
                "eventType must be one of {}, got {}{hint}",
                allowed_list(),
                quote(value)
            ),
        )
    })
}

fn allowed_list() -> String {
    EventType::ALL.map(EventType::as_str).join(", ")
}

fn internal() -> ValidationErrors {
    ValidationErrors::single(FieldError::new(
        "body",
        ErrorCode::MalformedJson,
        "the body could not be validated",
    ))
}

/// The top-level members, with the names the schema knows.
struct Fields<'a> {
    members: parse::Members<'a>,
    known: &'static [&'static str],
}

impl<'a> Fields<'a> {
    /// Removes a known field. `Some(Member::Null)` when present as `null`, `None` when absent.
    fn take(&mut self, name: &'static str) -> Option<Member<'a>> {
        self.members
            .iter_mut()
            .find(|(k, m)| m.is_some() && k == name)
            .and_then(|(_, m)| m.take())
    }

    /// Reports every member no rule took.
    fn report_unknown(self, errors: &mut Vec<FieldError>) {
        let left = self.members.iter().filter(|(_, m)| m.is_some());
        for (key, _) in left {
            errors.push(FieldError::new(
                key.as_ref(),
                ErrorCode::UnknownField,
                format!(
                    "unknown field {}; allowed fields are {}",
                    quote(key),
                    self.known.join(", ")
                ),
            ));
        }
    }
}

fn read<'a>(
    body: &'a [u8],
    known: &'static [&'static str],
) -> Result<Fields<'a>, ValidationErrors> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ValidationErrors::single(FieldError::new(
            "body",
            ErrorCode::TooLarge,
            format!(
                "the body is {} bytes; the limit is {MAX_BODY_BYTES} bytes",
                body.len()
            ),
        )));
    }
    let members = parse::parse_object(body).map_err(ValidationErrors::single)?;
    Ok(Fields { members, known })
}

/// A string field: `None` (and an error) when absent or not a string.
fn string_field<'a>(
    name: &'static str,
    value: Option<Member<'a>>,
    errors: &mut Vec<FieldError>,
) -> Option<Cow<'a, str>> {
    match value {
        None => {
            errors.push(FieldError::new(
                name,
                ErrorCode::Required,
                format!("{name} is required"),
            ));
            None
        }
        Some(Member::String(s)) => Some(s),
        Some(other) => {
            errors.push(FieldError::new(
                name,
                ErrorCode::WrongType,
                format!("{name} must be a string, got {}", other.type_name()),
            ));
            None
        }
    }
}

fn user_id_field<'a>(
    value: Option<Member<'a>>,
    errors: &mut Vec<FieldError>,
) -> Option<Cow<'a, str>> {
    let s = string_field("userId", value, errors)?;
    match check_user_id(&s) {
        Ok(()) => Some(s),
        Err((code, message)) => {
            errors.push(FieldError::new("userId", code, message));
            None
        }
    }
}

fn event_type_field(value: Option<Member<'_>>, errors: &mut Vec<FieldError>) -> Option<EventType> {
    let s = string_field("eventType", value, errors)?;
    match check_event_type(&s) {
        Ok(t) => Some(t),
        Err((code, message)) => {
            errors.push(FieldError::new("eventType", code, message));
            None
        }
    }
}

fn event_id_field(value: Option<Member<'_>>, errors: &mut Vec<FieldError>) -> Option<Uuid> {
    let s = string_field("eventId", value, errors)?;
    // Only the canonical hyphenated form: other spellings of the same UUID would defeat
    // idempotency for readers that compare strings.
    match Uuid::try_parse(&s) {
        Ok(id) if s.len() == 36 => Some(id),
        _ => {
            errors.push(FieldError::new(
                "eventId",
                ErrorCode::InvalidFormat,
                format!(
                    "eventId must be a UUID like 123e4567-e89b-42d3-a456-426614174000, got {}",
                    quote(&s)
                ),
            ));
            None
        }
    }
}

fn timestamp_field(
    value: Option<Member<'_>>,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    let s = string_field("timestamp", value, errors)?;
    match parse_timestamp(&s) {
        Some(t) => Some(truncate_to_millis(t)),
        None => {
            errors.push(FieldError::new(
                "timestamp",
                ErrorCode::InvalidFormat,
                format!(
                    "timestamp must be an RFC 3339 time like 2026-11-25T16:07:04.123Z, got {}",
                    quote(&s)
                ),
            ));
            None
        }
    }
}

/// Events carry millisecond precision; finer digits are dropped so that what is stored
/// serializes back to what was read.
pub(crate) fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

fn payload_field<'a>(
    value: Option<Member<'a>>,
    errors: &mut Vec<FieldError>,
) -> Option<Cow<'a, str>> {
    match value {
        None | Some(Member::Null) => None,
        // The reader has already held the payload to the depth limit and to unique keys.
        Some(Member::Object { text, compact: c }) => {
            let text = parse::compacted(text, c);
            let size = text.len();
            if size > MAX_PAYLOAD_BYTES {
                errors.push(FieldError::new(
                    "payload",
                    ErrorCode::TooLarge,
                    format!(
                        "payload is {size} bytes as compact JSON; the limit is {MAX_PAYLOAD_BYTES} bytes"
                    ),
                ));
            }
            Some(text)
        }
        Some(other) => {
            errors.push(FieldError::new(
                "payload",
                ErrorCode::WrongType,
                format!(
                    "payload must be a JSON object or null, got {}",
                    other.type_name()
                ),
            ));
            None
        }
    }
}

/// Quotes a client-supplied string for a message, shortened so that a huge value cannot bloat the
/// error response.
pub(crate) fn quote(s: &str) -> String {
    const SHOWN: usize = 40;
    if s.chars().count() > SHOWN {
        let head: String = s.chars().take(SHOWN).collect();
        format!("{:?}…", head)
    } else {
        format!("{s:?}")
    }
}
