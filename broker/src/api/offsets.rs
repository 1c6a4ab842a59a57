//! Consumer-group offsets: `POST|GET /v1/partitions/{topic}/{partition}/offsets/{group}` and
//! `POST .../offsets/{group}/fence`. Commits and fences go through the partition's Raft log,
//! so they are as durable as the records.

use actix_web::{HttpResponse, web};
use raftbus_protocol::api::{FenceRequest, OffsetCommitRequest, OffsetResponse};
use raftbus_security::{Caller, Role};

use super::openapi::OffsetPath;
use super::{ApiState, partition, require_leader};
use crate::error::ApiError;
use crate::partition::{Partition, validate_name};
use crate::raft::{Command, CommandResponse};
use crate::state_machine::read::read_offset;
use crate::state_machine::state::CommittedOffset;

#[utoipa::path(
    post,
    path = raftbus_protocol::routes::PARTITION_OFFSETS,
    tag = "offsets",
    params(OffsetPath),
    request_body = OffsetCommitRequest,
    responses((status = 200, description = "Committed through the partition's Raft log", body = OffsetResponse))
)]
pub(super) async fn commit(
    state: web::Data<ApiState>,
    path: web::Path<OffsetPath>,
    body: web::Json<OffsetCommitRequest>,
) -> Result<HttpResponse, ApiError> {
    let OffsetPath {
        topic,
        partition: index,
        group,
    } = path.into_inner();
    let p = partition(&state, &topic, index)?;
    let body = body.into_inner();
    commit_offset(&state, &p, &group, body.offset, body.generation).await?;
    Ok(HttpResponse::Ok().json(OffsetResponse {
        group,
        offset: Some(body.offset),
        generation: body.generation,
    }))
}

#[utoipa::path(
    get,
    path = raftbus_protocol::routes::PARTITION_OFFSETS,
    tag = "offsets",
    params(OffsetPath),
    responses((status = 200, description = "The group's committed offset", body = OffsetResponse))
)]
pub(super) async fn read(
    state: web::Data<ApiState>,
    path: web::Path<OffsetPath>,
) -> Result<HttpResponse, ApiError> {
    let OffsetPath {
        topic,
        partition: index,
        group,
    } = path.into_inner();
    let p = partition(&state, &topic, index)?;
    let c = committed(&state, &p, &group).await?;
    Ok(HttpResponse::Ok().json(OffsetResponse {
        group,
        offset: c.and_then(|c| c.offset),
        generation: c.and_then(|c| c.generation),
    }))
}

/// Fences the group at a generation (on the leader, through the log) and answers the group's
/// state afterwards: its untouched offset and its generation, which is the higher of the
/// stored one and the requested one.
pub(super) async fn fence(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(String, u32, String)>,
    body: web::Json<FenceRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Manager)?;
    let (topic, index, group) = path.into_inner();
    validate_name("consumer group", &group)?;
    let p = partition(&state, &topic, index)?;
    require_leader(&state, &p, true)?;
    if body.drop {
        let cmd = Command::DropGroup {
            group: group.clone(),
            generation: body.generation,
        };
        return match super::produce::write(&state, &p, cmd).await? {
            CommandResponse::GroupDropped { .. } => Ok(HttpResponse::Ok().json(OffsetResponse {
                group,
                offset: None,
                generation: None,
            })),
            other => Err(crate::error::internal(format!(
                "unexpected apply result {other:?}"
            ))),
        };
    }
    let cmd = Command::FenceGroup {
        group: group.clone(),
        generation: body.generation,
    };
    match super::produce::write(&state, &p, cmd).await? {
        CommandResponse::GroupFenced { offset, generation } => {
            Ok(HttpResponse::Ok().json(OffsetResponse {
                group,
                offset,
                generation: Some(generation),
            }))
        }
        other => Err(crate::error::internal(format!(
            "unexpected apply result {other:?}"
        ))),
    }
}

/// Commits a group's offset through the partition's Raft log (this replica must lead): the
/// commit path shared by the HTTP API and the Kafka listener.
pub(crate) async fn commit_offset(
    state: &ApiState,
    p: &Partition,
    group: &str,
    offset: u64,
    generation: Option<u64>,
) -> Result<(), ApiError> {
    validate_name("consumer group", group)?;
    require_leader(state, p, true)?;
    let cmd = Command::CommitOffset {
        group: group.to_string(),
        offset,
        generation,
    };
    super::produce::write(state, p, cmd).await.map(drop)
}

/// A group's committed offset as this leader applied it.
pub(crate) async fn committed(
    state: &ApiState,
    p: &Partition,
    group: &str,
) -> Result<Option<CommittedOffset>, ApiError> {
    validate_name("consumer group", group)?;
    require_leader(state, p, false)?;
    read_offset(state.registry.db(), p.group_id, group)
        .await
        .map_err(crate::error::internal)
}
