//! Bearer tokens: compact JWS (RFC 7515) carrying JWT claims (RFC 7519), read without trusting
//! a byte of them until the signature checked out.
//!
//! [`parse`] splits a token and reads only its header: the algorithm must be RS256 or ES256 (so
//! `none` and every HMAC are refused before any key is looked at) and no critical extension may
//! be named. [`Unverified::verify`] checks the signature with the keys published under the
//! token's `kid` *for that algorithm*, so a key never verifies a token of another kind. Only then
//! does [`check_claims`] read the claims: issuer, audience, expiry, not-before, the kind of
//! token, the user id, its groups and the scopes.

use crate::error::AuthError;
use crate::jwk::{Algorithm, KeySet};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

/// Longest token read, in bytes (a Cognito ID token with many groups is about 4 KB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Clock difference tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: i64 = 60;
/// Keys tried for a token without a `kid`.
const MAX_KIDLESS_TRIES: usize = 4;

/// A token whose header was read and whose signature was not checked yet.
#[derive(Debug)]
pub struct Unverified<'a> {
    alg: Algorithm,
    kid: Option<String>,
    typ: Option<String>,
    signing_input: &'a [u8],
    signature: Vec<u8>,
    claims: &'a str,
}

/// Splits a compact token and reads its header (see the module docs).
pub fn parse(token: &str) -> Result<Unverified<'_>, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::Malformed("it is longer than 16 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "it must be three base64url parts joined by dots",
        ));
    };
    let header = decode(header, "its header is not base64url")?;
    let header: serde_json::Map<String, Value> = serde_json::from_slice(&header)
        .map_err(|_| AuthError::Malformed("its header is not a JSON object"))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(AuthError::Malformed("its header names no algorithm"))?;
    let alg = Algorithm::from_name(alg).ok_or(AuthError::Algorithm)?;
    if header.contains_key("crit") {
        return Err(AuthError::Critical);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(AuthError::Malformed("its kid is not a string")),
    };
    let typ = match header.get("typ") {
        None => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => return Err(AuthError::Malformed("its typ is not a string")),
    };
    let signature = decode(signature, "its signature is not base64url")?;
    if signature.is_empty() {
        return Err(AuthError::Signature);
    }
    // The signed bytes are the first two parts with their dot, as sent.
    let signed = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
    Ok(Unverified {
        alg,
        kid,
        typ,
        signing_input: &token.as_bytes()[..signed],
        signature,
        claims,
    })
}

fn decode(part: &str, problem: &'static str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(part.as_bytes())
        .map_err(|_| AuthError::Malformed(problem))
}

impl Unverified<'_> {
    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The header's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The header's `typ` (`at+jwt` for an RFC 9068 access token).
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// Checks the signature against `keys`: [`AuthError::UnknownKey`] when no key of the token's
    /// algorithm has its `kid`, [`AuthError::Signature`] when none of those verifies it. On
    /// success, the claims' bytes, still to be checked with [`check_claims`].
    pub fn verify(&self, keys: &KeySet) -> Result<Vec<u8>, AuthError> {
        let limit = if self.kid.is_some() {
            usize::MAX
        } else {
            MAX_KIDLESS_TRIES
        };
        let mut candidates = keys
            .candidates(self.kid.as_deref(), self.alg)
            .take(limit)
            .peekable();
        if candidates.peek().is_none() {
            return Err(AuthError::UnknownKey);
        }
        if !candidates.any(|k| k.verifies(self.signing_input, &self.signature)) {
            return Err(AuthError::Signature);
        }
        decode(self.claims, "its claims are not base64url")
    }
}

/// What a token's claims must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRules {
    /// `iss`, exactly.
    pub issuer: String,
    /// A member of `aud` (a string or an array), or, when the token has no `aud`, its
    /// `client_id` (Amazon Cognito's access tokens name their app client there).
    pub audience: String,
    /// The claim holding the caller's user id (`sub` unless configured).
    pub user_claim: String,
    /// The claim listing the user's groups (`cognito:groups` unless configured).
    pub groups_claim: String,
    /// Which kind of token is taken.
    pub token_use: TokenUse,
}

