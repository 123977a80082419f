//! The reader itself: one pass over the bytes, strings checked and unescaped where needed,
//! numbers as `serde_json` reads them, keys seen once per object.

use super::number::{plainly_compact, written_back};
use super::text::{hex4, plain_run, unescape};
use super::*;

/// A string as it appears in the body, between its quotes.
pub(super) struct Str<'a> {
    pub(super) raw: &'a str,
    pub(super) escaped: bool,
    pub(super) compact: bool,
}

impl<'a> Str<'a> {
    /// The string's value: the text itself unless it holds escapes.
    #[inline]
    pub(super) fn value(&self) -> Cow<'a, str> {
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

    pub(super) fn new() -> Self {
        Seen {
            few: [""; Self::FEW],
            len: 0,
            many: None,
        }
    }

    /// Adds `key`; false when it was already there.
    pub(super) fn insert(&mut self, key: Cow<'a, str>) -> bool {
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

pub(super) struct Reader<'a> {
    pub(super) b: &'a [u8],
    pub(super) i: usize,
    /// The body as text when all of it is UTF-8 (checked once, up front), so that a string's
    /// text is a slice of it. Otherwise each string is checked where it is, to report the first
    /// one that is not UTF-8.
    pub(super) text: Option<&'a str>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Reader {
            b,
            i: 0,
            text: std::str::from_utf8(b).ok(),
        }
    }

    /// The text of `b[start..end]`, where both ends are at ASCII bytes or the ends of the body.
    #[inline]
    pub(super) fn text(&self, start: usize, end: usize) -> Option<&'a str> {
        match self.text {
            Some(text) => text.get(start..end),
            None => std::str::from_utf8(&self.b[start..end]).ok(),
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips whitespace; true when there was any.
    pub(super) fn space(&mut self) -> bool {
        let start = self.i;
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
        self.i != start
    }

    pub(super) fn expect(&mut self, byte: u8) -> Read<()> {
        if self.peek() == Some(byte) {
            self.i += 1;
            Ok(())
        } else {
            Err(Stop::Syntax)
        }
    }

    pub(super) fn literal(&mut self, word: &[u8]) -> Read<()> {
        match self.b.get(self.i..self.i + word.len()) {
            Some(found) if found == word => {
                self.i += word.len();
                Ok(())
            }
            _ => Err(Stop::Syntax),
        }
    }

    pub(super) fn root(&mut self) -> Read<Members<'a>> {
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
        let mut members = Members::new();
        self.root_members(|reader, key| {
            let root = Path::Root;
            let path = Path::Key(&key, &root);
            let start = reader.i;
            let member = match reader.peek() {
                Some(b'"') => Member::String(reader.string()?.value()),
                Some(b'{') => {
                    let compact = reader.object(1, &path)?;
                    Member::Object {
                        // The object's strings were checked as UTF-8 (with the whole body,
                        // or one by one), and everything outside strings is ASCII.
                        text: reader.text(start, reader.i).ok_or(Stop::Utf8)?,
                        compact,
                    }
                }
                first => {
                    reader.value(1, &path)?;
                    match first {
                        Some(b'n') => Member::Null,
                        Some(b'[') => Member::Other("an array"),
                        Some(b't' | b'f') => Member::Other("a boolean"),
                        _ => Member::Other("a number"),
                    }
                }
            };
            members.push((key, Some(member)));
            Ok(())
        })?;
        Ok(members)
    }

    /// The members of the root object, from its `{` to the end of the text: each key, refused
    /// when repeated, is handed to `member` with the reader at its value, which `member` reads.
    pub(super) fn root_members(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Read<()>,
    ) -> Read<()> {
        self.i += 1;
        let mut keys: Vec<Cow<'a, str>> = Vec::new();
        self.space();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(Stop::Syntax);
                }
                let key = self.string()?.value();
                if keys.contains(&key) {
                    return Err(duplicate(&key, &Path::Root));
                }
                self.space();
                self.expect(b':')?;
                self.space();
                keys.push(key.clone());
                member(self, key)?;
                if self.next_or(b'}')? {
                    break;
                }
            }
        }
        self.finish()
    }

    /// Reads one value held by a container at `depth` (the root object is 1). Returns whether its
    /// text is compact.
    pub(super) fn value(&mut self, depth: usize, path: &Path) -> Read<bool> {
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
    pub(super) fn open(
        &mut self,
        depth: usize,
        path: &Path,
        close: u8,
    ) -> Read<(usize, bool, bool)> {
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

    /// After a member or an element: a comma (false) or the closing bracket (true).
    pub(super) fn next_or(&mut self, close: u8) -> Read<bool> {
        self.next_or_close(close, &mut true)
    }

    /// Nothing but white space is left of the text.
    pub(super) fn finish(&mut self) -> Read<()> {
        self.space();
        if self.i == self.b.len() {
            Ok(())
        } else {
            Err(Stop::Syntax)
        }
    }

    /// After a member or an element: a comma (false) or the closing bracket (true). Clears
    /// `compact` when there is space around either.
    pub(super) fn next_or_close(&mut self, close: u8, compact: &mut bool) -> Read<bool> {
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

    pub(super) fn object(&mut self, depth: usize, path: &Path) -> Read<bool> {
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

    pub(super) fn array(&mut self, depth: usize, path: &Path) -> Read<bool> {
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
    pub(super) fn string(&mut self) -> Read<Str<'a>> {
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
    pub(super) fn unicode_escape(&mut self) -> Read<bool> {
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
    pub(super) fn number(&mut self) -> Read<bool> {
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

    pub(super) fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    pub(super) fn required_digits(&mut self) -> Read<()> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(Stop::Syntax);
        }
        self.digits();
        Ok(())
    }
}
