//! Who is calling, and what they may read and write.
//!
//! The API runs in one of three modes (`AUTH_MODE`, read by [`AuthConfig`]):
//! - `jwt`, for browsers and apps: each request carries an OpenID Connect access or ID token
//!   (`Authorization: Bearer …`), verified here against the issuer's published keys
//!   ([`token`] reads and checks it, [`jwk`] holds keys, [`keys`] fetches them within a budget).
//!   The caller is a [`Caller::User`]: it writes only its own events and reads only its own,
//!   unless it is a member of the read-all group (`JWT_READ_ALL_GROUP`), which lists anyone's
//!   and still writes only its own.
//! - `iam`, for services: the Function URL's `AWS_IAM` auth checked the SigV4 signature before
//!   the function ran, and the signer is a [`Caller::Service`], trusted to write for any user
//!   and to read everything.
//! - `none`, for local development: a [`Caller::Anonymous`] may do anything.
//!
//! [`Authenticator`] turns a request's credentials into a [`Caller`]; the caller's methods are
//! the access rules. Every `Idempotency-Key` is scoped by [`Caller::key_scope`], so that one
//! caller can neither replay nor block another's key.
#![warn(missing_docs)]

#[cfg(feature = "client")]
mod authenticator;
#[cfg(feature = "client")]
pub mod config;
pub mod error;
pub mod jwk;
#[cfg(feature = "client")]
pub mod keys;
#[cfg(feature = "client")]
pub mod remote;
pub mod token;

#[cfg(feature = "client")]
pub use authenticator::Authenticator;
#[cfg(feature = "client")]
pub use config::{AuthConfig, IamConfig, JwtConfig};
pub use error::{AuthError, Denied};
#[cfg(feature = "client")]
pub use keys::{Jwks, JwksPolicy, KeySource};
pub use token::{ClaimRules, Identity, TokenUse};

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// `AUTH_MODE=none`: nobody was asked.
    Anonymous,
    /// `AUTH_MODE=iam`: the principal that signed the request (its ARN).
    Service {
        /// `requestContext.authorizer.iam.userArn` (else its caller id).
        principal: String,
    },
    /// `AUTH_MODE=jwt`: the user a valid token speaks for.
    User {
        /// The token's user claim.
        user_id: String,
        /// The user is in the read-all group (a right of the user, never a scope).
        read_all: bool,
        /// The user is in the erase group: it may erase any user's events.
        erase_any: bool,
    },
}

impl Caller {
    /// Whether the caller may send an event for `user_id`: a user only for itself.
    pub fn may_write_for(&self, user_id: &str) -> Result<(), Denied> {
        match self {
            Self::User { user_id: me, .. } if me != user_id => Err(Denied(
                "a token may only send events for its own user: userId must be the token's user id",
            )),
            _ => Ok(()),
        }
    }

    /// Whether the caller may erase `user_id`'s events: a user its own, or anyone's when it is
    /// in the erase group; a service (`iam`) and an anonymous caller (`none`) anyone's.
    pub fn may_erase(&self, user_id: &str) -> Result<(), Denied> {
        match self {
            Self::User {
                user_id: me,
                erase_any: false,
                ..
            } if me != user_id => Err(Denied(
                "a token may only erase its own user's events (members of the erase group may erase anyone's)",
            )),
            _ => Ok(()),
        }
    }

    /// The user filter a listing runs with, given the one asked for: a user without the
    /// read-all right sees only its own events, and asking for anyone else's is refused.
    pub fn listing_filter(&self, asked: Option<String>) -> Result<Option<String>, Denied> {
        match self {
            Self::User {
                user_id,
                read_all: false,
                ..
            } => match asked {
                None => Ok(Some(user_id.clone())),
                Some(asked) if asked == *user_id => Ok(Some(asked)),
                Some(_) => Err(Denied(
                    "this token may list only its own user's events (members of the read-all group may list anyone's)",
                )),
            },
            _ => Ok(asked),
        }
    }

    /// What an `Idempotency-Key` is scoped by besides the event's `userId`: nothing for an
    /// anonymous caller (so keys recorded before identities existed still answer), else the
    /// caller's kind and identity. A service's identity is its role ([`role_of`]), not one
    /// session of it.
    pub fn key_scope(&self) -> String {
        match self {
            Self::Anonymous => String::new(),
            Self::Service { principal } => format!("iam:{}", role_of(principal)),
            Self::User { user_id, .. } => format!("jwt:{user_id}"),
        }
    }
}

/// The role an assumed-role session belongs to: `arn:P:sts::ACCOUNT:assumed-role/NAME/SESSION`
/// is `arn:P:iam::ACCOUNT:role/NAME`. The session name differs between the tasks of one service
/// and changes when credentials are refreshed, so a retry that keys on it would miss the first
/// attempt's key and publish a second event. Any other principal (a user, a role ARN) is itself.
pub fn role_of(principal: &str) -> std::borrow::Cow<'_, str> {
    let parts: Vec<&str> = principal.splitn(6, ':').collect();
    if let ["arn", partition, "sts", "", account, resource] = parts.as_slice() {
        if let Some((name, _session)) = resource
            .strip_prefix("assumed-role/")
            .and_then(|rest| rest.split_once('/'))
        {
            return format!("arn:{partition}:iam::{account}:role/{name}").into();
        }
    }
    principal.into()
}

