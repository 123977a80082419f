//! The issuer's keys, held per instance, trusted for a bounded time, and fetched again when they
//! grow old, when a token names a key the instance does not hold, or when a signature fails under
//! a key it holds (the issuer may have replaced the key's material), at most once per
//! [`JwksPolicy::min_interval`].
//!
//! Where the keys come from: `JWT_JWKS` (inline, so that a cold start needs no request, and kept
//! as configured), then `JWT_JWKS_URL`, else the `jwks_uri` of the issuer's OpenID Connect
//! discovery document (`{JWT_ISSUER}/.well-known/openid-configuration`). A fetch replaces the
//! fetched keys and keeps the inline ones.
//!
//! How long fetched keys are trusted: `JWT_JWKS_MAX_AGE_SECONDS` (an hour by default), or less
//! when the key set's `Cache-Control: max-age` says so. Past that age the keys are fetched again
//! in the background while requests go on with them; if the issuer cannot be reached, the last
//! good set is kept for at most [`JwksPolicy::max_stale`] more (a day by default), then dropped,
//! so that a key the issuer withdrew is never trusted indefinitely.
//!
//! Fetches are single-flight: a burst of tokens with unknown `kid`s waits for one fetch, and one
//! within the interval of the last is not made, so a flood of made-up `kid`s costs the issuer a
//! few requests a minute, not one per token. The fetcher follows no redirect, and every URL it
//! uses is `https` (`http` only on this machine).

use crate::error::AuthError;
use crate::jwk::{KeySet, MAX_JWKS_BYTES};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tracing::{info, warn};

/// How often the keys may be fetched, how long a fetch may take, and how long the last good set
/// outlives its age while the issuer cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksPolicy {
    /// Least time between two fetches (the default allows six a minute).
    pub min_interval: Duration,
    /// Longest wait for the discovery document or the key set.
    pub timeout: Duration,
    /// How long fetched keys are still used past their age while fetching them again fails.
    pub max_stale: Duration,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(3),
            max_stale: Duration::from_secs(24 * 3600),
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

/// The keys in use: the inline ones and, while trusted, the fetched ones.
struct Held {
    keys: Arc<KeySet>,
    /// When the fetched keys were fetched, and for how long they are fresh.
    fetched: Option<(Instant, Duration)>,
}

/// The keys of one issuer (see the module docs).
pub struct Jwks {
    held: RwLock<Held>,
    inline: KeySet,
    source: KeySource,
    policy: JwksPolicy,
    max_age: Duration,
    state: Mutex<FetchState>,
    client: reqwest::Client,
}

impl Jwks {
    /// Keys starting with `inline`, fetched again from `source` as needed and trusted for at
    /// most `max_age`. Fails when the HTTP client cannot be built.
    pub fn new(
        inline: KeySet,
        source: KeySource,
        policy: JwksPolicy,
        max_age: Duration,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            // A redirect could lead to http, or to an address JWT_JWKS_URL itself would be
            // refused for: the URLs given are the ones used.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the key fetcher's HTTP client: {e}"))?;
        Ok(Self {
            held: RwLock::new(Held {
                keys: Arc::new(inline.clone()),
                fetched: None,
            }),
            inline,
            source,
            policy,
            max_age,
            state: Mutex::new(FetchState::default()),
            client,
        })
    }

    /// The keys held now. Fetched keys past their age and [`JwksPolicy::max_stale`] are dropped
    /// here, leaving the inline ones.
    pub fn current(&self) -> Arc<KeySet> {
        let limit = self.policy.max_stale;
        let expired = |fetched: Option<(Instant, Duration)>| {
            fetched.is_some_and(|(at, age)| at.elapsed() > age + limit)
        };
        {
            let held = self.read();
            if !expired(held.fetched) {
                return Arc::clone(&held.keys);
            }
        }
        let mut held = self.write();
        if expired(held.fetched) {
            warn!(
                error = "keys_expired",
                "identity provider keys dropped: past their age, and not fetched again since"
            );
            *held = Held {
                keys: Arc::new(self.inline.clone()),
                fetched: None,
            };
        }
        Arc::clone(&held.keys)
    }

