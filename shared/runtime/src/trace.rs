//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the `traceparent` that follows an
//! event from the HTTP request, through its Kafka record's header, to the processor's log line.
//!
//! `events-api` takes the caller's `traceparent`, else the X-Ray header (`X-Amzn-Trace-Id`, or
//! the one Lambda gives the invocation), else starts a new trace; the record carries a child of
//! it. An X-Ray trace id is the same 128 bits written differently (`1-<8 hex>-<24 hex>`), so the
//! trace id is the same in both worlds.

use std::fmt;

/// The Kafka header and the HTTP header that carry it.
pub const TRACEPARENT: &str = "traceparent";

/// One position in a trace: the trace, the span that caused what comes next, and whether the
/// caller records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace: 16 bytes, not all zero.
    pub trace_id: [u8; 16],
    /// The calling span: 8 bytes, not all zero.
    pub parent_id: [u8; 8],
    /// The `sampled` flag.
    pub sampled: bool,
}

impl TraceParent {
    /// Reads a `traceparent` value. Version `00` must be exactly that; a later version may add
    /// fields after a `-`, which are ignored, as the specification asks. `None` when invalid.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let (version, rest) = value.split_once('-')?;
        let version = hex::<1>(version)?[0];
        if version == 0xff || (version == 0 && rest.len() != 52) {
            return None;
        }
        // Byte 52 may fall inside a character of a hostile value: compare bytes, never slice.
        if rest.len() > 52 && rest.as_bytes().get(52) != Some(&b'-') {
            return None;
        }
        let mut parts = rest.get(..52)?.split('-');
        let trace_id = hex::<16>(parts.next()?)?;
        let parent_id = hex::<8>(parts.next()?)?;
        let flags = hex::<1>(parts.next()?)?[0];
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_id,
            sampled: flags & 1 == 1,
        })
    }

    /// Reads an X-Ray trace header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=…;Sampled=1`).
    /// Without a `Parent`, a new span id stands in for it.
    pub fn from_xray(value: &str) -> Option<Self> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = false;
        for field in value.split(';') {
            match field.trim().split_once('=') {
                Some(("Root", v)) => root = Some(v),
                Some(("Parent", v)) => parent = hex::<8>(v),
                Some(("Sampled", v)) => sampled = v == "1",
                _ => {}
            }
        }
        let mut parts = root?.split('-');
        if parts.next()? != "1" {
            return None;
        }
        let (time, random) = (parts.next()?, parts.next()?);
        if parts.next().is_some() || time.len() != 8 || random.len() != 24 {
            return None;
        }
        let trace_id = hex::<16>(&format!("{time}{random}"))?;
        if trace_id == [0; 16] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_id: parent.filter(|p| *p != [0; 8]).unwrap_or_else(span_id),
            sampled,
        })
    }

    /// A new trace (sampled: this process decided to record it).
    pub fn new_root() -> Self {
        let mut trace_id = [0; 16];
        trace_id[..8].copy_from_slice(&span_id());
        trace_id[8..].copy_from_slice(&random().to_be_bytes());
        Self {
            trace_id,
            parent_id: span_id(),
            sampled: true,
        }
    }

    /// The same trace, under a new span of this process (what it passes on).
    pub fn child(&self) -> Self {
        Self {
            parent_id: span_id(),
            ..*self
        }
    }

    /// The trace id as 32 lowercase hex digits (what logs carry).
    pub fn trace_id(&self) -> String {
        to_hex(&self.trace_id)
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            to_hex(&self.trace_id),
            to_hex(&self.parent_id),
            u8::from(self.sampled)
        )
    }
}

/// A random span id, never all zero.
fn span_id() -> [u8; 8] {
    loop {
        let id = random();
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

/// 64 random bits from a per-thread SplitMix64 generator seeded by the operating system once:
/// ids need to be unpredictable enough not to collide, not secret, and a system call per id cost
/// a request more than the rest of its trace handling.
fn random() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(u64::from_le_bytes(
            uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap_or_default(),
        ));
    }
    STATE.with(|state| {
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Exactly `2 * N` lowercase hex digits.
fn hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    /// Any text, of any length and any characters around the positions the reader looks at,
    /// gives an answer and never a panic (a record's header once stopped the processor here).
    #[test]
    fn every_value_gets_an_answer() {
        let pieces = ["", "-", "0", "00", "ff", "a", "é", "😀", "\u{0}", "--"];
        let mut tried = 0;
        for version in ["00", "01", "ff", "zz", "é"] {
            for len in 40..60 {
                for piece in pieces {
                    for at in [0, 1, 50, 51, 52, 53] {
                        let mut v = format!("{version}-{}", "a".repeat(len));
                        let at = at.min(v.len());
                        if v.is_char_boundary(at) {
                            v.insert_str(at, piece);
                        }
                        let _ = super::TraceParent::parse(&v);
                        let _ = super::TraceParent::from_xray(&v);
                        tried += 1;
                    }
                }
            }
        }
        let reported = format!("01-{}é-00", "a".repeat(51));
        assert_eq!(super::TraceParent::parse(&reported), None);
        assert!(tried > 5000);
    }

    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_traceparent_reads_and_writes_back() {
        let t = TraceParent::parse(EXAMPLE).expect("valid");
        assert_eq!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(t.sampled);
        assert_eq!(t.to_string(), EXAMPLE);
        let child = t.child();
        assert_eq!(child.trace_id, t.trace_id);
        assert_ne!(child.parent_id, t.parent_id);
    }

    #[test]
    fn invalid_traceparents_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
        // A later version may carry more fields.
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever";
        assert!(TraceParent::parse(later).is_some());
    }

    #[test]
    fn an_xray_header_is_the_same_trace() {
        let x = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let t = TraceParent::from_xray(x).expect("valid");
        assert_eq!(t.trace_id(), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(
            t.to_string(),
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
        );
        let no_parent =
            TraceParent::from_xray("Root=1-5759e988-bd862e3fe1be46a994272793").expect("valid");
        assert!(!no_parent.sampled);
        assert_eq!(
            TraceParent::from_xray("Root=2-5759e988-bd86;Sampled=1"),
            None
        );
    }

    #[test]
    fn new_traces_differ_and_are_valid() {
        let ids: std::collections::BTreeSet<String> = (0..10_000)
            .map(|_| {
                let t = TraceParent::new_root();
                assert_eq!(TraceParent::parse(&t.to_string()), Some(t));
                t.trace_id()
            })
            .collect();
        assert_eq!(ids.len(), 10_000);
    }
}
