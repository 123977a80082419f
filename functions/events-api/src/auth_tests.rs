//! The access rules under the Lambda event shape: Function URL requests (payload format 2.0) as
//! lambda_http hands them to the router, with the IAM signer in `requestContext.authorizer.iam`
//! (`AUTH_MODE=iam`) or a bearer token in the headers (`AUTH_MODE=jwt`, keys given inline).

use crate::{router, App};
use axum::body::Body;
use axum::http::{Response, StatusCode};
use dev_issuer::SigningKey;
use event_auth::jwk::KeySet;
use event_auth::{
    AuthConfig, Authenticator, ClaimRules, IamConfig, JwksPolicy, JwtConfig, KeySource, TokenUse,
};
use event_kafka::MemoryPublisher;
use event_store::EventWriter;
use event_store::MemoryStore;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "app";

fn app(auth: AuthConfig) -> Arc<App<MemoryStore, MemoryPublisher>> {
    let mut app = App::new(MemoryStore::default(), MemoryPublisher::default());
    app.auth = Authenticator::new(auth, JwksPolicy::default()).expect("built");
    Arc::new(app)
}

/// A Function URL event for `method path`, with these headers, body and IAM signer.
fn event(
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
    signer: Option<&str>,
) -> axum::http::Request<lambda_http::Body> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut h =
        json!({"content-type": "application/json", "host": "abc.lambda-url.eu-west-1.on.aws"});
    for (k, v) in headers {
        h[*k] = Value::from(*v);
    }
    let mut context = json!({
        "accountId": "123456789012",
        "apiId": "abc",
        "domainName": "abc.lambda-url.eu-west-1.on.aws",
        "domainPrefix": "abc",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.24", "userAgent": "test"},
        "requestId": "r-1",
        "routeKey": "$default",
        "stage": "$default",
        "time": "03/Dec/2026:10:00:00 +0000",
        "timeEpoch": 1_796_292_000_000_i64,
    });
    if let Some(arn) = signer {
        context["authorizer"] = json!({"iam": {
            "accessKey": "ASIAEXAMPLE", "accountId": "123456789012", "callerId": "AROAEXAMPLE:s",
            "cognitoIdentity": null, "principalOrgId": null, "userArn": arn, "userId": "AROAEXAMPLE:s",
        }});
    }
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": h,
        "requestContext": context,
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false,
    });
    lambda_http::request::from_str(&event.to_string()).expect("lambda_http reads the event")
}

async fn answer(
    app: &Arc<App<MemoryStore, MemoryPublisher>>,
    req: axum::http::Request<lambda_http::Body>,
) -> (StatusCode, Response<Body>, Value) {
    let res = router(Arc::clone(app))
        .oneshot(req)
        .await
        .expect("infallible");
    let status = res.status();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, Response::from_parts(parts, Body::empty()), value)
}

fn login(user: &str) -> Value {
    json!({"userId": user, "eventType": "LOGIN"})
}

