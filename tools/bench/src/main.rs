//! `pipeline-bench`: each figure of `make bench` beside the baseline that bounds it, printed as
//! tab-separated rows `figure, value, unit, baseline, baseline value, ratio` for
//! `scripts/bench.sh` to tabulate.
//!
//! ```text
//! pipeline-bench processor [RECORDS]
//! pipeline-bench partial [RECORDS_PER_PARTITION]
//! pipeline-bench generate --api BIN [--seconds S] [--levels 1,16,64]
//! pipeline-bench coldstart --api BIN --processor BIN --hello BIN [--runs N]
//! pipeline-bench e2e --base URL --api BIN --store URL [--events N] [--rate PER_S] [--window-ms MS]
//! pipeline-bench scale [SQLITE_EVENTS DYNAMODB_EVENTS SMALL_EVENTS]
//! pipeline-bench reload [ROUNDS]
//! pipeline-bench topics NAME...
//! ```
//!
//! `generate`, `coldstart` and `topics` use the broker at `KAFKA_BROKERS` (default
//! 127.0.0.1:9092). `BENCH_FUNCTION_LOG` sets the cold-started functions' `RUST_LOG` (default
//! `warn`).

mod api;
mod auth;
mod batch;
mod coldstart;
mod e2e;
mod load;
mod partial;
mod processor;
mod reload;
mod report;
mod scale;

use event_kafka::KafkaConfig;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "usage: pipeline-bench processor [RECORDS]
       pipeline-bench partial [RECORDS_PER_PARTITION]
       pipeline-bench generate --api BIN [--seconds S] [--levels 1,16,64]
       pipeline-bench coldstart --api BIN --processor BIN --hello BIN [--runs N]
       pipeline-bench e2e --base URL --api BIN --store URL [--events N] [--rate PER_S] [--window-ms MS]
       pipeline-bench scale [SQLITE_EVENTS DYNAMODB_EVENTS SMALL_EVENTS]   (1000000 100000 20000)
       pipeline-bench reload [ROUNDS]   (3)
       pipeline-bench topics NAME...   (creates them on KAFKA_BROKERS, 3 partitions)";

fn fail(message: &str) -> ! {
    eprintln!("pipeline-bench: {message}\n{USAGE}");
    std::process::exit(2)
}

/// `--name value` pairs.
struct Flags(HashMap<String, String>);

impl Flags {
    fn parse(args: &[String]) -> Self {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                fail(&format!("unexpected argument {a:?}"))
            };
            let Some(value) = it.next() else {
                fail(&format!("--{name} needs a value"))
            };
            map.insert(name.to_owned(), value.clone());
        }
        Self(map)
    }

    fn required(&self, name: &str) -> String {
        self.0
            .get(name)
            .cloned()
            .unwrap_or_else(|| fail(&format!("--{name} is required")))
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.0.get(name) {
            None => default,
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| fail(&format!("--{name}: {v:?} is not a number"))),
        }
    }
}

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// A fresh topic on the local broker, so a figure never reads another run's records.
async fn fresh_topic(prefix: &str) -> String {
    let topic = testkit::kafka::unique_topic(prefix);
    testkit::kafka::create_topic(&brokers(), &topic, 3).await;
    topic
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((what, rest)) = args.split_first() else {
        fail("which figure?")
    };
    match what.as_str() {
        "processor" => {
            let records = rest.first().map_or(10_000, |n| {
                n.parse()
                    .unwrap_or_else(|_| fail(&format!("{n:?} is not a record count")))
            });
            processor::processor(records).await
        }
        "partial" => {
            let per_partition = rest.first().map_or(100, |n| {
                n.parse()
                    .unwrap_or_else(|_| fail(&format!("{n:?} is not a record count")))
            });
            partial::partial(per_partition).await
        }
        "generate" => generate(Flags::parse(rest)).await,
        "scale" => {
            let n = |i: usize, default: usize| {
                rest.get(i).map_or(default, |v| {
                    v.parse()
                        .unwrap_or_else(|_| fail(&format!("{v:?} is not an event count")))
                })
            };
            scale::scale(n(0, 1_000_000), n(1, 100_000), n(2, 20_000)).await
        }
        "coldstart" => cold_starts(Flags::parse(rest)).await,
        "reload" => {
            let rounds = rest.first().map_or(3, |n| {
                n.parse()
                    .unwrap_or_else(|_| fail(&format!("{n:?} is not a number of rounds")))
            });
            reload::reload(rounds).await
        }
        "e2e" => e2e(Flags::parse(rest)).await,
        "topics" => {
            for t in rest {
                testkit::kafka::create_topic(&brokers(), t, 3).await;
            }
        }
        other => fail(&format!("unknown figure {other:?}")),
    }
}

