//! Every setting of the HTTP function, read once at start-up.

use event_auth::AuthConfig;
use event_kafka::KafkaConfig;
use pipeline_runtime::env::{self, ProcessEnv, Source};
use pipeline_runtime::metrics::MetricsConfig;
use pipeline_runtime::ConfigError;
use std::net::SocketAddr;

use event_store::DEFAULT_STORE_URL;

/// How the process serves the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Under a Lambda runtime API (`AWS_LAMBDA_RUNTIME_API` set: AWS, `cargo lambda watch`).
    Lambda,
    /// A plain HTTP server on this address (`--listen ADDR`, else `PORT`).
    Server(SocketAddr),
}

/// The HTTP function's settings. Each field names its variable; what each means and its default
/// are in docs/configuration.md, which a test holds to this code's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// `KAFKA_*`.
    pub kafka: KafkaConfig,
    /// `STORE_URL`: where processed events are listed from.
    pub store_url: String,
    /// Lambda or plain server.
    pub mode: Mode,
    /// `CORS_ALLOWED_ORIGINS` (none: no CORS answers).
    pub cors_allowed_origins: Vec<String>,
    /// `IDEMPOTENCY_TTL_SECONDS`: how long an `Idempotency-Key` is remembered.
    pub idempotency_ttl: std::time::Duration,
    /// `METRICS_NAMESPACE`, `METRICS`.
    pub metrics: MetricsConfig,
    /// `AUTH_MODE` and `JWT_*`: who callers are.
    pub auth: AuthConfig,
}

/// The events API: under a Lambda runtime (Function URL events), or as a plain HTTP server.
/// Under Lambda the command line is empty.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(name = "events-api", version)]
pub struct Args {
    /// Serve plain HTTP on this address (e.g. 127.0.0.1:3000) instead of under a Lambda
    /// runtime; without it, `PORT` (on all interfaces) when no runtime API is set.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Ask the running server's `GET /health` (at the address it listens on) and exit 0 only
    /// on 200: a container's HEALTHCHECK, where the image has no shell or curl.
    #[arg(long)]
    pub health_check: bool,
}

impl Config {
    /// Reads the process environment; `listen` is the `--listen` address, if given.
    pub fn from_env(listen: Option<SocketAddr>) -> Result<Self, ConfigError> {
        Self::from_parts(&ProcessEnv, listen)
    }

    /// Reads settings from any source (tests pass a fixed list).
    pub fn from_parts(
        src: &(impl Source + ?Sized),
        listen: Option<SocketAddr>,
    ) -> Result<Self, ConfigError> {
        let mode = mode(src, listen)?;
        let kafka = KafkaConfig::from_source(src)?;
        // One invocation at a time (Lambda's default model) never has a second event to batch
        // with the first: it sends at once.
        let kafka = if mode == Mode::Lambda && invocations_at_once(src) == 1 {
            kafka.one_at_a_time()
        } else {
            kafka
        };
        let store_url = env::string(src, "STORE_URL", DEFAULT_STORE_URL);
        let cors_allowed_origins = cors_origins(src)?;
        let idempotency_ttl = idempotency_ttl(src)?;
        // A key must outlive the lease of the request that holds it: a key forgotten while
        // leased lets a new request record it, and the late one could finish the new claim.
        let lease = crate::KeyPolicy::new(idempotency_ttl, kafka.produce_timeout).lease;
        if idempotency_ttl <= lease {
            return Err(ConfigError::new(
                "IDEMPOTENCY_TTL_SECONDS",
                format!(
                    "{} s is not longer than a key's lease ({} s: KAFKA_PRODUCE_TIMEOUT_MS plus {} s); \
                     remember keys longer or wait less for Kafka",
                    idempotency_ttl.as_secs(),
                    lease.as_secs_f64(),
                    crate::KeyPolicy::LEASE_MARGIN.as_secs()
                ),
            ));
        }
        let metrics = MetricsConfig::from_source(src)?;
        let allow_anonymous: bool =
            env::parse(src, "ALLOW_ANONYMOUS_ACCESS", false, "true or false")?;
        // Read last: with the default mode, a missing JWT_ISSUER stops here.
        let auth = AuthConfig::from_source(src)?;
        if let (AuthConfig::None, Mode::Server(addr)) = (&auth, &mode) {
            if !addr.ip().is_loopback() && !allow_anonymous {
                return Err(ConfigError::new(
                    "ALLOW_ANONYMOUS_ACCESS",
                    format!(
                        "AUTH_MODE=none lets anyone who reaches {addr} read every user's events \
                         and write events for any user; listen on 127.0.0.1 only, choose jwt, or \
                         set ALLOW_ANONYMOUS_ACCESS=true where only trusted callers can reach it"
                    ),
                ));
            }
        }
        if matches!(auth, AuthConfig::Iam(_)) && matches!(mode, Mode::Server(_)) {
            return Err(ConfigError::new(
                "AUTH_MODE",
                "iam needs a Lambda Function URL with AuthType AWS_IAM, which checks the \
                 signature; a plain server cannot know who signed (use jwt or none)",
            ));
        }
        Ok(Self {
            kafka,
            store_url,
            mode,
            cors_allowed_origins,
            idempotency_ttl,
            metrics,
            auth,
        })
    }
}

