//! [`Authenticator`]: the configured mode, and in `jwt` mode the issuer's keys, turning a
//! request's credentials into a [`Caller`].

use crate::keys::{Jwks, JwksPolicy};
use crate::token::{self, ClaimRules, Identity};
use crate::{bearer, AuthConfig, AuthError, Caller};

enum Mode {
    None,
    Iam,
    Jwt(Box<Jwt>),
}

/// What `jwt` mode checks tokens with.
struct Jwt {
    rules: ClaimRules,
    read_all_scope: String,
    keys: Jwks,
}

/// Turns a request's credentials into a [`Caller`], per the configured mode. Built once per
/// cold start: in `jwt` mode it holds the issuer's keys.
pub struct Authenticator {
    mode: Mode,
}

impl Authenticator {
    /// The authenticator of `config`, fetching keys within `policy`.
    pub fn new(config: AuthConfig, policy: JwksPolicy) -> Self {
        let mode = match config {
            AuthConfig::None => Mode::None,
            AuthConfig::Iam => Mode::Iam,
            AuthConfig::Jwt(jwt) => Mode::Jwt(Box::new(Jwt {
                rules: jwt.rules,
                read_all_scope: jwt.read_all_scope,
                keys: Jwks::new(jwt.inline_keys, jwt.key_source, policy),
            })),
        };
        Self { mode }
    }

    /// Anyone may do anything (`AUTH_MODE=none`).
    pub fn none() -> Self {
        Self { mode: Mode::None }
    }

    /// The mode's name, as `AUTH_MODE` spells it.
    pub fn mode(&self) -> &'static str {
        match self.mode {
            Mode::None => "none",
            Mode::Iam => "iam",
            Mode::Jwt(_) => "jwt",
        }
    }

    /// The issuer's keys (`jwt` mode only).
    pub fn jwks(&self) -> Option<&Jwks> {
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
            Mode::Iam => iam_principal
                .filter(|p| !p.is_empty())
                .map(|p| Caller::Service {
                    principal: p.to_owned(),
                })
                .ok_or(AuthError::NoIamIdentity),
            Mode::Jwt(jwt) => {
                let token = bearer(authorization)?;
                let identity = verify(token, &jwt.rules, &jwt.keys, now_s).await?;
                let scope = &jwt.read_all_scope;
                let read_all = !scope.is_empty() && identity.scopes.iter().any(|s| s == scope);
                Ok(Caller::User {
                    user_id: identity.user_id,
                    read_all,
                })
            }
        }
    }
}

/// Checks `token` with the keys held, fetching them again when it names one not held.
async fn verify(
    token: &str,
    rules: &ClaimRules,
    keys: &Jwks,
    now_s: i64,
) -> Result<Identity, AuthError> {
    let unverified = token::parse(token)?;
    let held = keys.current();
    let claims = match unverified.verify(&held) {
        Err(AuthError::UnknownKey) => {
            let fresh = keys.refresh(&held).await?;
            unverified.verify(&fresh)?
        }
        other => other?,
    };
    token::check_claims(&claims, rules, now_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn iam_mode_needs_a_signer_and_none_mode_needs_nothing() {
        let iam = Authenticator::new(AuthConfig::Iam, JwksPolicy::default());
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