#[tokio::test]
async fn iam_mode_trusts_the_signer_the_function_url_checked_and_refuses_unsigned_requests() {
    let app = app(AuthConfig::Iam(IamConfig::default()));
    let writer = Some("arn:aws:sts::123456789012:assumed-role/writer/s1");
    let (status, _, body) = answer(
        &app,
        event(
            "POST",
            "/events/generate",
            &[],
            Some(login("anyone")),
            writer,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, body) =
        answer(&app, event("GET", "/events/processed", &[], None, writer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Without a signer (the URL is not AWS_IAM, or the request did not come through it).
    for req in [
        event("POST", "/events/generate", &[], Some(login("anyone")), None),
        event("GET", "/events/processed", &[], None, None),
    ] {
        let (status, res, body) = answer(&app, req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "unauthorized");
        assert_eq!(res.headers()["www-authenticate"], "AWS4-HMAC-SHA256");
    }
    assert_eq!(app.publisher.published().len(), 1);
    let (status, _, _) = answer(&app, event("GET", "/health", &[], None, None)).await;
    assert_eq!(status, StatusCode::OK, "health stays open");
}

#[tokio::test]
async fn two_signers_with_one_key_and_one_user_id_never_see_each_others_answers() {
    let app = app(AuthConfig::Iam(IamConfig::default()));
    let one = Some("arn:aws:sts::123456789012:assumed-role/a/s");
    let two = Some("arn:aws:sts::123456789012:assumed-role/b/s");
    let key = [("idempotency-key", "order-7")];
    let body =
        |n: u32| Some(json!({"userId": "shared", "eventType": "LOGIN", "payload": {"n": n}}));
    let (s1, _, first) = answer(&app, event("POST", "/events/generate", &key, body(1), one)).await;
    let (s2, _, second) = answer(&app, event("POST", "/events/generate", &key, body(2), two)).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::CREATED, StatusCode::CREATED),
        "{first} {second}"
    );
    assert_ne!(first["eventId"], second["eventId"]);
    // Each signer's retry replays its own answer.
    let (_, res, again) = answer(&app, event("POST", "/events/generate", &key, body(2), two)).await;
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    assert_eq!(again, second);
    let (status, _, _) = answer(&app, event("POST", "/events/generate", &key, body(2), one)).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the first signer's key, another body"
    );
    assert_eq!(app.publisher.published().len(), 2);
}

#[tokio::test]
async fn a_key_belongs_to_the_role_so_any_session_of_it_replays_and_another_role_does_not() {
    let app = app(AuthConfig::Iam(IamConfig::default()));
    // Two tasks of one service, or one task before and after its credentials were refreshed:
    // the same role, another session name.
    let task_one = Some("arn:aws:sts::123456789012:assumed-role/writer/task-1");
    let task_two = Some("arn:aws:sts::123456789012:assumed-role/writer/task-2");
    let other_role = Some("arn:aws:sts::123456789012:assumed-role/reporter/task-1");
    let key = [("idempotency-key", "order-8")];
    let body = Some(json!({"userId": "shared", "eventType": "LOGIN"}));
    let post = |signer| event("POST", "/events/generate", &key, body.clone(), signer);
    let (status, _, first) = answer(&app, post(task_one)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, res, retry) = answer(&app, post(task_two)).await;
    assert_eq!(status, StatusCode::CREATED, "{retry}");
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    assert_eq!(
        retry["eventId"], first["eventId"],
        "the same event, not a second one"
    );
    let (status, res, theirs) = answer(&app, post(other_role)).await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");
    assert!(res.headers().get("idempotent-replayed").is_none());
    assert_ne!(
        theirs["eventId"], first["eventId"],
        "another role's key is its own"
    );
    assert_eq!(app.publisher.published().len(), 2);
}

