//! `pipeline-bench`: each figure of `make bench` beside the baseline that bounds it, printed as
//! tab-separated rows `figure, value, unit, baseline, baseline value, ratio` for
//! `scripts/bench.sh` to tabulate.
//!
//! ```text
//! pipeline-bench processor [RECORDS]
//! pipeline-bench partial [RECORDS_PER_PARTITION]
//! pipeline-bench generate --api BIN [--seconds S] [--levels 1,16,64]
//! pipeline-bench coldstart --api BIN --processor BIN --hello BIN [--runs N]
//! pipeline-bench environment --api BIN [--seconds S] [--levels 1,8,32]
//! pipeline-bench e2e --base URL --api BIN --store URL [--events N] [--rate PER_S] [--window-ms MS]
//! pipeline-bench scale [SQLITE_EVENTS DYNAMODB_EVENTS SMALL_EVENTS]
//! pipeline-bench reload [ROUNDS]
//! pipeline-bench topics NAME...
//! ```
//!
//! `generate`, `coldstart`, `environment` and `topics` use the broker at `KAFKA_BROKERS` (default
//! 127.0.0.1:9092). `BENCH_FUNCTION_LOG` sets the cold-started functions' `RUST_LOG` (default
//! `warn`).

mod api;
mod auth;
mod batch;
mod coldstart;
mod e2e;
mod environment;
mod load;
mod partial;
mod processor;
mod reload;
mod report;
mod scale;

use clap::{Parser, Subcommand};
use event_kafka::KafkaConfig;
use std::sync::Arc;
use std::time::Duration;

/// Each figure of `make bench` beside the baseline that bounds it, printed as tab-separated
/// rows (figure, value, unit, baseline, baseline value, ratio).
#[derive(Parser)]
#[command(name = "pipeline-bench")]
struct Cli {
    #[command(subcommand)]
    figure: Figure,
}

#[derive(Subcommand)]
enum Figure {
    /// Figure 1: the processor's batch path into SQLite beside decoding alone and the store's
    /// ceiling.
    Processor {
        /// Records in the batch.
        #[arg(default_value_t = 10_000)]
        records: usize,
    },
    /// The events offered to the store again when one partition of three fails, with partial
    /// batch responses beside without.
    Partial {
        /// Records in each partition.
        #[arg(default_value_t = 100)]
        records_per_partition: usize,
    },
    /// Figure 2: POST /events/generate on a plain server under closed-loop load, beside the
    /// Kafka and HTTP ceilings.
    Generate(GenerateArgs),
    /// Figure 4: cold starts of both functions beside a hello-world Lambda function.
    Coldstart(ColdstartArgs),
    /// Figure 8: one events-api environment at N invocations at once, beside N = 1.
    Environment(EnvironmentArgs),
    /// Figure 3: from a 201 to the event listed, through the running local pipeline.
    E2e(E2eArgs),
    /// Figure 6: the stores at scale beside the same stores small.
    Scale {
        /// Events in the big SQLite file.
        #[arg(default_value_t = 1_000_000)]
        sqlite_events: usize,
        /// Events in the big DynamoDB-API table.
        #[arg(default_value_t = 100_000)]
        dynamodb_events: usize,
        /// Events in each small store.
        #[arg(default_value_t = 20_000)]
        small_events: usize,
    },
    /// Figure 5: from an edit to the first answer from the new code under make dev's rebuild on
    /// change, beside the same incremental cargo build alone.
    Reload {
        /// Edits timed of each kind (one in events-api, one in the shared schema crate).
        #[arg(default_value_t = 3)]
        rounds: usize,
    },
    /// Creates topics on KAFKA_BROKERS, 3 partitions each.
    Topics {
        /// The topics.
        names: Vec<String>,
    },
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// The events-api binary.
    #[arg(long, value_name = "BIN")]
    api: String,
    /// Seconds of load at each concurrency.
    #[arg(long, value_name = "S", default_value_t = 5.0)]
    seconds: f64,
    /// The concurrencies.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    levels: Vec<usize>,
}

#[derive(clap::Args)]
struct EnvironmentArgs {
    /// The events-api binary.
    #[arg(long, value_name = "BIN")]
    api: String,
    /// Seconds of load at each level.
    #[arg(long, value_name = "S", default_value_t = 5.0)]
    seconds: f64,
    /// The invocations at once (`AWS_LAMBDA_MAX_CONCURRENCY`), the first being the baseline.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    levels: Vec<usize>,
}

