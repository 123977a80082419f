//! The keys and tokens the bench's `AUTH_MODE=jwt` runs check: an RS256 key (what Amazon Cognito
//! signs with) and an ES256 key, given to the function inline (`JWT_JWKS`), and one token per
//! user of the bench's request bodies.

use crate::batch;
use dev_issuer::SigningKey;

/// The tokens' issuer: never fetched, since every key is inline.
pub const ISSUER: &str = "https://issuer.bench.invalid";
/// Their audience.
pub const AUDIENCE: &str = "bench-app";

/// The signing keys.
pub struct Tokens {
    rs256: SigningKey,
    es256: SigningKey,
}

impl Tokens {
    pub fn new() -> Self {
        Self {
            rs256: SigningKey::rs256("bench-rs256").expect("openssl makes an RSA key"),
            es256: SigningKey::es256("bench-es256").expect("a P-256 key"),
        }
    }

    /// Both keys as a JWKS document.
    pub fn jwks(&self) -> String {
        serde_json::json!({"keys": [self.rs256.jwk(), self.es256.jwk()]}).to_string()
    }

    /// Each key, by algorithm.
    pub fn keys(&self) -> [(&'static str, &SigningKey); 2] {
        [("RS256", &self.rs256), ("ES256", &self.es256)]
    }

    /// A bearer header for `user`, signed with `key`.
    pub fn bearer(key: &SigningKey, user: &str) -> String {
        let claims = dev_issuer::claims(ISSUER, user, AUDIENCE, "");
        format!("Bearer {}", key.token(&claims))
    }

    /// The header of each of the first `n` request bodies, for the body's user.
    pub fn per_body(&self, key: &SigningKey, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| Self::bearer(key, &batch::event(i).user_id))
            .collect()
    }
}
