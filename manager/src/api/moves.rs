//! Replica moves requested by an operator: `POST /v1/topics/{topic}/partitions/{p}/reassign`
//! and `POST /v1/rebalance`. Both run on the write manager (read managers forward) and go
//! through the same throttled mechanism as healing (`metadata::moves`).

use std::collections::BTreeSet;

use actix_web::{HttpRequest, HttpResponse, web};
use raftbus_protocol::ErrorCode;
use raftbus_protocol::http::Body;
use raftbus_protocol::moves::{MovesReply, PlannedMove, ReassignRequest, RebalanceRequest};

use super::parse;
use super::topics::unknown;
use crate::error::ApiError;
use crate::metadata::ClusterMeta;
use crate::metadata::moves::RebalanceScope;
use crate::node::Manager;
use crate::raft::MetaCommand;
use crate::tasks::balance::balance_once;

/// Checks a reassignment against the metadata; answers the partition's group and current
/// replicas, or the 4xx naming what is wrong.
fn check(
    meta: &ClusterMeta,
    topic: &str,
    partition: u32,
    replicas: &[u64],
    max_moves: usize,
) -> Result<(uuid::Uuid, Vec<u64>), ApiError> {
    let t = meta.topics.get(topic).ok_or_else(|| unknown(topic))?;
    let p = t.partitions.get(partition as usize).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!(
                "topic {topic:?} has no partition {partition} (it has {})",
                t.partitions.len()
            ),
        )
    })?;
    if replicas.len() != t.replication_factor as usize {
        return Err(ApiError::bad_request(format!(
            "replicas must list {} brokers (the replication factor), got {}",
            t.replication_factor,
            replicas.len()
        )));
    }
    if replicas.iter().collect::<BTreeSet<_>>().len() != replicas.len() {
        return Err(ApiError::bad_request("replicas must be distinct brokers"));
    }
    for r in replicas {
        match meta.brokers.get(r) {
            None => return Err(ApiError::bad_request(format!("unknown broker {r}"))),
            Some(b) if !b.alive && !p.replicas.contains(r) => {
                return Err(ApiError::bad_request(format!(
                    "broker {r} is dead: a new replica needs a live broker"
                )));
            }
            Some(_) => {}
        }
    }
    if p.target.is_some() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("{topic}/{partition} is already moving; wait until the move completes"),
        ));
    }
    let adds_replicas = replicas.iter().any(|r| !p.replicas.contains(r));
    if adds_replicas && meta.moves_in_progress() >= max_moves {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "{max_moves} replica moves already in progress (healing.max_moves); retry later"
            ),
        ));
    }
    Ok((p.group_id, p.replicas.clone()))
}

/// `POST /v1/topics/{topic}/partitions/{p}/reassign` with a [`ReassignRequest`].
#[utoipa::path(
    post,
    path = raftbus_protocol::routes::PARTITION_REASSIGN,
    tag = "moves",
    params(
        ("topic" = String, Path, description = "Topic name"),
        ("partition" = u32, Path, description = "Partition index")
    ),
    request_body = ReassignRequest,
    responses((status = 200, description = "The move started (none when nothing changes)", body = MovesReply))
)]
pub(super) async fn reassign(
    m: web::Data<Manager>,
    req: HttpRequest,
    path: web::Path<(String, u32)>,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, body).await;
    }
    let (topic, partition) = path.into_inner();
    let r: ReassignRequest = parse(&body)?;
    let max = m.settings.healing.max_moves;
    let (group, from) = m.read(|meta| check(meta, &topic, partition, &r.replicas, max))?;
    let mut reply = MovesReply::default();
    if from != r.replicas {
        tracing::info!(%topic, partition, ?from, to = ?r.replicas, "reassign requested");
        m.propose(MetaCommand::StartMove {
            group,
            target: r.replicas.clone(),
        })
        .await?;
        reply.started.push(PlannedMove {
            topic,
            partition,
            from,
            to: r.replicas,
        });
    }
    Ok(HttpResponse::Ok().json(reply))
}

/// `POST /v1/rebalance` with a [`RebalanceRequest`] (an empty body means every topic).
#[utoipa::path(
    post,
    path = raftbus_protocol::routes::REBALANCE,
    tag = "moves",
    request_body(content = Option<RebalanceRequest>, content_type = "application/json"),
    responses((status = 200, description = "Moves started and pending", body = MovesReply))
)]
pub(super) async fn rebalance(
    m: web::Data<Manager>,
    req: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, body).await;
    }
    let r: RebalanceRequest = if body.is_empty() {
        RebalanceRequest::default()
    } else {
        parse(&body)?
    };
    if let Some(t) = &r.topic
        && m.read(|meta| !meta.topics.contains_key(t))
    {
        return Err(unknown(t));
    }
    let scope = RebalanceScope { topic: r.topic };
    m.propose(MetaCommand::SetRebalance {
        scope: Some(scope.clone()),
    })
    .await?;
    let reply = balance_once(&m, &scope).await?;
    Ok(HttpResponse::Ok().json(reply))
}
