//! Topics: create, list, describe, delete, and client metadata.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{HttpRequest, HttpResponse, web};
use raftbus_protocol::ErrorCode;
use raftbus_protocol::http::Body;
use raftbus_protocol::meta::{
    CreateTopicRequest, PartitionInfo, PartitionRoute, TopicInfo, TopicMetadata,
};
use raftbus_protocol::names::validate_name;
use raftbus_protocol::query::{CreateTopicParams, MetadataParams};
use uuid::Uuid;

use super::{ReadParams, consistent_read, parse};
use crate::error::ApiError;
use crate::metadata::placement::place_replicas;
use crate::metadata::{ClusterMeta, TopicRecord};
use crate::node::Manager;
use crate::raft::MetaCommand;

/// Builds the API view of a topic.
pub(super) fn topic_info(
    m: &Manager,
    meta: &ClusterMeta,
    name: &str,
    t: &TopicRecord,
) -> TopicInfo {
    let partition_info: Vec<PartitionInfo> = t
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (log_start_offset, learners) = m.liveness.extent(p.group_id);
            PartitionInfo {
                partition: i as u32,
                group_id: p.group_id,
                replicas: p.replicas.clone(),
                leader: p.leader,
                leader_addr: p.leader.and_then(|l| meta.api_addr(l)).map(str::to_string),
                log_end_offset: m.liveness.leo(p.group_id),
                log_start_offset,
                learners,
                target_replicas: p.target.clone(),
            }
        })
        .collect();
    let retention = t.retention.resolve(m.settings.topics.retention_defaults());
    TopicInfo {
        name: name.to_string(),
        partitions: t.partitions.len() as u32,
        replication_factor: t.replication_factor,
        created_ms: t.created_ms,
        ready: partition_info.iter().all(|p| p.leader.is_some()),
        retention_ms: retention.retention_ms(),
        retention_bytes: retention.retention_bytes(),
        partition_info,
    }
}

/// `unknown_topic` naming the topic.
pub(super) fn unknown(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::UnknownTopic,
        format!("topic {name:?} does not exist"),
    )
}

/// Validates, places and proposes a topic; waits up to `wait` for every partition to have a
/// leader. Runs on the write manager. Placement and creation are one Raft command: nothing
/// is half-created.
pub(super) async fn create_topic(
    m: &Manager,
    req: CreateTopicRequest,
    wait: Duration,
) -> Result<TopicInfo, ApiError> {
    validate_name("topic", &req.name).map_err(|e| ApiError::new(ErrorCode::InvalidName, e))?;
    let partitions = req
        .partitions
        .unwrap_or(m.settings.topics.default_partitions);
    let rf = req
        .replication_factor
        .unwrap_or(m.settings.topics.default_replication_factor);
    let max = m.settings.topics.max_partitions;
    if partitions == 0 || partitions > max {
        return Err(ApiError::bad_request(format!(
            "partitions must be 1..={max} (topics.max_partitions), got {partitions}"
        )));
    }
    if rf == 0 {
        return Err(ApiError::bad_request(
            "replication_factor must be at least 1",
        ));
    }
    req.retention.validate().map_err(ApiError::bad_request)?;
    let placed =
        m.read(|meta| {
            if meta.topics.contains_key(&req.name) {
                return Err(ApiError::new(
                    ErrorCode::TopicExists,
                    format!("topic {:?} already exists", req.name),
                ));
            }
            // More replicas than the cluster has brokers is a bad request, not an outage:
            // waiting cannot help (a registered but dead broker may come back, hence 503 below).
            let known = meta.brokers.len();
            if rf as usize > known {
                return Err(ApiError::bad_request(format!(
                    "replication_factor {rf} exceeds the {known} brokers registered in the cluster"
                )));
            }
            // Liveness is the replicated flag the reaper maintains: a new write manager's
            // in-memory table is empty until heartbeats arrive, but the flag is not.
            place_replicas(meta, partitions, rf).ok_or_else(|| {
            let ids: Vec<String> = meta
                .brokers
                .values()
                .filter(|b| b.alive)
                .map(|b| format!("broker-{}", b.member.id))
                .collect();
            ApiError::new(
                ErrorCode::InsufficientBrokers,
                format!(
                    "replication factor {rf} needs {rf} live brokers, only {} alive ({}): {} short",
                    ids.len(),
                    if ids.is_empty() { "none".to_string() } else { ids.join(", ") },
                    rf as usize - ids.len().min(rf as usize)
                ),
            )
        })
        })?;
    let created_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let cmd = MetaCommand::CreateTopic {
        name: req.name.clone(),
        replication_factor: rf,
        created_ms,
        partitions: placed.into_iter().map(|r| (Uuid::new_v4(), r)).collect(),
        retention: req.retention,
    };
    m.propose(cmd).await?;
    let deadline = Instant::now() + wait;
    loop {
        let info = m.read(|meta| {
            meta.topics
                .get(&req.name)
                .map(|t| topic_info(m, meta, &req.name, t))
        });
        let info = info.ok_or_else(|| unknown(&req.name))?;
        if info.ready || Instant::now() >= deadline {
            return Ok(info);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[utoipa::path(
    post,
    path = raftbus_protocol::routes::TOPICS,
    tag = "topics",
    params(CreateTopicParams),
    request_body = CreateTopicRequest,
    responses((status = 201, description = "Created", body = TopicInfo))
)]
pub(super) async fn create(
    m: web::Data<Manager>,
    req: HttpRequest,
    q: web::Query<CreateTopicParams>,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, body).await;
    }
    let r: CreateTopicRequest = parse(&body)?;
    let info = create_topic(&m, r, Duration::from_millis(q.wait_ms.min(60_000))).await?;
    Ok(HttpResponse::Created().json(info))
}

#[utoipa::path(
    get,
    path = raftbus_protocol::routes::TOPICS,
    tag = "topics",
    params(ReadParams),
    responses((status = 200, description = "Every topic", body = [TopicInfo]))
)]
pub(super) async fn list(
    m: web::Data<Manager>,
    req: HttpRequest,
    q: web::Query<ReadParams>,
) -> Result<HttpResponse, ApiError> {
    if let Some(r) = consistent_read(&m, &req, &q).await? {
        return Ok(r);
    }
    let all: Vec<TopicInfo> = m.read(|meta| {
        meta.topics
            .iter()
            .map(|(n, t)| topic_info(&m, meta, n, t))
            .collect()
    });
    Ok(HttpResponse::Ok().json(all))
}

