//! Heartbeats of brokers, producers and consumers. They may arrive at any manager; read
//! managers forward them, because liveness lives in the write manager's memory. Only the
//! changes a heartbeat reveals are proposed to the Raft log.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use raftbus_protocol::ErrorCode;
use raftbus_protocol::api::Member;
use raftbus_protocol::http::Body;
use raftbus_protocol::meta::{
    BrokerHeartbeat, BrokerHeartbeatReply, ConsumerAssignment, ConsumerHeartbeat, HostedGroup,
    ProducerHeartbeat, assignments_digest,
};
use raftbus_protocol::names::validate_name;
use raftbus_protocol::retention::RetentionSpec;
use raftbus_security::{Caller, NodeIdentity};
use uuid::Uuid;

use super::parse;
use crate::error::ApiError;
use crate::metadata::{ClusterMeta, moves};
use crate::node::Manager;
use crate::raft::{MetaCommand, MetaResponse};

/// Changes a broker heartbeat reveals, computed under the read lock.
struct BrokerChanges {
    register: bool,
    revive: bool,
    leaders: Vec<(Uuid, Option<u64>)>,
}

/// What `groups` (every group the broker hosts, or the reported subset) reveal against the
/// metadata: registration, revival, leadership changes.
fn changes(meta: &ClusterMeta, broker: &Member, groups: &[HostedGroup]) -> BrokerChanges {
    let id = broker.id;
    let known = meta.brokers.get(&id);
    let index = meta.partitions_by_group();
    let mut leaders = Vec::new();
    for g in groups {
        // A broker moved off a partition may still claim it (a restarted stale replica
        // briefly restores its old leadership) until it drops the replica: ignore it.
        let Some(p) = index.get(&g.group_id).filter(|p| p.involves(id)) else {
            continue;
        };
        if g.is_leader && p.leader != Some(id) {
            leaders.push((g.group_id, Some(id)));
        } else if !g.is_leader && p.leader == Some(id) {
            // It stepped down; record whom it follows now (that leader confirms soon).
            leaders.push((g.group_id, g.leader.filter(|l| *l != id)));
        }
    }
    BrokerChanges {
        register: known.is_none_or(|b| b.member != *broker),
        revive: known.is_some_and(|b| !b.alive),
        leaders,
    }
}

/// The reply: the assignment set (or `unchanged` when the broker already has a set with the
/// same digest) and the groups to drop among `groups`.
fn desired(
    m: &Manager,
    meta: &ClusterMeta,
    hb: &BrokerHeartbeat,
    groups: &[HostedGroup],
    defaults: RetentionSpec,
) -> BrokerHeartbeatReply {
    let after = Duration::from_millis(m.settings.healing.leader_balance_after_ms);
    let lead_ok = |b| !after.is_zero() && m.liveness.broker_up_for(b, after);
    let assignments = moves::assignments(meta, hb.broker.id, lead_ok, defaults);
    let digest = assignments_digest(&assignments);
    let unchanged = hb.assignments_digest.as_deref() == Some(digest.as_str());
    BrokerHeartbeatReply {
        assignments: if unchanged { Vec::new() } else { assignments },
        removed: moves::removable(meta, hb.broker.id, groups),
        assignments_digest: Some(digest),
        unchanged,
        full_report_needed: false,
        incremental: true,
        security: Some(meta.security.clone()),
    }
}

