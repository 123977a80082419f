//! A batch body, `{"events": [item, …]}`, read as far as the batch's own rules go: the body
//! must be JSON (as `serde_json` reads it) and an object without repeated keys, and `events`
//! an array. Each item is only delimited, not judged: its text goes to the single request's
//! rules on its own, so that a problem inside one item (a repeated key, a payload too deep)
//! refuses that item and not its neighbours.
//!
//! Items are skipped with an explicit stack rather than recursion, so no nesting a client sends
//! can exhaust the thread's stack; the depth limit applies when each item is read as a request.

use super::reader::Reader;
use super::{not_an_object, read_body, Read, Stop};
use crate::error::FieldError;
use std::borrow::Cow;

/// What a batch body holds: `events` (`None` when absent), and the other top-level keys.
#[derive(Debug, Default)]
pub(crate) struct BatchBody<'a> {
    pub(crate) events: Option<Events<'a>>,
    pub(crate) unknown: Vec<Cow<'a, str>>,
}

/// The value of `events`.
#[derive(Debug)]
pub(crate) enum Events<'a> {
    /// An array: each item's text, in order.
    Items(Vec<&'a str>),
    /// Anything else, named for a message.
    Other(&'static str),
}

/// Reads `body` as a batch. On failure, the single problem that refuses it whole.
pub(crate) fn parse_batch(body: &[u8]) -> Result<BatchBody<'_>, FieldError> {
    read_body(body, Reader::batch)
}

impl<'a> Reader<'a> {
    fn batch(&mut self) -> Read<BatchBody<'a>> {
        self.space();
        if self.peek() != Some(b'{') {
            let first = self.peek();
            self.skip_value()?;
            return not_an_object(type_of(first));
        }
        let mut batch = BatchBody::default();
        self.root_members(|reader, key| {
            if key == "events" {
                batch.events = Some(reader.events()?);
            } else {
                reader.skip_value()?;
                batch.unknown.push(key);
            }
            Ok(())
        })?;
        Ok(batch)
    }

    /// The value of `events`: each item's text when it is an array.
    fn events(&mut self) -> Read<Events<'a>> {
        if self.peek() != Some(b'[') {
            let first = self.peek();
            self.skip_value()?;
            return Ok(Events::Other(type_of(first)));
        }
        self.i += 1;
        let mut items = Vec::new();
        self.space();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Events::Items(items));
        }
        loop {
            let start = self.i;
            self.skip_value()?;
            // Every value begins and ends at an ASCII byte (or a string's quote).
            items.push(self.text(start, self.i).ok_or(Stop::Utf8)?);
            if self.next_or(b']')? {
                return Ok(Events::Items(items));
            }
        }
    }

    /// Reads past one JSON value, checking its syntax only (strings, numbers and literals as
    /// the reader reads them), however deep it nests.
    fn skip_value(&mut self) -> Read<()> {
        let mut open: Vec<u8> = Vec::new();
        loop {
            // A value.
            match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    self.space();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                    } else {
                        open.push(b'}');
                        self.member_key()?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    self.space();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                    } else {
                        open.push(b']');
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                _ => return Err(Stop::Syntax),
            }
            // After a value: close what it ended, or go on to the next one.
            loop {
                let Some(&close) = open.last() else {
                    return Ok(());
                };
                self.space();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        self.space();
                        if close == b'}' {
                            self.member_key()?;
                        }
                        break;
                    }
                    Some(c) if c == close => {
                        self.i += 1;
                        open.pop();
                    }
                    _ => return Err(Stop::Syntax),
                }
            }
        }
    }

    /// A member's key and its colon, up to the value.
    fn member_key(&mut self) -> Read<()> {
        if self.peek() != Some(b'"') {
            return Err(Stop::Syntax);
        }
        self.string()?;
        self.space();
        self.expect(b':')?;
        self.space();
        Ok(())
    }
}

/// The JSON type of the value that starts with `first`, as a message names it.
fn type_of(first: Option<u8>) -> &'static str {
    match first {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'{') => "an object",
        _ => "a number",
    }
}