#[tokio::test]
async fn iam_allowed_principals_refuse_every_other_signer_with_403() {
    let app = app(AuthConfig::Iam(IamConfig {
        allowed_principals: vec!["arn:aws:iam::123456789012:role/writer".into()],
    }));
    let writer = Some("arn:aws:sts::123456789012:assumed-role/writer/task-1");
    let other = Some("arn:aws:sts::123456789012:assumed-role/reporter/task-1");
    let (status, _, body) = answer(
        &app,
        event("POST", "/events/generate", &[], Some(login("a")), writer),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for req in [
        event("POST", "/events/generate", &[], Some(login("a")), other),
        event("GET", "/events/processed", &[], None, other),
    ] {
        let (status, _, body) = answer(&app, req).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"], "forbidden");
    }
    assert_eq!(app.publisher.published().len(), 1);
}

#[tokio::test]
async fn jwt_mode_under_the_lambda_shape_applies_the_same_rules() {
    let key = SigningKey::es256("k1").expect("key");
    let jwks = KeySet::parse(json!({"keys": [key.jwk()]}).to_string().as_bytes()).expect("set");
    let app = app(AuthConfig::Jwt(JwtConfig {
        rules: ClaimRules {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            user_claim: "sub".into(),
            groups_claim: "cognito:groups".into(),
            token_use: TokenUse::Access,
        },
        read_all_group: Some("auditors".into()),
        erase_group: Some("erasers".into()),
        keys_max_age: std::time::Duration::from_secs(3600),
        inline_keys: jwks,
        // Nothing listens there: every key this test uses is inline.
        key_source: KeySource::Url("http://127.0.0.1:9/jwks.json".into()),
    }));
    let bearer = |sub: &str, scope: &str| {
        let mut claims = dev_issuer::claims(ISSUER, sub, AUDIENCE, scope);
        if sub == "auditor" {
            claims["cognito:groups"] = json!(["auditors"]);
        }
        if sub == "officer" {
            claims["cognito:groups"] = json!(["erasers"]);
        }
        format!("Bearer {}", key.token(&claims))
    };
    let alice = bearer("alice", "");
    let post = |user: &str, token: Option<&str>| {
        let h: Vec<(&str, &str)> = token.map(|t| ("authorization", t)).into_iter().collect();
        event("POST", "/events/generate", &h, Some(login(user)), None)
    };
    let (status, _, body) = answer(&app, post("alice", Some(&alice))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, body) = answer(&app, post("bob", Some(&alice))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "forbidden");
    let forbidden = body;
    let (status, res, _) = answer(&app, post("alice", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"events-api\""
    );
    let (status, res, _) = answer(&app, post("alice", Some("Bearer x.y.z"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    app.store
        .insert_batch(&app.publisher.published())
        .await
        .expect("store");
    let bob_event = event_schema::validate_request(login("bob").to_string().as_bytes())
        .expect("valid")
        .into_event();
    app.store.insert_batch(&[bob_event]).await.expect("store");
    let get = |q: &str, token: &str| {
        let h = [("authorization", token)];
        event("GET", &format!("/events/processed{q}"), &h, None, None)
    };
    let (status, _, mine) = answer(&app, get("", &alice)).await;
    assert_eq!(status, StatusCode::OK);
    let users: Vec<&str> = mine
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["userId"].as_str())
        .collect();
    assert_eq!(users, ["alice"]);
    let (status, _, _) = answer(&app, get("?userId=bob", &alice)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let auditor = bearer("auditor", "openid");
    let (status, _, all) = answer(&app, get("", &auditor)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    let (status, _, _) = answer(&app, post("bob", Some(&auditor))).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "reading all is not writing for others"
    );
    // In a batch, the item for another user is refused alone, with the same answer.
    let both = json!({"events": [login("alice"), login("bob")]});
    let h = [("authorization", alice.as_str())];
    let (status, _, batch) =
        answer(&app, event("POST", "/events/batch", &h, Some(both), None)).await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    assert_eq!(batch["results"][0]["status"], 201);
    assert_eq!(batch["results"][1]["status"], 403);
    assert_eq!(batch["results"][1]["error"], forbidden);

    // Erasing: a user its own events; another's only in the erase group, which reading all
    // is not.
    let delete = |user: &str, token: &str| {
        let h = [("authorization", token)];
        event("DELETE", &format!("/users/{user}/events"), &h, None, None)
    };
    for (token, user, want) in [
        (&alice, "bob", StatusCode::FORBIDDEN),
        (&auditor, "bob", StatusCode::FORBIDDEN),
        (&alice, "alice", StatusCode::OK),
        (&bearer("officer", ""), "bob", StatusCode::OK),
    ] {
        let (status, _, body) = answer(&app, delete(user, token)).await;
        assert_eq!(status, want, "{user}: {body}");
        if want == StatusCode::OK {
            assert_eq!(body["userId"], user);
            assert_eq!(body["complete"], true);
        }
    }
    let (_, _, left) = answer(&app, get("", &auditor)).await;
    assert_eq!(left, json!([]), "both users' events are gone");
}

#[tokio::test]
async fn iam_mode_lets_a_signer_erase_any_users_events_and_refuses_the_unsigned() {
    let app = app(AuthConfig::Iam(IamConfig::default()));
    let signer = "arn:aws:iam::123456789012:role/privacy";
    let delete = |signer| event("DELETE", "/users/bob/events", &[], None, signer);
    let (status, _, body) = answer(&app, delete(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, body) = answer(&app, delete(Some(signer))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["deleted"], 0);
}
