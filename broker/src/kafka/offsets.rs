//! FindCoordinator, OffsetCommit and OffsetFetch for consumers that assign partitions
//! themselves (`assign`, kcat `-G` excluded): a group's offsets are the partitions' Raftbus
//! offsets, committed through each partition's Raft log by its leader, so they are the same
//! whichever API committed them. A commit for a partition led elsewhere is forwarded to the
//! leader's client API with the client's token. A member's commit (generation >= 0) is
//! checked against the coordinator's membership (`group.rs`); every commit goes to Raftbus
//! without a generation, which never lifts a fence set by the managers' groups.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    FindCoordinatorRequest, FindCoordinatorResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, OffsetFetchResponse,
};
use kafka_protocol::protocol::StrBytes;
use raftbus_protocol::ErrorCode;
use raftbus_protocol::acl::{Operation, ResourceKind};
use raftbus_protocol::api::OffsetCommitRequest as HttpCommit;

use super::metadata::{broker_id, host_port};
use super::{Kafka, Who};
use crate::api::offsets::{commit_offset, committed};
use crate::error::ApiError;

/// Kafka's `key_type` of a consumer group.
const GROUP: i8 = 0;

pub(super) async fn find_coordinator(
    k: &Kafka,
    who: &Who,
    r: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let none = FindCoordinatorResponse::default().with_node_id(broker_id(u64::MAX));
    if r.key_type != GROUP {
        return none
            .with_error_code(ResponseError::InvalidRequest.code())
            .with_error_message(Some(StrBytes::from_static_str(
                "only consumer groups are coordinated (no transactions)",
            )));
    }
    match super::group::coordinator_of(k, who, r.key.as_str()).await {
        Ok((id, addr)) => match host_port(&addr) {
            Some((host, port)) => FindCoordinatorResponse::default()
                .with_node_id(broker_id(id))
                .with_host(StrBytes::from_string(host))
                .with_port(port),
            None => none.with_error_code(ResponseError::CoordinatorNotAvailable.code()),
        },
        Err(_) => none.with_error_code(ResponseError::CoordinatorNotAvailable.code()),
    }
}

/// Kafka code for a failed commit or fetch: leadership moving is retried by clients as a
/// coordinator problem (they look the coordinator up again and resend).
fn offset_code(e: &ApiError) -> i16 {
    match e.0.code {
        ErrorCode::NotLeader
        | ErrorCode::UnknownPartition
        | ErrorCode::Unavailable
        | ErrorCode::NoQuorum
        | ErrorCode::Timeout
        | ErrorCode::Busy => ResponseError::CoordinatorNotAvailable.code(),
        ErrorCode::Forbidden => ResponseError::GroupAuthorizationFailed.code(),
        ErrorCode::InvalidName => ResponseError::InvalidGroupId.code(),
        _ => super::errors::code(e),
    }
}

pub(super) async fn commit(k: &Kafka, who: &Who, r: OffsetCommitRequest) -> OffsetCommitResponse {
    let group = r.group_id.0.as_str().to_string();
    // A member's commit is checked against the coordinator's membership (Kafka's rule);
    // it then commits without a Raftbus generation, which never lifts a fence.
    let generation = r.generation_id_or_member_epoch;
    let refused = match k.allowed(who, ResourceKind::Group, &group, Operation::Consume) {
        Err(e) => Some(offset_code(&e)),
        Ok(()) if generation >= 0 => k
            .groups
            .check_commit(&group, r.member_id.as_str(), generation)
            .err()
            .map(|e| e.code()),
        Ok(()) => None,
    };
    let mut topics = Vec::with_capacity(r.topics.len());
    for t in r.topics {
        let mut parts = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let code = match (refused, u32::try_from(p.partition_index)) {
                (Some(c), _) => c,
                (None, Err(_)) => ResponseError::UnknownTopicOrPartition.code(),
                (None, Ok(index)) => match u64::try_from(p.committed_offset) {
                    Ok(offset) => {
                        let name = t.name.0.as_str();
                        let done = commit_one(k, who, name, index, &group, offset, None).await;
                        done.err().map_or(0, |e| offset_code(&e))
                    }
                    Err(_) => ResponseError::InvalidCommitOffsetSize.code(),
                },
            };
            parts.push(
                OffsetCommitResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code),
            );
        }
        topics.push(
            OffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(parts),
        );
    }
    OffsetCommitResponse::default().with_topics(topics)
}

