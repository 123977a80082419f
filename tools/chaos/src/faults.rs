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
}

/// Every fault, in order (the load's phase number is the index).
pub(crate) const FAULTS: [Fault; 4] = [
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
];

impl Fault {
    /// Injects the fault and waits until it is over; the probes' violations.
    pub(crate) async fn inject(&self, world: &mut World, args: &Args) -> Vec<String> {
        match self.kind {
            Kind::BrokerKilled => broker_killed(world, args).await,
            Kind::StoreLocked => store_locked(world).await,
            Kind::ProcessorKilled => processor_killed(world, args).await,
            Kind::TriggerKilled => trigger_killed(world, args).await,
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