#[derive(clap::Args)]
struct ColdstartArgs {
    /// The events-api binary.
    #[arg(long, value_name = "BIN")]
    api: String,
    /// The events-processor binary.
    #[arg(long, value_name = "BIN")]
    processor: String,
    /// The hello-world Lambda binary (hello-lambda).
    #[arg(long, value_name = "BIN")]
    hello: String,
    /// Cold starts of each.
    #[arg(long, value_name = "N", default_value_t = 10)]
    runs: usize,
}

#[derive(clap::Args)]
struct E2eArgs {
    /// The running pipeline's events-api.
    #[arg(long, value_name = "URL")]
    base: String,
    /// The events-api binary, started here to poll the listing.
    #[arg(long, value_name = "BIN")]
    api: String,
    /// The pipeline's STORE_URL.
    #[arg(long, value_name = "URL")]
    store: String,
    /// Events sent.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    events: usize,
    /// Events sent per second.
    #[arg(long, value_name = "PER_S", default_value_t = 10.0)]
    rate: f64,
    /// The trigger's batching window the pipeline runs with, in ms (the figure's baseline).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    window_ms: u64,
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
    match Cli::parse().figure {
        Figure::Processor { records } => processor::processor(records).await,
        Figure::Partial {
            records_per_partition,
        } => partial::partial(records_per_partition).await,
        Figure::Generate(a) => generate(a).await,
        Figure::Scale {
            sqlite_events,
            dynamodb_events,
            small_events,
        } => scale::scale(sqlite_events, dynamodb_events, small_events).await,
        Figure::Coldstart(a) => cold_starts(a).await,
        Figure::Environment(a) => environments(a).await,
        Figure::Reload { rounds } => reload::reload(rounds).await,
        Figure::E2e(a) => e2e(a).await,
        Figure::Topics { names } => {
            for t in &names {
                testkit::kafka::create_topic(&brokers(), t, 3).await;
            }
        }
    }
}

/// Figure 3. The listing is polled through a second events-api (a plain server on the same
/// store), so the polls do not queue in front of the requests being measured.
async fn e2e(a: E2eArgs) {
    let brokers = brokers();
    let (api, store) = (a.api, a.store);
    let lister = testkit::process::Server::start(
        &api,
        &[
            ("KAFKA_BROKERS", brokers.as_str()),
            ("STORE_URL", store.as_str()),
            ("RUST_LOG", "warn"),
            ("AUTH_MODE", "none"),
        ],
    );
    e2e::created_to_listed(&a.base, &lister.base_url, a.events, a.rate, a.window_ms).await;
    lister.terminate();
}

async fn generate(a: GenerateArgs) {
    let topic = fresh_topic("bench-generate").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("sqlite://{}", dir.path().join("api.db").display());
    let (brokers, api) = (brokers(), a.api);
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
    let (levels, seconds) = (a.levels, a.seconds);
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

/// What the functions run with in figures 4 and 8: fresh topics (`PREFIX`, `PREFIX-dlq`) on the
/// local broker, and nobody identified.
async fn function_settings(prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("KAFKA_BROKERS", brokers()),
        ("KAFKA_TOPIC", fresh_topic(prefix).await),
        (
            "KAFKA_DLQ_TOPIC",
            fresh_topic(&format!("{prefix}-dlq")).await,
        ),
        ("AUTH_MODE", "none".to_owned()),
    ]
}

async fn environments(a: EnvironmentArgs) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = function_settings("bench-environment").await;
    env.push((
        "STORE_URL",
        format!("sqlite://{}", dir.path().join("events.db").display()),
    ));
    environment::environment(&a.api, &a.levels, Duration::from_secs_f64(a.seconds), &env).await;
}

async fn cold_starts(a: ColdstartArgs) {
    let runs = a.runs;
    let env = function_settings("bench-coldstart").await;
    let dir = tempfile::tempdir().expect("tempdir");

    let hello = coldstart::summary(
        &a.hello,
        runs,
        r#"{"hello":"world"}"#,
        &[],
        None,
        |answer| assert_eq!(answer, r#"{"hello":"world"}"#, "hello-lambda echoes"),
    )
    .await;

    let generate =
        include_str!("../../../functions/events-api/tests/data/function-url-post-generate.json");
    let api = coldstart::summary(&a.api, runs, generate, &env, Some(dir.path()), |answer| {
        let status = serde_json::from_str::<serde_json::Value>(answer)
            .ok()
            .and_then(|v| v.get("statusCode").and_then(|s| s.as_u64()));
        assert_eq!(status, Some(201), "events-api's first answer: {answer}");
    })
    .await;

    let batch = serde_json::to_string(&batch::msk_batch(100)).expect("batch json");
    let processor = coldstart::summary(
        &a.processor,
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
        &a.api,
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
