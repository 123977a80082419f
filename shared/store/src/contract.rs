//! What every [`EventStore`] must do, as functions any adapter's tests call on a fresh, empty
//! store. [`event_store_contract!`](crate::event_store_contract) expands to one test per rule.

use crate::{
    Cursor, EventStore, InsertOutcome, KeyClaim, KeyRecord, KeyTimes, KeyedEvent, Lease, ListQuery,
};

/// The erasure time of the erasure rules, in the time of [`at`].
const ERASED_THROUGH: i64 = 1_795_000_000_000 + 20;
use chrono::{DateTime, Utc};
use event_schema::{EventType, Payload, UserEvent};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// Expands to one `#[tokio::test]` per contract rule. `$make` is an expression, evaluated once per
/// test, whose value is a future resolving to a fresh empty store.
#[macro_export]
macro_rules! event_store_contract {
    ($make:expr) => {
        $crate::event_store_contract!(@tests $make;
            inserting_twice_stores_once,
            duplicates_inside_one_batch_store_once,
            lists_newest_first_with_id_as_tie_break,
            pages_cover_everything_exactly_once,
            filters_by_user_and_type_and_pages_within_them,
            payload_round_trips_exactly,
            a_cursor_past_the_end_gives_an_empty_last_page,
            reports_healthy,
            concurrent_writers_of_one_event_insert_it_once,
            a_rare_type_among_many_others_pages_in_order,
            few_events_far_apart_in_time_page_in_order,
            an_idempotency_key_goes_through_every_state,
            keys_are_scoped_to_users_and_forgotten_after_their_time,
            keys_are_scoped_to_callers,
            a_late_request_cannot_finish_a_newer_claim,
            concurrent_claims_of_one_key_record_it_once,
            many_keys_at_once_each_replay_their_own_event,
            a_byte_budget_ends_pages_early_and_they_still_cover_everything,
            an_erasure_deletes_the_users_events_up_to_its_time_and_nothing_else,
            an_erased_event_is_never_stored_again_and_later_ones_are,
            an_erasure_forgets_the_users_keys_only,
            an_erasure_in_pages_finishes_when_called_again,
            an_event_stored_while_it_is_erased_is_never_listed,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store = $make.await;
                $crate::contract::$name(store).await;
            }
        )*
    };
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_795_000_000_000 + ms).unwrap_or_default()
}

fn event(user: &str, t: EventType, ms: i64) -> UserEvent {
    UserEvent {
        event_id: Uuid::new_v4(),
        user_id: user.to_owned(),
        event_type: t,
        timestamp: at(ms),
        payload: Some(
            json!({"n": ms})
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into(),
        ),
    }
}

fn all(limit: usize) -> ListQuery {
    ListQuery {
        limit,
        ..ListQuery::default()
    }
}

async fn list_everything<S: EventStore>(store: &S, mut query: ListQuery) -> Vec<UserEvent> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = store.list(query.clone()).await.expect("list");
        assert!(page.events.len() <= query.limit.max(1));
        out.extend(page.events);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return out,
        }
    }
    panic!("paging did not terminate");
}

/// Same event twice, in two batches: stored once, reported as a duplicate the second time.
pub async fn inserting_twice_stores_once<S: EventStore>(store: S) {
    let e = event("u1", EventType::Login, 1);
    assert_eq!(
        store
            .insert_batch(std::slice::from_ref(&e))
            .await
            .expect("insert"),
        [InsertOutcome::Inserted]
    );
    assert_eq!(
        store
            .insert_batch(std::slice::from_ref(&e))
            .await
            .expect("insert"),
        [InsertOutcome::Duplicate]
    );
    let page = store.list(all(10)).await.expect("list");
    assert_eq!(page.events, vec![e]);
    assert_eq!(page.next, None);
}

/// A batch holding the same event twice stores it once; outcomes follow input order.
pub async fn duplicates_inside_one_batch_store_once<S: EventStore>(store: S) {
    let a = event("u1", EventType::Login, 1);
    let b = event("u1", EventType::Logout, 2);
    let outcomes = store
        .insert_batch(&[a.clone(), b.clone(), a.clone()])
        .await
        .expect("insert");
    assert_eq!(
        outcomes,
        [
            InsertOutcome::Inserted,
            InsertOutcome::Inserted,
            InsertOutcome::Duplicate
        ]
    );
    assert_eq!(list_everything(&store, all(10)).await.len(), 2);
}