/// `POST /v1/heartbeat/broker`: records liveness and leadership, answers the desired replicas.
///
/// An incremental report is merged into the broker's picture ([`crate::reports`]) and every
/// decision below looks at all hosted groups. When it cannot be merged, only the reported
/// groups are acted on (each fact in them is current; a group left out is just not acted on
/// this time) and the reply asks for a full report.
pub(super) async fn broker(
    caller: Caller,
    m: web::Data<Manager>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let hb: BrokerHeartbeat = parse(&body.0)?;
    drop(body);
    if hb.broker.id == 0 {
        return Err(ApiError::bad_request("broker id must be positive"));
    }
    // A broker reports only for itself.
    caller.require_node(NodeIdentity::broker(hb.broker.id))?;
    // Not forwarded: the write manager must see the broker's own certificate. A broker tries
    // the managers in turn until the write manager answers.
    if !m.is_leader() {
        return Err(ApiError::not_leader("the metadata group", m.leader()));
    }
    m.liveness.touch_broker(hb.broker.id);
    let merged = m.reports.merge(&hb);
    let complete = merged.is_some();
    let groups = merged.as_deref().unwrap_or(&hb.groups);
    // From the whole picture, not just the reported groups: liveness may have been reset
    // (new write manager) since an unreported group's offsets were recorded.
    m.liveness.set_reported(groups.iter());
    let c = m.read(|meta| changes(meta, &hb.broker, groups));
    if c.register {
        tracing::info!(broker = hb.broker.id, api = %hb.broker.api_addr, "broker registered");
        m.propose(MetaCommand::UpsertBroker {
            member: hb.broker.clone(),
        })
        .await?;
    } else if c.revive {
        tracing::info!(broker = hb.broker.id, "broker alive again");
        m.propose(MetaCommand::SetBrokerAlive {
            id: hb.broker.id,
            alive: true,
        })
        .await?;
    }
    if !c.leaders.is_empty() {
        m.propose(MetaCommand::SetLeaders { leaders: c.leaders })
            .await?;
    }
    for (group, replicas) in m.read(|meta| moves::completed(meta, hb.broker.id, groups)) {
        tracing::info!(%group, ?replicas, "replica move complete");
        m.propose(MetaCommand::CompleteMove { group, replicas })
            .await?;
    }
    let defaults = m.settings.topics.retention_defaults();
    let mut reply = m.read(|meta| desired(&m, meta, &hb, groups, defaults));
    reply.full_report_needed = !complete;
    Ok(HttpResponse::Ok().json(reply))
}

/// `POST /v1/producers` and `/v1/heartbeat/producer`: validated and acknowledged, nothing
/// stored. The producer registry these used to fill was read by nothing and grew with every
/// `Producer::connect`; the routes stay so existing clients keep working. Any manager answers.
#[utoipa::path(
    post,
    path = raftbus_protocol::routes::PRODUCERS,
    tag = "clients",
    request_body = ProducerHeartbeat,
    responses((status = 200, description = "Acknowledged (`{}`)", body = serde_json::Value))
)]
pub(super) async fn producer(body: Body) -> Result<HttpResponse, ApiError> {
    let hb: ProducerHeartbeat = parse(&body.0)?;
    validate_name("topic", &hb.topic).map_err(|e| ApiError::new(ErrorCode::InvalidName, e))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({})))
}

/// `POST /v1/consumers` (join) and `/v1/heartbeat/consumer`: answers the consumer's current
/// generation and partitions, joining (and rebalancing) when it is not a member.
#[utoipa::path(
    post,
    path = raftbus_protocol::routes::CONSUMERS,
    tag = "clients",
    request_body = ConsumerHeartbeat,
    responses((status = 200, description = "The consumer's assignment", body = ConsumerAssignment))
)]
pub(super) async fn consumer(
    m: web::Data<Manager>,
    req: HttpRequest,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, body.0).await;
    }
    let hb: ConsumerHeartbeat = parse(&body.0)?;
    validate_name("consumer group", &hb.group)
        .map_err(|e| ApiError::new(ErrorCode::InvalidName, e))?;
    m.liveness.touch_consumer(&hb.group, hb.consumer_id);
    if let Some(a) = m.read(|meta| {
        meta.groups
            .get(&hb.group)
            .filter(|g| g.topic == hb.topic)
            .and_then(|_| meta.assignment(&hb.group, hb.consumer_id))
    }) {
        return Ok(HttpResponse::Ok().json(a));
    }
    let cmd = MetaCommand::JoinGroup {
        group: hb.group.clone(),
        topic: hb.topic.clone(),
        consumer_id: hb.consumer_id,
    };
    match m.propose(cmd).await? {
        MetaResponse::Assignment(a) => {
            tracing::info!(group = %hb.group, consumer = %hb.consumer_id, generation = a.generation, "consumer joined");
            Ok(HttpResponse::Ok().json(a))
        }
        other => Err(crate::error::internal(format!(
            "unexpected join result {other:?}"
        ))),
    }
}

/// `DELETE /v1/consumers/{group}/{consumer}`: leave at once (clean shutdown), rebalancing.
#[utoipa::path(
    delete,
    path = raftbus_protocol::routes::CONSUMER,
    tag = "clients",
    params(
        ("group" = String, Path, description = "Consumer group name"),
        ("consumer" = uuid::Uuid, Path, description = "Consumer id")
    ),
    responses((status = 200, description = "Left (`{}`)", body = serde_json::Value))
)]
pub(super) async fn leave(
    m: web::Data<Manager>,
    req: HttpRequest,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, web::Bytes::new()).await;
    }
    let (group, id) = path.into_inner();
    m.liveness.forget_consumer(&group, id);
    m.propose(MetaCommand::LeaveGroup {
        group,
        consumer_ids: vec![id],
        at_ms: crate::node::now_ms(),
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({})))
}