/// The API view of one topic, or `unknown_topic`.
pub(super) fn find(m: &Manager, name: &str) -> Result<TopicInfo, ApiError> {
    m.read(|meta| meta.topics.get(name).map(|t| topic_info(m, meta, name, t)))
        .ok_or_else(|| unknown(name))
}

#[utoipa::path(
    get,
    path = raftbus_protocol::routes::TOPIC,
    tag = "topics",
    params(("name" = String, Path, description = "Topic name"), ReadParams),
    responses((status = 200, description = "The topic", body = TopicInfo))
)]
pub(super) async fn describe(
    m: web::Data<Manager>,
    req: HttpRequest,
    name: web::Path<String>,
    q: web::Query<ReadParams>,
) -> Result<HttpResponse, ApiError> {
    if let Some(r) = consistent_read(&m, &req, &q).await? {
        return Ok(r);
    }
    Ok(HttpResponse::Ok().json(find(&m, &name)?))
}

#[utoipa::path(
    get,
    path = raftbus_protocol::routes::TOPIC_PARTITIONS,
    tag = "topics",
    params(("name" = String, Path, description = "Topic name"), ReadParams),
    responses((status = 200, description = "The topic's partitions", body = [PartitionInfo]))
)]
pub(super) async fn partitions(
    m: web::Data<Manager>,
    req: HttpRequest,
    name: web::Path<String>,
    q: web::Query<ReadParams>,
) -> Result<HttpResponse, ApiError> {
    if let Some(r) = consistent_read(&m, &req, &q).await? {
        return Ok(r);
    }
    Ok(HttpResponse::Ok().json(find(&m, &name)?.partition_info))
}

#[utoipa::path(
    delete,
    path = raftbus_protocol::routes::TOPIC,
    tag = "topics",
    params(("name" = String, Path, description = "Topic name")),
    responses((status = 200, description = "`{deleted: name}`", body = serde_json::Value))
)]
pub(super) async fn delete(
    m: web::Data<Manager>,
    req: HttpRequest,
    name: web::Path<String>,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, body).await;
    }
    m.propose(MetaCommand::DeleteTopic {
        name: name.to_string(),
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "deleted": name.as_str() })))
}

/// Routes for clients: per partition, the leader's address and all replicas.
#[utoipa::path(
    get,
    path = raftbus_protocol::routes::METADATA,
    tag = "topics",
    params(("topic" = String, Path, description = "Topic name"), MetadataParams),
    responses((status = 200, description = "Where the topic's partitions are", body = TopicMetadata))
)]
pub(super) async fn metadata(
    m: web::Data<Manager>,
    req: HttpRequest,
    topic: web::Path<String>,
    q: web::Query<MetadataParams>,
) -> Result<HttpResponse, ApiError> {
    let routes = |meta: &ClusterMeta| {
        meta.topics.get(topic.as_str()).map(|t| TopicMetadata {
            topic: topic.to_string(),
            partitions: t
                .partitions
                .iter()
                .enumerate()
                .map(|(i, p)| PartitionRoute {
                    partition: i as u32,
                    leader_addr: p.leader.and_then(|l| meta.api_addr(l)).map(str::to_string),
                    replica_addrs: p
                        .replicas
                        .iter()
                        .filter_map(|r| meta.api_addr(*r))
                        .map(str::to_string)
                        .collect(),
                })
                .collect(),
        })
    };
    if let Some(md) = m.read(routes) {
        return Ok(HttpResponse::Ok().json(md));
    }
    if !q.auto_create {
        return Err(unknown(&topic));
    }
    if !m.settings.topics.auto_create {
        return Err(ApiError::new(
            ErrorCode::UnknownTopic,
            format!(
                "topic {:?} does not exist and topics.auto_create is off",
                topic.as_str()
            ),
        ));
    }
    if !m.is_leader() {
        return m.forward(&req, web::Bytes::new()).await;
    }
    let r = CreateTopicRequest {
        name: topic.to_string(),
        partitions: None,
        replication_factor: None,
        retention: Default::default(),
    };
    match create_topic(&m, r, Duration::from_secs(10)).await {
        Ok(_) => {}
        Err(e) if e.0.code == ErrorCode::TopicExists => {} // raced with another creator
        Err(e) => return Err(e),
    }
    Ok(HttpResponse::Ok().json(m.read(routes).ok_or_else(|| unknown(&topic))?))
}
