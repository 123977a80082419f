//! The issuer's keys, held per instance and fetched again only when a token names a key the
//! instance does not hold, at most once per [`JwksPolicy::min_interval`].
//!
//! Where the keys come from: `JWT_JWKS` (inline, so that a cold start needs no request), then
//! `JWT_JWKS_URL`, else the `jwks_uri` of the issuer's OpenID Connect discovery document
//! (`{JWT_ISSUER}/.well-known/openid-configuration`). A fetch replaces the fetched keys and
//! keeps the inline ones. Fetches are single-flight: a burst of tokens with unknown `kid`s waits
//! for one fetch, and one within the interval of the last is not made, so a flood of made-up
//! `kid`s costs the issuer a few requests a minute, not one per token.

use crate::error::AuthError;
use crate::jwk::{KeySet, MAX_JWKS_BYTES};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tracing::{info, warn};

/// How often the keys may be fetched, and how long a fetch may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksPolicy {
    /// Least time between two fetches (the default allows six a minute).
    pub min_interval: Duration,
    /// Longest wait for the discovery document or the key set.
    pub timeout: Duration,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(3),
        }
    }
}

/// Where fetched keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A key set URL (`JWT_JWKS_URL`).
    Url(String),
    /// The issuer's discovery document names the key set.
    Discovery {
        /// `JWT_ISSUER`: the document must name itself with it.
        issuer: String,
    },
}

#[derive(Default)]
struct FetchState {
    last: Option<Instant>,
    /// Why the last fetch failed, while it is the last.
    failed: Option<String>,
    /// `jwks_uri` once discovery found it.
    jwks_uri: Option<String>,
}

/// The keys of one issuer (see the module docs).
pub struct Jwks {
    current: RwLock<Arc<KeySet>>,
    inline: KeySet,
    source: KeySource,
    policy: JwksPolicy,
    state: Mutex<FetchState>,
    client: reqwest::Client,
}

impl Jwks {
    /// Keys starting with `inline`, fetched again from `source` as needed.
    pub fn new(inline: KeySet, source: KeySource, policy: JwksPolicy) -> Self {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .build()
            .unwrap_or_default();
        Self {
            current: RwLock::new(Arc::new(inline.clone())),
            inline,
            source,
            policy,
            state: Mutex::new(FetchState::default()),
            client,
        }
    }

    /// The keys held now.
    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(k) => Arc::clone(&k),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Fetches the keys unless `seen` is already out of date (another request fetched while
    /// this one waited) or the last fetch was less than the policy's interval ago. Returns the
    /// keys to try again with; [`AuthError::KeysUnavailable`] when the fetch failed.
    pub async fn refresh(&self, seen: &Arc<KeySet>) -> Result<Arc<KeySet>, AuthError> {
        let mut state = self.state.lock().await;
        let now = self.current();
        if !Arc::ptr_eq(&now, seen) {
            return Ok(now);
        }
        if state
            .last
            .is_some_and(|t| t.elapsed() < self.policy.min_interval)
        {
            // Too soon to ask again: the answer stands, a failure included (a request that
            // needs keys while the provider is unreachable is told so, not refused as forged).
            return match &state.failed {
                Some(cause) => Err(AuthError::KeysUnavailable(cause.clone())),
                None => Ok(now),
            };
        }
        state.last = Some(Instant::now());
        match self.fetch(&mut state).await {
            Ok(fetched) => {
                state.failed = None;
                let keys = Arc::new(self.inline.merged(&fetched));
                info!(keys = keys.len(), "identity provider keys fetched");
                match self.current.write() {
                    Ok(mut k) => *k = Arc::clone(&keys),
                    Err(poisoned) => *poisoned.into_inner() = Arc::clone(&keys),
                }
                Ok(keys)
            }
            Err(cause) => {
                warn!(
                    error = "keys_unavailable",
                    cause, "identity provider keys not fetched"
                );
                state.failed = Some(cause.clone());
                Err(AuthError::KeysUnavailable(cause))
            }
        }
    }

    async fn fetch(&self, state: &mut FetchState) -> Result<KeySet, String> {
        let url = match (&self.source, &state.jwks_uri) {
            (KeySource::Url(url), _) => url.clone(),
            (KeySource::Discovery { .. }, Some(found)) => found.clone(),
            (KeySource::Discovery { issuer }, None) => {
                let found = self.discover(issuer).await?;
                state.jwks_uri = Some(found.clone());
                found
            }
        };
        let body = self.get(&url).await?;
        KeySet::parse(&body).map_err(|e| format!("{url}: {e}"))
    }

    async fn discover(&self, issuer: &str) -> Result<String, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let body = self.get(&url).await?;
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))?;
        // OpenID Connect Discovery 1.0, section 4.3: the document must name its own issuer.
        if doc["issuer"].as_str() != Some(issuer) {
            return Err(format!("{url}: names another issuer, {}", doc["issuer"]));
        }
        let jwks_uri = doc["jwks_uri"]
            .as_str()
            .ok_or_else(|| format!("{url}: no jwks_uri"))?;
        crate::config::check_url(jwks_uri).map_err(|e| format!("{url}: jwks_uri {e}"))?;
        Ok(jwks_uri.to_owned())
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut response = self
            .client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("{url}: larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
