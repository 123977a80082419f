//! Who may read and write, against real parts: the plain server in `jwt` mode (its production
//! `serve`, settings read by `Config`), a local OpenID Connect issuer whose keys are made at test
//! time and published over HTTP on 127.0.0.1, an SQLite file and the broker (`make kafka`).

use dev_issuer::{Issuer, SigningKey};
use event_auth::{Authenticator, JwksPolicy};
use event_kafka::{KafkaConfig, KafkaPublisher};
use event_store::EventWriter;
use event_store::SqliteStore;
use events_api::{serve, App, Config};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use testkit::kafka::{brokers, create_topic, read_topic, unique_topic};

const AUDIENCE: &str = "events-web";

struct Api {
    base: String,
    issuer: Issuer,
    app: Arc<App<SqliteStore, KafkaPublisher>>,
    topic: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The server with `settings` on top of jwt mode for a new issuer, keys fetched within `policy`.
/// Keys fetched at most every `ms` milliseconds.
fn fetching_every(ms: u64) -> JwksPolicy {
    JwksPolicy {
        min_interval: Duration::from_millis(ms),
        ..JwksPolicy::default()
    }
}

/// The status of a LOGIN alice posts with a fresh token of hers.
async fn alice_posts(api: &Api) -> u16 {
    api.post(Some(&api.token("alice", "")), login("alice"), None)
        .await
        .0
}

async fn api(settings: &[(&str, &str)], policy: JwksPolicy) -> Api {
    api_keeping_keys(settings, policy, None).await
}

/// [`api`], trusting fetched keys for `max_age` when given (the setting's floor is a minute,
/// which a test would wait out).
async fn api_keeping_keys(
    settings: &[(&str, &str)],
    policy: JwksPolicy,
    max_age: Option<Duration>,
) -> Api {
    let issuer = Issuer::start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("issuer");
    let topic = unique_topic("auth");
    create_topic(&brokers(), &topic, 1).await;
    let mut env = vec![
        ("AUTH_MODE", "jwt"),
        ("JWT_ISSUER", issuer.url()),
        ("JWT_AUDIENCE", AUDIENCE),
    ];
    env.splice(0..0, settings.iter().copied());
    let mut config =
        Config::from_parts(env.as_slice(), Some(([127, 0, 0, 1], 0).into())).expect("config");
    if let (Some(age), event_auth::AuthConfig::Jwt(jwt)) = (max_age, &mut config.auth) {
        jwt.keys_max_age = age;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("events.db")).expect("sqlite");
    let kafka = KafkaConfig {
        brokers: brokers(),
        topic: topic.clone(),
        ..KafkaConfig::default()
    };
    let publisher = KafkaPublisher::new(kafka, Default::default(), "auth-test").expect("producer");
    let mut app = App::new(store, publisher);
    app.auth = Authenticator::new(config.auth, policy).expect("the key fetcher is built");
    let app = Arc::new(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(serve(
        listener,
        Arc::clone(&app),
        &[],
        std::future::pending(),
    ));
    Api {
        base,
        issuer,
        app,
        topic,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl Api {
    async fn post(
        &self,
        token: Option<&str>,
        body: Value,
        key: Option<&str>,
    ) -> (u16, String, Value) {
        let mut req = self
            .http
            .post(format!("{}/events/generate", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        answer(req).await
    }

    async fn list(&self, token: Option<&str>, query: &str) -> (u16, String, Value) {
        let mut req = self
            .http
            .get(format!("{}/events/processed{query}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        answer(req).await
    }

    fn token(&self, user: &str, scope: &str) -> String {
        self.issuer.token(user, AUDIENCE, scope)
    }

    fn claims(&self, user: &str) -> Value {
        dev_issuer::claims(self.issuer.url(), user, AUDIENCE, "")
    }
}

/// Status, `WWW-Authenticate`, body.
async fn answer(req: reqwest::RequestBuilder) -> (u16, String, Value) {
    let res = req.send().await.expect("the server answers");
    let status = res.status().as_u16();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, challenge, res.json().await.unwrap_or(Value::Null))
}

fn login(user: &str) -> Value {
    json!({"userId": user, "eventType": "LOGIN"})
}

fn users(page: &Value) -> Vec<String> {
    let mut u: Vec<String> = page
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["userId"].as_str().map(str::to_owned))
        .collect();
    u.sort();
    u.dedup();
    u
}

/// HS256 over the token's first two parts, keyed with the bytes of the published key: the
/// classic confusion of a verifier that lets the token choose the algorithm.
fn hs256_with_public_key(key: &SigningKey, claims: &Value) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(json!({"alg": "HS256", "kid": key.kid(), "typ": "JWT"}).to_string());
    let input = format!("{header}.{}", b64.encode(claims.to_string()));
    let secret = key.jwk().to_string();
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()),
        input.as_bytes(),
    );
    format!("{input}.{}", b64.encode(mac.as_ref()))
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn every_token_that_is_not_right_is_refused_with_a_bearer_challenge() {
    let api = api(&[], JwksPolicy::default()).await;
    let now = dev_issuer::unix_now();
    let key = api.issuer.key();
    let shaped = |change: &dyn Fn(&mut Value)| {
        let mut c = api.claims("alice");
        change(&mut c);
        key.token(&c)
    };
    let stranger = SigningKey::es256(key.kid()).expect("key");
    let rsa = SigningKey::rs256("rsa-unpublished").expect("openssl makes an RSA key");
    let b64 = |v: Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let cases: Vec<(&str, String)> = vec![
        ("expired", shaped(&|c| c["exp"] = json!(now - 3600))),
        ("not yet valid", shaped(&|c| c["nbf"] = json!(now + 3600))),
        (
            "no expiry",
            shaped(&|c| {
                c.as_object_mut().map(|o| o.remove("exp"));
            }),
        ),
        (
            "another audience",
            shaped(&|c| {
                c["aud"] = json!("another-app");
                c["client_id"] = json!("another-app");
            }),
        ),
        (
            "another issuer",
            shaped(&|c| c["iss"] = json!("http://127.0.0.1:1")),
        ),
        (
            "no user claim",
            shaped(&|c| {
                c.as_object_mut().map(|o| o.remove("sub"));
            }),
        ),
        (
            "a key not published, under a published kid",
            stranger.token(&api.claims("alice")),
        ),
        (
            "an RSA key nobody published",
            rsa.token(&api.claims("alice")),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(json!({"alg": "none"})),
                b64(api.claims("alice"))
            ),
        ),
        (
            "HS256 keyed with the public key",
            hs256_with_public_key(key, &api.claims("alice")),
        ),
        ("a signature of another token", {
            let good = key.token(&api.claims("alice"));
            let other = key.token(&api.claims("mallory"));
            let sig = good.rsplit('.').next().unwrap_or_default().to_owned();
            let (unsigned, _) = other.rsplit_once('.').unwrap_or_default();
            format!("{unsigned}.{sig}")
        }),
        ("garbage", "not-a-token".to_owned()),
        ("three dots of garbage", "a.b.c".to_owned()),
    ];
    for (name, token) in &cases {
        let (status, challenge, body) = api.post(Some(token), login("alice"), None).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(body["error"], "unauthorized", "{name}");
        assert!(
            challenge.starts_with("Bearer realm=\"events-api\"")
                && challenge.contains("error=\"invalid_token\""),
            "{name}: {challenge}"
        );
        let (status, _, _) = api.list(Some(token), "").await;
        assert_eq!(status, 401, "{name}: listing");
    }
    // No credentials: a bare challenge (RFC 6750 section 3.1), for both routes.
    let (status, challenge, body) = api.post(None, login("alice"), None).await;
    assert_eq!(
        (status, challenge.as_str()),
        (401, "Bearer realm=\"events-api\""),
        "{body}"
    );
    let (status, _, _) = api.list(None, "").await;
    assert_eq!(status, 401);
    // Another scheme is refused as a bad credential.
    let basic = api
        .http
        .get(format!("{}/events/processed", api.base))
        .header("authorization", "Basic YWxpY2U6c2VjcmV0");
    assert_eq!(answer(basic).await.0, 401);
    // Health stays open and says only ok or failing.
    let health: Value = api
        .http
        .get(format!("{}/health", api.base))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert!(
        matches!(health["kafka"].as_str(), Some("ok" | "failing")),
        "{health}"
    );
    // The right token goes through; nothing refused was published.
    let (status, _, body) = api
        .post(Some(&api.token("alice", "")), login("alice"), None)
        .await;
    assert_eq!(status, 201, "{body}");
    let records = read_topic(&brokers(), &api.topic, Duration::from_secs(10));
    assert_eq!(records.len(), 1, "only the accepted event is in the topic");
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn users_write_and_read_their_own_and_the_read_all_group_reads_everyones() {
    let api = api(&[("JWT_READ_ALL_GROUP", "auditors")], JwksPolicy::default()).await;
    api.issuer.add_to_group("auditor", "auditors");
    let alice = api.token("alice", "openid");
    let bob = api.token("bob", "");
    let auditor = api.token("auditor", "openid");
    // A scope is what a client asks for, and any user may ask for any: it grants nothing.
    let self_scoped = api.token(
        "mallory",
        "openid events:read:all events-api/events:read:all",
    );
    assert_eq!(api.post(Some(&alice), login("alice"), None).await.0, 201);
    assert_eq!(api.post(Some(&bob), login("bob"), None).await.0, 201);
    let (status, _, body) = api.post(Some(&alice), login("bob"), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, _, body) = api.post(Some(&auditor), login("bob"), None).await;
    assert_eq!(
        status, 403,
        "reading everyone's is not writing for them: {body}"
    );

    // What the processor would store: the events in the topic.
    let stored: Vec<event_schema::UserEvent> =
        read_topic(&brokers(), &api.topic, Duration::from_secs(10))
            .iter()
            .filter_map(|r| r.value.as_deref())
            .map(|v| event_schema::validate_event(v).expect("valid event"))
            .collect();
    assert_eq!(stored.len(), 2);
    api.app.store.insert_batch(&stored).await.expect("store");

    let (status, _, page) = api.list(Some(&alice), "").await;
    assert_eq!((status, users(&page)), (200, vec!["alice".to_owned()]));
    assert_eq!(
        users(&api.list(Some(&alice), "?userId=alice").await.2),
        ["alice"]
    );
    let (status, _, body) = api.list(Some(&alice), "?userId=bob").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, _, page) = api.list(Some(&auditor), "").await;
    assert_eq!(
        (status, users(&page)),
        (200, vec!["alice".to_owned(), "bob".to_owned()])
    );
    assert_eq!(
        users(&api.list(Some(&auditor), "?userId=bob").await.2),
        ["bob"]
    );
    let (status, _, page) = api.list(Some(&self_scoped), "").await;
    assert_eq!(
        (status, users(&page)),
        (200, Vec::<String>::new()),
        "only its own (none)"
    );
    let (status, _, body) = api.list(Some(&self_scoped), "?userId=bob").await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn without_a_read_all_group_nobody_reads_everyones_whatever_the_token_says() {
    // JWT_READ_ALL_GROUP unset, or set empty: nobody.
    for settings in [&[][..], &[("JWT_READ_ALL_GROUP", "")][..]] {
        let api = api(settings, JwksPolicy::default()).await;
        api.issuer.add_to_group("auditor", "auditors");
        let mut claims = api.claims("auditor");
        claims["cognito:groups"] = json!(["auditors", "admin"]);
        claims["scope"] = json!("events:read:all");
        let token = api.issuer.key().token(&claims);
        let (status, _, body) = api.list(Some(&token), "?userId=bob").await;
        assert_eq!(status, 403, "{settings:?}: {body}");
    }
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn an_id_token_is_refused_where_access_tokens_are_taken_unless_configured() {
    let access = api(&[], JwksPolicy::default()).await;
    let mut id = access.claims("alice");
    id["token_use"] = json!("id");
    let id_token = access.issuer.key().token(&id);
    let (status, challenge, body) = access.post(Some(&id_token), login("alice"), None).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        challenge.contains("kind this API does not take"),
        "{challenge}"
    );
    let ids = api(&[("JWT_TOKEN_USE", "id")], JwksPolicy::default()).await;
    let mut id = ids.claims("alice");
    id["token_use"] = json!("id");
    let (status, _, body) = ids
        .post(Some(&ids.issuer.key().token(&id)), login("alice"), None)
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, _) = ids
        .post(Some(&ids.token("alice", "")), login("alice"), None)
        .await;
    assert_eq!(status, 401, "an access token where ID tokens are taken");
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn an_idempotency_key_answers_only_the_caller_that_used_it() {
    let api = api(&[], JwksPolicy::default()).await;
    let alice = api.token("alice", "");
    let bob = api.token("bob", "");
    let (status, _, first) = api.post(Some(&alice), login("alice"), Some("k-1")).await;
    assert_eq!(status, 201, "{first}");
    // Another caller with the same key: neither the first answer replayed, nor a 422.
    let (status, _, other) = api.post(Some(&bob), login("bob"), Some("k-1")).await;
    assert_eq!(status, 201, "{other}");
    assert_ne!(other["eventId"], first["eventId"]);
    // Another caller cannot even name alice's user to reach her key.
    assert_eq!(
        api.post(Some(&bob), login("alice"), Some("k-1")).await.0,
        403
    );
    // The first caller's retry replays her own event.
    let (status, _, again) = api.post(Some(&alice), login("alice"), Some("k-1")).await;
    assert_eq!((status, &again), (201, &first));
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn a_key_published_later_is_accepted_and_unknown_kids_cost_the_issuer_a_few_fetches() {
    let api = api(&[], fetching_every(500)).await;
    assert_eq!(alice_posts(&api).await, 201);
    assert_eq!(
        api.issuer.jwks_fetches(),
        1,
        "the first token fetched the keys once"
    );

    // Rotation: a new key is published; a token signed with it is accepted once the keys are
    // fetched again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let rotated = SigningKey::rs256("k2").expect("key");
    let signed_by_k2 = rotated.token(&api.claims("alice"));
    api.issuer.publish(rotated);
    let claims = api.claims("alice");
    let (status, _, body) = api.post(Some(&signed_by_k2), login("alice"), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(api.issuer.jwks_fetches(), 2);

    // A flood of tokens naming keys nobody published, 16 clients sending 20 each back to back:
    // all refused, and the issuer asked again at most once per interval (0.5 s here; 10 s by
    // default). Without the interval each round of them would fetch again.
    let started = std::time::Instant::now();
    let flood: Vec<_> = (0..16)
        .map(|client| {
            let tokens: Vec<String> = (0..20)
                .map(|i| {
                    let key = SigningKey::es256(&format!("made-up-{client}-{i}")).expect("key");
                    key.token(&claims)
                })
                .collect();
            let http = api.http.clone();
            let url = format!("{}/events/processed", api.base);
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for token in tokens {
                    let status = http
                        .get(&url)
                        .header("authorization", format!("Bearer {token}"))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    statuses.push(status);
                }
                statuses
            })
        })
        .collect();
    for t in flood {
        assert!(t.await.expect("task").iter().all(|s| *s == 401));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let fetches = api.issuer.jwks_fetches() - 2;
    let allowed = (elapsed / 0.5).ceil() as u64 + 1;
    assert!(
        fetches <= allowed,
        "{fetches} fetches for 320 unknown kids in {elapsed:.2} s (at most {allowed})"
    );
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn inline_keys_need_no_fetch() {
    // The issuer's keys given inline, and its URL unreachable for fetching.
    let issuer = Issuer::start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("issuer");
    let jwks = issuer.jwks().to_string();
    let api = api(
        &[
            ("JWT_JWKS", &jwks),
            ("JWT_JWKS_URL", "http://127.0.0.1:9/nothing"),
        ],
        JwksPolicy::default(),
    )
    .await;
    // The server's issuer is its own; sign with the inline issuer's key for that issuer.
    let token = issuer
        .key()
        .token(&dev_issuer::claims(api.issuer.url(), "alice", AUDIENCE, ""));
    let (status, _, body) = api.post(Some(&token), login("alice"), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(api.issuer.jwks_fetches() + issuer.jwks_fetches(), 0);
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn an_unreachable_issuer_is_a_503_to_retry_not_a_refusal() {
    // Nothing listens where the keys are said to be.
    let api = api(
        &[("JWT_JWKS_URL", "http://127.0.0.1:9/jwks.json")],
        JwksPolicy::default(),
    )
    .await;
    let token = api.token("alice", "");
    for _ in 0..3 {
        let res = api
            .http
            .post(format!("{}/events/generate", api.base))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(login("alice").to_string())
            .send()
            .await
            .expect("answers");
        assert_eq!(res.status(), 503);
        assert!(res.headers().contains_key("retry-after"));
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"], "identity_provider_unavailable");
    }
    assert!(read_topic(&brokers(), &api.topic, Duration::from_secs(5)).is_empty());
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn a_withdrawn_key_stops_being_trusted_once_the_keys_are_past_their_age() {
    let api = api_keeping_keys(&[], fetching_every(200), Some(Duration::from_secs(1))).await;
    let signed = api.token("alice", "");
    assert_eq!(api.post(Some(&signed), login("alice"), None).await.0, 201);
    // The issuer withdraws k1 (compromised, say) and publishes k2.
    api.issuer.withdraw("k1");
    api.issuer.publish(SigningKey::es256("k2").expect("key"));
    // Within the keys' age the instance still holds k1; past it, they are fetched again in the
    // background, and k1 is gone.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let _ = api.post(Some(&signed), login("alice"), None).await;
    let mut refused = false;
    for _ in 0..50 {
        if api.post(Some(&signed), login("alice"), None).await.0 == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        refused,
        "a token signed with the withdrawn key is still accepted"
    );
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn new_material_under_a_known_kid_is_fetched_when_its_signature_fails() {
    let api = api(&[], fetching_every(200)).await;
    assert_eq!(alice_posts(&api).await, 201);
    // The issuer replaces k1's material; tokens signed with the new k1 verify after one fetch.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let renewed = SigningKey::es256("k1").expect("key");
    let token = renewed.token(&api.claims("alice"));
    api.issuer.publish(renewed);
    let (status, _, body) = api.post(Some(&token), login("alice"), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(api.issuer.jwks_fetches(), 2);
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn a_shorter_cache_control_max_age_from_the_issuer_wins() {
    let api = api_keeping_keys(&[], fetching_every(100), Some(Duration::from_secs(3600))).await;
    // max-age=0 counts as the fetch interval: the keys are due again at once.
    api.issuer.set_jwks_max_age(Some(0));
    let token = api.token("alice", "");
    assert_eq!(api.post(Some(&token), login("alice"), None).await.0, 201);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        assert_eq!(api.post(Some(&token), login("alice"), None).await.0, 201);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        api.issuer.jwks_fetches() >= 3,
        "an hour's age was kept despite max-age: {} fetches",
        api.issuer.jwks_fetches()
    );
}

#[tokio::test]
#[ignore = "needs a Kafka broker: `make kafka`"]
async fn the_key_fetcher_follows_no_redirect() {
    // JWT_JWKS_URL answers with a redirect to the issuer's real key set.
    let issuer = Issuer::start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("issuer");
    let target = format!("{}/jwks.json", issuer.url());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let redirector = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    let app = axum::Router::new().fallback(move || {
        let target = target.clone();
        async move { axum::response::Redirect::temporary(&target) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let api = api(&[("JWT_JWKS_URL", &redirector)], JwksPolicy::default()).await;
    let token = issuer
        .key()
        .token(&dev_issuer::claims(api.issuer.url(), "alice", AUDIENCE, ""));
    let (status, _, body) = api.post(Some(&token), login("alice"), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("identity_provider_unavailable")),
        "the redirect was followed: {body}"
    );
    assert_eq!(issuer.jwks_fetches(), 0);
}
