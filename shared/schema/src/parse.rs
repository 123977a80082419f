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

mod number;
use number::{as_double, plainly_compact, written_back};

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
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(FieldError::new(
            "body",
            ErrorCode::MalformedJson,
            "the body is empty; send a JSON object",
        ));
    }
    let mut reader = Reader::new(body);
    match reader.root() {
        Ok(members) => Ok(members),
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

/// A string as it appears in the body, between its quotes.
struct Str<'a> {
    raw: &'a str,
    escaped: bool,
    compact: bool,
}

impl<'a> Str<'a> {
    /// The string's value: the text itself unless it holds escapes.
    #[inline]
    fn value(&self) -> Cow<'a, str> {
        if self.escaped {
            Cow::Owned(unescape(self.raw))
        } else {
            Cow::Borrowed(self.raw)
        }
    }
}

/// The keys seen in one object: while there are few and none is escaped, slices of the body in
/// a list on the stack (most payload objects allocate nothing); a set beyond.
struct Seen<'a> {
    few: [&'a str; Seen::FEW],
    len: usize,
    many: Option<HashSet<Cow<'a, str>>>,
}

impl<'a> Seen<'a> {
    const FEW: usize = 16;

    fn new() -> Self {
        Seen {
            few: [""; Self::FEW],
            len: 0,
            many: None,
        }
    }

