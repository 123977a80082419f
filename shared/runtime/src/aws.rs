//! The AWS SDK configuration every client of the pipeline loads once per cold start: region and
//! credentials from the environment (as Lambda provides them), HTTPS through rustls with ring, so
//! that the SDK compiles one TLS stack.

/// The shared configuration [`sdk_config`] loads, from which each service's client is built.
pub use aws_config::SdkConfig;

/// Loads the shared AWS configuration, optionally for another region or endpoint (a local
/// DynamoDB-API server).
pub async fn sdk_config(region: Option<&str>, endpoint: Option<&str>) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http);
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}
