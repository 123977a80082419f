//! Figure 2: `POST /events/generate` on the events-api as a plain server, under a closed-loop load
//! at several concurrencies, beside the same events published by the same publisher without HTTP
//! (the Kafka ceiling) and `GET /health` over the same connections (the HTTP ceiling).

use crate::report::{process_cpu_time, row, Latencies};
use crate::{api, batch};
use event_kafka::{EventPublisher, KafkaConfig, KafkaPublisher};
use event_schema::validate_request;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a closed loop measured.
pub struct Run {
    pub ok: usize,
    pub failed: usize,
    pub elapsed: Duration,
    pub latencies: Latencies,
    /// CPU time the watched process spent during the measured window, when one was watched.
    pub cpu: Option<Duration>,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// The watched process's CPU per successful call, in µs.
    pub fn cpu_us_per_call(&self) -> f64 {
        self.cpu
            .map_or(0.0, |c| c.as_secs_f64() * 1e6 / self.ok.max(1) as f64)
    }
}

/// `concurrency` workers each run `op` back to back for `warmup` (discarded) and then for
/// `length`; every successful call's latency is recorded, and the CPU time process `watch`
/// spent from the end of the warm-up to the end of the run.
pub async fn closed_loop<F, Fut>(
    concurrency: usize,
    warmup: Duration,
    length: Duration,
    watch: Option<u32>,
    op: F,
) -> Run
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let seq = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let (measure_from, until) = (started + warmup, started + warmup + length);
    let cpu = watch.map(|pid| {
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            let c0 = process_cpu_time(pid)?;
            tokio::time::sleep_until(until.into()).await;
            Some(process_cpu_time(pid)?.saturating_sub(c0))
        })
    });
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (op, seq) = (op.clone(), Arc::clone(&seq));
        workers.push(tokio::spawn(async move {
            let (mut lat, mut failed) = (Vec::new(), 0usize);
            loop {
                let t0 = Instant::now();
                if t0 >= until {
                    break;
                }
                let ok = op(seq.fetch_add(1, Ordering::Relaxed)).await;
                if t0 >= measure_from {
                    if ok {
                        lat.push(t0.elapsed());
                    } else {
                        failed += 1;
                    }
                }
            }
            (lat, failed)
        }));
    }
    let (mut all, mut failed) = (Vec::new(), 0);
    for w in workers {
        if let Ok((lat, f)) = w.await {
            all.extend(lat);
            failed += f;
        }
    }
    let cpu = match cpu {
        Some(task) => task.await.ok().flatten(),
        None => None,
    };
    Run {
        ok: all.len(),
        failed,
        elapsed: length,
        latencies: Latencies::new(all),
        cpu,
    }
}

/// One event through each path before any clock runs: a cold producer's first send waits for
/// its connection and producer id (figure 4 measures that), which is not throughput.
async fn prime(base_url: &str, publisher: &KafkaPublisher, body: &[u8]) {
    let request = validate_request(body).expect("a valid body");
    publisher
        .publish(&request.into_event(), None)
        .await
        .expect("the broker acknowledges a first event");
    api::generate(&reqwest::Client::new(), base_url, body.to_vec())
        .await
        .expect("the events-api creates a first event");
}

