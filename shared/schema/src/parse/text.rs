//! JSON text written back compact: the spelling `serde_json` writes for text the reader accepted.

use super::number::as_double;
use super::*;

/// The compact spelling of JSON text the reader accepted: byte for byte what `serde_json` writes
/// for it (no spaces, its escapes, its numbers).
pub(super) fn compact(text: &str) -> String {
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
pub(super) fn plain_run(b: &[u8], i: usize) -> usize {
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

pub(super) fn hex4(digits: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(digits).ok()?;
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// The value of a string the reader accepted (so every escape in it is well formed).
pub(super) fn unescape(raw: &str) -> String {
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
