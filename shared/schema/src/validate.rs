//! The rules. Both validators read the body once with the strict reader, then check every field
//! and report every problem together, so a client fixes its request in one round trip.

use crate::error::{ErrorCode, FieldError, ValidationErrors};
use crate::parse::{self, Member};
use crate::types::{parse_timestamp, EventRequest, EventType, Payload, UserEvent};
use crate::{MAX_BODY_BYTES, MAX_PAYLOAD_BYTES, MAX_USER_ID_CHARS};
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use uuid::Uuid;

/// Characters a user id may not start or end with, as inclusive ranges: Unicode's White_Space
/// plus U+FEFF, which JavaScript's `\s` counts as space. Both definitions matter: the server
/// checks with Rust, browsers and other clients often with a JSON Schema regex, and an id that
/// starts with an invisible character would look identical to one that does not.
const EDGE_SPACE: &[(char, char)] = &[
    ('\u{9}', '\u{D}'),
    (' ', ' '),
    ('\u{85}', '\u{85}'),
    ('\u{A0}', '\u{A0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200A}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202F}', '\u{202F}'),
    ('\u{205F}', '\u{205F}'),
    ('\u{3000}', '\u{3000}'),
    ('\u{FEFF}', '\u{FEFF}'),
];

/// Characters a user id may not contain anywhere: the C0 and C1 controls (Unicode's Cc).
const CONTROL: &[(char, char)] = &[('\u{0}', '\u{1F}'), ('\u{7F}', '\u{9F}')];

