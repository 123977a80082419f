//! Typed reads of environment variables. An empty variable counts as unset, so that
//! `FOO=` in an `.env` file means "use the default".

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

/// A setting that is missing or malformed, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    /// The environment variable (or command-line flag) at fault.
    pub var: String,
    /// What is wrong and what would be right.
    pub reason: String,
}

impl ConfigError {
    /// A problem with `var`.
    pub fn new(var: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            var: var.into(),
            reason: reason.into(),
        }
    }
}

/// Where settings come from: the process environment, or a fixed list in tests.
pub trait Source {
    /// The raw value, `None` when unset or empty.
    fn get(&self, name: &str) -> Option<String>;

    /// Told the default that applies when `name` is unset (only [`Recording`] keeps it).
    fn default_of(&self, name: &str, default: &str) {
        let _ = (name, default);
    }
}

/// The process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .filter(|v| !v.trim().is_empty())
    }
}

/// A source that remembers every name asked for: which variables a `Config` reads, taken from
/// the code itself (the deployment tests compare it with what `template.yaml` sets).
pub struct Recording<'a, S: Source + ?Sized> {
    inner: &'a S,
    asked: std::cell::RefCell<Vec<String>>,
    defaults: std::cell::RefCell<std::collections::BTreeMap<String, String>>,
}

impl<'a, S: Source + ?Sized> Recording<'a, S> {
    /// Records the reads of `inner`.
    pub fn new(inner: &'a S) -> Self {
        Self {
            inner,
            asked: std::cell::RefCell::default(),
            defaults: std::cell::RefCell::default(),
        }
    }

    /// The default of each setting read with one, as the code writes it (`""` for none), so
    /// that the documented defaults (docs/configuration.md) can be checked against it.
    pub fn defaults(&self) -> std::collections::BTreeMap<String, String> {
        self.defaults.borrow().clone()
    }

    /// Every name asked for, once each, sorted.
    pub fn asked(&self) -> Vec<String> {
        let mut names = self.asked.borrow().clone();
        names.sort();
        names.dedup();
        names
    }
}

impl<S: Source + ?Sized> Source for Recording<'_, S> {
    fn get(&self, name: &str) -> Option<String> {
        self.asked.borrow_mut().push(name.to_owned());
        self.inner.get(name)
    }

    fn default_of(&self, name: &str, default: &str) {
        self.defaults
            .borrow_mut()
            .insert(name.to_owned(), default.to_owned());
    }
}

/// A string setting with a default.
pub fn string(src: &(impl Source + ?Sized), name: &str, default: &str) -> String {
    src.default_of(name, default);
    src.get(name).unwrap_or_else(|| default.to_owned())
}

/// A parsed setting with a default; a value that does not parse is an error naming `name`.
pub fn parse<T>(
    src: &(impl Source + ?Sized),
    name: &str,
    default: T,
    expected: &str,
) -> Result<T, ConfigError>
where
    T: FromStr + Display,
    T::Err: Display,
{
    src.default_of(name, &default.to_string());
    match src.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| ConfigError::new(name, format!("expected {expected}, got {raw:?} ({e})"))),
    }
}

/// A duration in whole milliseconds within `range`.
pub fn millis(
    src: &(impl Source + ?Sized),
    name: &str,
    default_ms: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    counted(src, name, default_ms, range, ("milliseconds", "ms")).map(Duration::from_millis)
}

/// A duration in whole seconds within `range`.
pub fn seconds(
    src: &(impl Source + ?Sized),
    name: &str,
    default_s: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    counted(src, name, default_s, range, ("seconds", "s")).map(Duration::from_secs)
}

/// A whole number of `unit` (its name, and its symbol) within `range`.
fn counted(
    src: &(impl Source + ?Sized),
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    (unit, symbol): (&str, &str),
) -> Result<u64, ConfigError> {
    let n: u64 = parse(src, name, default, &format!("a whole number of {unit}"))?;
    if range.contains(&n) {
        return Ok(n);
    }
    let (low, high) = (range.start(), range.end());
    Err(ConfigError::new(
        name,
        format!("{n} {symbol} is out of range; use {low} to {high} {symbol}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_default_and_bad_values_name_the_variable() {
        let src: &[(&str, &str)] = &[("A", ""), ("B", "12x"), ("C", "250")];
        assert_eq!(string(src, "A", "dflt"), "dflt");
        let err = millis(src, "B", 5, 1..=10).expect_err("bad");
        assert_eq!(err.var, "B");
        assert!(
            err.to_string().starts_with("B: expected a whole number"),
            "{err}"
        );
        let err = millis(src, "C", 5, 1..=100).expect_err("out of range");
        assert!(err.reason.contains("out of range"), "{err}");
        assert_eq!(
            millis(src, "MISSING", 5, 1..=10),
            Ok(Duration::from_millis(5))
        );
        assert_eq!(seconds(src, "C", 5, 60..=300), Ok(Duration::from_secs(250)));
        assert_eq!(seconds(src, "C", 5, 1..=100).expect_err("out").var, "C");
    }
}
