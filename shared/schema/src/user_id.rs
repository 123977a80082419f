//! The rules of a user id, in one place: what [`check_user_id`] holds an id to (the validators,
//! the listing's `userId` filter and a token's user id) and the JSON Schema pattern the wire
//! types publish ([`user_id_pattern`]) are built from the same character lists.

use crate::error::ErrorCode;
use crate::MAX_USER_ID_CHARS;

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

/// Checks a user id (also used for the `userId` query filter and a token's user id), with the
/// message a client sees when it is not acceptable.
pub fn check_user_id(value: &str) -> Result<(), (ErrorCode, String)> {
    // Printable ASCII that neither starts nor ends with a space, and short enough, passes every
    // rule below; most ids are that.
    let bytes = value.as_bytes();
    if let (Some(first), Some(last)) = (bytes.first(), bytes.last()) {
        if first.is_ascii_graphic()
            && last.is_ascii_graphic()
            && bytes.len() <= MAX_USER_ID_CHARS
            && bytes.iter().all(|&b| b == b' ' || b.is_ascii_graphic())
        {
            return Ok(());
        }
    }
    if value.chars().all(is_edge_space) {
        return Err((
            ErrorCode::Empty,
            "userId must not be empty or only whitespace".to_owned(),
        ));
    }
    let chars = value.chars().count();
    if chars > MAX_USER_ID_CHARS {
        return Err((
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
            return Err((
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
        return Err((
            ErrorCode::InvalidFormat,
            "userId must not start or end with whitespace".to_owned(),
        ));
    }
    Ok(())
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
