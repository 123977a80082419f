//! The issuer's endpoints: discovery, keys, sign-in (authorization code with PKCE) and tokens.

use crate::State;
use axum::extract::{Form, Query, State as Shared};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SecureRandom as _;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an authorization code may wait for its exchange.
const CODE_LIFETIME: Duration = Duration::from_secs(300);

/// A code handed to a client, waiting to be exchanged for a token.
pub(crate) struct Grant {
    sub: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    expires: Instant,
}

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks.json", get(jwks))
        .route("/authorize", get(sign_in_form).post(sign_in))
        .route("/token", post(token))
        // A page on another origin reads the discovery document and exchanges its code.
        .layer(axum::middleware::map_response(
            |mut r: Response| async move {
                r.headers_mut().insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
                r
            },
        ))
        .with_state(state)
}

async fn discovery(Shared(state): Shared<Arc<State>>) -> Json<Value> {
    let base = &state.issuer;
    Json(json!({
        "issuer": base,
        "jwks_uri": format!("{base}/jwks.json"),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "password"],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "scopes_supported": ["openid"],
    }))
}

pub(crate) fn jwks_of(state: &State) -> Value {
    let keys: Vec<Value> = state
        .keys
        .read()
        .map(|k| k.iter().map(|k| k.jwk()).collect())
        .unwrap_or_default();
    json!({ "keys": keys })
}

async fn jwks(Shared(state): Shared<Arc<State>>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::Relaxed);
    let mut response = Json(jwks_of(&state)).into_response();
    if let Some(age) = state.jwks_max_age.read().ok().and_then(|a| *a) {
        if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={age}")) {
            response.headers_mut().insert(header::CACHE_CONTROL, value);
        }
    }
    response
}

#[derive(Deserialize)]
struct SignInRequest {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    scope: Option<String>,
    login_hint: Option<String>,
    /// Filled in by the sign-in form.
    username: Option<String>,
}

fn bad(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
}

/// What a sign-in request must hold: a code flow with an S256 challenge, back to a page on
/// this machine.
fn checked(r: &SignInRequest) -> Result<(&str, &str, &str), &'static str> {
    if r.response_type.as_deref() != Some("code") {
        return Err("response_type must be code");
    }
    let client_id = r.client_id.as_deref().ok_or("client_id is required")?;
    let redirect = r.redirect_uri.as_deref().unwrap_or_default();
    let local = [
        "http://127.0.0.1:",
        "http://localhost:",
        "http://127.0.0.1/",
        "http://localhost/",
    ];
    if !local.iter().any(|p| redirect.starts_with(p)) {
        return Err("redirect_uri must be a page on this machine (http://127.0.0.1 or localhost)");
    }
    if r.code_challenge_method.as_deref() != Some("S256") {
        return Err("PKCE is required: code_challenge_method=S256");
    }
    let challenge = r
        .code_challenge
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or("code_challenge is required")?;
    Ok((client_id, redirect, challenge))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

async fn sign_in_form(Query(r): Query<SignInRequest>) -> Response {
    if let Err(why) = checked(&r) {
        return bad(why);
    }
    let hidden = [
        ("response_type", &r.response_type),
        ("client_id", &r.client_id),
        ("redirect_uri", &r.redirect_uri),
        ("state", &r.state),
        ("code_challenge", &r.code_challenge),
        ("code_challenge_method", &r.code_challenge_method),
        ("scope", &r.scope),
    ]
    .iter()
    .filter_map(|(k, v)| {
        v.as_deref()
            .map(|v| format!(r#"<input type="hidden" name="{k}" value="{}">"#, escape(v)))
    })
    .collect::<String>();
    let hint = escape(r.login_hint.as_deref().unwrap_or(""));
    let scope = escape(r.scope.as_deref().unwrap_or(""));
    Html(format!(
        r#"<!doctype html><meta charset="utf-8"><title>Sign in (dev issuer)</title>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto">
<h1>Sign in</h1><p>Local development issuer: any user id signs in. Scope: <code>{scope}</code></p>
<form method="post" action="/authorize">{hidden}
<label for="username">User id</label> <input id="username" name="username" value="{hint}" autofocus required>
<button id="sign-in" type="submit">Sign in</button></form></body>"#
    ))
    .into_response()
}

fn random_code() -> String {
    let mut bytes = [0u8; 32];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn sign_in(Shared(state): Shared<Arc<State>>, Form(r): Form<SignInRequest>) -> Response {
    let (client_id, redirect, challenge) = match checked(&r) {
        Ok(parts) => parts,
        Err(why) => return bad(why),
    };
    let Some(sub) = r
        .username
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    else {
        return bad("a user id is required");
    };
    let code = random_code();
    let grant = Grant {
        sub: sub.to_owned(),
        client_id: client_id.to_owned(),
        redirect_uri: redirect.to_owned(),
        challenge: challenge.to_owned(),
        scope: r.scope.clone().unwrap_or_default(),
        expires: Instant::now() + CODE_LIFETIME,
    };
    if let Ok(mut codes) = state.codes.lock() {
        codes.retain(|_, g| g.expires > Instant::now());
        codes.insert(code.clone(), grant);
    }
    let mut query = vec![("code", code.as_str())];
    if let Some(s) = r.state.as_deref() {
        query.push(("state", s));
    }
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let query = serde_urlencoded::to_string(query).unwrap_or_default();
    Redirect::to(&format!("{redirect}{sep}{query}")).into_response()
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: String,
    code: Option<String>,
    code_verifier: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    scope: Option<String>,
}

/// An RFC 6749 §5.2 error answer.
fn refused(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn token(Shared(state): Shared<Arc<State>>, Form(t): Form<TokenRequest>) -> Response {
    let (sub, client_id, scope) = match t.grant_type.as_str() {
        "authorization_code" => {
            let grant = t
                .code
                .as_deref()
                .and_then(|c| state.codes.lock().ok()?.remove(c));
            let Some(grant) = grant.filter(|g| g.expires > Instant::now()) else {
                return refused("invalid_grant", "unknown or expired code");
            };
            let verifier = t.code_verifier.as_deref().unwrap_or_default();
            let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
            if URL_SAFE_NO_PAD.encode(digest.as_ref()) != grant.challenge {
                return refused(
                    "invalid_grant",
                    "the code_verifier does not match the challenge",
                );
            }
            if t.client_id.as_deref() != Some(grant.client_id.as_str())
                || t.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str())
            {
                return refused(
                    "invalid_grant",
                    "client_id or redirect_uri differ from the sign-in",
                );
            }
            (grant.sub, grant.client_id, grant.scope)
        }
        "password" => {
            let (Some(user), Some(client)) = (t.username, t.client_id) else {
                return refused("invalid_request", "username and client_id are required");
            };
            (user, client, t.scope.unwrap_or_default())
        }
        _ => {
            return refused(
                "unsupported_grant_type",
                "use authorization_code or password",
            )
        }
    };
    match state.issue(&sub, &client_id, &scope) {
        Some(token) => Json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": crate::TOKEN_LIFETIME.as_secs(),
            "scope": scope,
        }))
        .into_response(),
        None => refused("server_error", "no signing key"),
    }
}
