//! CreateTopics and DeleteTopics, carried out by the managers with the client's token (their
//! ACLs decide). Unset partition counts and replication factors (-1) take the cluster
//! defaults; `retention.ms` and `retention.bytes` configs are honoured, other configs refused.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
};
use kafka_protocol::protocol::StrBytes;
use raftbus_protocol::meta::CreateTopicRequest;
use raftbus_protocol::retention::RetentionSpec;

use super::errors::code;
use super::{Kafka, Who};

/// Longest wait for a new topic's leaders.
const MAX_WAIT_MS: u64 = 30_000;

pub(super) async fn create(k: &Kafka, who: &Who, r: CreateTopicsRequest) -> CreateTopicsResponse {
    let wait = u64::try_from(r.timeout_ms).unwrap_or(0).min(MAX_WAIT_MS);
    let mut out = Vec::with_capacity(r.topics.len());
    for t in r.topics {
        let result = CreatableTopicResult::default().with_name(t.name.clone());
        let fail = |code: i16, m: String| {
            result
                .clone()
                .with_error_code(code)
                .with_error_message(Some(StrBytes::from_string(m)))
        };
        let mut retention = RetentionSpec::default();
        let mut bad = None;
        for c in &t.configs {
            let value = c.value.as_ref().map(|v| v.as_str().parse::<i64>());
            match (c.name.as_str(), value) {
                ("retention.ms", Some(Ok(v))) => retention.retention_ms = Some(v),
                ("retention.bytes", Some(Ok(v))) => retention.retention_bytes = Some(v),
                (name, _) => bad = Some(format!("config {name} is not supported")),
            }
        }
        if let Some(m) = bad {
            out.push(fail(ResponseError::InvalidConfig.code(), m));
            continue;
        }
        if !t.assignments.is_empty() {
            out.push(fail(
                ResponseError::InvalidReplicaAssignment.code(),
                "replica assignments are chosen by the managers".into(),
            ));
            continue;
        }
        let req = CreateTopicRequest {
            name: t.name.0.as_str().to_string(),
            partitions: u32::try_from(t.num_partitions).ok(),
            replication_factor: u32::try_from(t.replication_factor).ok(),
            retention,
        };
        if r.validate_only {
            out.push(result);
            continue;
        }
        out.push(
            match k.managers.create_topic(who.token(), &req, wait).await {
                Ok(()) => result
                    .with_num_partitions(t.num_partitions)
                    .with_replication_factor(t.replication_factor),
                Err(e) => fail(code(&e), e.0.message),
            },
        );
    }
    CreateTopicsResponse::default().with_topics(out)
}

pub(super) async fn delete(k: &Kafka, who: &Who, r: DeleteTopicsRequest) -> DeleteTopicsResponse {
    // v0-v5 name topics in `topic_names`; v6 (not served) in `topics`.
    let names = r
        .topic_names
        .into_iter()
        .chain(r.topics.into_iter().filter_map(|t| t.name));
    let mut out = Vec::new();
    for name in names {
        let result = DeletableTopicResult::default().with_name(Some(name.clone()));
        out.push(
            match k.managers.delete_topic(who.token(), name.0.as_str()).await {
                Ok(()) => result,
                Err(e) => result
                    .with_error_code(code(&e))
                    .with_error_message(Some(StrBytes::from_string(e.0.message))),
            },
        );
    }
    DeleteTopicsResponse::default().with_responses(out)
}