/// How long an `Idempotency-Key` is remembered unless `IDEMPOTENCY_TTL_SECONDS` says otherwise.
pub const DEFAULT_IDEMPOTENCY_TTL: std::time::Duration = std::time::Duration::from_secs(86_400);

/// `IDEMPOTENCY_TTL_SECONDS`: a minute to 30 days, [`DEFAULT_IDEMPOTENCY_TTL`] unless set.
fn idempotency_ttl(src: &(impl Source + ?Sized)) -> Result<std::time::Duration, ConfigError> {
    const NAME: &str = "IDEMPOTENCY_TTL_SECONDS";
    let default = DEFAULT_IDEMPOTENCY_TTL.as_secs();
    let secs: u64 = env::parse(src, NAME, default, "a whole number of seconds")?;
    if !(60..=2_592_000).contains(&secs) {
        return Err(ConfigError::new(
            NAME,
            format!("{secs} s is out of range; use 60 to 2592000 s (30 days)"),
        ));
    }
    Ok(std::time::Duration::from_secs(secs))
}

fn cors_origins(src: &(impl Source + ?Sized)) -> Result<Vec<String>, ConfigError> {
    let raw = env::string(src, "CORS_ALLOWED_ORIGINS", "");
    let origins: Vec<String> = raw
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    for o in &origins {
        let valid = o == "*"
            || ((o.starts_with("http://") || o.starts_with("https://"))
                && axum::http::HeaderValue::from_str(o).is_ok());
        if !valid {
            return Err(ConfigError::new(
                "CORS_ALLOWED_ORIGINS",
                format!("{o:?} is not an origin like https://app.example.com (or *)"),
            ));
        }
    }
    Ok(origins)
}