    /// Adds `key`; false when it was already there.
    fn insert(&mut self, key: Cow<'a, str>) -> bool {
        if let Some(set) = &mut self.many {
            return set.insert(key);
        }
        let few = &self.few[..self.len];
        if few.contains(&key.as_ref()) {
            return false;
        }
        match key {
            Cow::Borrowed(k) if self.len < Self::FEW => {
                self.few[self.len] = k;
                self.len += 1;
            }
            key => {
                let mut set: HashSet<_> = few.iter().map(|&k| Cow::Borrowed(k)).collect();
                set.insert(key);
                self.many = Some(set);
            }
        }
        true
    }
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
    /// The body as text when all of it is UTF-8 (checked once, up front), so that a string's
    /// text is a slice of it. Otherwise each string is checked where it is, to report the first
    /// one that is not UTF-8.
    text: Option<&'a str>,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader {
            b,
            i: 0,
            text: std::str::from_utf8(b).ok(),
        }
    }

    /// The text of `b[start..end]`, where both ends are at ASCII bytes or the ends of the body.
    #[inline]
    fn text(&self, start: usize, end: usize) -> Option<&'a str> {
        match self.text {
            Some(text) => text.get(start..end),
            None => std::str::from_utf8(&self.b[start..end]).ok(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips whitespace; true when there was any.
    fn space(&mut self) -> bool {
        let start = self.i;
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
        self.i != start
    }

    fn expect(&mut self, byte: u8) -> Read<()> {
        if self.peek() == Some(byte) {
            self.i += 1;
            Ok(())
        } else {
            Err(Stop::Syntax)
        }
    }

    fn literal(&mut self, word: &[u8]) -> Read<()> {
        match self.b.get(self.i..self.i + word.len()) {
            Some(found) if found == word => {
                self.i += word.len();
                Ok(())
            }
            _ => Err(Stop::Syntax),
        }
    }

    fn root(&mut self) -> Read<Members<'a>> {
        self.space();
        match self.peek() {
            Some(b'{') => {}
            Some(b'[') => return not_an_object("an array"),
            Some(b'"') => {
                self.string()?;
                return not_an_object("a string");
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                return not_an_object("a number");
            }
            Some(b't') => {
                self.literal(b"true")?;
                return not_an_object("a boolean");
            }
            Some(b'f') => {
                self.literal(b"false")?;
                return not_an_object("a boolean");
            }
            Some(b'n') => {
                self.literal(b"null")?;
                return not_an_object("null");
            }
            _ => return Err(Stop::Syntax),
        }
        self.i += 1;
        let mut members = Members::new();
        self.space();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(Stop::Syntax);
                }
                let key = self.string()?.value();
                if members.iter().any(|(k, _)| *k == key) {
                    return Err(duplicate(&key, &Path::Root));
                }
                self.space();
                self.expect(b':')?;
                self.space();
                let root = Path::Root;
                let path = Path::Key(&key, &root);
                let start = self.i;
                let member = match self.peek() {
                    Some(b'"') => Member::String(self.string()?.value()),
                    Some(b'{') => {
                        let compact = self.object(1, &path)?;
                        Member::Object {
                            // The object's strings were checked as UTF-8 (with the whole body,
                            // or one by one), and everything outside strings is ASCII.
                            text: self.text(start, self.i).ok_or(Stop::Utf8)?,
                            compact,
                        }
                    }
                    first => {
                        self.value(1, &path)?;
                        match first {
                            Some(b'n') => Member::Null,
                            Some(b'[') => Member::Other("an array"),
                            Some(b't' | b'f') => Member::Other("a boolean"),
                            _ => Member::Other("a number"),
                        }
                    }
                };
                members.push((key, Some(member)));
                self.space();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        self.space();
                    }
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(Stop::Syntax),
                }
            }
        }
        self.space();
        if self.i != self.b.len() {
            return Err(Stop::Syntax);
        }
        Ok(members)
    }

    /// Reads one value held by a container at `depth` (the root object is 1). Returns whether its
    /// text is compact.
    fn value(&mut self, depth: usize, path: &Path) -> Read<bool> {
        match self.peek() {
            Some(b'{') => self.object(depth, path),
            Some(b'[') => self.array(depth, path),
            Some(b'"') => self.string().map(|s| s.compact),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| true),
            Some(b'n') => self.literal(b"null").map(|()| true),
            _ => Err(Stop::Syntax),
        }
    }

    /// Enters a container (at its opening bracket): its depth, and whether it closes at once
    /// (and whether the text so far is compact).
    fn open(&mut self, depth: usize, path: &Path, close: u8) -> Read<(usize, bool, bool)> {
        let depth = depth + 1;
        if depth > MAX_BODY_DEPTH {
            return Err(too_deep(path));
        }
        self.i += 1;
        let compact = !self.space();
        let empty = self.peek() == Some(close);
        if empty {
            self.i += 1;
        }
        Ok((depth, empty, compact))
    }

    /// After a member or an element: a comma (false) or the closing bracket (true). Clears
    /// `compact` when there is space around either.
    fn next_or_close(&mut self, close: u8, compact: &mut bool) -> Read<bool> {
        *compact &= !self.space();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                *compact &= !self.space();
                Ok(false)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(true)
            }
            _ => Err(Stop::Syntax),
        }
    }

    fn object(&mut self, depth: usize, path: &Path) -> Read<bool> {
        let (depth, empty, mut compact) = self.open(depth, path, b'}')?;
        if empty {
            return Ok(compact);
        }
        let mut seen = Seen::new();
        loop {
            if self.peek() != Some(b'"') {
                return Err(Stop::Syntax);
            }
            let s = self.string()?;
            compact &= s.compact;
            let key = s.value();
            if !seen.insert(key.clone()) {
                return Err(duplicate(&key, path));
            }
            compact &= !self.space();
            self.expect(b':')?;
            compact &= !self.space();
            let child = Path::Key(&key, path);
            compact &= self.value(depth, &child)?;
            if self.next_or_close(b'}', &mut compact)? {
                return Ok(compact);
            }
        }
    }

    fn array(&mut self, depth: usize, path: &Path) -> Read<bool> {
        let (depth, empty, mut compact) = self.open(depth, path, b']')?;
        if empty {
            return Ok(compact);
        }
        let mut index = 0;
        loop {
            let child = Path::Index(index, path);
            compact &= self.value(depth, &child)?;
            if self.next_or_close(b']', &mut compact)? {
                return Ok(compact);
            }
            index += 1;
        }
    }

    /// Reads a string (at its opening quote). Compact when `serde_json` would write the same
    /// escapes: `\"`, `\\`, the five short control escapes, `\u00xx` for the other controls.
    fn string(&mut self) -> Read<Str<'a>> {
        let start = self.i + 1;
        // Most strings are one plain run up to the closing quote, in a body checked as UTF-8.
        let end = plain_run(self.b, start);
        if let (Some(b'"'), Some(text)) = (self.b.get(end), self.text) {
            if let Some(raw) = text.get(start..end) {
                self.i = end + 1;
                return Ok(Str {
                    raw,
                    escaped: false,
                    compact: true,
                });
            }
        }
        self.i = start;
        let mut escaped = false;
        let mut compact = true;
        loop {
            self.i = plain_run(self.b, self.i);
            match self.peek() {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.i += 1;
                    let e = self.peek().ok_or(Stop::Syntax)?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'/' => compact = false,
                        b'u' => compact &= self.unicode_escape()?,
                        _ => return Err(Stop::Syntax),
                    }
                }
                // A raw control character, or the end of the body.
                _ => return Err(Stop::Syntax),
            }
        }
        let Some(raw) = self.text(start, self.i) else {
            self.i = start - 1;
            return Err(Stop::Utf8);
        };
        self.i += 1;
        Ok(Str {
            raw,
            escaped,
            compact,
        })
    }

    /// Reads the digits of a `\u` escape (and the low half of a surrogate pair). Returns whether
    /// `serde_json` writes the character this way: a control without a short escape, lower case.
    fn unicode_escape(&mut self) -> Read<bool> {
        let digits = self.b.get(self.i..self.i + 4).ok_or(Stop::Syntax)?;
        let unit = hex4(digits).ok_or(Stop::Syntax)?;
        self.i += 4;
        match unit {
            0xD800..=0xDBFF => {
                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                    return Err(Stop::Syntax);
                }
                let low = self
                    .b
                    .get(self.i + 2..self.i + 6)
                    .and_then(hex4)
                    .ok_or(Stop::Syntax)?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(Stop::Syntax);
                }
                self.i += 6;
                Ok(false)
            }
            0xDC00..=0xDFFF => Err(Stop::Syntax),
            0x08 | 0x09 | 0x0A | 0x0C | 0x0D => Ok(false),
            0..=0x1F => Ok(!digits.iter().any(u8::is_ascii_uppercase)),
            _ => Ok(false),
        }
    }

    /// Reads a number. Compact when `serde_json` writes it back unchanged: an integer it keeps as
    /// one (not `-0`), or a float whose shortest form is the text itself. A number beyond the
    /// range of a double is not accepted (I-JSON, and `serde_json` refuses it too).
    fn number(&mut self) -> Read<bool> {
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let whole = self.i;
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Stop::Syntax),
        }
        let whole = &self.b[whole..self.i];
        let mut fraction: &[u8] = &[];
        if self.peek() == Some(b'.') {
            self.i += 1;
            let digits = self.i;
            self.required_digits()?;
            fraction = &self.b[digits..self.i];
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.peek() {
            exponent = true;
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.required_digits()?;
        }
        if !exponent && plainly_compact(negative, whole, fraction) {
            return Ok(true);
        }
        let text = self.text(start, self.i).ok_or(Stop::Syntax)?;
        written_back(text, fraction.is_empty() && !exponent).inspect_err(|_| self.i = start)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    fn required_digits(&mut self) -> Read<()> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(Stop::Syntax);
        }
        self.digits();
        Ok(())
    }
}