/// Which kind of token the API takes (`JWT_TOKEN_USE`). A token says what it is with Amazon
/// Cognito's `token_use` claim (`access` or `id`) or RFC 9068's header `typ: at+jwt` (an access
/// token); one that says neither is taken as either, since many providers mark neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// Access tokens (the default): a token that says it is an ID token is refused. An ID token
    /// proves who signed in to a client, not that the client may call this API on their behalf.
    Access,
    /// ID tokens: a token that says it is an access token is refused, and one issued to several
    /// audiences must name this API's client in `azp` (OpenID Connect Core 1.0, 3.1.3.7).
    Id,
    /// Either kind.
    Any,
}

impl TokenUse {
    /// `access`, `id` or `any`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "access" => Some(Self::Access),
            "id" => Some(Self::Id),
            "any" => Some(Self::Any),
            _ => None,
        }
    }
}

/// What a token says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Access,
    Id,
    Unsaid,
}

fn kind(typ: Option<&str>, claims: &serde_json::Map<String, Value>) -> Kind {
    match claims.get("token_use").and_then(Value::as_str) {
        Some("access") => return Kind::Access,
        Some("id") => return Kind::Id,
        _ => {}
    }
    match typ.map(str::to_ascii_lowercase).as_deref() {
        Some("at+jwt" | "application/at+jwt") => Kind::Access,
        _ => Kind::Unsaid,
    }
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user claim's value.
    pub user_id: String,
    /// The scopes of `scope` (space-separated) and `scp` (a string or an array).
    pub scopes: Vec<String>,
    /// The groups of the groups claim (an array of strings, or a space-separated string).
    pub groups: Vec<String>,
}

