//! `AUTH_MODE` and the `JWT_*` settings, read once at start-up.

use crate::jwk::KeySet;
use crate::keys::KeySource;
use crate::remote::check_url;
use crate::token::{ClaimRules, TokenUse};
use pipeline_runtime::env::{self, Source};
use pipeline_runtime::ConfigError;
use std::time::Duration;

/// `AUTH_MODE` unless set: a server that forgets to choose checks tokens rather than trusting
/// everyone.
pub const DEFAULT_AUTH_MODE: &str = "jwt";
/// `JWT_USER_CLAIM` unless set.
pub const DEFAULT_USER_CLAIM: &str = "sub";
/// `JWT_GROUPS_CLAIM` unless set: where Amazon Cognito lists a user's groups.
pub const DEFAULT_GROUPS_CLAIM: &str = "cognito:groups";
/// `JWT_TOKEN_USE` unless set.
pub const DEFAULT_TOKEN_USE: &str = "access";
/// `JWT_JWKS_MAX_AGE_SECONDS` unless set: fetched keys are trusted for an hour at most.
pub const DEFAULT_JWKS_MAX_AGE_S: u64 = 3600;
/// `JWT_JWKS_MAX_AGE_SECONDS`'s range: a minute to a day.
const JWKS_MAX_AGE_RANGE: std::ops::RangeInclusive<u64> = 60..=86_400;

/// How callers are identified (`AUTH_MODE`).
#[derive(Debug, Clone, PartialEq)]
pub enum AuthConfig {
    /// `none`: nobody is asked who they are (local development).
    None,
    /// `iam`: the Function URL's `AWS_IAM` signer is the caller.
    Iam(IamConfig),
    /// `jwt`: a bearer token from an OpenID Connect provider.
    Jwt(JwtConfig),
}

/// The `IAM_*` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IamConfig {
    /// `IAM_ALLOWED_PRINCIPALS`: ARN patterns (`*` matches any run of characters) a signer, or
    /// the role of an assumed-role signer, must match; empty: any principal IAM let through.
    pub allowed_principals: Vec<String>,
}

impl IamConfig {
    /// Whether `principal` may call: it, or its role, matches one of the patterns (or none are
    /// given).
    pub fn allows(&self, principal: &str) -> bool {
        if self.allowed_principals.is_empty() {
            return true;
        }
        let role = crate::role_of(principal);
        self.allowed_principals
            .iter()
            .any(|p| glob(p, principal) || glob(p, &role))
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = match parts.split_first() {
        Some(split) => split,
        None => return text.is_empty(),
    };
    let Some(mut left) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return left.is_empty();
    };
    for part in middle {
        match left.find(part) {
            Some(i) => left = &left[i + part.len()..],
            None => return false,
        }
    }
    left.ends_with(last)
}

