//! The trigger's settings: the loop's, read as `TRIGGER_*` (named after the event source
//! mapping properties they mirror, [`event_consume::Config`]), and the function it invokes.

use pipeline_runtime::env::{self, ProcessEnv, Source};
use pipeline_runtime::ConfigError;

/// The prefix of the loop's settings when the trigger reads them.
pub const PREFIX: &str = "TRIGGER_";

/// Settings of the local event source mapping; what each means, its default and its range are
/// in docs/configuration.md, which a test holds to this code's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// The loop's: topic, group, batch size and window, retries, bisecting, skipping.
    pub consume: event_consume::Config,
    /// `TRIGGER_FUNCTION_NAME`: the function invoked.
    pub function_name: String,
    /// `LAMBDA_ENDPOINT`: the Lambda Invoke API.
    pub endpoint: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    /// Reads settings from any source.
    pub fn from_source(src: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        Ok(Self {
            consume: event_consume::Config::from_source(src, PREFIX)?,
            function_name: env::string(src, "TRIGGER_FUNCTION_NAME", "events-processor"),
            endpoint: env::string(src, "LAMBDA_ENDPOINT", "http://127.0.0.1:9000")
                .trim_end_matches('/')
                .to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_reads_trigger_names_and_the_function_is_the_processor() {
        let src: &[(&str, &str)] = &[
            ("TRIGGER_BATCH_SIZE", "7"),
            ("LAMBDA_ENDPOINT", "http://127.0.0.1:9001/"),
        ];
        let c = Config::from_source(src).expect("config");
        assert_eq!(c.consume.batch_size, 7);
        assert_eq!(c.function_name, "events-processor");
        assert_eq!(c.endpoint, "http://127.0.0.1:9001");
        let bad: &[(&str, &str)] = &[("TRIGGER_BATCH_SIZE", "0")];
        assert_eq!(
            Config::from_source(bad).expect_err("refused").var,
            "TRIGGER_BATCH_SIZE"
        );
    }
}
