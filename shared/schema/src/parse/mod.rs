//! A strict JSON reader for request and event bodies, in one pass over the bytes and without
//! building a tree.
//!
//! `serde_json::Value` silently keeps the last of two duplicate keys and only stops nesting at 128
//! levels. Both are unsafe for an event pipeline: two services reading the same bytes could disagree
//! on a field, and a deeply nested payload costs every consumer. This reader rejects duplicate keys
//! anywhere, stops at the payload depth limit, and keeps the top-level members in document order so
//! unknown fields are reported in the order the client wrote them.
//!
//! It accepts exactly the documents `serde_json` accepts (with `float_roundtrip`: every number a
//! finite double, no lone surrogate, UTF-8 strings), which the fuzz targets check. An object value
//! comes back as its text plus whether that text is already *compact*: byte for byte what
//! `serde_json` would write for it. A compact payload is stored as it arrived; only other spellings
//! (spaces, `\/`, `1E2`) are parsed and written again.

use crate::error::{ErrorCode, FieldError};
use crate::MAX_PAYLOAD_DEPTH;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;

mod batch;
mod number;
mod reader;
#[cfg(test)]
mod tests;
mod text;

pub(crate) use batch::{parse_batch, Events};
use reader::Reader;
pub(crate) use text::compacted;

/// Nesting allowed in a whole body: the top-level object plus the payload's own depth.
const MAX_BODY_DEPTH: usize = MAX_PAYLOAD_DEPTH + 1;

/// A top-level member's value, as much of it as the rules look at.
#[derive(Debug)]
pub(crate) enum Member<'a> {
    /// `null`.
    Null,
    /// A string, unescaped.
    String(Cow<'a, str>),
    /// An object: its text in the body, and whether that text is already compact.
    Object { text: &'a str, compact: bool },
    /// Anything else, named for a message (`a number`, `an array`, `a boolean`).
    Other(&'static str),
}

impl Member<'_> {
    /// The JSON type, as a message names it.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Member::Null => "null",
            Member::String(_) => "a string",
            Member::Object { .. } => "an object",
            Member::Other(name) => name,
        }
    }
}

/// One top-level member: its name and its value (an `Option` so that the rules can take the ones
/// they read).
pub(crate) type Entry<'a> = (Cow<'a, str>, Option<Member<'a>>);

/// The members of a top-level JSON object, in document order: the first few on the stack (a
/// request has three, an event five), so that a valid body allocates no list for them.
#[derive(Debug)]
pub(crate) struct Members<'a> {
    first: [Entry<'a>; Members::FIRST],
    len: usize,
    rest: Vec<Entry<'a>>,
}

impl<'a> Members<'a> {
    const FIRST: usize = 5;

    fn new() -> Self {
        Members {
            first: std::array::from_fn(|_| (Cow::Borrowed(""), None)),
            len: 0,
            rest: Vec::new(),
        }
    }

    fn push(&mut self, entry: Entry<'a>) {
        match self.first.get_mut(self.len) {
            Some(slot) => {
                *slot = entry;
                self.len += 1;
            }
            None => self.rest.push(entry),
        }
    }

    /// The members in document order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry<'a>> {
        self.first[..self.len].iter().chain(&self.rest)
    }

    /// The members in document order.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Entry<'a>> {
        self.first[..self.len].iter_mut().chain(&mut self.rest)
    }
}

/// Where a value sits in the document, as a parent-linked list on the stack, so that a path is
/// only rendered when a problem is reported.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a str, &'a Path<'a>),
    Index(usize, &'a Path<'a>),
}