/// Runs figure 2 against the events-api at `base_url`, publishing to the topic in `kafka`.
pub async fn generate(
    base_url: &str,
    server_pid: u32,
    kafka: KafkaConfig,
    levels: &[usize],
    length: Duration,
) {
    let warmup = (length / 5).max(Duration::from_millis(200));
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new((0..1000).map(batch::request_body).collect());
    let publisher = KafkaPublisher::connect(kafka, "bench-producer")
        .await
        .expect("producer");
    prime(base_url, &publisher, &bodies[0]).await;
    // With an Idempotency-Key at c=16 (the bench's middle level; the largest level in a smoke
    // run): the cost of recording the key before publishing and completing it after.
    let keyed_level = if levels.contains(&16) {
        16
    } else {
        levels.iter().copied().max().unwrap_or(1)
    };
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    for &c in levels {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(c)
            .build()
            .expect("http client");

        let url = format!("{base_url}/events/generate");
        let (b, cl) = (Arc::clone(&bodies), client.clone());
        let http = closed_loop(c, warmup, length, Some(server_pid), move |i| {
            let (b, cl, url) = (Arc::clone(&b), cl.clone(), url.clone());
            async move {
                let body = b[i % b.len()].clone();
                let sent = cl
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                matches!(sent, Ok(r) if r.status() == 201)
            }
        })
        .await;

        let kafka = publisher_alone(&bodies, &publisher, c, warmup, length).await;

        if c == keyed_level {
            let url = format!("{base_url}/events/generate");
            let (b, cl, nonce) = (Arc::clone(&bodies), client.clone(), nonce.clone());
            let keyed = closed_loop(c, warmup, length, Some(server_pid), move |i| {
                let (b, cl, url) = (Arc::clone(&b), cl.clone(), url.clone());
                let key = format!("bench-{nonce}-{i}");
                async move {
                    let sent = cl
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("idempotency-key", key)
                        .body(b[i % b.len()].clone())
                        .send()
                        .await;
                    matches!(sent, Ok(r) if r.status() == 201)
                }
            })
            .await;
            if keyed.failed > 0 || keyed.ok == 0 {
                eprintln!(
                    "bench: c={c} keyed: {} ok, {} failed",
                    keyed.ok, keyed.failed
                );
            }
            assert!(keyed.ok > 0, "no keyed request succeeded at c={c}");
            let without = format!("POST /events/generate c={c} without a key");
            row(
                &format!("POST /events/generate c={c} with Idempotency-Key, requests/s"),
                keyed.per_second(),
                "req/s",
                &without,
                http.per_second(),
            );
            row(
                &format!("POST /events/generate c={c} with Idempotency-Key, p50"),
                keyed.latencies.ms(50.0),
                "ms",
                &without,
                http.latencies.ms(50.0),
            );
            row(
                &format!("events-api CPU per POST /events/generate c={c} with Idempotency-Key"),
                keyed.cpu_us_per_call(),
                "µs",
                &without,
                http.cpu_us_per_call(),
            );
        }

        if c == keyed_level {
            batch_rows(
                base_url, &client, &bodies, &publisher, c, warmup, length, &http,
            )
            .await;
        }

        let url = format!("{base_url}/health");
        let cl = client.clone();
        let health = closed_loop(c, warmup, length, Some(server_pid), move |_| {
            let (cl, url) = (cl.clone(), url.clone());
            async move { matches!(cl.get(&url).send().await, Ok(r) if r.status() == 200) }
        })
        .await;

        for (what, run) in [
            ("generate", &http),
            ("produce", &kafka),
            ("health", &health),
        ] {
            if run.failed > 0 || run.ok == 0 {
                eprintln!("bench: c={c} {what}: {} ok, {} failed", run.ok, run.failed);
            }
        }
        assert!(
            http.ok > 0 && kafka.ok > 0 && health.ok > 0,
            "a load run at c={c} had no successful request"
        );
        let produce = format!("publisher alone (rdkafka, acks=all), {c} in flight");
        let figures = [
            ("requests/s", "req/s", http.per_second(), kafka.per_second()),
            (
                "p50",
                "ms",
                http.latencies.ms(50.0),
                kafka.latencies.ms(50.0),
            ),
            (
                "p99",
                "ms",
                http.latencies.ms(99.0),
                kafka.latencies.ms(99.0),
            ),
        ];
        for (what, unit, value, ceiling) in figures {
            row(
                &format!("POST /events/generate c={c}, {what}"),
                value,
                unit,
                &produce,
                ceiling,
            );
        }
        row(
            &format!("GET /health c={c}, requests/s"),
            health.per_second(),
            "req/s",
            &format!("POST /events/generate c={c}"),
            http.per_second(),
        );
        row(
            &format!("events-api CPU per POST /events/generate c={c}"),
            http.cpu_us_per_call(),
            "µs",
            &format!("events-api CPU per GET /health c={c} (checks broker and store)"),
            health.cpu_us_per_call(),
        );
    }
    publisher.flush(Duration::from_secs(5));
}

