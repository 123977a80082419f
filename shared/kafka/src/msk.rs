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
        let out = aws_sdk_kafka::Client::new(&aws)
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
