//! Why a caller was not let in, and why a setting was refused.

/// Why a request's credentials were refused. Each variant's message is safe to send back as an
/// RFC 6750 `error_description` (printable ASCII, no quotes or backslashes) and says what to fix
/// without saying which key or claim value the server expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header (or no IAM signature where one is required).
    #[error("this request needs credentials: send Authorization: Bearer followed by an access or ID token")]
    Missing,
    /// An `Authorization` header of another scheme, or several of them.
    #[error("the Authorization header must be one Bearer token")]
    NotBearer,
    /// The token is not a compact JWS (three base64url parts, JSON header and claims).
    #[error("the token is not a well-formed JWT: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm other than RS256 and ES256 (`none` and HMAC among them).
    #[error(
        "the token is signed with an algorithm this API does not accept; only RS256 and ES256 are"
    )]
    Algorithm,
    /// The header lists extensions (`crit`) this API does not implement.
    #[error("the token uses critical header extensions this API does not understand")]
    Critical,
    /// No published key matches the token's `kid` and algorithm.
    #[error("the token is signed with a key the issuer does not publish")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    Signature,
    /// `exp` is missing or has passed.
    #[error("the token has expired (or has no exp claim)")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by another issuer")]
    Issuer,
    /// Neither `aud` nor, without `aud`, `client_id` names this API.
    #[error("the token was issued for another audience")]
    Audience,
    /// The user claim is missing or not a string.
    #[error("the token carries no user id claim")]
    NoUser,
    /// The token is of the other kind (`JWT_TOKEN_USE`: an ID token where access tokens are
    /// taken, or the reverse).
    #[error("the token is of a kind this API does not take: an ID token where access tokens are expected, or the reverse")]
    TokenUse,
    /// An ID token issued to several audiences does not name this API's client in `azp`.
    #[error("the token was issued to another client (azp)")]
    AuthorizedParty,
    /// The issuer's keys could not be fetched; the token may be good. Holds the cause, for the
    /// log only.
    #[error("the identity provider's keys could not be fetched; retry later")]
    KeysUnavailable(String),
    /// The request reached a Function URL in `iam` mode without a SigV4 identity: the URL is not
    /// `AWS_IAM`, or the request did not come through one.
    #[error("this request carries no AWS IAM identity; sign it with SigV4")]
    NoIamIdentity,
}

impl AuthError {
    /// Whether credentials were sent: RFC 6750 answers a request without any with a bare
    /// challenge, and one with a bad token with `error="invalid_token"`.
    pub fn credentials_sent(&self) -> bool {
        !matches!(self, Self::Missing | Self::NoIamIdentity)
    }
}

/// A request the caller may not make, with the sentence that says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub &'static str);

/// Whether `text` may stand in a quoted `error_description` (RFC 6750 section 3: printable
/// ASCII without `"` and `\\`).
pub fn fits_challenge(text: &str) -> bool {
    text.bytes()
        .all(|b| (0x20..=0x7E).contains(&b) && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_fits_a_challenge() {
        let all = [
            AuthError::Missing,
            AuthError::NotBearer,
            AuthError::Malformed("its header is not a JSON object"),
            AuthError::Algorithm,
            AuthError::Critical,
            AuthError::UnknownKey,
            AuthError::Signature,
            AuthError::Expired,
            AuthError::NotYetValid,
            AuthError::Issuer,
            AuthError::Audience,
            AuthError::NoUser,
            AuthError::TokenUse,
            AuthError::AuthorizedParty,
            AuthError::KeysUnavailable("x".into()),
            AuthError::NoIamIdentity,
        ];
        for e in all {
            assert!(fits_challenge(&e.to_string()), "{e:?}");
        }
        assert!(!fits_challenge("a \"quote\""));
    }
}