/// The Kafka ceiling: what the handler does without HTTP (validate, assign id and time,
/// publish) with `in_flight` events in flight through the same publisher.
async fn publisher_alone(
    bodies: &Arc<Vec<Vec<u8>>>,
    publisher: &KafkaPublisher,
    in_flight: usize,
    warmup: Duration,
    length: Duration,
) -> Run {
    let (b, p) = (Arc::clone(bodies), publisher.clone());
    closed_loop(in_flight, warmup, length, None, move |i| {
        let (b, p) = (Arc::clone(&b), p.clone());
        async move {
            match validate_request(&b[i % b.len()]) {
                Ok(request) => p.publish(&request.into_event(), None).await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await
}

/// Events per batch in the batch rows.
const BATCH_EVENTS: usize = 100;

/// `POST /events/batch` of [`BATCH_EVENTS`] at `c`, in events/s, beside single POSTs at the
/// same concurrency (`single`) and beside the publisher alone with as many events in flight.
#[allow(clippy::too_many_arguments)]
async fn batch_rows(
    base_url: &str,
    client: &reqwest::Client,
    bodies: &Arc<Vec<Vec<u8>>>,
    publisher: &KafkaPublisher,
    c: usize,
    warmup: Duration,
    length: Duration,
    single: &Run,
) {
    let batches: Arc<Vec<Vec<u8>>> = Arc::new(
        bodies
            .chunks(BATCH_EVENTS)
            .map(|items| {
                let mut body = b"{\"events\":[".to_vec();
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        body.push(b',');
                    }
                    body.extend_from_slice(item);
                }
                body.extend_from_slice(b"]}");
                body
            })
            .collect(),
    );
    let url = format!("{base_url}/events/batch");
    let (b, cl) = (Arc::clone(&batches), client.clone());
    let batched = closed_loop(c, warmup, length, None, move |i| {
        let (b, cl, url) = (Arc::clone(&b), cl.clone(), url.clone());
        async move {
            let Ok(res) = cl
                .post(&url)
                .header("content-type", "application/json")
                .body(b[i % b.len()].clone())
                .send()
                .await
            else {
                return false;
            };
            let answer: serde_json::Value = res.json().await.unwrap_or_default();
            let results = answer["results"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            results.len() == BATCH_EVENTS && results.iter().all(|r| r["status"] == 201)
        }
    })
    .await;
    let in_flight = c * BATCH_EVENTS;
    let ceiling = publisher_alone(bodies, publisher, in_flight, warmup, length).await;
    if batched.failed > 0 || batched.ok == 0 {
        eprintln!(
            "bench: c={c} batch: {} ok, {} failed",
            batched.ok, batched.failed
        );
    }
    assert!(batched.ok > 0, "no batch was accepted whole at c={c}");
    let events = batched.per_second() * BATCH_EVENTS as f64;
    let what = format!("POST /events/batch of {BATCH_EVENTS} c={c}, events/s");
    row(
        &what,
        events,
        "events/s",
        &format!("POST /events/generate c={c}, events/s"),
        single.per_second(),
    );
    row(
        &what,
        events,
        "events/s",
        &format!("publisher alone (rdkafka, acks=all), {in_flight} in flight"),
        ceiling.per_second(),
    );
}

/// One side of an A/B comparison: a server (base URL, pid) and, when its requests carry one,
/// the `Authorization` header of each request body (`batch::request_body(i)`, by `i`).
pub struct Side<'a> {
    pub base_url: &'a str,
    pub pid: u32,
    pub authorization: Option<Arc<Vec<String>>>,
}

/// The bodies every A/B comparison sends, in order.
pub const AB_BODIES: usize = 1000;

/// POST /events/generate at `concurrency` on `a` and on `b`, in alternating rounds so that both
/// see the same machine: the median CPU per request (µs) and requests/s of each.
async fn alternating(
    a: &Side<'_>,
    b: &Side<'_>,
    concurrency: usize,
    length: Duration,
) -> [(f64, f64); 2] {
    const ROUNDS: usize = 3;
    let warmup = (length / 5).max(Duration::from_millis(200));
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new((0..AB_BODIES).map(batch::request_body).collect());
    let mut cpu = [Vec::new(), Vec::new()];
    let mut rate = [Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        for (i, side) in [a, b].into_iter().enumerate() {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(concurrency)
                .build()
                .expect("http client");
            let url = format!("{}/events/generate", side.base_url);
            let (bodies, auth) = (Arc::clone(&bodies), side.authorization.clone());
            let run = closed_loop(concurrency, warmup, length, Some(side.pid), move |n| {
                let (b, cl, url, auth) = (
                    Arc::clone(&bodies),
                    client.clone(),
                    url.clone(),
                    auth.clone(),
                );
                async move {
                    let mut req = cl
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(b[n % b.len()].clone());
                    if let Some(a) = auth.as_ref().and_then(|a| a.get(n % a.len())) {
                        req = req.header("authorization", a.as_str());
                    }
                    matches!(req.send().await, Ok(r) if r.status() == 201)
                }
            })
            .await;
            assert!(run.ok > 0, "no request succeeded on {}", side.base_url);
            cpu[i].push(run.cpu_us_per_call());
            rate[i].push(run.per_second());
        }
    }
    let [ca, cb] = cpu.map(crate::report::median);
    let [ra, rb] = rate.map(crate::report::median);
    [(ca, ra), (cb, rb)]
}

/// What a request's observability costs: `observed` (its log line and metrics document, as on
/// AWS) beside `quiet` (the same binary with `METRICS=off` and warnings only).
pub async fn observability_cost(
    observed: &Side<'_>,
    quiet: &Side<'_>,
    concurrency: usize,
    length: Duration,
) {
    let [(observed_cpu, _), (quiet_cpu, _)] =
        alternating(observed, quiet, concurrency, length).await;
    row(
        &format!("events-api CPU per POST /events/generate c={concurrency}, with its log line and metrics document (median of 3)"),
        observed_cpu,
        "µs",
        "the same with METRICS=off and warnings only",
        quiet_cpu,
    );
}

/// What checking a bearer token costs: `checked` (AUTH_MODE=jwt, each request with a valid
/// `alg` token) beside `open` (AUTH_MODE=none, no token).
pub async fn auth_cost(
    alg: &str,
    checked: &Side<'_>,
    open: &Side<'_>,
    concurrency: usize,
    length: Duration,
) {
    let [(jwt_cpu, jwt_rate), (open_cpu, open_rate)] =
        alternating(checked, open, concurrency, length).await;
    let baseline = "the same with AUTH_MODE=none";
    row(
        &format!("events-api CPU per POST /events/generate c={concurrency}, {alg} bearer token checked (median of 3)"),
        jwt_cpu,
        "µs",
        baseline,
        open_cpu,
    );
    row(
        &format!("POST /events/generate c={concurrency}, {alg} bearer token checked, requests/s"),
        jwt_rate,
        "req/s",
        baseline,
        open_rate,
    );
}
