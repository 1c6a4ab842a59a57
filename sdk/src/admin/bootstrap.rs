//! The managers a client bootstraps from: a comma-separated list of `host:port`, each
//! optionally with an `http://` or `https://` prefix.

use reqwest::Url;

use crate::SdkError;

/// Splits and normalizes a bootstrap list to `host:port` entries (empty items are skipped).
pub(super) fn parse_bootstrap(list: &str) -> Result<Vec<String>, SdkError> {
    let managers = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_entry)
        .collect::<Result<Vec<_>, _>>()?;
    if managers.is_empty() {
        return Err(SdkError::InvalidArgument(
            "no manager address given (expected host:port[,host:port...])".into(),
        ));
    }
    Ok(managers)
}

fn parse_entry(raw: &str) -> Result<String, SdkError> {
    let bad = |why: &str| SdkError::InvalidArgument(format!("bad manager address {raw:?}: {why}"));
    let s = match raw.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("http://") => &raw[7..],
        _ if raw
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://")) =>
        {
            &raw[8..]
        }
        _ if raw.contains("://") => return Err(bad("only http:// and https:// are supported")),
        _ => raw,
    };
    let s = s.trim_end_matches('/');
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| bad("expected host:port"))?;
    if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/?#@\\".contains(c))
    {
        return Err(bad("bad host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
        _ => return Err(bad("bad port")),
    }
    Url::parse(&format!("http://{s}/")).map_err(|e| bad(&e.to_string()))?;
    Ok(s.to_string())
}
