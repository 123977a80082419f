//! Amazon MSK at cold start: the brokers of `MSK_CLUSTER_ARN` (`GetBootstrapBrokers`, the
//! listener that matches `KAFKA_AUTH`) when `KAFKA_BROKERS` is not given, and the IAM token
//! signer for `KAFKA_AUTH=iam`, wired into the client context librdkafka asks for tokens.

use crate::auth::{AuthContext, IamSigner, KafkaAuth};
use crate::{Error, KafkaConfig};

/// The region of an MSK cluster ARN (`arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID`).
pub(crate) fn arn_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "kafka", region, _, resource]
            if !region.is_empty() && resource.starts_with("cluster/") =>
        {
            Some(region)
        }
        _ => None,
    }
}

/// The MSK API client's settings: the shared AWS configuration, at the dual-stack endpoint when
/// `MSK_API_DUALSTACK` asks for it (this client alone).
pub(crate) fn msk_client_config(
    aws: &pipeline_runtime::aws::SdkConfig,
    config: &KafkaConfig,
) -> aws_sdk_kafka::Config {
    aws_sdk_kafka::config::Builder::from(aws)
        .use_dual_stack(config.msk_api_dual_stack)
        .build()
}

/// Fills in what `config` leaves to AWS and builds the client context. Nothing is asked of AWS
/// when the brokers are given and no IAM token is needed.
pub(crate) async fn resolve(mut config: KafkaConfig) -> Result<(KafkaConfig, AuthContext), Error> {
    let needs_aws = config.brokers.is_empty() || config.auth == KafkaAuth::Iam;
    if !needs_aws {
        return Ok((config, AuthContext::default()));
    }
    let aws = pipeline_runtime::aws::sdk_config(config.region.as_deref(), None).await;
    if config.brokers.is_empty() {
        let arn = config.msk_cluster_arn.clone().unwrap_or_default();
        let out = aws_sdk_kafka::Client::from_conf(msk_client_config(&aws, &config))
            .get_bootstrap_brokers()
            .cluster_arn(&arn)
            .send()
            .await
            .map_err(|e| {
                Error::Bootstrap(format!(
                    "GetBootstrapBrokers({arn}): {}",
                    aws_sdk_kafka::error::DisplayErrorContext(&e)
                ))
            })?;
        let brokers = match config.auth {
            KafkaAuth::Iam => out.bootstrap_broker_string_sasl_iam(),
            KafkaAuth::Tls => out.bootstrap_broker_string_tls(),
            KafkaAuth::Plaintext => out.bootstrap_broker_string(),
        };
        config.brokers = brokers
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                Error::Bootstrap(format!(
                    "cluster {arn} has no listener for KAFKA_AUTH={:?}",
                    config.auth
                ))
            })?
            .to_owned();
        tracing::info!(brokers = %config.brokers, "resolved MSK bootstrap brokers");
    }
    let signer = match (config.auth, aws.credentials_provider()) {
        (KafkaAuth::Iam, Some(provider)) => Some(IamSigner::new(
            config.region.as_deref().unwrap_or_default(),
            provider,
        )),
        (KafkaAuth::Iam, None) => {
            return Err(Error::Bootstrap(
                "KAFKA_AUTH=iam but no AWS credentials are available".to_owned(),
            ))
        }
        _ => None,
    };
    Ok((config, AuthContext::new(signer)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kafka::config::interceptors::BeforeTransmitInterceptorContextRef;
    use aws_sdk_kafka::config::{
        ConfigBag, Credentials, Intercept, RuntimeComponents, SharedCredentialsProvider,
    };
    use aws_sdk_kafka::error::BoxError;
    use std::sync::{Arc, Mutex};

    /// Notes the URI of the request about to be sent, and stops it there.
    #[derive(Debug, Default, Clone)]
    struct Capture(Arc<Mutex<Option<String>>>);

    impl Intercept for Capture {
        fn name(&self) -> &'static str {
            "capture"
        }
        fn read_before_transmit(
            &self,
            context: &BeforeTransmitInterceptorContextRef<'_>,
            _: &RuntimeComponents,
            _: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let uri = context.request().uri().to_owned();
            *self.0.lock().map_err(|_| "poisoned")? = Some(uri);
            Err("captured; not sent".into())
        }
    }

    /// The host `GetBootstrapBrokers` goes to, with `MSK_API_DUALSTACK` as given.
    async fn msk_api_host(dual_stack: &str) -> String {
        let aws = pipeline_runtime::aws::sdk_config(Some("eu-west-1"), None)
            .await
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            )))
            .build();
        let arn = "arn:aws:kafka:eu-west-1:123456789012:cluster/c/u";
        let src: &[(&str, &str)] = &[("MSK_CLUSTER_ARN", arn), ("MSK_API_DUALSTACK", dual_stack)];
        let config = KafkaConfig::from_source(src).expect("config");
        let capture = Capture::default();
        let client_config = msk_client_config(&aws, &config)
            .to_builder()
            .interceptor(capture.clone())
            .build();
        let _ = aws_sdk_kafka::Client::from_conf(client_config)
            .get_bootstrap_brokers()
            .cluster_arn(arn)
            .send()
            .await;
        let uri = capture.0.lock().expect("lock").clone().expect("a request");
        uri.split('/').nth(2).unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn the_msk_api_is_called_at_its_dual_stack_endpoint_when_asked() {
        assert_eq!(msk_api_host("false").await, "kafka.eu-west-1.amazonaws.com");
        assert_eq!(msk_api_host("true").await, "kafka-api.eu-west-1.api.aws");
    }
}