/// Figure 3. The listing is polled through a second events-api (a plain server on the same
/// store), so the polls do not queue in front of the requests being measured.
async fn e2e(f: Flags) {
    let brokers = brokers();
    let (api, store) = (f.required("api"), f.required("store"));
    let lister = testkit::process::Server::start(
        &api,
        &[
            ("KAFKA_BROKERS", brokers.as_str()),
            ("STORE_URL", store.as_str()),
            ("RUST_LOG", "warn"),
            ("AUTH_MODE", "none"),
        ],
    );
    e2e::created_to_listed(
        &f.required("base"),
        &lister.base_url,
        f.number("events", 1000),
        f.number("rate", 10.0),
        f.number("window-ms", 500),
    )
    .await;
    lister.terminate();
}

async fn generate(f: Flags) {
    let topic = fresh_topic("bench-generate").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("sqlite://{}", dir.path().join("api.db").display());
    let (brokers, api) = (brokers(), f.required("api"));
    // Every server of the figure: the same topic and store, logging as template.yaml sets it on
    // AWS (so its cost is in the CPU figures), and what each one changes.
    let start = |changes: &[(&str, &str)]| {
        let mut env = vec![
            ("KAFKA_BROKERS", brokers.as_str()),
            ("KAFKA_TOPIC", topic.as_str()),
            ("STORE_URL", store.as_str()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AUTH_MODE", "none"),
        ];
        env.retain(|(k, _)| !changes.iter().any(|(c, _)| c == k));
        env.extend_from_slice(changes);
        testkit::process::Server::start(&api, &env)
    };
    let server = start(&[]);
    let env = [
        ("KAFKA_BROKERS", brokers.as_str()),
        ("KAFKA_TOPIC", topic.as_str()),
    ];
    let kafka = KafkaConfig::from_source(&env[..]).expect("kafka config");
    let levels: Vec<usize> =
        f.0.get("levels")
            .map_or("1,16,64", String::as_str)
            .split(',')
            .map(|l| {
                l.trim()
                    .parse()
                    .unwrap_or_else(|_| fail(&format!("--levels: {l:?} is not a number")))
            })
            .collect();
    let seconds: f64 = f.number("seconds", 5.0);
    load::generate(
        &server.base_url,
        server.pid(),
        kafka,
        &levels,
        Duration::from_secs_f64(seconds),
    )
    .await;
    // The same binary without its per-request log line and metrics document.
    let quiet = start(&[("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("METRICS", "off")]);
    let level = levels.iter().copied().max().unwrap_or(1).min(16);
    let length = Duration::from_secs_f64(seconds);
    let observed = load::Side {
        base_url: &server.base_url,
        pid: server.pid(),
        authorization: None,
    };
    let unobserved = load::Side {
        base_url: &quiet.base_url,
        pid: quiet.pid(),
        authorization: None,
    };
    load::observability_cost(&observed, &unobserved, level, length).await;
    quiet.terminate();

    // The same binary checking a bearer token on each request (keys inline, as with JWT_JWKS on
    // AWS), one user per body, beside it without.
    let auth = auth::Tokens::new();
    let jwks = auth.jwks();
    let checking = start(&[
        ("AUTH_MODE", "jwt"),
        ("JWT_ISSUER", auth::ISSUER),
        ("JWT_AUDIENCE", auth::AUDIENCE),
        ("JWT_JWKS", &jwks),
    ]);
    for (alg, key) in auth.keys() {
        let checked = load::Side {
            base_url: &checking.base_url,
            pid: checking.pid(),
            authorization: Some(Arc::new(auth.per_body(key, load::AB_BODIES))),
        };
        load::auth_cost(alg, &checked, &observed, level, length).await;
    }
    checking.terminate();
    server.terminate();
}

async fn cold_starts(f: Flags) {
    let runs: usize = f.number("runs", 10);
    let topic = fresh_topic("bench-coldstart").await;
    let dlq = fresh_topic("bench-coldstart-dlq").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("KAFKA_BROKERS", brokers()),
        ("KAFKA_TOPIC", topic),
        ("KAFKA_DLQ_TOPIC", dlq),
        ("AUTH_MODE", "none".to_owned()),
    ];

    let hello = coldstart::summary(
        &f.required("hello"),
        runs,
        r#"{"hello":"world"}"#,
        &[],
        None,
        |answer| assert_eq!(answer, r#"{"hello":"world"}"#, "hello-lambda echoes"),
    )
    .await;

    let generate =
        include_str!("../../../functions/events-api/tests/data/function-url-post-generate.json");
    let api = coldstart::summary(
        &f.required("api"),
        runs,
        generate,
        &env,
        Some(dir.path()),
        |answer| {
            let status = serde_json::from_str::<serde_json::Value>(answer)
                .ok()
                .and_then(|v| v.get("statusCode").and_then(|s| s.as_u64()));
            assert_eq!(status, Some(201), "events-api's first answer: {answer}");
        },
    )
    .await;

    let batch = serde_json::to_string(&batch::msk_batch(100)).expect("batch json");
    let processor = coldstart::summary(
        &f.required("processor"),
        runs,
        &batch,
        &env,
        Some(dir.path()),
        |answer| {
            let v: serde_json::Value = serde_json::from_str(answer).unwrap_or_default();
            assert!(
                v.get("inserted").and_then(|n| n.as_u64()).unwrap_or(0) > 0,
                "events-processor's first answer: {answer}"
            );
        },
    )
    .await;

    // The same request with a bearer token for its user, checked against keys given inline
    // (JWT_JWKS): what a cold start with AUTH_MODE=jwt costs when it needs no fetch.
    let tokens = auth::Tokens::new();
    let (_, rs256) = tokens.keys()[0];
    let mut signed: serde_json::Value = serde_json::from_str(generate).expect("fixture");
    let user = serde_json::from_str::<serde_json::Value>(signed["body"].as_str().unwrap_or("{}"))
        .ok()
        .and_then(|b| b["userId"].as_str().map(str::to_owned))
        .expect("the fixture's userId");
    signed["headers"]["authorization"] = auth::Tokens::bearer(rs256, &user).into();
    let mut jwt_env = env.to_vec();
    jwt_env.retain(|(k, _)| *k != "AUTH_MODE");
    jwt_env.extend([
        ("AUTH_MODE", "jwt".to_owned()),
        ("JWT_ISSUER", auth::ISSUER.to_owned()),
        ("JWT_AUDIENCE", auth::AUDIENCE.to_owned()),
        ("JWT_JWKS", tokens.jwks()),
    ]);
    let api_jwt = coldstart::summary(
        &f.required("api"),
        runs,
        &signed.to_string(),
        &jwt_env,
        Some(dir.path()),
        |answer| {
            let status = serde_json::from_str::<serde_json::Value>(answer)
                .ok()
                .and_then(|v| v.get("statusCode").and_then(|s| s.as_u64()));
            assert_eq!(
                status,
                Some(201),
                "events-api's first answer with a token: {answer}"
            );
        },
    )
    .await;

    coldstart::report("events-api (POST /events/generate)", &api, &hello);
    coldstart::report(
        "events-api (POST /events/generate, AUTH_MODE=jwt, RS256 token, inline keys)",
        &api_jwt,
        &hello,
    );
    coldstart::report("events-processor (100-record batch)", &processor, &hello);
}
