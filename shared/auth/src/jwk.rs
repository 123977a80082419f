//! JSON Web Key Sets (RFC 7517): the issuer's public signing keys.
//!
//! Only what can verify an accepted algorithm is kept: RSA keys (RS256, at least 2048 bits) and
//! P-256 keys (ES256). Symmetric keys (`kty: oct`), encryption keys (`use: enc`), other curves
//! and other algorithms are dropped when the set is read, so no token can ever be checked with
//! a key of the wrong kind: a token's algorithm must also be its key's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;

/// The signature algorithms this API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Amazon Cognito, most OIDC providers).
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl Algorithm {
    /// The algorithm a JOSE `alg` names, if it is one this API accepts.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

/// Most keys kept from one set: a provider publishes a handful; more is a mistake or an attack.
pub const MAX_KEYS: usize = 64;
/// Largest key set document read, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    /// Big-endian modulus and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point `04 || x || y`.
    P256 { point: Vec<u8> },
}

/// One verifying key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    kid: Option<String>,
    alg: Algorithm,
    material: Material,
}

impl PublicKey {
    /// The key's id, when the set gives one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Whether `signature` is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature;
        match &self.material {
            Material::Rsa { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            Material::P256 { point } => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
        }
    }

    /// An RSA key from its big-endian modulus and exponent (test issuers build sets with it).
    pub fn rsa(kid: Option<String>, n: Vec<u8>, e: Vec<u8>) -> Self {
        Self {
            kid,
            alg: Algorithm::Rs256,
            material: Material::Rsa { n, e },
        }
    }

    /// An ES256 key from its uncompressed point (`04 || x || y`, as ring hands out a generated
    /// key's public half); `None` unless `point` is 65 bytes starting with 4.
    pub fn p256(kid: Option<String>, point: &[u8]) -> Option<Self> {
        (point.len() == 65 && point[0] == 4).then(|| Self {
            kid,
            alg: Algorithm::Es256,
            material: Material::P256 {
                point: point.to_vec(),
            },
        })
    }

    /// The key as a JWK object.
    pub fn to_jwk(&self) -> serde_json::Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut jwk = match &self.material {
            Material::Rsa { n, e } => serde_json::json!({"kty": "RSA", "n": b64(n), "e": b64(e)}),
            Material::P256 { point } => serde_json::json!({
                "kty": "EC", "crv": "P-256",
                "x": b64(point.get(1..33).unwrap_or_default()),
                "y": b64(point.get(33..).unwrap_or_default()),
            }),
        };
        jwk["alg"] = self.alg.name().into();
        jwk["use"] = "sig".into();
        if let Some(kid) = &self.kid {
            jwk["kid"] = kid.as_str().into();
        }
        jwk
    }
}

/// The keys of one set, in the set's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<PublicKey>,
}

/// Why a key set could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// Not a JSON object with a `keys` array.
    #[error("not a JSON Web Key Set: {0}")]
    NotAKeySet(String),
    /// Larger than [`MAX_JWKS_BYTES`].
    #[error("larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

impl KeySet {
    /// Reads a JWKS document, keeping the keys this API can use (see the module docs); the rest
    /// are skipped, not errors, since providers publish keys for other purposes beside them.
    pub fn parse(json: &[u8]) -> Result<Self, JwksError> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        let raw: RawSet =
            serde_json::from_slice(json).map_err(|e| JwksError::NotAKeySet(e.to_string()))?;
        let keys = raw
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<RawKey>(v).ok())
            .filter_map(usable)
            .take(MAX_KEYS)
            .collect();
        Ok(Self { keys })
    }

    /// A set of these keys.
    pub fn from_keys(keys: Vec<PublicKey>) -> Self {
        Self { keys }
    }

    /// The set as a JWKS document.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.keys.iter().map(PublicKey::to_jwk).collect::<Vec<_>>() })
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys that may have signed a token of `alg` with `kid`: those with that id, or, for a
    /// token without one, every key of the algorithm.
    pub fn candidates(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &PublicKey> + '_ {
        let kid = kid.map(str::to_owned);
        self.keys
            .iter()
            .filter(move |k| k.alg == alg && (kid.is_none() || k.kid == kid))
    }

    /// The union of `self` and `newer`, where a key of `newer` replaces one of `self` with its
    /// id: inline keys stay usable after a fetch, and a fetched key wins over a stale copy.
    pub fn merged(&self, newer: &KeySet) -> KeySet {
        let mut keys = newer.keys.clone();
        for key in &self.keys {
            if !keys.iter().any(|k| k.kid == key.kid && k.alg == key.alg) {
                keys.push(key.clone());
            }
        }
        keys.truncate(MAX_KEYS);
        KeySet { keys }
    }
}

