//! Signing keys and compact JWS tokens, generated and signed here with ring.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};
use serde_json::{json, Value};

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private key with its id.
pub struct SigningKey {
    kid: String,
    pair: Pair,
}

impl SigningKey {
    /// A new P-256 key (ES256).
    pub fn es256(kid: &str) -> Result<Self, String> {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).map_err(|e| e.to_string())?;
        let pair =
            EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).map_err(|e| e.to_string())?;
        Ok(Self {
            kid: kid.to_owned(),
            pair: Pair::Ec(pair),
        })
    }

    /// A new 2048-bit RSA key (RS256). ring does not generate RSA keys, so `openssl genpkey`
    /// makes it (tests only; the dev issuer signs with ES256).
    pub fn rs256(kid: &str) -> Result<Self, String> {
        let out = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-outform",
                "DER",
            ])
            .output()
            .map_err(|e| format!("openssl: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        // With -outform DER, OpenSSL writes the key as PKCS#1 (RSAPrivateKey).
        let pair = RsaKeyPair::from_der(&out.stdout).map_err(|e| e.to_string())?;
        Ok(Self {
            kid: kid.to_owned(),
            pair: Pair::Rsa(pair),
        })
    }

    /// The key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JOSE algorithm it signs with.
    pub fn alg(&self) -> &'static str {
        match self.pair {
            Pair::Rsa(_) => "RS256",
            Pair::Ec(_) => "ES256",
        }
    }

    /// The public half as a JWK.
    pub fn jwk(&self) -> Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut jwk = match &self.pair {
            Pair::Rsa(pair) => {
                let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({"kty": "RSA", "n": b64(&public.n), "e": b64(&public.e)})
            }
            Pair::Ec(pair) => {
                use signature::KeyPair as _;
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256",
                    "x": b64(point.get(1..33).unwrap_or_default()),
                    "y": b64(point.get(33..65).unwrap_or_default())})
            }
        };
        jwk["kid"] = self.kid.as_str().into();
        jwk["alg"] = self.alg().into();
        jwk["use"] = "sig".into();
        jwk
    }

    /// A token of `claims` with the usual header (`alg`, `kid`, `typ: JWT`).
    pub fn token(&self, claims: &Value) -> String {
        self.sign(
            &json!({"alg": self.alg(), "kid": self.kid, "typ": "JWT"}),
            claims,
        )
    }

    /// A token of any header and claims, signed with this key's algorithm.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64_json(header), b64_json(claims));
        let rng = SystemRandom::new();
        let signature = match &self.pair {
            Pair::Rsa(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                match pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut sig,
                ) {
                    Ok(()) => sig,
                    Err(_) => Vec::new(),
                }
            }
            Pair::Ec(pair) => pair
                .sign(&rng, input.as_bytes())
                .map(|s| s.as_ref().to_vec())
                .unwrap_or_default(),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// A JSON value as base64url without padding, as a JWS part.
pub fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}
