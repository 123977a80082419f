//! Idempotency-key writes (`crate::keys`) in SQL. Each is one step inside a transaction the
//! writer opens (`writer`), so that the claims, completions and releases that arrive together
//! share one commit.

use super::reply::Reply;
use crate::keys::{decide, Decision, KeyClaim, KeyRecord, KeyTimes, KeyedEvent, Lease, StoredKey};
use crate::StoreError;
use rusqlite::{params, OptionalExtension, Transaction};
use uuid::Uuid;

/// One key write and where its answer goes.
pub(super) enum KeyWrite {
    /// Claim a key before publishing (`KeyStore::claim_key`).
    Claim {
        claim: KeyRecord,
        times: KeyTimes,
        reply: Reply<KeyClaim>,
    },
    /// Mark a key's event published (`KeyStore::complete_key`).
    Complete {
        claim: KeyRecord,
        lease: Lease,
        reply: Reply<()>,
    },
    /// End a lease early after a failed publish (`KeyStore::release_key`).
    Release {
        claim: KeyRecord,
        lease: Lease,
        now_ms: i64,
        reply: Reply<()>,
    },
}

/// What one write did, to answer once its transaction has committed.
pub(super) enum Applied {
    Claimed(KeyClaim),
    Written,
}

impl KeyWrite {
    /// Whether the write must be on disk before its answer. A claim is what makes a retry
    /// publish the same event, and a release lets a retry take the key at once; both are synced.
    /// A completion lost to a power cut leaves the key leased, and the retry after the lease
    /// publishes the same event again, which is stored once: it need not wait for the disk.
    pub(super) fn must_sync(&self) -> bool {
        !matches!(self, Self::Complete { .. })
    }

    /// The clock of a claim, for forgetting keys past their time.
    pub(super) fn now_ms(&self) -> Option<i64> {
        match self {
            Self::Claim { times, .. } => Some(times.now_ms),
            Self::Complete { .. } | Self::Release { .. } => None,
        }
    }

    /// Applies the write inside `tx`.
    pub(super) fn apply(&self, tx: &Transaction<'_>) -> Result<Applied, StoreError> {
        match self {
            Self::Claim { claim, times, .. } => claim_key(tx, claim, *times).map(Applied::Claimed),
            Self::Complete { claim, lease, .. } => {
                tx.prepare_cached(
                    "UPDATE idempotency_keys SET completed = 1
                     WHERE caller = ?1 AND user_id = ?2 AND key = ?3
                     AND event_id = ?4 AND lease_until = ?5",
                )?
                .execute(params![
                    claim.caller,
                    claim.user_id,
                    claim.key,
                    &lease.event.event_id.as_bytes()[..],
                    lease.until_ms
                ])?;
                Ok(Applied::Written)
            }
            Self::Release {
                claim,
                lease,
                now_ms,
                ..
            } => {
                tx.prepare_cached(
                    "UPDATE idempotency_keys SET lease_until = ?4
                     WHERE caller = ?1 AND user_id = ?2 AND key = ?3 AND completed = 0
                     AND event_id = ?5 AND lease_until = ?6",
                )?
                .execute(params![
                    claim.caller,
                    claim.user_id,
                    claim.key,
                    now_ms,
                    &lease.event.event_id.as_bytes()[..],
                    lease.until_ms
                ])?;
                Ok(Applied::Written)
            }
        }
    }

    /// Sends the answer of a committed write, or the error that stopped it.
    pub(super) fn answer(self, outcome: Result<Applied, StoreError>) {
        // A caller that stopped waiting has nobody to tell.
        match self {
            Self::Claim { reply, .. } => {
                let _ = reply.send(outcome.and_then(|a| match a {
                    Applied::Claimed(c) => Ok(c),
                    Applied::Written => Err(StoreError::Backend("a claim wrote no claim".into())),
                }));
            }
            Self::Complete { reply, .. } | Self::Release { reply, .. } => {
                if let Err(Err(e)) = reply.send(outcome.map(|_| ())) {
                    tracing::warn!(error = "store_unavailable", cause = %e,
                        "idempotency key not updated; it frees when its lease ends");
                }
            }
        }
    }
}