/// Newest event time first; equal times ordered by descending event id.
pub async fn lists_newest_first_with_id_as_tie_break<S: EventStore>(store: S) {
    let old = event("u1", EventType::Login, 1);
    let new = event("u1", EventType::Logout, 5);
    let mut same_a = event("u2", EventType::Login, 3);
    let mut same_b = event("u3", EventType::Login, 3);
    if same_a.event_id < same_b.event_id {
        std::mem::swap(&mut same_a.event_id, &mut same_b.event_id);
    }
    store
        .insert_batch(&[same_b.clone(), old.clone(), new.clone(), same_a.clone()])
        .await
        .expect("insert");
    let page = store.list(all(10)).await.expect("list");
    assert_eq!(page.events, vec![new, same_a, same_b, old]);
}

/// Paging with a small limit visits every event exactly once, in order.
pub async fn pages_cover_everything_exactly_once<S: EventStore>(store: S) {
    let mut events: Vec<UserEvent> = (0..23)
        .map(|i| event("pager", EventType::ProductView, i / 2))
        .collect();
    store.insert_batch(&events).await.expect("insert");
    events.sort_by(|a, b| {
        (b.timestamp, b.event_id.to_string()).cmp(&(a.timestamp, a.event_id.to_string()))
    });
    let listed = list_everything(&store, all(4)).await;
    assert_eq!(listed, events);
    let first = store.list(all(4)).await.expect("list");
    assert_eq!(first.events.len(), 4);
    assert!(first.next.is_some());
}