fn decode(field: Option<&String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(field?.trim_end_matches('=').as_bytes())
        .ok()
}

/// The key `raw` describes, if this API can use it.
fn usable(raw: RawKey) -> Option<PublicKey> {
    if raw.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let (alg, material) = match raw.kty.as_str() {
        "RSA" => {
            let n = decode(raw.n.as_ref())?;
            let e = decode(raw.e.as_ref())?;
            // ring verifies 2048 to 8192 bits; a shorter key is refused here, not per token.
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if !(2048..=8192).contains(&bits) || e.is_empty() || e.len() > 8 {
                return None;
            }
            (Algorithm::Rs256, Material::Rsa { n, e })
        }
        "EC" if raw.crv.as_deref() == Some("P-256") => {
            let x = decode(raw.x.as_ref())?;
            let y = decode(raw.y.as_ref())?;
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (Algorithm::Es256, Material::P256 { point })
        }
        _ => return None,
    };
    if raw
        .alg
        .as_deref()
        .is_some_and(|a| Algorithm::from_name(a) != Some(alg))
    {
        return None;
    }
    Some(PublicKey {
        kid: raw.kid,
        alg,
        material,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa_jwk(kid: &str, bits: usize) -> serde_json::Value {
        let mut n = vec![0xC5u8; bits / 8];
        n[0] = 0xC5;
        serde_json::json!({"kty": "RSA", "kid": kid, "n": URL_SAFE_NO_PAD.encode(&n), "e": "AQAB"})
    }

    #[test]
    fn keeps_only_keys_that_verify_an_accepted_algorithm() {
        let point = [[4u8].as_slice(), &[1u8; 32], &[2u8; 32]].concat();
        let ec = PublicKey::p256(Some("ec".into()), &point).expect("point");
        let set = serde_json::json!({"keys": [
            rsa_jwk("rsa", 2048),
            rsa_jwk("short", 1024),
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": rsa_jwk("x", 2048)["n"], "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": rsa_jwk("x", 2048)["n"], "e": "AQAB"},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "no-n", "e": "AQAB"},
            "not an object",
            ec.to_jwk(),
        ]});
        let keys = KeySet::parse(set.to_string().as_bytes()).expect("a set");
        let kids: Vec<_> = keys.keys.iter().filter_map(PublicKey::kid).collect();
        assert_eq!(kids, ["rsa", "ec"]);
        assert_eq!(
            keys.candidates(Some("ec"), Algorithm::Es256).count(),
            1,
            "by kid and algorithm"
        );
        assert_eq!(keys.candidates(Some("ec"), Algorithm::Rs256).count(), 0);
        assert_eq!(keys.candidates(None, Algorithm::Rs256).count(), 1);
    }

    #[test]
    fn a_set_round_trips_and_bad_documents_are_errors() {
        let point = [[4u8].as_slice(), &[7u8; 32], &[9u8; 32]].concat();
        let set = KeySet::from_keys(vec![
            PublicKey::p256(Some("a".into()), &point).expect("point"),
            PublicKey::rsa(Some("b".into()), vec![0xC1; 256], vec![1, 0, 1]),
        ]);
        let again = KeySet::parse(set.to_json().to_string().as_bytes()).expect("parses");
        assert_eq!(again, set);
        assert!(KeySet::parse(b"[]").is_err());
        assert!(KeySet::parse(b"{\"keys\": 1}").is_err());
        assert_eq!(
            KeySet::parse(&vec![b' '; MAX_JWKS_BYTES + 1]),
            Err(JwksError::TooLarge)
        );
    }

    #[test]
    fn a_merge_keeps_older_keys_and_prefers_newer_ones() {
        let old = KeySet::from_keys(vec![
            PublicKey::rsa(Some("a".into()), vec![0xC1; 256], vec![3]),
            PublicKey::rsa(Some("b".into()), vec![0xC1; 256], vec![3]),
        ]);
        let new = KeySet::from_keys(vec![PublicKey::rsa(
            Some("b".into()),
            vec![0xC2; 256],
            vec![3],
        )]);
        let merged = old.merged(&new);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged.keys[0], new.keys[0]);
    }
}
