//! How clients authenticate to the brokers: `KAFKA_AUTH=plaintext` (local), `tls`, or `iam`
//! (Amazon MSK with IAM access control: SASL/OAUTHBEARER with a SigV4-signed token).
//!
//! An MSK IAM token is a presigned `kafka-cluster:Connect` request to
//! `https://kafka.<region>.amazonaws.com/`, valid 15 minutes, base64url-encoded. librdkafka asks
//! for a fresh one through [`AuthContext`] before the current one expires.

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rdkafka::client::OAuthToken;
use rdkafka::consumer::ConsumerContext;
use rdkafka::ClientContext;
use std::error::Error;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Broker authentication mode (`KAFKA_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaAuth {
    /// No TLS, no SASL: the local broker or docker compose.
    Plaintext,
    /// TLS, no SASL (MSK's TLS listener, port 9094).
    Tls,
    /// TLS + SASL/OAUTHBEARER with MSK IAM tokens (MSK's IAM listener, port 9098).
    Iam,
}

impl KafkaAuth {
    /// Parses `plaintext`, `tls` or `iam` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "plaintext" => Some(Self::Plaintext),
            "tls" | "ssl" => Some(Self::Tls),
            "iam" => Some(Self::Iam),
            _ => None,
        }
    }
}

/// How long a token is valid.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// Signs MSK IAM tokens with credentials from a provider (in Lambda: the function's role).
#[derive(Clone)]
pub struct IamSigner {
    region: String,
    credentials: SharedCredentialsProvider,
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for IamSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamSigner")
            .field("region", &self.region)
            .finish()
    }
}

impl IamSigner {
    /// A signer for `region`. Must be created inside a tokio runtime: librdkafka calls back from
    /// its own threads, and credentials are fetched on that runtime.
    pub fn new(region: &str, credentials: SharedCredentialsProvider) -> Self {
        Self {
            region: region.to_owned(),
            credentials,
            runtime: tokio::runtime::Handle::try_current().ok(),
        }
    }

    /// A token for `credentials` at time `now`; returns the token and its expiry.
    pub fn token_with(
        &self,
        credentials: Credentials,
        now: SystemTime,
    ) -> Result<(String, SystemTime), Box<dyn Error>> {
        use aws_sigv4::http_request::{
            sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
        };
        let host = format!("kafka.{}.amazonaws.com", self.region);
        let url = format!("https://{host}/?Action=kafka-cluster%3AConnect");
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(TOKEN_LIFETIME);
        let identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("kafka-cluster")
            .time(now)
            .settings(settings)
            .build()?
            .into();
        let signable = SignableRequest::new(
            "GET",
            &url,
            std::iter::once(("host", host.as_str())),
            SignableBody::Bytes(&[]),
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let mut request = http::Request::get(&url).body(())?;
        instructions.apply_to_request_http1x(&mut request);
        let signed = format!(
            "{}&User-Agent=user-activity-pipeline%2F{}",
            request.uri(),
            env!("CARGO_PKG_VERSION")
        );
        Ok((URL_SAFE_NO_PAD.encode(signed), now + TOKEN_LIFETIME))
    }

    /// A token signed now with fresh credentials from the provider.
    pub fn token(&self) -> Result<(String, SystemTime), Box<dyn Error>> {
        let provider = self.credentials.clone();
        let fetch = async move { provider.provide_credentials().await };
        let credentials = match &self.runtime {
            Some(handle) => handle.block_on(fetch)?,
            None => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(fetch)?,
        };
        self.token_with(credentials, SystemTime::now())
    }
}

/// The rdkafka client context of every pipeline client: supplies MSK IAM tokens when the
/// mechanism is OAUTHBEARER (librdkafka only asks then).
#[derive(Clone, Debug, Default)]
pub struct AuthContext {
    signer: Option<IamSigner>,
}

impl AuthContext {
    /// A context that signs tokens with `signer` (for `KAFKA_AUTH=iam`), or none.
    pub fn new(signer: Option<IamSigner>) -> Self {
        Self { signer }
    }
}

impl ClientContext for AuthContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, _config: Option<&str>) -> Result<OAuthToken, Box<dyn Error>> {
        let signer = self
            .signer
            .as_ref()
            .ok_or("OAUTHBEARER requested but KAFKA_AUTH is not iam")?;
        let (token, expires) = signer.token()?;
        let lifetime_ms = expires.duration_since(UNIX_EPOCH)?.as_millis();
        tracing::debug!("issued an MSK IAM token");
        Ok(OAuthToken {
            token,
            principal_name: "user-activity-pipeline".to_owned(),
            lifetime_ms: i64::try_from(lifetime_ms)?,
        })
    }
}

impl ConsumerContext for AuthContext {}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::SharedCredentialsProvider;

    fn creds() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("session".into()),
            None,
            "test",
        )
    }

    fn signer() -> IamSigner {
        IamSigner::new("eu-west-1", SharedCredentialsProvider::new(creds()))
    }

    fn decode(token: &str) -> String {
        String::from_utf8(URL_SAFE_NO_PAD.decode(token).expect("base64url")).expect("utf-8")
    }

    #[test]
    fn token_is_a_presigned_connect_request_valid_15_minutes() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_536_424);
        let (token, expires) = signer().token_with(creds(), now).expect("token");
        assert!(!token.contains('=') && !token.contains('+') && !token.contains('/'));
        let url = decode(&token);
        assert!(
            url.starts_with("https://kafka.eu-west-1.amazonaws.com/?"),
            "{url}"
        );
        for part in [
            "Action=kafka-cluster%3AConnect",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20261124%2Feu-west-1%2Fkafka-cluster%2Faws4_request",
            "X-Amz-Date=20261124T160704Z",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=host",
            "X-Amz-Security-Token=session",
            "X-Amz-Signature=",
            "User-Agent=user-activity-pipeline",
        ] {
            assert!(url.contains(part), "{part} missing in {url}");
        }
        assert_eq!(expires, now + TOKEN_LIFETIME);
        let (again, _) = signer().token_with(creds(), now).expect("token");
        assert_eq!(
            token, again,
            "signing is deterministic for the same time and credentials"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_token_callback_signs_with_the_providers_credentials() {
        let context = AuthContext::new(Some(signer()));
        let token = tokio::task::spawn_blocking(move || {
            context
                .generate_oauth_token(None)
                .map_err(|e| e.to_string())
        })
        .await
        .expect("join")
        .expect("token");
        assert!(decode(&token.token).contains("X-Amz-Credential=AKIDEXAMPLE%2F"));
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("time")
            .as_millis() as i64;
        let lifetime = token.lifetime_ms - now_ms;
        assert!(
            (890_000..=900_000).contains(&lifetime),
            "expires in {lifetime} ms"
        );
        assert!(AuthContext::default().generate_oauth_token(None).is_err());
    }
}