/// The `JWT_*` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtConfig {
    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_USER_CLAIM`, `JWT_GROUPS_CLAIM`, `JWT_TOKEN_USE`.
    pub rules: ClaimRules,
    /// `JWT_READ_ALL_GROUP`: members may list every user's events; `None` (unset or empty):
    /// nobody may. A right of the user, given by the identity provider's administrators, never
    /// a scope, which is what a client asks for on a user's behalf (RFC 6749 §3.3).
    pub read_all_group: Option<String>,
    /// `JWT_ERASE_GROUP`: members may erase any user's events (everyone may erase its own);
    /// `None` (unset or empty): nobody may. Not the read-all group: reading everything and
    /// deleting anyone's data are different rights.
    pub erase_group: Option<String>,
    /// `JWT_JWKS`.
    pub inline_keys: KeySet,
    /// `JWT_JWKS_URL`, else discovery from the issuer.
    pub key_source: KeySource,
    /// `JWT_JWKS_MAX_AGE_SECONDS`: the longest fetched keys are trusted before they are fetched
    /// again (a shorter `Cache-Control: max-age` from the issuer wins).
    pub keys_max_age: Duration,
}

impl AuthConfig {
    /// Reads `AUTH_MODE` and, for `jwt`, every `JWT_*` setting.
    pub fn from_source(src: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        const MODE: &str = "AUTH_MODE";
        let mode = env::string(src, MODE, DEFAULT_AUTH_MODE);
        match mode.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "iam" => Ok(Self::Iam(IamConfig {
                allowed_principals: src
                    .get("IAM_ALLOWED_PRINCIPALS")
                    .unwrap_or_default()
                    .split(',')
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty())
                    .collect(),
            })),
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
        let groups_claim = env::string(src, "JWT_GROUPS_CLAIM", DEFAULT_GROUPS_CLAIM);
        let read_all_group = src.get("JWT_READ_ALL_GROUP");
        let erase_group = src.get("JWT_ERASE_GROUP");
        let token_use_raw = env::string(src, "JWT_TOKEN_USE", DEFAULT_TOKEN_USE);
        let keys_max_age = env::seconds(
            src,
            "JWT_JWKS_MAX_AGE_SECONDS",
            DEFAULT_JWKS_MAX_AGE_S,
            JWKS_MAX_AGE_RANGE,
        )?;

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
        let token_use = TokenUse::parse(&token_use_raw).ok_or_else(|| {
            ConfigError::new(
                "JWT_TOKEN_USE",
                format!("expected access, id or any, got {token_use_raw:?}"),
            )
        })?;
        Ok(Self {
            rules: ClaimRules {
                issuer,
                audience,
                user_claim: user_claim.trim().to_owned(),
                groups_claim: groups_claim.trim().to_owned(),
                token_use,
            },
            read_all_group: read_all_group.map(|g| g.trim().to_owned()),
            erase_group: erase_group.map(|g| g.trim().to_owned()),
            inline_keys,
            key_source,
            keys_max_age,
        })
    }

    /// What a start-up log should warn about: settings that work but weaken the checks.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.rules.user_claim != DEFAULT_USER_CLAIM {
            out.push(format!(
                "JWT_USER_CLAIM={}: a user id should be sub, which the provider never reuses \
                 and the user cannot change; a name or an email may be given to someone else \
                 later, who would then read the events stored under it",
                self.rules.user_claim
            ));
        }
        if self.rules.token_use == TokenUse::Any {
            out.push(
                "JWT_TOKEN_USE=any: ID tokens are taken where access tokens are meant; an ID \
                 token proves a sign-in to some client, not a grant to call this API"
                    .to_owned(),
            );
        }
        out
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
        assert_eq!(jwt.rules.groups_claim, "cognito:groups");
        assert_eq!(jwt.rules.token_use, TokenUse::Access);
        assert_eq!(
            jwt.read_all_group, None,
            "nobody reads all unless a group is named"
        );
        assert_eq!(jwt.keys_max_age, Duration::from_secs(3600));
        assert!(jwt.warnings().is_empty());
        assert_eq!(
            jwt.key_source,
            KeySource::Discovery {
                issuer: "https://id.example".into()
            }
        );
    }

    #[test]
    fn modes_and_bad_values_name_their_variable() {
        for (mode, want) in [
            ("none", AuthConfig::None),
            ("IAM", AuthConfig::Iam(IamConfig::default())),
        ] {
            let src: &[(&str, &str)] = &[("AUTH_MODE", mode)];
            assert_eq!(AuthConfig::from_source(src), Ok(want));
        }
        let base = [
            ("JWT_ISSUER", "https://id.example"),
            ("JWT_AUDIENCE", "app"),
        ];
        for (var, value) in [
            ("AUTH_MODE", "basic"),
            ("JWT_TOKEN_USE", "refresh"),
            ("JWT_JWKS_MAX_AGE_SECONDS", "59"),
            ("JWT_JWKS_MAX_AGE_SECONDS", "86401"),
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
    }

    #[test]
    fn an_empty_group_means_nobody_and_a_named_one_its_members() {
        let base = [
            ("JWT_ISSUER", "https://id.example"),
            ("JWT_AUDIENCE", "app"),
        ];
        let groups = |value: &str| {
            let mut src = base.to_vec();
            src.push(("JWT_READ_ALL_GROUP", value));
            src.push(("JWT_ERASE_GROUP", value));
            match AuthConfig::from_source(src.as_slice()) {
                Ok(AuthConfig::Jwt(jwt)) => (jwt.read_all_group, jwt.erase_group),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(groups(""), (None, None));
        assert_eq!(groups("  "), (None, None));
        let named = Some("staff".to_owned());
        assert_eq!(groups(" staff "), (named.clone(), named));
    }

    #[test]
    fn a_user_claim_other_than_sub_and_any_token_are_warned_about() {
        let src: &[(&str, &str)] = &[
            ("JWT_ISSUER", "https://id.example"),
            ("JWT_AUDIENCE", "app"),
            ("JWT_USER_CLAIM", "email"),
            ("JWT_TOKEN_USE", "any"),
            ("JWT_JWKS_MAX_AGE_SECONDS", "60"),
        ];
        let Ok(AuthConfig::Jwt(jwt)) = AuthConfig::from_source(src) else {
            panic!("not jwt");
        };
        let warnings = jwt.warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("JWT_USER_CLAIM=email"));
        assert!(warnings[1].starts_with("JWT_TOKEN_USE=any"));
        assert_eq!(jwt.keys_max_age, Duration::from_secs(60));
    }

    #[test]
    fn iam_allowed_principals_match_the_signer_or_its_role() {
        let src: &[(&str, &str)] = &[
            ("AUTH_MODE", "iam"),
            (
                "IAM_ALLOWED_PRINCIPALS",
                " arn:aws:iam::111122223333:role/writer , arn:aws:iam::111122223333:role/etl-* ",
            ),
        ];
        let Ok(AuthConfig::Iam(iam)) = AuthConfig::from_source(src) else {
            panic!("not iam");
        };
        assert_eq!(iam.allowed_principals.len(), 2);
        for allowed in [
            "arn:aws:sts::111122223333:assumed-role/writer/task-1",
            "arn:aws:iam::111122223333:role/writer",
            "arn:aws:sts::111122223333:assumed-role/etl-nightly/s",
        ] {
            assert!(iam.allows(allowed), "{allowed}");
        }
        for refused in [
            "arn:aws:sts::111122223333:assumed-role/writer2/task-1",
            "arn:aws:sts::444455556666:assumed-role/writer/task-1",
            "arn:aws:iam::111122223333:user/writer",
            "",
        ] {
            assert!(!iam.allows(refused), "{refused}");
        }
        assert!(IamConfig::default().allows("arn:aws:iam::1:user/anyone"));
        assert!(glob("a*c*e", "abcde") && glob("*", "") && !glob("a*c", "abd"));
    }
}
