//! [`Authenticator`]: the configured mode, and in `jwt` mode the issuer's keys, turning a
//! request's credentials into a [`Caller`].

use crate::config::IamConfig;
use crate::keys::{Jwks, JwksPolicy};
use crate::token::{self, ClaimRules, Identity};
use crate::{bearer, AuthConfig, AuthError, Caller, Denied};
use std::sync::Arc;

enum Mode {
    None,
    Iam(IamConfig),
    Jwt(Box<Jwt>),
}

/// What `jwt` mode checks tokens with.
struct Jwt {
    rules: ClaimRules,
    read_all_group: Option<String>,
    erase_group: Option<String>,
    keys: Arc<Jwks>,
}

/// Turns a request's credentials into a [`Caller`], per the configured mode. Built once per
/// cold start: in `jwt` mode it holds the issuer's keys.
pub struct Authenticator {
    mode: Mode,
}

impl Authenticator {
    /// The authenticator of `config`, fetching keys within `policy`. Fails when the key
    /// fetcher's HTTP client cannot be built.
    pub fn new(config: AuthConfig, policy: JwksPolicy) -> Result<Self, String> {
        let mode = match config {
            AuthConfig::None => Mode::None,
            AuthConfig::Iam(iam) => Mode::Iam(iam),
            AuthConfig::Jwt(jwt) => Mode::Jwt(Box::new(Jwt {
                keys: Arc::new(Jwks::new(
                    jwt.inline_keys,
                    jwt.key_source,
                    policy,
                    jwt.keys_max_age,
                )?),
                rules: jwt.rules,
                read_all_group: jwt.read_all_group,
                erase_group: jwt.erase_group,
            })),
        };
        Ok(Self { mode })
    }

    /// Anyone may do anything (`AUTH_MODE=none`).
    pub fn none() -> Self {
        Self { mode: Mode::None }
    }

    /// The mode's name, as `AUTH_MODE` spells it.
    pub fn mode(&self) -> &'static str {
        match self.mode {
            Mode::None => "none",
            Mode::Iam(_) => "iam",
            Mode::Jwt(_) => "jwt",
        }
    }

    /// The issuer's keys (`jwt` mode only).
    pub fn jwks(&self) -> Option<&Arc<Jwks>> {
        match &self.mode {
            Mode::Jwt(jwt) => Some(&jwt.keys),
            _ => None,
        }
    }

    /// Fetches the issuer's keys now when none were given inline, so that the first request
    /// does not wait for them. A failure is logged and tried again when a token needs a key.
    pub async fn prefetch(&self) {
        if let Some(keys) = self.jwks() {
            let held = keys.current();
            if held.is_empty() {
                let _ = keys.refresh(&held).await;
            }
        }
    }

    /// The caller of a request with these `Authorization` header values and, when the Function
    /// URL checked a SigV4 signature, its signer; `now_s` is the time in Unix seconds.
    pub async fn caller<'a>(
        &self,
        authorization: impl IntoIterator<Item = &'a [u8]>,
        iam_principal: Option<&str>,
        now_s: i64,
    ) -> Result<Caller, AuthError> {
        match &self.mode {
            Mode::None => Ok(Caller::Anonymous),
            Mode::Iam(_) => iam_principal
                .filter(|p| !p.is_empty())
                .map(|p| Caller::Service {
                    principal: p.to_owned(),
                })
                .ok_or(AuthError::NoIamIdentity),
            Mode::Jwt(jwt) => {
                let token = bearer(authorization)?;
                let identity = verify(token, &jwt.rules, &jwt.keys, now_s).await?;
                // A right of the user, from the groups its provider put it in; never a scope,
                // which any client may ask for on the user's behalf.
                let member = |group: &Option<String>| {
                    group
                        .as_ref()
                        .is_some_and(|g| identity.groups.iter().any(|m| m == g))
                };
                Ok(Caller::User {
                    read_all: member(&jwt.read_all_group),
                    erase_any: member(&jwt.erase_group),
                    user_id: identity.user_id,
                })
            }
        }
    }

    /// Whether an identified caller may use the API at all: in `iam` mode, a signer that
    /// `IAM_ALLOWED_PRINCIPALS` does not name is refused.
    pub fn admits(&self, caller: &Caller) -> Result<(), Denied> {
        match (&self.mode, caller) {
            (Mode::Iam(iam), Caller::Service { principal }) if !iam.allows(principal) => Err(
                Denied("this IAM principal is not among the ones IAM_ALLOWED_PRINCIPALS names"),
            ),
            _ => Ok(()),
        }
    }
}

/// Checks `token` with the keys held: fetched again first (in the background) when they are past
/// their age, and at once when the token names a key not held or a held key's signature fails
/// (the issuer may have replaced that key), within the fetch interval.
async fn verify(
    token: &str,
    rules: &ClaimRules,
    keys: &Arc<Jwks>,
    now_s: i64,
) -> Result<Identity, AuthError> {
    let unverified = token::parse(token)?;
    keys.refresh_if_due();
    let held = keys.current();
    let claims = match unverified.verify(&held) {
        Err(AuthError::UnknownKey) => {
            let fresh = keys.refresh(&held).await?;
            unverified.verify(&fresh)?
        }
        Err(AuthError::Signature) if unverified.kid().is_some() => {
            match keys.refresh(&held).await {
                Ok(fresh) if !Arc::ptr_eq(&fresh, &held) => unverified.verify(&fresh)?,
                _ => return Err(AuthError::Signature),
            }
        }
        other => other?,
    };
    token::check_claims(&claims, unverified.typ(), rules, now_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn iam_mode_needs_a_signer_and_none_mode_needs_nothing() {
        let iam = Authenticator::new(AuthConfig::Iam(IamConfig::default()), JwksPolicy::default())
            .expect("built");
        assert_eq!(
            iam.caller(std::iter::empty(), None, 0).await,
            Err(AuthError::NoIamIdentity)
        );
        assert_eq!(
            iam.caller(std::iter::empty(), Some("arn:x"), 0).await,
            Ok(Caller::Service {
                principal: "arn:x".into()
            })
        );
        let none = Authenticator::none();
        assert_eq!(
            none.caller([b"Bearer junk".as_slice()], None, 0).await,
            Ok(Caller::Anonymous)
        );
    }
}
