//! ApiVersions: the APIs and versions this listener serves. Anything not listed is refused
//! by closing the connection, so clients only use what is here.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};

use super::Kafka;

/// `(API, lowest, highest version)` served. Fetch stops below v13 (topic ids instead of
/// names), DeleteTopics below v6 (the same); the SASL APIs are served only with security on.
const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 5),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::FindCoordinator, 0, 3),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::DescribeGroups, 0, 5),
    // v0 is listed because librdkafka requires it, but every client that also sees
    // SaslAuthenticate sends v1 and authenticates with framed requests.
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
];

fn is_sasl(key: ApiKey) -> bool {
    matches!(key, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate)
}

/// The served `(lowest, highest)` versions of `key`, if served at all.
fn range(kafka: &Kafka, key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .filter(|(k, _, _)| kafka.tokens.is_some() || !is_sasl(*k))
        .map(|(_, lo, hi)| (*lo, *hi))
}

/// True when `key` at `version` is served.
pub(super) fn supports(kafka: &Kafka, key: ApiKey, version: i16) -> bool {
    range(kafka, key).is_some_and(|(lo, hi)| (lo..=hi).contains(&version))
}

/// The ApiVersions answer; a version above ours gets `UNSUPPORTED_VERSION` with the list
/// (the client then retries with a version it finds there), encoded by the caller in v0.
pub(super) fn answer(kafka: &Kafka, version: i16) -> ApiVersionsResponse {
    let api_keys = SUPPORTED
        .iter()
        .filter_map(|(k, _, _)| {
            let (lo, hi) = range(kafka, *k)?;
            Some(
                ApiVersion::default()
                    .with_api_key(*k as i16)
                    .with_min_version(lo)
                    .with_max_version(hi),
            )
        })
        .collect();
    let error = if supports(kafka, ApiKey::ApiVersions, version) {
        0
    } else {
        ResponseError::UnsupportedVersion.code()
    };
    ApiVersionsResponse::default()
        .with_error_code(error)
        .with_api_keys(api_keys)
}
