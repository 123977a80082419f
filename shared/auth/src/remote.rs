//! What may be fetched: the one rule for every URL the crate reads keys or discovery from, apart
//! from the settings that name them and the fetcher that follows them.

/// An issuer or key URL must be `https`, except on this machine (`http://127.0.0.1`,
/// `localhost`, `[::1]`) for local issuers: keys fetched in the clear could be anyone's.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "{url:?} must be an https URL (http only for 127.0.0.1 or localhost)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_on_this_machine() {
        assert!(check_url("http://127.0.0.1:9400").is_ok());
        assert!(check_url("http://localhost/keys").is_ok());
        assert!(check_url("http://[::1]:8080/").is_ok());
        assert!(check_url("https://cognito-idp.eu-west-1.amazonaws.com/x").is_ok());
        assert!(check_url("http://id.example/keys").is_err());
        assert!(check_url("ftp://localhost/keys").is_err());
        assert!(check_url("not a url").is_err());
    }
}