/// Checks verified claims, and the header's `typ`, against `rules` at `now_s` (Unix seconds).
pub fn check_claims(
    claims: &[u8],
    typ: Option<&str>,
    rules: &ClaimRules,
    now_s: i64,
) -> Result<Identity, AuthError> {
    let claims: serde_json::Map<String, Value> = serde_json::from_slice(claims)
        .map_err(|_| AuthError::Malformed("its claims are not a JSON object"))?;
    let time = |name: &str| -> Result<Option<f64>, AuthError> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or(AuthError::Malformed("a time claim is not a number")),
        }
    };
    let now = now_s as f64;
    let leeway = LEEWAY_SECS as f64;
    match time("exp")? {
        Some(exp) if now <= exp + leeway => {}
        _ => return Err(AuthError::Expired),
    }
    if time("nbf")?.is_some_and(|nbf| nbf > now + leeway) {
        return Err(AuthError::NotYetValid);
    }
    if claims.get("iss").and_then(Value::as_str) != Some(rules.issuer.as_str()) {
        return Err(AuthError::Issuer);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == rules.audience,
        Some(Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(&rules.audience)),
        Some(_) => false,
        None => claims.get("client_id").and_then(Value::as_str) == Some(rules.audience.as_str()),
    };
    if !audience_ok {
        return Err(AuthError::Audience);
    }
    let kind = kind(typ, &claims);
    match (rules.token_use, kind) {
        (TokenUse::Access, Kind::Id) | (TokenUse::Id, Kind::Access) => {
            return Err(AuthError::TokenUse)
        }
        _ => {}
    }
    // An ID token names the client it was issued to in `azp`; with several audiences it must
    // (OpenID Connect Core 1.0, 3.1.3.7, points 4 and 5).
    if rules.token_use == TokenUse::Id || kind == Kind::Id {
        let several = claims
            .get("aud")
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() > 1);
        match claims.get("azp") {
            Some(Value::String(azp)) if *azp == rules.audience => {}
            None if !several => {}
            _ => return Err(AuthError::AuthorizedParty),
        }
    }
    let user_id = match claims.get(&rules.user_claim) {
        Some(Value::String(u)) if !u.is_empty() => u.clone(),
        _ => return Err(AuthError::NoUser),
    };
    let mut scopes = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => scopes.extend(s.split_whitespace().map(str::to_owned)),
            Some(Value::Array(all)) => {
                scopes.extend(all.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    let groups = match claims.get(&rules.groups_claim) {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(all)) => all
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Ok(Identity {
        user_id,
        scopes,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> ClaimRules {
        ClaimRules {
            issuer: "https://issuer.example".into(),
            audience: "app".into(),
            user_claim: "sub".into(),
            groups_claim: "cognito:groups".into(),
            token_use: TokenUse::Access,
        }
    }

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn check(claims: Value) -> Result<Identity, AuthError> {
        check_claims(claims.to_string().as_bytes(), None, &rules(), 1_000_000)
    }

    fn good() -> Value {
        json!({"iss": "https://issuer.example", "aud": "app", "sub": "alice", "exp": 1_000_100})
    }

    #[test]
    fn the_header_decides_what_is_even_looked_at() {
        let token = |h: Value| format!("{}.{}.c2ln", b64(&h), b64(&good()));
        for alg in ["none", "HS256", "RS512", "PS256", "ES384", "EdDSA"] {
            assert_eq!(
                parse(&token(json!({ "alg": alg }))).err(),
                Some(AuthError::Algorithm),
                "{alg}"
            );
        }
        assert_eq!(
            parse(&token(json!({"alg": "RS256", "crit": ["exp"]}))).err(),
            Some(AuthError::Critical)
        );
        let ok = token(json!({"alg": "ES256", "kid": "k1"}));
        let t = parse(&ok).expect("parses");
        assert_eq!((t.algorithm(), t.kid()), (Algorithm::Es256, Some("k1")));
        assert_eq!(
            t.signing_input,
            ok.rsplit_once('.')
                .map(|(a, _)| a.as_bytes())
                .unwrap_or_default()
        );
        assert_eq!(
            t.verify(&KeySet::default()).err(),
            Some(AuthError::UnknownKey)
        );
        for bad in [
            "",
            "a.b",
            "a.b.c.d.e",
            "!!.e30.c2ln",
            "e30.e30.c2ln",
            &"a".repeat(20_000),
        ] {
            assert!(
                matches!(parse(bad), Err(AuthError::Malformed(_))),
                "{bad:.20}"
            );
        }
        // An empty signature (an `alg: none` token relabelled) is never a signature.
        let unsigned = format!("{}.{}.", b64(&json!({"alg": "RS256"})), b64(&good()));
        assert_eq!(parse(&unsigned).err(), Some(AuthError::Signature));
    }

    #[test]
    fn claims_are_checked_one_by_one() {
        let with = |k: &str, v: Value| {
            let mut c = good();
            c[k] = v;
            check(c)
        };
        let without = |k: &str| {
            let mut c = good();
            c.as_object_mut().map(|o| o.remove(k));
            check(c)
        };
        assert_eq!(
            check(good()),
            Ok(Identity {
                user_id: "alice".into(),
                scopes: vec![],
                groups: vec![]
            })
        );
        assert_eq!(with("exp", json!(1_000_000 - 61)), Err(AuthError::Expired));
        assert!(
            with("exp", json!(1_000_000 - 59)).is_ok(),
            "within the leeway"
        );
        assert_eq!(without("exp"), Err(AuthError::Expired));
        assert!(matches!(
            with("exp", json!("soon")),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(with("nbf", json!(1_000_061)), Err(AuthError::NotYetValid));
        assert!(with("nbf", json!(1_000_059.5)).is_ok());
        assert_eq!(with("iss", json!("https://other")), Err(AuthError::Issuer));
        assert_eq!(without("iss"), Err(AuthError::Issuer));
        assert_eq!(with("aud", json!("other")), Err(AuthError::Audience));
        assert!(with("aud", json!(["other", "app"])).is_ok());
        assert_eq!(with("aud", json!(7)), Err(AuthError::Audience));
        assert_eq!(without("aud"), Err(AuthError::Audience));
        let mut cognito_access = good();
        cognito_access.as_object_mut().map(|o| o.remove("aud"));
        cognito_access["client_id"] = json!("app");
        assert!(check(cognito_access).is_ok());
        assert_eq!(with("sub", json!(42)), Err(AuthError::NoUser));
        assert_eq!(with("sub", json!("")), Err(AuthError::NoUser));
        let mut scoped = good();
        scoped["scope"] = json!("openid events:read:all");
        scoped["scp"] = json!(["profile"]);
        assert_eq!(
            check(scoped).map(|i| i.scopes),
            Ok(vec![
                "openid".into(),
                "events:read:all".into(),
                "profile".into()
            ])
        );
    }

    #[test]
    fn groups_come_from_the_configured_claim_as_an_array_or_a_string() {
        let with = |claim: &str, v: Value| {
            let mut c = good();
            c[claim] = v;
            check(c).map(|i| i.groups)
        };
        assert_eq!(
            with("cognito:groups", json!(["auditors", "staff", 3])),
            Ok(vec!["auditors".to_owned(), "staff".to_owned()])
        );
        assert_eq!(
            with("cognito:groups", json!("auditors staff")),
            Ok(vec!["auditors".to_owned(), "staff".to_owned()])
        );
        assert_eq!(
            with("roles", json!(["auditors"])),
            Ok(vec![]),
            "another claim"
        );
        assert_eq!(with("cognito:groups", json!({"a": 1})), Ok(vec![]));
    }

    #[test]
    fn the_token_kind_is_the_one_configured() {
        let at = |use_: TokenUse, claims: Value, typ: Option<&str>| {
            let rules = ClaimRules {
                token_use: use_,
                ..rules()
            };
            check_claims(claims.to_string().as_bytes(), typ, &rules, 1_000_000).map(|_| ())
        };
        let said = |k: &str| {
            let mut c = good();
            c["token_use"] = json!(k);
            c
        };
        // Access tokens by default: Cognito's ID token is refused, and an RFC 9068 one taken.
        assert_eq!(
            at(TokenUse::Access, said("id"), None),
            Err(AuthError::TokenUse)
        );
        assert_eq!(at(TokenUse::Access, said("access"), None), Ok(()));
        assert_eq!(at(TokenUse::Access, good(), Some("at+jwt")), Ok(()));
        assert_eq!(at(TokenUse::Access, good(), None), Ok(()), "says neither");
        assert_eq!(
            at(TokenUse::Id, said("access"), None),
            Err(AuthError::TokenUse)
        );
        assert_eq!(
            at(TokenUse::Id, good(), Some("at+jwt")),
            Err(AuthError::TokenUse)
        );
        assert_eq!(at(TokenUse::Id, said("id"), None), Ok(()));
        assert_eq!(at(TokenUse::Any, said("id"), None), Ok(()));
        assert_eq!(at(TokenUse::Any, said("access"), None), Ok(()));
        // An ID token for several audiences names this client in azp.
        let mut shared = said("id");
        shared["aud"] = json!(["app", "other"]);
        assert_eq!(
            at(TokenUse::Id, shared.clone(), None),
            Err(AuthError::AuthorizedParty)
        );
        shared["azp"] = json!("other");
        assert_eq!(
            at(TokenUse::Id, shared.clone(), None),
            Err(AuthError::AuthorizedParty)
        );
        shared["azp"] = json!("app");
        assert_eq!(at(TokenUse::Id, shared, None), Ok(()));
        assert_eq!(TokenUse::parse(" ID "), Some(TokenUse::Id));
        assert_eq!(TokenUse::parse("refresh"), None);
    }
}