impl Path<'_> {
    /// The top-level field this path is under, or `body` for the root itself.
    fn field(&self) -> String {
        let mut cur = self;
        let mut top = None;
        loop {
            match cur {
                Path::Root => break,
                Path::Key(k, parent) => {
                    top = Some(*k);
                    cur = parent;
                }
                Path::Index(_, parent) => {
                    top = None;
                    cur = parent;
                }
            }
        }
        top.unwrap_or("body").to_owned()
    }

    fn render(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Key(k, parent) => {
                parent.render(out);
                if !matches!(parent, Path::Root) {
                    out.push('.');
                }
                out.push_str(k);
            }
            Path::Index(i, parent) => {
                parent.render(out);
                let _ = write!(out, "[{i}]");
            }
        }
    }

    fn display(&self) -> String {
        let mut s = String::new();
        self.render(&mut s);
        if s.is_empty() {
            s.push_str("the body");
        }
        s
    }
}

/// Why reading stopped: the text is not JSON, or it is JSON that breaks a rule of the reader.
enum Stop {
    /// Not JSON at the reader's position.
    Syntax,
    /// A string that is not UTF-8.
    Utf8,
    /// A number beyond the range of a double (I-JSON).
    OutOfRange,
    /// A rule of the reader (boxed, so that every result the reader passes around stays small).
    Problem(Box<FieldError>),
}

type Read<T> = Result<T, Stop>;

/// Reads `body` as a JSON object. On failure, the single problem that stopped the reader.
pub(crate) fn parse_object(body: &[u8]) -> Result<Members<'_>, FieldError> {
    read_body(body, Reader::root)
}

/// Runs `read` over `body`, which must hold a JSON object: the problem that stopped it, if any,
/// as the body's one problem.
fn read_body<'a, T>(
    body: &'a [u8],
    read: impl FnOnce(&mut Reader<'a>) -> Read<T>,
) -> Result<T, FieldError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(FieldError::new(
            "body",
            ErrorCode::MalformedJson,
            "the body is empty; send a JSON object",
        ));
    }
    let mut reader = Reader::new(body);
    match read(&mut reader) {
        Ok(value) => Ok(value),
        Err(Stop::Problem(problem)) => Err(*problem),
        Err(stop) => Err(malformed(body, reader.i, &stop)),
    }
}

/// The message for a body that is not JSON: what was found, and where (line and column, in
/// characters, both from 1).
fn malformed(body: &[u8], at: usize, stop: &Stop) -> FieldError {
    let before = String::from_utf8_lossy(&body[..at.min(body.len())]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let what = match stop {
        Stop::Utf8 => "a string that is not UTF-8".to_owned(),
        Stop::OutOfRange => "a number beyond the range of a double".to_owned(),
        _ => match String::from_utf8_lossy(&body[at.min(body.len())..])
            .chars()
            .next()
        {
            None => "unexpected end of the body".to_owned(),
            Some(c) if c.is_control() || c.is_whitespace() => {
                format!("unexpected character U+{:04X}", u32::from(c))
            }
            Some(c) => format!("unexpected '{c}'"),
        },
    };
    FieldError::new(
        "body",
        ErrorCode::MalformedJson,
        format!("the body is not valid JSON at line {line} column {column}: {what}"),
    )
}

fn not_an_object<T>(what: &str) -> Read<T> {
    Err(Stop::Problem(Box::new(FieldError::new(
        "body",
        ErrorCode::NotAnObject,
        format!("the body must be a JSON object, got {what}"),
    ))))
}

fn duplicate(key: &str, at: &Path) -> Stop {
    let (field, location) = match at {
        Path::Root => (key.to_owned(), "the body".to_owned()),
        _ => (at.field(), at.display()),
    };
    Stop::Problem(Box::new(FieldError::new(
        field,
        ErrorCode::DuplicateKey,
        format!("key \"{key}\" appears more than once in {location}; send each key once"),
    )))
}

fn too_deep(at: &Path) -> Stop {
    let field = at.field();
    Stop::Problem(Box::new(FieldError::new(
        field.as_str(),
        ErrorCode::TooDeep,
        format!("{field} nests deeper than {MAX_PAYLOAD_DEPTH} levels; flatten it"),
    )))
}