pub(super) async fn fetch(k: &Kafka, who: &Who, r: OffsetFetchRequest) -> OffsetFetchResponse {
    let group = r.group_id.0.as_str().to_string();
    if let Err(e) = k.allowed(who, ResourceKind::Group, &group, Operation::Consume) {
        return OffsetFetchResponse::default().with_error_code(offset_code(&e));
    }
    // Without a topic list (all the group's topics) there is nothing to answer from: Raftbus
    // keeps offsets per partition, not per group.
    let mut topics = Vec::new();
    for t in r.topics.unwrap_or_default() {
        let mut parts = Vec::with_capacity(t.partition_indexes.len());
        for index in t.partition_indexes {
            let resp = OffsetFetchResponsePartition::default()
                .with_partition_index(index)
                .with_committed_offset(-1)
                .with_committed_leader_epoch(-1);
            let Ok(i) = u32::try_from(index) else {
                parts.push(resp.with_error_code(ResponseError::UnknownTopicOrPartition.code()));
                continue;
            };
            parts.push(
                match fetch_one(k, who, t.name.0.as_str(), i, &group).await {
                    Ok(offset) => resp.with_committed_offset(offset.map_or(-1, |o| o as i64)),
                    Err(e) => resp.with_error_code(offset_code(&e)),
                },
            );
        }
        topics.push(
            OffsetFetchResponseTopic::default()
                .with_name(t.name)
                .with_partitions(parts),
        );
    }
    OffsetFetchResponse::default().with_topics(topics)
}

/// Where partition `topic/index` is led: `None` when this broker leads it.
async fn leader_addr(
    k: &Kafka,
    who: &Who,
    topic: &str,
    index: u32,
) -> Result<Option<String>, ApiError> {
    if let Some(p) = k.api.registry.get(topic, index) {
        let l = p.leadership();
        if l.is_leader {
            return Ok(None);
        }
        if let Some((_, addr)) = l.leader.filter(|(_, a)| !a.is_empty()) {
            return Ok(Some(addr));
        }
    }
    let t = k.managers.topic(who.token(), topic, false).await?;
    t.partition_info
        .iter()
        .find(|p| p.partition == index)
        .and_then(|p| p.leader_addr.clone())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotLeader,
                format!("{topic}/{index} has no leader"),
            )
        })
}

async fn commit_one(
    k: &Kafka,
    who: &Who,
    topic: &str,
    index: u32,
    group: &str,
    offset: u64,
    generation: Option<u64>,
) -> Result<(), ApiError> {
    match leader_addr(k, who, topic, index).await? {
        None => {
            let p = k.api.registry.get(topic, index).ok_or_else(|| {
                ApiError::new(ErrorCode::UnknownPartition, format!("{topic}/{index}"))
            })?;
            commit_offset(&k.api, &p, group, offset, generation).await
        }
        Some(addr) => {
            let body = HttpCommit { offset, generation };
            let at = (topic, index);
            let m = &k.managers;
            m.leader_offsets(who.token(), &addr, at, group, Some(body))
                .await
                .map(drop)
        }
    }
}

async fn fetch_one(
    k: &Kafka,
    who: &Who,
    topic: &str,
    index: u32,
    group: &str,
) -> Result<Option<u64>, ApiError> {
    match leader_addr(k, who, topic, index).await? {
        None => {
            let p = k.api.registry.get(topic, index).ok_or_else(|| {
                ApiError::new(ErrorCode::UnknownPartition, format!("{topic}/{index}"))
            })?;
            Ok(committed(&k.api, &p, group).await?.and_then(|c| c.offset))
        }
        Some(addr) => k
            .managers
            .leader_offsets(who.token(), &addr, (topic, index), group, None)
            .await
            .map(|r| r.offset),
    }
}