/// How many invocations Lambda hands the environment at once, read as `lambda_runtime` reads
/// `AWS_LAMBDA_MAX_CONCURRENCY`: a whole number above 0, else one at a time.
fn invocations_at_once(src: &(impl Source + ?Sized)) -> u32 {
    src.get("AWS_LAMBDA_MAX_CONCURRENCY")
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

fn mode(src: &(impl Source + ?Sized), listen: Option<SocketAddr>) -> Result<Mode, ConfigError> {
    if let Some(addr) = listen {
        return Ok(Mode::Server(addr));
    }
    if src.get("AWS_LAMBDA_RUNTIME_API").is_some() {
        return Ok(Mode::Lambda);
    }
    let port: u16 = env::parse(src, "PORT", 3000, "a TCP port number")?;
    let host = if src.get("PORT").is_some() {
        // Containers publish the port from outside: listen on every interface.
        [0, 0, 0, 0]
    } else {
        [127, 0, 0, 1]
    };
    Ok(Mode::Server(SocketAddr::from((host, port))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Args, clap::Error> {
        use clap::Parser as _;
        Args::try_parse_from(std::iter::once("events-api").chain(a.iter().copied()))
    }

    #[test]
    fn listen_flag_wins_over_lambda_and_port() {
        let src: &[(&str, &str)] = &[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("PORT", "8080"),
            ("AUTH_MODE", "none"),
        ];
        let listen = args(&["--listen", "127.0.0.1:0"]).expect("args").listen;
        let c = Config::from_parts(src, listen).expect("config");
        assert_eq!(c.mode, Mode::Server("127.0.0.1:0".parse().expect("addr")));
        let c = Config::from_parts(src, None).expect("config");
        assert_eq!(c.mode, Mode::Lambda);
    }

    #[test]
    fn only_one_invocation_at_a_time_sends_without_a_linger() {
        let linger = |vars: &[(&str, &str)], listen: Option<&str>| {
            let mut src = vec![("AUTH_MODE", "none")];
            src.extend_from_slice(vars);
            let listen = listen.map(|a| a.parse().expect("addr"));
            Config::from_parts(&src[..], listen)
                .expect("config")
                .kafka
                .linger
        };
        let lambda = ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
        let (none, batching) = (std::time::Duration::ZERO, event_kafka::BATCHING_LINGER);
        assert_eq!(linger(&[lambda], None), none, "Lambda's default model");
        for one in ["1", "0", "x", "-3"] {
            let vars = [lambda, ("AWS_LAMBDA_MAX_CONCURRENCY", one)];
            assert_eq!(linger(&vars, None), none, "{one:?} runs sequentially");
        }
        let vars = [lambda, ("AWS_LAMBDA_MAX_CONCURRENCY", "8")];
        assert_eq!(linger(&vars, None), batching, "managed instances");
        assert_eq!(linger(&[], Some("127.0.0.1:0")), batching, "a server");
        assert_eq!(linger(&[lambda], Some("127.0.0.1:0")), batching);
    }

    #[test]
    fn port_listens_on_all_interfaces_and_defaults_apply() {
        let src: &[(&str, &str)] = &[
            ("PORT", "8080"),
            ("AUTH_MODE", "none"),
            ("ALLOW_ANONYMOUS_ACCESS", "true"),
        ];
        let c = Config::from_parts(src, None).expect("config");
        assert_eq!(c.mode, Mode::Server("0.0.0.0:8080".parse().expect("addr")));
        assert_eq!(c.store_url, DEFAULT_STORE_URL);
        assert_eq!(c.kafka.topic, "user-activity-events");
    }

    #[test]
    fn anonymous_access_stays_on_this_machine_unless_allowed() {
        // Every interface: refused without the explicit choice.
        let src: &[(&str, &str)] = &[("PORT", "8080"), ("AUTH_MODE", "none")];
        let err = Config::from_parts(src, None).expect_err("open to the network");
        assert_eq!(err.var, "ALLOW_ANONYMOUS_ACCESS");
        let listen = Some("192.0.2.10:3000".parse().expect("addr"));
        let src: &[(&str, &str)] = &[("AUTH_MODE", "none")];
        assert!(Config::from_parts(src, listen).is_err());
        // Loopback needs no choice; an explicit empty value means the default, false.
        assert!(Config::from_parts(src, Some("127.0.0.1:0".parse().expect("addr"))).is_ok());
        let src: &[(&str, &str)] = &[
            ("PORT", "8080"),
            ("AUTH_MODE", "none"),
            ("ALLOW_ANONYMOUS_ACCESS", ""),
        ];
        assert!(Config::from_parts(src, None).is_err());
    }

    #[test]
    fn cors_origins_are_a_checked_list() {
        let src: &[(&str, &str)] = &[
            (
                "CORS_ALLOWED_ORIGINS",
                "http://127.0.0.1:8080, https://app.example.com/",
            ),
            ("AUTH_MODE", "none"),
        ];
        let c = Config::from_parts(src, None).expect("config");
        assert_eq!(
            c.cors_allowed_origins,
            ["http://127.0.0.1:8080", "https://app.example.com"]
        );
        let src: &[(&str, &str)] = &[("CORS_ALLOWED_ORIGINS", "app.example.com")];
        assert_eq!(
            Config::from_parts(src, None).expect_err("bad").var,
            "CORS_ALLOWED_ORIGINS"
        );
    }

    #[test]
    fn jwt_is_the_default_and_iam_needs_a_lambda_function_url() {
        let empty: &[(&str, &str)] = &[];
        assert_eq!(
            Config::from_parts(empty, None).expect_err("no issuer").var,
            "JWT_ISSUER"
        );
        let src: &[(&str, &str)] = &[("AUTH_MODE", "iam")];
        assert_eq!(
            Config::from_parts(src, None).expect_err("plain server").var,
            "AUTH_MODE"
        );
        let src: &[(&str, &str)] = &[
            ("AUTH_MODE", "iam"),
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ];
        assert_eq!(
            Config::from_parts(src, None).map(|c| c.auth),
            Ok(AuthConfig::Iam(event_auth::IamConfig::default()))
        );
    }

    #[test]
    fn a_key_must_outlive_its_lease() {
        let src: &[(&str, &str)] = &[
            ("AUTH_MODE", "none"),
            ("IDEMPOTENCY_TTL_SECONDS", "60"),
            ("KAFKA_PRODUCE_TIMEOUT_MS", "58000"),
        ];
        let err = Config::from_parts(src, None).expect_err("lease reaches the TTL");
        assert_eq!(err.var, "IDEMPOTENCY_TTL_SECONDS");
        let src: &[(&str, &str)] = &[
            ("AUTH_MODE", "none"),
            ("IDEMPOTENCY_TTL_SECONDS", "60"),
            ("KAFKA_PRODUCE_TIMEOUT_MS", "57000"),
        ];
        assert!(Config::from_parts(src, None).is_ok());
    }

    #[test]
    fn bad_values_name_their_source() {
        let src: &[(&str, &str)] = &[("PORT", "eighty")];
        assert_eq!(Config::from_parts(src, None).expect_err("bad").var, "PORT");
        let empty: &[(&str, &str)] = &[];
        assert!(Config::from_parts(empty, None).is_err(), "no issuer");
        let err = args(&["--listen", "nope"]).expect_err("bad").to_string();
        assert!(err.contains("--listen") && err.contains("nope"), "{err}");
        let err = args(&["--verbose"]).expect_err("bad").to_string();
        assert!(err.contains("--verbose"), "{err}");
        let both = args(&["--listen=0.0.0.0:3000", "--health-check"]).expect("args");
        assert!(both.health_check);
        assert_eq!(both.listen, Some("0.0.0.0:3000".parse().expect("addr")));
    }
}
