//! Idempotency keys: what `POST /events/generate` records before it publishes, so that a client
//! retrying with the same key gets the same event, never a second one.
//!
//! A key is scoped to its caller and its user: one caller can neither replay nor block another's
//! key, even for the same user id. Its record holds a fingerprint of the request, the event the key
//! stands for (id and time), whether that event was published, and a lease: the time until which
//! the request that holds the key may still be publishing. A retry that finds the lease over and
//! the event unpublished (the earlier attempt answered 503, or crashed) takes the lease and
//! publishes the *same* event again, so the processor's insert-if-absent keeps one copy.
//! [`decide`] is the rule; each adapter only stores records and makes its writes conditional.

use uuid::Uuid;

/// A request's claim on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Who sent the request (`event_auth::Caller::key_scope`; empty for an anonymous caller).
    pub caller: String,
    /// The user the key is scoped to.
    pub user_id: String,
    /// The client's key.
    pub key: String,
    /// SHA-256 of the request's compact JSON: the same key with another body is refused.
    pub fingerprint: [u8; 32],
    /// The event this request would publish.
    pub event: KeyedEvent,
}

/// The event a key stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyedEvent {
    /// Its id.
    pub event_id: Uuid,
    /// Its timestamp, Unix milliseconds.
    pub timestamp_ms: i64,
}

/// What a request holds after claiming a key: the key's event and the end of its lease. Its
/// completion or release applies only while the key still holds exactly that, so a request
/// that outlived its lease (or the key itself) can never mark another request's claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The event to publish.
    pub event: KeyedEvent,
    /// End of the lease, Unix milliseconds.
    pub until_ms: i64,
}

/// The clock and the durations of one claim, all in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTimes {
    /// Now.
    pub now_ms: i64,
    /// How long the claiming request may take to publish before a retry may take over.
    pub lease_ms: i64,
    /// How long a key is remembered.
    pub ttl_ms: i64,
}

/// What a claim found, and what the caller must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClaim {
    /// The key was free: it now holds the caller's event, leased to the caller. Publish it.
    Recorded(Lease),
    /// The key holds a request with another body.
    Mismatch,
    /// The key's event was published: answer with it again.
    Completed(KeyedEvent),
    /// Another request holds the key's lease until this time.
    InFlight {
        /// End of the lease, Unix milliseconds.
        lease_until_ms: i64,
    },
    /// An earlier attempt ended without publishing for sure; the lease is the caller's now.
    /// Publish its event (not a new one) again.
    Resumed(Lease),
}

/// A key's record as an adapter stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// See [`KeyRecord::fingerprint`].
    pub fingerprint: Vec<u8>,
    /// See [`KeyRecord::event`].
    pub event: KeyedEvent,
    /// The event was published.
    pub completed: bool,
    /// End of the current lease.
    pub lease_until_ms: i64,
    /// When the record is forgotten.
    pub expires_at_ms: i64,
}

impl StoredKey {
    /// What the request that wrote this record holds.
    pub fn lease(&self) -> Lease {
        Lease {
            event: self.event,
            until_ms: self.lease_until_ms,
        }
    }

    /// Whether `lease` is still this record's: the same event, the lease not moved since.
    pub fn is_held_by(&self, lease: &Lease) -> bool {
        self.event == lease.event && self.lease_until_ms == lease.until_ms
    }

    /// The record a free key gets for `claim`.
    pub fn new(claim: &KeyRecord, times: KeyTimes) -> Self {
        Self {
            fingerprint: claim.fingerprint.to_vec(),
            event: claim.event,
            completed: false,
            lease_until_ms: times.now_ms + times.lease_ms,
            expires_at_ms: times.now_ms + times.ttl_ms,
        }
    }
}

/// What an adapter must write for a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Write [`StoredKey::new`] (the key is free or its record expired), then answer
    /// [`KeyClaim::Recorded`] with its lease.
    Record,
    /// Nothing to write.
    Answer(KeyClaim),
    /// Move the lease from `previous_lease_ms` to the caller's, on condition that nobody
    /// moved it first, then answer [`KeyClaim::Resumed`]; if somebody did, the key is in flight.
    TakeLease {
        /// The lease the record has now.
        previous_lease_ms: i64,
        /// The caller's lease, of the key's event.
        lease: Lease,
    },
}

/// The rule every adapter follows, given what it found under the key.
pub fn decide(stored: Option<&StoredKey>, claim: &KeyRecord, times: KeyTimes) -> Decision {
    let Some(stored) = stored.filter(|s| s.expires_at_ms > times.now_ms) else {
        return Decision::Record;
    };
    if stored.fingerprint != claim.fingerprint {
        return Decision::Answer(KeyClaim::Mismatch);
    }
    if stored.completed {
        return Decision::Answer(KeyClaim::Completed(stored.event));
    }
    if stored.lease_until_ms > times.now_ms {
        return Decision::Answer(KeyClaim::InFlight {
            lease_until_ms: stored.lease_until_ms,
        });
    }
    Decision::TakeLease {
        previous_lease_ms: stored.lease_until_ms,
        lease: Lease {
            event: stored.event,
            until_ms: times.now_ms + times.lease_ms,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: KeyTimes = KeyTimes {
        now_ms: 1_000_000,
        lease_ms: 7_000,
        ttl_ms: 86_400_000,
    };

    fn claim(fp: u8) -> KeyRecord {
        KeyRecord {
            caller: String::new(),
            user_id: "u".into(),
            key: "k".into(),
            fingerprint: [fp; 32],
            event: KeyedEvent {
                event_id: Uuid::from_u128(1),
                timestamp_ms: 5,
            },
        }
    }

    #[test]
    fn each_state_of_a_key_has_one_answer() {
        let mut s = StoredKey::new(&claim(1), T);
        assert_eq!(decide(None, &claim(1), T), Decision::Record);
        assert_eq!(
            decide(Some(&s), &claim(2), T),
            Decision::Answer(KeyClaim::Mismatch)
        );
        assert_eq!(
            decide(Some(&s), &claim(1), T),
            Decision::Answer(KeyClaim::InFlight {
                lease_until_ms: T.now_ms + T.lease_ms
            })
        );
        let later = KeyTimes {
            now_ms: T.now_ms + T.lease_ms,
            ..T
        };
        assert!(matches!(
            decide(Some(&s), &claim(1), later),
            Decision::TakeLease { previous_lease_ms, .. } if previous_lease_ms == T.now_ms + T.lease_ms
        ));
        s.completed = true;
        assert_eq!(
            decide(Some(&s), &claim(1), later),
            Decision::Answer(KeyClaim::Completed(s.event))
        );
        let expired = KeyTimes {
            now_ms: T.now_ms + T.ttl_ms,
            ..T
        };
        assert_eq!(decide(Some(&s), &claim(2), expired), Decision::Record);
    }
}
