//! Figure 8: one events-api execution environment as Lambda runs it (the binary polling a
//! Runtime API served here) answering `POST /events/generate` with N invocations at once
//! (`AWS_LAMBDA_MAX_CONCURRENCY`, as Lambda Managed Instances set it), N clients keeping it
//! busy; each level's requests/s, p99 and peak memory beside N = 1 in the same run.

use crate::coldstart::{function_command, vm_hwm_kib};
use crate::load::closed_loop;
use crate::report::row;
use std::sync::Arc;
use std::time::Duration;
use testkit::runtime_api::{function_url_event, RuntimeApi};

/// What one environment did at one level.
struct Level {
    per_second: f64,
    p99_ms: f64,
    peak_mib: f64,
}

/// Whether the function's response document is a 201.
fn created(answer: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(answer)
        .ok()
        .and_then(|v| v["statusCode"].as_u64())
        == Some(201)
}

async fn level(bin: &str, n: usize, length: Duration, env: &[(&str, String)]) -> Level {
    let api = Arc::new(RuntimeApi::start("events-api").await.expect("runtime API"));
    let mut child = function_command(bin, &api, n, env)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let pid = child.id();
    assert!(
        api.wait_for_polls(n, Duration::from_secs(60)).await,
        "{bin} did not open {n} polls for work"
    );
    let body = r#"{"userId":"bench-user","eventType":"PRODUCT_VIEW","payload":{"sku":"A-1"}}"#;
    let event: Arc<str> = function_url_event("POST", "/events/generate", "", Some(body)).into();
    // The producer's connection and id before the clock runs (figure 4 measures those).
    let first = api.invoke(event.to_string()).await;
    assert!(
        first.as_deref().is_ok_and(created),
        "the first event: {first:?}"
    );
    let warmup = (length / 5).max(Duration::from_millis(200));
    let run = {
        let api = Arc::clone(&api);
        closed_loop(n, warmup, length, Some(pid), move |_| {
            let (api, event) = (Arc::clone(&api), Arc::clone(&event));
            async move {
                api.invoke(event.to_string())
                    .await
                    .is_ok_and(|a| created(&a))
            }
        })
        .await
    };
    let peak_mib = vm_hwm_kib(pid) as f64 / 1024.0;
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        run.ok > 0 && run.failed == 0,
        "N={n}: {} created, {} failed",
        run.ok,
        run.failed
    );
    assert!(
        api.most_in_flight() <= n,
        "N={n}: {} invocations at once",
        api.most_in_flight()
    );
    Level {
        per_second: run.per_second(),
        p99_ms: run.latencies.ms(99.0),
        peak_mib,
    }
}

/// Figure 8's rows: each level beside N = 1 (the first of `levels`).
pub async fn environment(bin: &str, levels: &[usize], length: Duration, env: &[(&str, String)]) {
    let mut measured = Vec::new();
    for &n in levels {
        measured.push((n, level(bin, n, length, env).await));
    }
    let Some(((one, base), rest)) = measured.split_first() else {
        return;
    };
    let baseline = format!("the same environment at N={one}");
    for (n, l) in rest {
        let what =
            format!("one events-api environment (Lambda Runtime API), N={n} invocations at once");
        row(
            &format!("{what}: POST /events/generate requests/s"),
            l.per_second,
            "req/s",
            &baseline,
            base.per_second,
        );
        row(
            &format!("{what}: p99"),
            l.p99_ms,
            "ms",
            &baseline,
            base.p99_ms,
        );
        row(
            &format!("{what}: peak RSS (VmHWM)"),
            l.peak_mib,
            "MiB",
            &baseline,
            base.peak_mib,
        );
    }
}