/// Invisible format characters a user id may not contain anywhere, so that two ids that look
/// the same are the same: soft hyphen, Arabic letter mark, Mongolian vowel separator, the zero
/// widths (space, non-joiner, joiner), the direction marks, embeddings and overrides
/// (U+202A–U+202E) and isolates (U+2066–U+2069), word joiner and invisible operators
/// (U+2060–U+2064), the deprecated format controls (U+206A–U+206F), U+FEFF and the interlinear
/// annotation controls. All are in the Basic Multilingual Plane, so the JSON Schema pattern
/// can name them with `\uXXXX` escapes every regex engine reads alike.
const INVISIBLE: &[(char, char)] = &[
    ('\u{AD}', '\u{AD}'),
    ('\u{61C}', '\u{61C}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
];

fn in_ranges(c: char, ranges: &[(char, char)]) -> bool {
    ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// Whether `c` counts as space at the edges of a user id (see [`EDGE_SPACE`]).
fn is_edge_space(c: char) -> bool {
    in_ranges(c, EDGE_SPACE)
}

/// The JSON Schema pattern for a user id, built from the same character lists as
/// [`check_user_id`]. It uses only `\uXXXX` escapes, which ECMAScript, Python and Rust regex
/// engines read alike. (Lone UTF-16 surrogates, which the server's JSON reader rejects, are the
/// body's `x-ijson` rule, not this pattern's: Rust's regex engines cannot name them.)
pub fn user_id_pattern() -> String {
    fn class(negated_ranges: &[&[(char, char)]]) -> String {
        let mut out = String::from("[^");
        for &(lo, hi) in negated_ranges.iter().copied().flatten() {
            out.push_str(&format!("\\u{:04X}", u32::from(lo)));
            if hi != lo {
                out.push_str(&format!("-\\u{:04X}", u32::from(hi)));
            }
        }
        out.push(']');
        out
    }
    let edge = class(&[EDGE_SPACE, CONTROL, INVISIBLE]);
    let inner = class(&[CONTROL, INVISIBLE]);
    format!("^{edge}(?:{inner}*{edge})?$")
}

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

/// Checks a user id (also used for the `userId` query filter). `None` when it is acceptable.
pub fn check_user_id(value: &str) -> Option<(ErrorCode, String)> {
    // Printable ASCII that neither starts nor ends with a space, and short enough, passes every
    // rule below; most ids are that.
    let bytes = value.as_bytes();
    if let (Some(first), Some(last)) = (bytes.first(), bytes.last()) {
        if first.is_ascii_graphic()
            && last.is_ascii_graphic()
            && bytes.len() <= MAX_USER_ID_CHARS
            && bytes.iter().all(|&b| b == b' ' || b.is_ascii_graphic())
        {
            return None;
        }
    }
    if value.chars().all(is_edge_space) {
        return Some((
            ErrorCode::Empty,
            "userId must not be empty or only whitespace".to_owned(),
        ));
    }
    let chars = value.chars().count();
    if chars > MAX_USER_ID_CHARS {
        return Some((
            ErrorCode::TooLong,
            format!("userId must be at most {MAX_USER_ID_CHARS} characters, got {chars}"),
        ));
    }
    for (what, ranges) in [
        ("control characters", CONTROL),
        ("invisible formatting characters", INVISIBLE),
    ] {
        if let Some((i, c)) = value
            .chars()
            .enumerate()
            .find(|(_, c)| in_ranges(*c, ranges))
        {
            return Some((
                ErrorCode::InvalidFormat,
                format!(
                    "userId must not contain {what} (found U+{:04X} at position {})",
                    u32::from(c),
                    i + 1
                ),
            ));
        }
    }
    if value.starts_with(is_edge_space) || value.ends_with(is_edge_space) {
        return Some((
            ErrorCode::InvalidFormat,
            "userId must not start or end with whitespace".to_owned(),
        ));
    }
    None
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
        None => Some(s),
        Some((code, message)) => {
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

/// The compact text of an object the reader accepted: its own text when already compact,
/// otherwise written again (spaces, `\/`, `1E2` and the like).
fn compact(text: &str, is_compact: bool) -> Cow<'_, str> {
    if is_compact {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(parse::compact(text))
    }
}

fn payload_field<'a>(
    value: Option<Member<'a>>,
    errors: &mut Vec<FieldError>,
) -> Option<Cow<'a, str>> {
    match value {
        None | Some(Member::Null) => None,
        // The reader has already held the payload to the depth limit and to unique keys.
        Some(Member::Object { text, compact: c }) => {
            let text = compact(text, c);
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

/// [`Payload::from_json`]: any JSON object text, held to the reader's rules (unique keys, depth)
/// but not to the size limit.
pub(crate) fn payload_text(text: &str) -> Result<Payload, String> {
    let mut body = String::with_capacity(text.len() + 12);
    body.push_str("{\"payload\":");
    body.push_str(text);
    body.push('}');
    let mut members = parse::parse_object(body.as_bytes()).map_err(|e| e.message)?;
    match members.iter_mut().last().and_then(|(_, m)| m.take()) {
        Some(Member::Object { text, compact: c }) => {
            Ok(Payload::from_compact(compact(text, c).into_owned()))
        }
        Some(other) => Err(format!(
            "a payload must be an object, got {}",
            other.type_name()
        )),
        None => Err("no payload".to_owned()),
    }
}

/// Quotes a client-supplied string for a message, shortened so that a huge value cannot bloat the
/// error response.
fn quote(s: &str) -> String {
    const SHOWN: usize = 40;
    if s.chars().count() > SHOWN {
        let head: String = s.chars().take(SHOWN).collect();
        format!("{:?}…", head)
    } else {
        format!("{s:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_space_is_unicode_white_space_plus_what_javascript_adds() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(
                is_edge_space(c),
                c.is_whitespace() || c == '\u{FEFF}',
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn control_is_unicode_cc() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(
                in_ranges(c, CONTROL),
                c.is_control(),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn the_pattern_is_built_from_the_lists() {
        let p = user_id_pattern();
        assert!(p.starts_with("^[^\\u0009-\\u000D\\u0020"), "{p}");
        assert!(p.contains("\\uFEFF"), "{p}");
        assert!(!p.contains("\\uD800"), "{p}");
    }
}