/// Keys past their time are forgotten as new ones arrive.
pub(super) fn forget_expired(tx: &Transaction<'_>, now_ms: i64) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM idempotency_keys WHERE expires_at <= ?1")?
        .execute([now_ms])?;
    Ok(())
}

fn claim_key(
    tx: &Transaction<'_>,
    claim: &KeyRecord,
    times: KeyTimes,
) -> Result<KeyClaim, StoreError> {
    // Most keys are new: one statement records them. Only a key already there is read.
    let new = StoredKey::new(claim, times);
    if record(tx, claim, &new, RECORD_IF_ABSENT)? {
        return Ok(KeyClaim::Recorded(new.lease()));
    }
    let stored = tx
        .prepare_cached(
            "SELECT fingerprint, event_id, ts_ms, completed, lease_until, expires_at
             FROM idempotency_keys WHERE caller = ?1 AND user_id = ?2 AND key = ?3",
        )?
        .query_row(params![claim.caller, claim.user_id, claim.key], |r| {
            let id: Vec<u8> = r.get(1)?;
            let event_id = Uuid::from_slice(&id).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    1,
                    rusqlite::types::Type::Blob,
                    Box::new(e),
                )
            })?;
            Ok(StoredKey {
                fingerprint: r.get(0)?,
                event: KeyedEvent {
                    event_id,
                    timestamp_ms: r.get(2)?,
                },
                completed: r.get(3)?,
                lease_until_ms: r.get(4)?,
                expires_at_ms: r.get(5)?,
            })
        })
        .optional()?;
    Ok(match decide(stored.as_ref(), claim, times) {
        // The key's record expired: it is replaced.
        Decision::Record => {
            record(tx, claim, &new, RECORD_OVER)?;
            KeyClaim::Recorded(new.lease())
        }
        Decision::Answer(answer) => answer,
        Decision::TakeLease {
            previous_lease_ms,
            lease,
        } => {
            let moved = tx
                .prepare_cached(
                    "UPDATE idempotency_keys SET lease_until = ?4
                     WHERE caller = ?1 AND user_id = ?2 AND key = ?3
                     AND lease_until = ?5 AND completed = 0",
                )?
                .execute(params![
                    claim.caller,
                    claim.user_id,
                    claim.key,
                    lease.until_ms,
                    previous_lease_ms
                ])?;
            if moved == 1 {
                KeyClaim::Resumed(lease)
            } else {
                KeyClaim::InFlight {
                    lease_until_ms: lease.until_ms,
                }
            }
        }
    })
}

/// Records a new key; a key already there is left as it is.
const RECORD_IF_ABSENT: &str = "INSERT INTO idempotency_keys (caller, user_id, key, fingerprint,
    event_id, ts_ms, completed, lease_until, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8)
    ON CONFLICT DO NOTHING";
/// Records a key over an expired record of it.
const RECORD_OVER: &str = "INSERT OR REPLACE INTO idempotency_keys (caller, user_id, key,
    fingerprint, event_id, ts_ms, completed, lease_until, expires_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8)";

/// Writes `new` for `claim` with `sql` ([`RECORD_IF_ABSENT`] or [`RECORD_OVER`]); whether a row
/// was written.
fn record(
    tx: &Transaction<'_>,
    claim: &KeyRecord,
    new: &StoredKey,
    sql: &str,
) -> Result<bool, StoreError> {
    let written = tx.prepare_cached(sql)?.execute(params![
        claim.caller,
        claim.user_id,
        claim.key,
        new.fingerprint,
        &new.event.event_id.as_bytes()[..],
        new.event.timestamp_ms,
        new.lease_until_ms,
        new.expires_at_ms
    ])?;
    Ok(written == 1)
}