/// The compact spelling of JSON text the reader accepted: byte for byte what `serde_json` writes
/// for it (no spaces, its escapes, its numbers).
pub(crate) fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut reader = Reader {
        b: text.as_bytes(),
        i: 0,
        text: Some(text),
    };
    while let Some(c) = reader.peek() {
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => reader.i += 1,
            b'"' => match reader.string() {
                Ok(s) => write_string(&mut out, &s.value()),
                Err(_) => return text.to_owned(),
            },
            b'-' | b'0'..=b'9' => {
                let start = reader.i;
                if reader.number().is_err() {
                    return text.to_owned();
                }
                let token = &text[start..reader.i];
                let integer = !token.contains(['.', 'e', 'E']);
                match as_double(token, integer) {
                    Ok(None) => out.push_str(token),
                    Ok(Some(v)) => out.push_str(zmij::Buffer::new().format_finite(v)),
                    Err(_) => return text.to_owned(),
                }
            }
            // Brackets, separators and the letters of true, false and null.
            _ => {
                out.push(char::from(c));
                reader.i += 1;
            }
        }
    }
    out
}

/// The compact text of an object the reader accepted: its own text when already compact,
/// otherwise written again (spaces, `\/`, `1E2` and the like).
pub(crate) fn compacted(text: &str, is_compact: bool) -> Cow<'_, str> {
    if is_compact {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(compact(text))
    }
}