    /// Whether the fetched keys are past their age, so that a fetch is due.
    pub fn due(&self) -> bool {
        self.read()
            .fetched
            .is_some_and(|(at, age)| at.elapsed() >= age)
    }

    /// Fetches the keys again in the background when they are past their age: the requests go
    /// on with the keys held meanwhile.
    pub fn refresh_if_due(self: &Arc<Self>) {
        if !self.due() {
            return;
        }
        let jwks = Arc::clone(self);
        tokio::spawn(async move {
            let held = jwks.current();
            if jwks.due() {
                let _ = jwks.refresh(&held).await;
            }
        });
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
            Ok((fetched, age)) => {
                state.failed = None;
                let keys = Arc::new(self.inline.merged(&fetched));
                info!(
                    keys = keys.len(),
                    max_age_s = age.as_secs(),
                    "identity provider keys fetched"
                );
                *self.write() = Held {
                    keys: Arc::clone(&keys),
                    fetched: Some((Instant::now(), age)),
                };
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

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        self.held.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Held> {
        self.held.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The key set and how long to trust it.
    async fn fetch(&self, state: &mut FetchState) -> Result<(KeySet, Duration), String> {
        let url = match (&self.source, &state.jwks_uri) {
            (KeySource::Url(url), _) => url.clone(),
            (KeySource::Discovery { .. }, Some(found)) => found.clone(),
            (KeySource::Discovery { issuer }, None) => {
                let found = self.discover(issuer).await?;
                state.jwks_uri = Some(found.clone());
                found
            }
        };
        let (body, max_age) = self.get(&url).await?;
        let keys = KeySet::parse(&body).map_err(|e| format!("{url}: {e}"))?;
        // A shorter max-age from the issuer wins, down to the interval between fetches.
        let age = max_age
            .map(|a| a.max(self.policy.min_interval))
            .map_or(self.max_age, |a| a.min(self.max_age));
        Ok((keys, age))
    }

    async fn discover(&self, issuer: &str) -> Result<String, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let (body, _) = self.get(&url).await?;
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))?;
        // OpenID Connect Discovery 1.0, section 4.3: the document must name its own issuer.
        if doc["issuer"].as_str() != Some(issuer) {
            return Err(format!("{url}: names another issuer, {}", doc["issuer"]));
        }
        let jwks_uri = doc["jwks_uri"]
            .as_str()
            .ok_or_else(|| format!("{url}: no jwks_uri"))?;
        crate::remote::check_url(jwks_uri).map_err(|e| format!("{url}: jwks_uri {e}"))?;
        Ok(jwks_uri.to_owned())
    }

    /// The body at `url`, bounded, and its `Cache-Control: max-age`.
    async fn get(&self, url: &str) -> Result<(Vec<u8>, Option<Duration>), String> {
        crate::remote::check_url(url)?;
        let mut response = self
            .client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            // A redirect included: the URL given is the one to use.
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let max_age = response
            .headers()
            .get_all("cache-control")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(max_age_of);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("{url}: larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age))
    }
}

/// The `max-age` of a `Cache-Control` header value (`no-store` and `no-cache` count as 0).
fn max_age_of(value: &str) -> Option<Duration> {
    value.split(',').find_map(|directive| {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return Some(Duration::ZERO);
        }
        directive
            .strip_prefix("max-age=")
            .and_then(|n| n.trim_matches('"').parse::<u64>().ok())
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_gives_a_max_age() {
        assert_eq!(
            max_age_of("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age_of("MAX-AGE=\"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age_of("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age_of("public"), None);
        assert_eq!(max_age_of("max-age=soon"), None);
    }
}
