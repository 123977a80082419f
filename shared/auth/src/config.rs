//! `AUTH_MODE` and the `JWT_*` settings, read once at start-up.

use crate::jwk::KeySet;
use crate::keys::KeySource;
use crate::token::ClaimRules;
use pipeline_runtime::env::{self, Source};
use pipeline_runtime::ConfigError;

/// `AUTH_MODE` unless set: a server that forgets to choose checks tokens rather than trusting
/// everyone.
pub const DEFAULT_AUTH_MODE: &str = "jwt";
/// `JWT_USER_CLAIM` unless set.
pub const DEFAULT_USER_CLAIM: &str = "sub";
/// `JWT_READ_ALL_SCOPE` unless set.
pub const DEFAULT_READ_ALL_SCOPE: &str = "events:read:all";

/// How callers are identified (`AUTH_MODE`).
#[derive(Debug, Clone, PartialEq)]
pub enum AuthConfig {
    /// `none`: nobody is asked who they are (local development).
    None,
    /// `iam`: the Function URL's `AWS_IAM` signer is the caller.
    Iam,
    /// `jwt`: a bearer token from an OpenID Connect provider.
    Jwt(JwtConfig),
}

/// The `JWT_*` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtConfig {
    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_USER_CLAIM`.
    pub rules: ClaimRules,
    /// `JWT_READ_ALL_SCOPE`.
    pub read_all_scope: String,
    /// `JWT_JWKS`.
    pub inline_keys: KeySet,
    /// `JWT_JWKS_URL`, else discovery from the issuer.
    pub key_source: KeySource,
}

impl AuthConfig {
    /// Reads `AUTH_MODE` and, for `jwt`, every `JWT_*` setting.
    pub fn from_source(src: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        const MODE: &str = "AUTH_MODE";
        let mode = env::string(src, MODE, DEFAULT_AUTH_MODE);
        match mode.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "iam" => Ok(Self::Iam),
            "jwt" => JwtConfig::from_source(src).map(Self::Jwt),
            other => Err(ConfigError::new(
                MODE,
                format!("expected jwt, iam or none, got {other:?}"),
            )),
        }
    }
}

impl JwtConfig {
    fn from_source(src: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        // Every variable is asked for before any is judged, so that a settings check sees them
        // all whatever is missing.
        let issuer = src.get("JWT_ISSUER");
        let audience = src.get("JWT_AUDIENCE");
        let jwks_url = src.get("JWT_JWKS_URL");
        let jwks = src.get("JWT_JWKS");
        let user_claim = env::string(src, "JWT_USER_CLAIM", DEFAULT_USER_CLAIM);
        let read_all_scope = env::string(src, "JWT_READ_ALL_SCOPE", DEFAULT_READ_ALL_SCOPE);

        let issuer = issuer.map(|i| i.trim().to_owned()).ok_or_else(|| {
            ConfigError::new(
                "JWT_ISSUER",
                "is required with AUTH_MODE=jwt (the default): the `iss` of your tokens, e.g. \
                 https://cognito-idp.REGION.amazonaws.com/POOL_ID (AUTH_MODE=none for local \
                 development without sign-in)",
            )
        })?;
        check_url(&issuer).map_err(|e| ConfigError::new("JWT_ISSUER", e))?;
        let audience = audience.map(|a| a.trim().to_owned()).ok_or_else(|| {
            ConfigError::new(
                "JWT_AUDIENCE",
                "is required with AUTH_MODE=jwt: the app client id tokens are issued for",
            )
        })?;
        let key_source = match jwks_url {
            Some(url) => {
                let url = url.trim().to_owned();
                check_url(&url).map_err(|e| ConfigError::new("JWT_JWKS_URL", e))?;
                KeySource::Url(url)
            }
            None => KeySource::Discovery {
                issuer: issuer.clone(),
            },
        };
        let inline_keys = match jwks {
            None => KeySet::default(),
            Some(json) => {
                let keys = KeySet::parse(json.as_bytes())
                    .map_err(|e| ConfigError::new("JWT_JWKS", e.to_string()))?;
                if keys.is_empty() {
                    return Err(ConfigError::new(
                        "JWT_JWKS",
                        "holds no RS256 or ES256 signing key",
                    ));
                }
                keys
            }
        };
        if user_claim.trim().is_empty() {
            return Err(ConfigError::new("JWT_USER_CLAIM", "must name a claim"));
        }
        Ok(Self {
            rules: ClaimRules {
                issuer,
                audience,
                user_claim: user_claim.trim().to_owned(),
            },
            read_all_scope: read_all_scope.trim().to_owned(),
            inline_keys,
            key_source,
        })
    }
}

/// An issuer or key URL must be `https`, except on this machine (`http://127.0.0.1`,
/// `localhost`, `[::1]`) for local issuers: keys fetched in the clear could be anyone's.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "{url:?} must be an https URL (http only for 127.0.0.1 or localhost)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_is_the_default_and_needs_an_issuer_and_an_audience() {
        let empty: &[(&str, &str)] = &[];
        assert_eq!(
            AuthConfig::from_source(empty).expect_err("no issuer").var,
            "JWT_ISSUER"
        );
        let src: &[(&str, &str)] = &[("JWT_ISSUER", "https://id.example")];
        assert_eq!(
            AuthConfig::from_source(src).expect_err("no audience").var,
            "JWT_AUDIENCE"
        );
        let src: &[(&str, &str)] = &[
            ("JWT_ISSUER", "https://id.example"),
            ("JWT_AUDIENCE", "app"),
        ];
        let AuthConfig::Jwt(jwt) = AuthConfig::from_source(src).expect("config") else {
            panic!("not jwt");
        };
        assert_eq!(jwt.rules.user_claim, "sub");
        assert_eq!(jwt.read_all_scope, "events:read:all");
        assert_eq!(
            jwt.key_source,
            KeySource::Discovery {
                issuer: "https://id.example".into()
            }
        );
    }

    #[test]
    fn modes_and_bad_values_name_their_variable() {
        for (mode, want) in [("none", AuthConfig::None), ("IAM", AuthConfig::Iam)] {
            let src: &[(&str, &str)] = &[("AUTH_MODE", mode)];
            assert_eq!(AuthConfig::from_source(src), Ok(want));
        }
        let base = [
            ("JWT_ISSUER", "https://id.example"),
            ("JWT_AUDIENCE", "app"),
        ];
        for (var, value) in [
            ("AUTH_MODE", "basic"),
            ("JWT_ISSUER", "http://id.example"),
            ("JWT_JWKS_URL", "ftp://id.example/keys"),
            ("JWT_JWKS", "{\"keys\": []}"),
            ("JWT_JWKS", "not json"),
        ] {
            let mut src = vec![(var, value)];
            src.extend(base.iter().filter(|(k, _)| *k != var));
            assert_eq!(
                AuthConfig::from_source(src.as_slice())
                    .expect_err(value)
                    .var,
                var
            );
        }
        assert!(check_url("http://127.0.0.1:9400").is_ok());
        assert!(check_url("http://localhost/keys").is_ok());
        assert!(check_url("https://cognito-idp.eu-west-1.amazonaws.com/x").is_ok());
    }
}