/// A string as `serde_json` writes it.
fn write_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Where the run of string bytes that need no look (neither `"`, `\\` nor a control character)
/// starting at `i` ends.
#[inline]
fn plain_run(b: &[u8], i: usize) -> usize {
    /// The bytes that end a run.
    const STOP: [bool; 256] = {
        let mut stop = [false; 256];
        let mut c = 0;
        while c < 0x20 {
            stop[c] = true;
            c += 1;
        }
        stop[b'"' as usize] = true;
        stop[b'\\' as usize] = true;
        stop
    };
    let rest = b.get(i..).unwrap_or_default();
    i + rest
        .iter()
        .position(|&c| STOP[usize::from(c)])
        .unwrap_or(rest.len())
}

fn hex4(digits: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(digits).ok()?;
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// The value of a string the reader accepted (so every escape in it is well formed).
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let bytes = rest.as_bytes();
        let (c, used) = match bytes.get(at + 1) {
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => {
                let unit = bytes.get(at + 2..at + 6).and_then(hex4).unwrap_or(0xFFFD);
                if (0xD800..=0xDBFF).contains(&unit) {
                    let low = bytes.get(at + 8..at + 12).and_then(hex4).unwrap_or(0xDC00);
                    let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    (char::from_u32(code).unwrap_or('\u{FFFD}'), 12)
                } else {
                    (char::from_u32(unit).unwrap_or('\u{FFFD}'), 6)
                }
            }
            Some(&other) => (char::from(other), 2),
            None => ('\\', 1),
        };
        out.push(c);
        rest = rest.get(at + used..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(body: &str) -> Vec<String> {
        parse_object(body.as_bytes())
            .expect("valid")
            .iter()
            .map(|(k, _)| k.to_string())
            .collect()
    }

    /// The payload member of `{"payload":<text>}`: its text and whether it is compact.
    fn object(text: &str) -> (String, bool) {
        let body = format!(r#"{{"payload":{text}}}"#);
        let mut members = parse_object(body.as_bytes()).expect("valid");
        match members.iter_mut().last().map(|(_, m)| m.take()) {
            Some(Some(Member::Object { text, compact })) => (text.to_owned(), compact),
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn keeps_document_order_of_top_level_members() {
        assert_eq!(keys(r#"{"b":1,"a":2,"c":3}"#), ["b", "a", "c"]);
        // Past the members kept on the stack.
        let seven = r#"{"g":1,"f":2,"e":3,"d":4,"c":5,"b":6,"a":7}"#;
        assert_eq!(keys(seven), ["g", "f", "e", "d", "c", "b", "a"]);
        for body in [
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"a":7}"#,
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"f":7}"#,
        ] {
            let err = parse_object(body.as_bytes()).expect_err(body);
            assert_eq!(err.code, ErrorCode::DuplicateKey, "{body}");
        }
    }

    #[test]
    fn reports_nested_duplicate_with_its_path() {
        let err = parse_object(br#"{"payload":{"a":{"x":1,"x":2}}}"#).expect_err("duplicate");
        assert_eq!(err.code, ErrorCode::DuplicateKey);
        assert_eq!(err.field, "payload");
        assert!(err.message.contains("payload.a"), "{}", err.message);
    }

    #[test]
    fn a_key_spelled_two_ways_is_one_key() {
        for body in [
            r#"{"payload":{"a":1,"\u0061":2}}"#,
            r#"{"payload":{"\u0061":1,"b":2,"a":3}}"#,
        ] {
            let err = parse_object(body.as_bytes()).expect_err(body);
            assert_eq!(err.code, ErrorCode::DuplicateKey, "{body}");
        }
        assert!(parse_object(br#"{"payload":{"\u0061":1,"b":2,"c":3}}"#).is_ok());
        let many: String = (0..40).map(|i| format!(r#""k{i}":{i},"#)).collect();
        let body = format!(r#"{{"payload":{{{many}"k39":0}}}}"#);
        let err = parse_object(body.as_bytes()).expect_err("duplicate past the short list");
        assert_eq!(err.code, ErrorCode::DuplicateKey);
    }

    #[test]
    fn malformed_json_says_what_and_where() {
        for (body, message) in [
            (r#"{"a":1} x"#, "at line 1 column 9: unexpected 'x'"),
            (
                "{\n \"a\":",
                "at line 2 column 6: unexpected end of the body",
            ),
            (
                "{\"a\":\"\t\"}",
                "at line 1 column 7: unexpected character U+0009",
            ),
            (
                r#"{"a":1e999}"#,
                "at line 1 column 6: a number beyond the range of a double",
            ),
        ] {
            let err = parse_object(body.as_bytes()).expect_err(body);
            assert_eq!(err.code, ErrorCode::MalformedJson);
            assert!(err.message.ends_with(message), "{body:?}: {}", err.message);
        }
        let err = parse_object(b"{\"a\":\"\xff\"}").expect_err("not UTF-8");
        assert!(
            err.message.contains("column 6: a string that is not UTF-8"),
            "{}",
            err.message
        );
    }

    #[test]
    fn compact_writes_what_serde_json_writes() {
        let text = "{ \"a\" : [ 1E2, -0, 1.50, \"\\/\\u0041\\u001F\\ud83d\\ude00\" ], \"b\":{\"c\":null} }";
        let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(compact(text), value.to_string());
    }

    #[test]
    fn escapes_are_unescaped() {
        let members = parse_object(br#"{"u":"a\"b\\c\/d\n\u00e9\ud83d\ude00"}"#).expect("valid");
        assert!(
            matches!(members.iter().next(), Some((_, Some(Member::String(s)))) if s == "a\"b\\c/d\n\u{e9}\u{1F600}")
        );
    }

    #[test]
    fn compact_means_what_serde_json_writes() {
        for text in [
            r#"{}"#,
            r#"{"a":[1,-2,0.5,1e-7,"x\n\u0001\"\\",true,null,{}],"b":-9223372036854775808}"#,
            r#"{"é":"\u001f","big":18446744073709551615}"#,
        ] {
            assert_eq!(object(text), (text.to_owned(), true), "{text}");
        }
        for text in [
            r#"{ }"#,
            r#"{"a": 1}"#,
            r#"{"a":[1, 2]}"#,
            r#"{"a":"\/"}"#,
            r#"{"a":"\u0041"}"#,
            r#"{"a":"\u001F"}"#,
            r#"{"a":"\u000a"}"#,
            r#"{"a":-0}"#,
            r#"{"a":1E2}"#,
            r#"{"a":1.50}"#,
            r#"{"a":18446744073709551616}"#,
            r#"{"a":"\ud83d\ude00"}"#,
        ] {
            assert_eq!(object(text), (text.to_owned(), false), "{text}");
        }
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        for body in [
            r#"{"a":1e400}"#,
            r#"{"a":-1e309}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00"}"#,
            r#"{"a":"\ud800\u0041"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":+1}"#,
            r#"{"a":tru}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":1,}"#,
            r#"{"a":"\x"}"#,
        ] {
            let err = parse_object(body.as_bytes()).expect_err(body);
            assert_eq!(err.code, ErrorCode::MalformedJson, "{body}");
            assert!(
                serde_json::from_str::<serde_json::Value>(body).is_err(),
                "{body}"
            );
        }
        for body in [r#"{"a":0e999999}"#, "{\"a\":\"\x7f\"}"] {
            assert!(parse_object(body.as_bytes()).is_ok(), "{body}");
            assert!(
                serde_json::from_str::<serde_json::Value>(body).is_ok(),
                "{body}"
            );
        }
    }

    #[test]
    fn the_root_must_be_an_object() {
        for (body, what) in [
            ("[1,", "an array"),
            ("\"x\"", "a string"),
            ("12 x", "a number"),
        ] {
            let err = parse_object(body.as_bytes()).expect_err(body);
            assert_eq!(err.code, ErrorCode::NotAnObject, "{body}");
            assert!(err.message.ends_with(what), "{}", err.message);
        }
    }
}
