//! Whether a number is *compact*: written exactly as `serde_json` writes it back. Most numbers
//! are told from their digits alone ([`plainly_compact`]); the rest are parsed and written in
//! their shortest form to compare ([`written_back`]).

use super::{Read, Stop};

/// Whether a number without an exponent is compact, decided from its digits alone for the
/// common shapes (false means "ask [`written_back`]"): an integer `serde_json` keeps as written
/// (at most 19 digits, or 18 and not `-0` when negative), or a fraction not ending in 0, with at
/// most 15 significant digits and its first one between the 10^15 and the 10^-5 place. Such a
/// decimal is the only one of at most 15 digits that rounds to its double (15 digits always
/// survive the trip through a double and back), so the shortest form of the double is its own
/// digits, and zmij writes a double of that size without an exponent.
#[inline]
pub(super) fn plainly_compact(negative: bool, whole: &[u8], fraction: &[u8]) -> bool {
    match (fraction.last(), whole) {
        (None, [b'0']) => !negative,
        (None, _) => whole.len() <= if negative { 18 } else { 19 },
        (Some(b'0'), _) => false,
        (Some(_), [b'0']) => {
            let zeros = fraction.iter().take_while(|&&d| d == b'0').count();
            zeros <= 4 && fraction.len() - zeros <= 15
        }
        (Some(_), _) => whole.len() + fraction.len() <= 15,
    }
}

/// Whether `serde_json` writes the number `text` back unchanged: an integer it keeps as one (not
/// `-0`), or a float whose shortest form is the text itself.
pub(super) fn written_back(text: &str, integer: bool) -> Read<bool> {
    match as_double(text, integer)? {
        None => Ok(true),
        Some(value) => Ok(zmij::Buffer::new().format_finite(value) == text),
    }
}

/// How `serde_json` holds a number: `None` when it keeps the integer as written (a u64, or an
/// i64 when negative), else the double it reads (correctly rounded; `-0` is the double -0.0).
pub(super) fn as_double(text: &str, integer: bool) -> Read<Option<f64>> {
    if integer {
        let negative = text.starts_with('-');
        let magnitude = text.strip_prefix('-').unwrap_or(text);
        if let Ok(m) = magnitude.parse::<u64>() {
            if !negative || (m != 0 && m <= 1 << 63) {
                return Ok(None);
            }
        }
    }
    let value: f64 = text.parse().map_err(|_| Stop::Syntax)?;
    if value.is_finite() {
        Ok(Some(value))
    } else {
        Err(Stop::OutOfRange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A number text `-?W.F` (or `-?W` when `fraction` is empty), with its parts.
    fn number_text(negative: bool, whole: &str, fraction: &str) -> String {
        let sign = if negative { "-" } else { "" };
        if fraction.is_empty() {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{fraction}")
        }
    }

    /// `plainly_compact` against parsing and writing the shortest form, on one number; true when
    /// the digits alone decided.
    fn agrees(negative: bool, whole: &str, fraction: &str) -> bool {
        let text = number_text(negative, whole, fraction);
        let plain = plainly_compact(negative, whole.as_bytes(), fraction.as_bytes());
        let slow = matches!(written_back(&text, fraction.is_empty()), Ok(true));
        assert!(!plain || slow, "{text} is not compact");
        plain
    }

    #[test]
    fn numbers_compact_by_their_digits_are_compact_when_written_back() {
        let mut decided = 0;
        // Every number with up to two digits before the point and four after it.
        for whole in 0..100 {
            for width in 0..=4 {
                for fraction in 0..10u32.pow(width) {
                    let fraction = match width {
                        0 => String::new(),
                        _ => format!("{fraction:0width$}", width = width as usize),
                    };
                    for negative in [false, true] {
                        decided += usize::from(agrees(negative, &whole.to_string(), &fraction));
                    }
                }
            }
        }
        assert!(decided > 100_000, "{decided}");
        // Random longer ones, around each limit (19 and 18 integer digits, 15 significant, the
        // 10^15 and 10^-5 places), with many nines and zeros to reach the edges of doubles.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let digit = |next: &mut dyn FnMut(u64) -> u64| match next(4) {
            0 => '9',
            1 => '0',
            _ => char::from(b'0' + next(10) as u8),
        };
        let mut decided = 0;
        for _ in 0..200_000 {
            let negative = next(2) == 0;
            let whole: String = match next(3) {
                0 => "0".to_owned(),
                _ => {
                    let len = 1 + next(21) as usize;
                    let first = char::from(b'1' + next(9) as u8);
                    std::iter::once(first)
                        .chain((1..len).map(|_| digit(&mut next)))
                        .collect()
                }
            };
            let fraction: String = match next(4) {
                0 => String::new(),
                _ => {
                    let zeros = next(8) as usize;
                    let len = 1 + next(19) as usize;
                    "0".repeat(zeros) + &(0..len).map(|_| digit(&mut next)).collect::<String>()
                }
            };
            decided += usize::from(agrees(negative, &whole, &fraction));
        }
        assert!(decided > 20_000, "{decided}");
    }
}