/// Filters apply before paging, and combine.
pub async fn filters_by_user_and_type_and_pages_within_them<S: EventStore>(store: S) {
    let mut batch = Vec::new();
    for i in 0..30 {
        let user = if i % 3 == 0 { "alice" } else { "bob" };
        let t = EventType::ALL[(i % 2) as usize];
        batch.push(event(user, t, i));
    }
    store.insert_batch(&batch).await.expect("insert");
    let alice = list_everything(
        &store,
        ListQuery {
            limit: 3,
            user_id: Some("alice".into()),
            ..ListQuery::default()
        },
    )
    .await;
    assert_eq!(alice.len(), 10);
    assert!(alice.iter().all(|e| e.user_id == "alice"));
    let bob_logouts = list_everything(
        &store,
        ListQuery {
            limit: 2,
            user_id: Some("bob".into()),
            event_type: Some(EventType::Logout),
            ..ListQuery::default()
        },
    )
    .await;
    let expected = batch
        .iter()
        .filter(|e| e.user_id == "bob" && e.event_type == EventType::Logout)
        .count();
    assert_eq!(bob_logouts.len(), expected);
    assert!(bob_logouts
        .windows(2)
        .all(|w| w[0].timestamp >= w[1].timestamp));
    let none = store
        .list(ListQuery {
            limit: 10,
            user_id: Some("nobody".into()),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert!(none.events.is_empty() && none.next.is_none());
}

/// Payloads come back exactly: absent stays absent, `{}` stays `{}`, unicode and nesting kept.
pub async fn payload_round_trips_exactly<S: EventStore>(store: S) {
    let mut none = event("p", EventType::Login, 1);
    none.payload = None;
    let mut empty = event("p", EventType::Login, 2);
    empty.payload = Some(serde_json::Map::new().into());
    let mut rich = event("p", EventType::ProductView, 3);
    rich.payload =
        json!({"名前": "商品 😀", "z": [1, 2.5, null, {"deep": [true]}], "a": "\u{2028}"})
            .as_object()
            .cloned()
            .map(Payload::from);
    store
        .insert_batch(&[none.clone(), empty.clone(), rich.clone()])
        .await
        .expect("insert");
    let listed = store.list(all(10)).await.expect("list").events;
    assert_eq!(listed, vec![rich, empty, none]);
}

/// A cursor after the oldest event yields an empty page with no next cursor.
pub async fn a_cursor_past_the_end_gives_an_empty_last_page<S: EventStore>(store: S) {
    let e = event("c", EventType::Login, 1);
    store
        .insert_batch(std::slice::from_ref(&e))
        .await
        .expect("insert");
    let page = store
        .list(ListQuery {
            limit: 5,
            cursor: Some(Cursor::after(&e)),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert!(page.events.is_empty());
    assert!(page.next.is_none());
}

/// A working store says so, naming its backend.
pub async fn reports_healthy<S: EventStore>(store: S) {
    let health = store.health().await.expect("healthy");
    assert!(!health.backend.is_empty());
}

/// 32 writers racing to store one event: exactly one wins.
pub async fn concurrent_writers_of_one_event_insert_it_once<S: EventStore>(store: S) {
    let store = Arc::new(store);
    let e = event("race", EventType::Login, 1);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = Arc::clone(&store);
            let e = e.clone();
            tokio::spawn(async move { store.insert_batch(&[e]).await })
        })
        .collect();
    let mut inserted = 0;
    for t in tasks {
        let outcomes = t.await.expect("task").expect("insert");
        inserted += outcomes
            .iter()
            .filter(|o| **o == InsertOutcome::Inserted)
            .count();
    }
    assert_eq!(inserted, 1);
    assert_eq!(list_everything(store.as_ref(), all(100)).await, vec![e]);
}

/// Milliseconds in a day, for events spread over many days.
const DAY_MS: i64 = 86_400_000;

/// Three LOGOUTs among sixty LOGINs spread over ten days: a type filter finds each, in order,
/// and the unfiltered listing still covers everything once.
pub async fn a_rare_type_among_many_others_pages_in_order<S: EventStore>(store: S) {
    let mut batch: Vec<UserEvent> = (0..60)
        .map(|i| {
            event(
                &format!("u{}", i % 4),
                EventType::Login,
                (i % 10) * DAY_MS + i,
            )
        })
        .collect();
    let rare: Vec<UserEvent> = [1, 5, 9]
        .iter()
        .map(|d| event("u1", EventType::Logout, d * DAY_MS + 500))
        .collect();
    batch.extend(rare.iter().cloned());
    store.insert_batch(&batch).await.expect("insert");
    let newest_first = |mut v: Vec<UserEvent>| {
        v.sort_by_key(|e| std::cmp::Reverse((e.timestamp, e.event_id)));
        v
    };
    let logouts = list_everything(
        &store,
        ListQuery {
            limit: 1,
            event_type: Some(EventType::Logout),
            ..ListQuery::default()
        },
    )
    .await;
    assert_eq!(logouts, newest_first(rare.clone()));
    let u1_logouts = list_everything(
        &store,
        ListQuery {
            limit: 2,
            user_id: Some("u1".into()),
            event_type: Some(EventType::Logout),
            ..ListQuery::default()
        },
    )
    .await;
    assert_eq!(u1_logouts, newest_first(rare));
    assert_eq!(list_everything(&store, all(7)).await, newest_first(batch));
}

/// Five events months apart (every other day and shard empty): pages still come in order, each
/// event once.
pub async fn few_events_far_apart_in_time_page_in_order<S: EventStore>(store: S) {
    let mut batch: Vec<UserEvent> = [0, 31, 95, 180, 400]
        .iter()
        .map(|d| event("far", EventType::ProductView, d * DAY_MS))
        .collect();
    store.insert_batch(&batch).await.expect("insert");
    batch.sort_by_key(|e| std::cmp::Reverse((e.timestamp, e.event_id)));
    assert_eq!(list_everything(&store, all(2)).await, batch);
    let by_type = list_everything(
        &store,
        ListQuery {
            limit: 1,
            event_type: Some(EventType::ProductView),
            ..ListQuery::default()
        },
    )
    .await;
    assert_eq!(by_type, batch);
}

fn key_claim(user: &str, key: &str, body: u8) -> KeyRecord {
    KeyRecord {
        caller: String::new(),
        user_id: user.to_owned(),
        key: key.to_owned(),
        fingerprint: [body; 32],
        event: KeyedEvent {
            event_id: Uuid::new_v4(),
            timestamp_ms: 1_795_000_000_000,
        },
    }
}

fn times(now_ms: i64) -> KeyTimes {
    KeyTimes {
        now_ms,
        lease_ms: 7_000,
        ttl_ms: 86_400_000,
    }
}

/// Recorded, in flight while leased, resumed with the same event once released (a 503) or once
/// the lease ran out (a crash), completed once published; another body is refused throughout.
pub async fn an_idempotency_key_goes_through_every_state<S: EventStore>(store: S) {
    let first = key_claim("u", "k-1", 1);
    let t0 = 1_000_000;
    let claim = |c: KeyRecord, now: i64| {
        let store = &store;
        async move { store.claim_key(&c, times(now)).await.expect("claim") }
    };
    let leased = |until_ms: i64| Lease {
        event: first.event,
        until_ms,
    };
    assert_eq!(
        claim(first.clone(), t0).await,
        KeyClaim::Recorded(leased(t0 + 7_000))
    );
    // A retry carries a new candidate event; the key keeps the first one.
    let retry = KeyRecord {
        event: KeyedEvent {
            event_id: Uuid::new_v4(),
            timestamp_ms: 1,
        },
        ..first.clone()
    };
    assert_eq!(
        claim(retry.clone(), t0 + 1).await,
        KeyClaim::InFlight {
            lease_until_ms: t0 + 7_000
        }
    );
    assert_eq!(
        claim(key_claim("u", "k-1", 2), t0 + 1).await,
        KeyClaim::Mismatch
    );
    store
        .release_key(&first, &leased(t0 + 7_000), t0 + 2)
        .await
        .expect("release");
    assert_eq!(
        claim(retry.clone(), t0 + 3).await,
        KeyClaim::Resumed(leased(t0 + 3 + 7_000))
    );
    // Crashed while publishing: the lease runs out, the next retry resumes the same event.
    let last = t0 + 3 + 7_000;
    assert_eq!(
        claim(retry.clone(), last).await,
        KeyClaim::Resumed(leased(last + 7_000))
    );
    // The crashed attempt's lease is no longer held: finishing late changes nothing.
    store
        .complete_key(&first, &leased(t0 + 3 + 7_000))
        .await
        .expect("complete");
    assert!(matches!(
        claim(retry.clone(), last + 1).await,
        KeyClaim::InFlight { .. }
    ));
    store
        .complete_key(&first, &leased(last + 7_000))
        .await
        .expect("complete");
    assert_eq!(
        claim(retry.clone(), t0 + 20_000).await,
        KeyClaim::Completed(first.event)
    );
    store
        .release_key(&first, &leased(last + 7_000), t0 + 20_001)
        .await
        .expect("release");
    assert_eq!(
        claim(retry, t0 + 20_002).await,
        KeyClaim::Completed(first.event),
        "a completed key stays completed"
    );
    assert_eq!(
        claim(key_claim("u", "k-1", 2), t0 + 20_003).await,
        KeyClaim::Mismatch
    );
}

/// Two users may use one key; a key is free again after its time to live.
pub async fn keys_are_scoped_to_users_and_forgotten_after_their_time<S: EventStore>(store: S) {
    let t0 = 1_000_000;
    for user in ["u", "v", "u#x", "u#"] {
        let c = key_claim(user, "shared", 1);
        assert_eq!(
            store.claim_key(&c, times(t0)).await.expect("claim"),
            KeyClaim::Recorded(Lease {
                event: c.event,
                until_ms: t0 + 7_000
            }),
            "{user}"
        );
    }
    let c = key_claim("u", "shared", 2);
    assert_eq!(
        store
            .claim_key(&c, times(t0 + 86_400_000))
            .await
            .expect("claim"),
        KeyClaim::Recorded(Lease {
            event: c.event,
            until_ms: t0 + 86_400_000 + 7_000
        }),
        "forgotten after its time to live"
    );
}

/// Many requests with one key at once: one of them holds it, the others see it in flight.
pub async fn concurrent_claims_of_one_key_record_it_once<S: EventStore>(store: S) {
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let c = key_claim("u", "raced", 1);
                store.claim_key(&c, times(1_000_000)).await.expect("claim")
            })
        })
        .collect();
    let mut recorded = 0;
    for t in tasks {
        match t.await.expect("task") {
            KeyClaim::Recorded(_) => recorded += 1,
            KeyClaim::InFlight { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(recorded, 1);
}

/// Many requests with keys of their own at once, as a loaded API sends them (an adapter may
/// write them together): each records its key, completes it, and a retry right after the
/// completion replays its own event; half of them are retried with another body, refused.
pub async fn many_keys_at_once_each_replay_their_own_event<S: EventStore>(store: S) {
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let c = key_claim("u", &format!("many-{i}"), 1);
                let now = times(1_000_000 + i);
                let KeyClaim::Recorded(lease) = store.claim_key(&c, now).await.expect("claim")
                else {
                    panic!("key {i} was not free");
                };
                assert_eq!(lease.event, c.event);
                store.complete_key(&c, &lease).await.expect("complete");
                let again = store.claim_key(&c, now).await.expect("retry");
                assert_eq!(again, KeyClaim::Completed(c.event), "key {i}");
                if i % 2 == 0 {
                    let other = KeyRecord {
                        fingerprint: [2; 32],
                        ..c.clone()
                    };
                    assert_eq!(
                        store.claim_key(&other, now).await.expect("other body"),
                        KeyClaim::Mismatch
                    );
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
}

/// One caller's key neither answers nor blocks another caller's, for the same user and key.
pub async fn keys_are_scoped_to_callers<S: EventStore>(store: S) {
    let t0 = 1_000_000;
    let mine = KeyRecord {
        caller: "jwt:u".into(),
        ..key_claim("u", "k", 1)
    };
    let theirs = KeyRecord {
        caller: "iam:arn:aws:iam::1:role/r".into(),
        ..key_claim("u", "k", 2)
    };
    let anonymous = key_claim("u", "k", 3);
    for c in [&mine, &theirs, &anonymous] {
        assert!(
            matches!(
                store.claim_key(c, times(t0)).await.expect("claim"),
                KeyClaim::Recorded(_)
            ),
            "{:?}",
            c.caller
        );
    }
    let held = Lease {
        event: mine.event,
        until_ms: t0 + 7_000,
    };
    store.complete_key(&mine, &held).await.expect("complete");
    assert_eq!(
        store.claim_key(&mine, times(t0 + 1)).await.expect("claim"),
        KeyClaim::Completed(mine.event)
    );
    assert!(matches!(
        store
            .claim_key(&theirs, times(t0 + 1))
            .await
            .expect("claim"),
        KeyClaim::InFlight { .. }
    ));
}

/// A page stops once its events reach `max_bytes` (keeping at least one) and continues after
/// its last event: small budgets page through everything, in order, once.
pub async fn a_byte_budget_ends_pages_early_and_they_still_cover_everything<S: EventStore>(
    store: S,
) {
    let big = |user: &str, ms: i64| {
        let mut e = event(user, EventType::ProductView, ms);
        e.payload = Some(
            json!({"pad": "x".repeat(4000), "n": ms})
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into(),
        );
        e
    };
    let mut events: Vec<UserEvent> = (0..30)
        .map(|i| big(if i % 3 == 0 { "a" } else { "b" }, i * 1000))
        .collect();
    store.insert_batch(&events).await.expect("insert");
    events.sort_by_key(|e| std::cmp::Reverse((e.timestamp, e.event_id)));
    let budget = ListQuery {
        limit: 1000,
        max_bytes: Some(10_000),
        ..ListQuery::default()
    };
    let first = store.list(budget.clone()).await.expect("list");
    assert!(
        !first.events.is_empty() && first.events.len() <= 4,
        "{} events of 4 KB within 10 KB",
        first.events.len()
    );
    assert!(first.next.is_some(), "a page cut by its budget continues");
    assert_eq!(list_everything(&store, budget.clone()).await, events);
    let tiny = ListQuery {
        max_bytes: Some(1),
        ..budget.clone()
    };
    let pages = store.list(tiny.clone()).await.expect("list");
    assert_eq!(
        pages.events.len(),
        1,
        "at least one event, even over budget"
    );
    let mine = ListQuery {
        user_id: Some("a".into()),
        ..budget
    };
    let a: Vec<UserEvent> = events
        .iter()
        .filter(|e| e.user_id == "a")
        .cloned()
        .collect();
    assert_eq!(list_everything(&store, mine).await, a);
}

/// A request that outlived its key (the key expired and another request recorded it anew) can
/// neither complete nor release the newer claim: no 201 is ever replayed for an event that was
/// never published.
pub async fn a_late_request_cannot_finish_a_newer_claim<S: EventStore>(store: S) {
    let t0 = 1_000_000;
    let old = key_claim("u", "late", 1);
    let KeyClaim::Recorded(old_lease) = store.claim_key(&old, times(t0)).await.expect("claim")
    else {
        panic!("the key was free");
    };
    // A day later the key is forgotten, and a new request records it with its own event.
    let later = t0 + 86_400_000;
    let new = key_claim("u", "late", 1);
    let KeyClaim::Recorded(new_lease) = store.claim_key(&new, times(later)).await.expect("claim")
    else {
        panic!("the expired key was recorded again");
    };
    assert_ne!(new_lease.event, old_lease.event);
    store
        .complete_key(&old, &old_lease)
        .await
        .expect("complete");
    store
        .release_key(&old, &old_lease, later + 1)
        .await
        .expect("release");
    assert_eq!(
        store
            .claim_key(&new, times(later + 2))
            .await
            .expect("claim"),
        KeyClaim::InFlight {
            lease_until_ms: new_lease.until_ms
        },
        "the new claim is still leased and not completed"
    );
}

fn of_user(user: &str) -> ListQuery {
    ListQuery {
        limit: 100,
        user_id: Some(user.to_owned()),
        ..ListQuery::default()
    }
}

fn times_of(events: &[UserEvent]) -> Vec<i64> {
    let mut t: Vec<i64> = events
        .iter()
        .map(|e| e.timestamp.timestamp_millis() - 1_795_000_000_000)
        .collect();
    t.sort_unstable();
    t
}

/// Erases until the store says nothing is left; how many were deleted in all.
async fn erase_all<S: EventStore>(store: &S, user: &str, through_ms: i64, per_call: usize) -> u64 {
    let mut deleted = 0;
    for _ in 0..1000 {
        let erasure = store
            .erase(user, through_ms, per_call)
            .await
            .expect("erase");
        deleted += erasure.deleted;
        if erasure.complete {
            return deleted;
        }
    }
    panic!("the erasure never completed");
}

/// The user's events at or before the time go, from every listing; its later events and every
/// other user's stay.
pub async fn an_erasure_deletes_the_users_events_up_to_its_time_and_nothing_else<S: EventStore>(
    store: S,
) {
    let mut batch = Vec::new();
    for ms in [10, 20, 30] {
        batch.push(event("alice", EventType::Login, ms));
        batch.push(event("bob", EventType::Login, ms));
    }
    batch.push(event("alice", EventType::ProductView, 5));
    store.insert_batch(&batch).await.expect("insert");
    let deleted = erase_all(&store, "alice", ERASED_THROUGH, 1000).await;
    assert_eq!(deleted, 3, "alice's events at 5, 10 and 20");
    assert_eq!(
        times_of(&list_everything(&store, of_user("alice")).await),
        [30]
    );
    assert_eq!(
        times_of(&list_everything(&store, of_user("bob")).await),
        [10, 20, 30]
    );
    let everything = list_everything(&store, all(2)).await;
    assert_eq!(everything.len(), 4, "bob's three and alice's later one");
    let by_type = ListQuery {
        limit: 100,
        event_type: Some(EventType::ProductView),
        ..ListQuery::default()
    };
    assert!(list_everything(&store, by_type).await.is_empty());
    // Erasing again is harmless, and an earlier time does not move the erasure back.
    assert_eq!(
        erase_all(&store, "alice", ERASED_THROUGH - 15, 1000).await,
        0
    );
}

/// A redelivered or late event of the erased span is never stored; a later one is, as usual
/// (an erasure is not a ban).
pub async fn an_erased_event_is_never_stored_again_and_later_ones_are<S: EventStore>(store: S) {
    let early = event("alice", EventType::Login, 10);
    store
        .insert_batch(std::slice::from_ref(&early))
        .await
        .expect("insert");
    erase_all(&store, "alice", ERASED_THROUGH, 1000).await;
    let on_time = event("alice", EventType::Login, 20);
    let later = event("alice", EventType::Logout, 21);
    let outcomes = store
        .insert_batch(&[
            early,
            on_time,
            later.clone(),
            event("bob", EventType::Login, 1),
        ])
        .await
        .expect("insert");
    assert_eq!(
        outcomes,
        [
            InsertOutcome::Erased,
            InsertOutcome::Erased,
            InsertOutcome::Inserted,
            InsertOutcome::Inserted
        ]
    );
    let listed = list_everything(&store, of_user("alice")).await;
    assert_eq!(listed, [later]);
}

/// The erased user's idempotency keys are forgotten (a claim records afresh); another user's,
/// and keys not of one user, are kept.
pub async fn an_erasure_forgets_the_users_keys_only<S: EventStore>(store: S) {
    let now = 1_000_000;
    let mut service = key_claim("alice", "k", 3);
    service.user_id = "\u{1}batch".to_owned();
    service.caller = "iam:svc".to_owned();
    for claim in [
        key_claim("alice", "k", 1),
        key_claim("bob", "k", 2),
        service,
    ] {
        let KeyClaim::Recorded(lease) = store.claim_key(&claim, times(now)).await.expect("claim")
        else {
            panic!("a new key records");
        };
        store.complete_key(&claim, &lease).await.expect("complete");
    }
    // The completions are queued in order with later writes (SQLite): a claim now sees them.
    erase_all(&store, "alice", ERASED_THROUGH, 1000).await;
    let again = |c: KeyRecord| {
        let store = &store;
        async move { store.claim_key(&c, times(now + 1)).await.expect("claim") }
    };
    assert!(matches!(
        again(key_claim("alice", "k", 1)).await,
        KeyClaim::Recorded(_)
    ));
    assert!(matches!(
        again(key_claim("bob", "k", 2)).await,
        KeyClaim::Completed(_)
    ));
    let mut service = key_claim("alice", "k", 3);
    service.user_id = "\u{1}batch".to_owned();
    service.caller = "iam:svc".to_owned();
    assert!(matches!(again(service).await, KeyClaim::Completed(_)));
}

/// An erasure of more events than one call deletes finishes over several calls, each deleting
/// at most what it was allowed; none is listed from the first call on.
pub async fn an_erasure_in_pages_finishes_when_called_again<S: EventStore>(store: S) {
    let batch: Vec<UserEvent> = (0..30)
        .flat_map(|i| {
            [
                event("alice", EventType::Login, i % 20),
                event("carol", EventType::Login, i % 20),
            ]
        })
        .collect();
    store.insert_batch(&batch).await.expect("insert");
    let mut calls = Vec::new();
    loop {
        let erasure = store
            .erase("alice", ERASED_THROUGH, 10)
            .await
            .expect("erase");
        calls.push(erasure);
        if erasure.complete || calls.len() > 10 {
            break;
        }
    }
    assert!(
        calls.iter().all(|c| c.complete || c.deleted <= 10),
        "{calls:?}"
    );
    assert_eq!(
        calls.iter().map(|c| c.deleted).sum::<u64>(),
        30,
        "{calls:?}"
    );
    assert!(list_everything(&store, of_user("alice")).await.is_empty());
    // Listings hide what a first call left, from that call on.
    let first = store
        .erase("carol", ERASED_THROUGH, 10)
        .await
        .expect("erase");
    assert!(first.complete || first.deleted <= 10);
    assert!(list_everything(&store, of_user("carol")).await.is_empty());
    assert!(list_everything(&store, all(7)).await.is_empty());
    erase_all(&store, "carol", ERASED_THROUGH, 10).await;
    assert!(list_everything(&store, all(7)).await.is_empty());
}

/// Writers storing the user's events while it is erased: whatever order they meet in, no event
/// of the erased span is listed afterwards, and none is lost of the others.
pub async fn an_event_stored_while_it_is_erased_is_never_listed<S: EventStore>(store: S) {
    let store = Arc::new(store);
    let mut writers = Vec::new();
    for w in 0..4 {
        let store = Arc::clone(&store);
        writers.push(tokio::spawn(async move {
            for i in 0..10 {
                let batch = [
                    event("alice", EventType::Login, (w * 10 + i) % 20),
                    event("bob", EventType::Login, w * 10 + i),
                ];
                store.insert_batch(&batch).await.expect("insert");
            }
        }));
    }
    tokio::task::yield_now().await;
    erase_all(store.as_ref(), "alice", ERASED_THROUGH, 1000).await;
    for w in writers {
        w.await.expect("writer");
    }
    assert!(list_everything(store.as_ref(), of_user("alice"))
        .await
        .is_empty());
    let everything = list_everything(store.as_ref(), all(9)).await;
    assert!(everything.iter().all(|e| e.user_id == "bob"));
    assert_eq!(everything.len(), 40, "every one of bob's events");
}
