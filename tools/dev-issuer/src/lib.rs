//! A small OpenID Connect issuer on this machine, standing in for Amazon Cognito or any other
//! provider the way the local broker stands in for MSK.
//!
//! It publishes a discovery document and its keys ([`keys`] generates and signs), and hands out
//! tokens two standard ways: the authorization code flow with PKCE (RFC 7636), which `make dev`'s
//! page uses exactly as it would with a real provider's hosted sign-in, and the password grant
//! (RFC 6749 §4.3) for `curl`. Anyone may sign in as any user: it is for development and tests
//! only. Users it was told are in a group carry it in `cognito:groups`, as Amazon Cognito's
//! tokens do; a scope asked for never adds one. Tests also use [`Issuer`] directly to sign
//! whatever tokens they need, to withdraw or replace keys, and to count how often its keys were
//! fetched.
#![warn(missing_docs)]

pub mod keys;
mod oidc;

pub use keys::SigningKey;

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// How long a token it issues is valid.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// What the routes share.
pub(crate) struct State {
    pub(crate) issuer: String,
    pub(crate) keys: RwLock<Vec<Arc<SigningKey>>>,
    pub(crate) jwks_fetches: AtomicU64,
    pub(crate) codes: Mutex<std::collections::HashMap<String, oidc::Grant>>,
    /// User → the groups it is in.
    pub(crate) groups: RwLock<std::collections::BTreeMap<String, Vec<String>>>,
    /// The key set's `Cache-Control: max-age`, when it sends one.
    pub(crate) jwks_max_age: RwLock<Option<u64>>,
}

impl State {
    /// The key new tokens are signed with: the first one published.
    pub(crate) fn signing_key(&self) -> Option<Arc<SigningKey>> {
        self.keys.read().ok()?.first().cloned()
    }

    /// A token for `sub`, issued for `client_id`, with `scope`, and `sub`'s groups.
    pub(crate) fn issue(&self, sub: &str, client_id: &str, scope: &str) -> Option<String> {
        let mut claims = claims(&self.issuer, sub, client_id, scope);
        let groups = self
            .groups
            .read()
            .ok()?
            .get(sub)
            .cloned()
            .unwrap_or_default();
        if !groups.is_empty() {
            claims[GROUPS_CLAIM] = json!(groups);
        }
        Some(self.signing_key()?.token(&claims))
    }
}

/// Where its tokens list the user's groups, as Amazon Cognito's do.
pub const GROUPS_CLAIM: &str = "cognito:groups";

/// The claims of a token it issues.
pub fn claims(issuer: &str, sub: &str, client_id: &str, scope: &str) -> Value {
    let now = unix_now();
    json!({
        "iss": issuer,
        "sub": sub,
        "aud": client_id,
        "client_id": client_id,
        "scope": scope,
        "token_use": "access",
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME.as_secs() as i64,
    })
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A running issuer. Stops when dropped.
pub struct Issuer {
    state: Arc<State>,
    first: Arc<SigningKey>,
    task: tokio::task::JoinHandle<()>,
}

impl Issuer {
    /// Listens on `addr` (port 0: any free port) with one new ES256 key, `k1`.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let first = Arc::new(SigningKey::es256("k1").map_err(std::io::Error::other)?);
        let state = Arc::new(State {
            issuer: format!("http://{local}"),
            keys: RwLock::new(vec![Arc::clone(&first)]),
            jwks_fetches: AtomicU64::new(0),
            codes: Mutex::new(Default::default()),
            groups: RwLock::new(Default::default()),
            jwks_max_age: RwLock::new(None),
        });
        let app = oidc::router(Arc::clone(&state));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { state, first, task })
    }

    /// Its URL: the `iss` of its tokens.
    pub fn url(&self) -> &str {
        &self.state.issuer
    }

    /// Publishes another key (a rotation: tokens it signs are accepted once fetched). A key
    /// with the `kid` of a published one replaces it (new material under a known `kid`).
    pub fn publish(&self, key: SigningKey) {
        if let Ok(mut keys) = self.state.keys.write() {
            keys.retain(|k| k.kid() != key.kid());
            keys.push(Arc::new(key));
        }
    }

    /// Stops publishing the key `kid` (the issuer withdrew it).
    pub fn withdraw(&self, kid: &str) {
        if let Ok(mut keys) = self.state.keys.write() {
            keys.retain(|k| k.kid() != kid);
        }
    }

    /// Sends `Cache-Control: max-age` with its key set (`None`: no header).
    pub fn set_jwks_max_age(&self, seconds: Option<u64>) {
        if let Ok(mut age) = self.state.jwks_max_age.write() {
            *age = seconds;
        }
    }

    /// Puts `user` in `group`: its tokens list the group in [`GROUPS_CLAIM`].
    pub fn add_to_group(&self, user: &str, group: &str) {
        if let Ok(mut groups) = self.state.groups.write() {
            let list = groups.entry(user.to_owned()).or_default();
            if !list.iter().any(|g| g == group) {
                list.push(group.to_owned());
            }
        }
    }

    /// The published keys as a JWKS document (what `JWT_JWKS` may hold).
    pub fn jwks(&self) -> Value {
        oidc::jwks_of(&self.state)
    }

    /// How many times its key set was fetched.
    pub fn jwks_fetches(&self) -> u64 {
        self.state.jwks_fetches.load(Ordering::Relaxed)
    }

    /// A valid token for `sub`, issued for `client_id`, with `scope`, signed with `k1`.
    pub fn token(&self, sub: &str, client_id: &str, scope: &str) -> String {
        self.state.issue(sub, client_id, scope).unwrap_or_default()
    }

    /// `k1`, to sign tokens a test shapes itself.
    pub fn key(&self) -> &SigningKey {
        &self.first
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