/// The bearer token of a request's `Authorization` header values: exactly one header, scheme
/// `Bearer` (any case), one token.
pub fn bearer<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<&'a str, AuthError> {
    let mut values = values.into_iter();
    let Some(value) = values.next() else {
        return Err(AuthError::Missing);
    };
    if values.next().is_some() {
        return Err(AuthError::NotBearer);
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| AuthError::NotBearer)?
        .trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let token = token.trim_start_matches(' ');
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(AuthError::NotBearer);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_keys_as_its_role_and_other_principals_as_themselves() {
        assert_eq!(
            role_of("arn:aws:sts::123456789012:assumed-role/writer/task-1"),
            "arn:aws:iam::123456789012:role/writer"
        );
        assert_eq!(
            role_of("arn:aws-cn:sts::123456789012:assumed-role/w/s/extra"),
            "arn:aws-cn:iam::123456789012:role/w"
        );
        for itself in [
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::123456789012:role/writer",
            "arn:aws:sts::123456789012:assumed-role/no-session",
            "arn:aws:sts::123456789012:federated-user/bob",
            "AROAEXAMPLE:s",
            "",
        ] {
            assert_eq!(role_of(itself), itself);
        }
        let session = |s: &str| Caller::Service {
            principal: format!("arn:aws:sts::1:assumed-role/writer/{s}"),
        };
        assert_eq!(session("a").key_scope(), session("b").key_scope());
        assert_ne!(
            session("a").key_scope(),
            Caller::Service {
                principal: "arn:aws:sts::1:assumed-role/other/a".into()
            }
            .key_scope()
        );
    }

    #[test]
    fn users_write_their_own_and_read_their_own_unless_scoped() {
        let alice = Caller::User {
            user_id: "alice".into(),
            read_all: false,
            erase_any: false,
        };
        assert!(alice.may_write_for("alice").is_ok());
        assert!(alice.may_write_for("bob").is_err());
        assert_eq!(alice.listing_filter(None), Ok(Some("alice".into())));
        assert_eq!(
            alice.listing_filter(Some("alice".into())),
            Ok(Some("alice".into()))
        );
        assert!(alice.listing_filter(Some("bob".into())).is_err());
        let reader = Caller::User {
            user_id: "auditor".into(),
            read_all: true,
            erase_any: false,
        };
        assert!(
            reader.may_write_for("bob").is_err(),
            "reading all is not writing"
        );
        assert_eq!(reader.listing_filter(None), Ok(None));
        assert_eq!(
            reader.listing_filter(Some("bob".into())),
            Ok(Some("bob".into()))
        );
        let service = Caller::Service {
            principal: "arn:aws:iam::1:role/r".into(),
        };
        assert!(service.may_write_for("bob").is_ok());
        assert_eq!(service.listing_filter(None), Ok(None));
        // Erasing: one's own, or anyone's in the erase group (reading all is not erasing).
        assert!(alice.may_erase("alice").is_ok());
        assert!(alice.may_erase("bob").is_err());
        assert!(reader.may_erase("bob").is_err());
        let eraser = Caller::User {
            user_id: "dpo".into(),
            read_all: false,
            erase_any: true,
        };
        assert!(eraser.may_erase("bob").is_ok());
        assert!(eraser.may_write_for("bob").is_err());
        assert!(service.may_erase("bob").is_ok() && Caller::Anonymous.may_erase("bob").is_ok());
        let scopes: Vec<String> = [Caller::Anonymous, service, alice, reader]
            .iter()
            .map(Caller::key_scope)
            .collect();
        assert_eq!(
            scopes,
            ["", "iam:arn:aws:iam::1:role/r", "jwt:alice", "jwt:auditor"]
        );
    }

    #[test]
    fn the_authorization_header_is_one_bearer_token() {
        let one = |v: &'static str| bearer([v.as_bytes()]);
        assert_eq!(one("Bearer abc.def.ghi"), Ok("abc.def.ghi"));
        assert_eq!(one("bearer   abc"), Ok("abc"));
        assert_eq!(bearer(std::iter::empty()), Err(AuthError::Missing));
        for bad in [
            "Basic YWxhZGRpbjpvcGVu",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "abc",
        ] {
            assert_eq!(one(bad), Err(AuthError::NotBearer), "{bad}");
        }
        assert_eq!(
            bearer([b"Bearer a".as_slice(), b"Bearer b".as_slice()]),
            Err(AuthError::NotBearer)
        );
        assert_eq!(
            bearer([b"Bearer \xff".as_slice()]),
            Err(AuthError::NotBearer)
        );
    }
}
