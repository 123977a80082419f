//! The faults, in the order the run injects them: each a row of [`FAULTS`] with its own
//! function, which returns what its probes saw go wrong while it lasted.

use crate::{lock, trigger_failures, Args, World, STORE_LOCK};
use std::time::Duration;

/// One fault: its name in the report, and how it is injected.
pub(crate) struct Fault {
    pub(crate) name: &'static str,
    kind: Kind,
}

enum Kind {
    BrokerKilled,
    StoreLocked,
    ProcessorKilled,
    TriggerKilled,
    UserErased,
}

/// Every fault, in order (the load's phase number is the index).
pub(crate) const FAULTS: [Fault; 5] = [
    Fault {
        name: "broker killed",
        kind: Kind::BrokerKilled,
    },
    Fault {
        name: "store locked",
        kind: Kind::StoreLocked,
    },
    Fault {
        name: "processor killed",
        kind: Kind::ProcessorKilled,
    },
    Fault {
        name: "trigger killed",
        kind: Kind::TriggerKilled,
    },
    Fault {
        name: "user erased",
        kind: Kind::UserErased,
    },
];

impl Fault {
    /// Injects the fault and waits until it is over; the probes' violations.
    pub(crate) async fn inject(&self, world: &mut World, args: &Args) -> Vec<String> {
        match self.kind {
            Kind::BrokerKilled => broker_killed(world, args).await,
            Kind::StoreLocked => store_locked(world).await,
            Kind::ProcessorKilled => processor_killed(world, args).await,
            Kind::TriggerKilled => trigger_killed(world, args).await,
            Kind::UserErased => user_erased(world).await,
        }
    }
}

/// The broker killed (SIGKILL), held down, and restarted on its data.
async fn broker_killed(world: &mut World, args: &Args) -> Vec<String> {
    tokio::task::block_in_place(|| world.broker.kill());
    tokio::time::sleep(args.hold).await;
    tokio::task::block_in_place(|| world.broker.restart());
    Vec::new()
}

/// The store locked past its busy timeout, the listing probed meanwhile (it must answer 503,
/// never 500).
async fn store_locked(world: &mut World) -> Vec<String> {
    let list = format!("{}/events/processed?limit=10", world.base);
    lock::lock_store(&world.db, STORE_LOCK, &list).await
}

/// The processor killed while it handles a batch. A kill can land just after the function
/// answered (a batch takes milliseconds), which fails nothing; kill again until `kills`
/// invocations died mid-way.
async fn processor_killed(world: &mut World, args: &Args) -> Vec<String> {
    let run = world.run_dir();
    let before = trigger_failures(&run, "Runtime.ExitError");
    let mut violations = Vec::new();
    let mut attempts = 0;
    while trigger_failures(&run, "Runtime.ExitError") < before + args.kills
        && attempts < args.kills * 10
    {
        attempts += 1;
        let caught = world
            .stack
            .kill_function_while_busy(local_stack::EVENTS_PROCESSOR, Duration::from_secs(10))
            .await;
        if !caught {
            violations.push(format!("kill {attempts}: the processor was never busy"));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    violations
}

/// The trigger killed and started again, `kills` times.
async fn trigger_killed(world: &mut World, args: &Args) -> Vec<String> {
    for k in 0..args.kills {
        world.stack.kill_trigger();
        world
            .stack
            .start_trigger(&format!("trigger-restart-{k}.log"))
            .expect("the trigger restarts");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Vec::new()
}

/// The user an erasure takes, under load: not one of the load's clients, whose every 201 must
/// still be stored exactly once.
pub(crate) const ERASED_USER: &str = "chaos-erased";

/// What the erasure fault did, checked against the listing at the end: nothing of the user at
/// or before `through` is listed, and each of `later` (sent after it) is listed once.
#[derive(Debug, Default)]
pub(crate) struct Erased {
    pub(crate) through: String,
    pub(crate) later: Vec<String>,
}

/// One user's events, some stored and some still in Kafka, erased while the load runs; then
/// more of its events, which must be stored as usual.
async fn user_erased(world: &mut World) -> Vec<String> {
    let http = reqwest::Client::new();
    let batch = |n: usize| {
        let events: Vec<_> = (0..n)
            .map(|_| serde_json::json!({"userId": ERASED_USER, "eventType": "LOGIN"}))
            .collect();
        serde_json::json!({ "events": events })
    };
    let send = |n: usize| {
        let (http, url) = (http.clone(), format!("{}/events/batch", world.base));
        async move {
            let res = http.post(url).json(&batch(n)).send().await.ok()?;
            let answer: serde_json::Value = res.json().await.ok()?;
            answer["results"].as_array().map(|results| {
                results
                    .iter()
                    .filter_map(|r| r["eventId"].as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
        }
    };
    let mut violations = Vec::new();
    for _ in 0..4 {
        if send(25).await.is_none_or(|ids| ids.len() != 25) {
            violations.push("a batch of the erased user was not accepted whole".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let url = format!("{}/users/{ERASED_USER}/events", world.base);
    let through = loop {
        match http.delete(&url).send().await {
            Ok(res) if res.status() == 202 => tokio::time::sleep(Duration::from_secs(1)).await,
            Ok(res) if res.status() == 200 => {
                let answer: serde_json::Value = res.json().await.unwrap_or_default();
                break answer["erasedThrough"].as_str().map(str::to_owned);
            }
            Ok(res) => {
                violations.push(format!("the erasure was answered {}", res.status()));
                break None;
            }
            Err(e) => {
                violations.push(format!("the erasure got no answer: {e}"));
                break None;
            }
        }
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    let later = send(5).await.unwrap_or_default();
    if later.len() != 5 {
        violations.push("the erased user's later batch was not accepted whole".to_owned());
    }
    world.erased = Erased {
        through: through.unwrap_or_default(),
        later,
    };
    violations
}

/// What the listing shows of the erased user: nothing at or before the erasure, each later
/// event once.
pub(crate) fn erasure_violations(erased: &Erased, listed: &[serde_json::Value]) -> Vec<String> {
    let mine: Vec<&serde_json::Value> = listed
        .iter()
        .filter(|e| e["userId"] == ERASED_USER)
        .collect();
    let mut violations = Vec::new();
    // RFC 3339 in UTC with milliseconds, as both are written: the text orders as the time.
    let before = mine
        .iter()
        .filter(|e| e["timestamp"].as_str().unwrap_or_default() <= erased.through.as_str())
        .count();
    if before > 0 {
        violations.push(format!(
            "{before} events at or before the erasure are listed"
        ));
    }
    for id in &erased.later {
        let n = mine.iter().filter(|e| e["eventId"] == id.as_str()).count();
        if n != 1 {
            violations.push(format!("a later event {id} is listed {n} times"));
        }
    }
    if erased.later.is_empty() {
        violations.push("no later event was sent".to_owned());
    }
    violations
}
