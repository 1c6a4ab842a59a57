//! Heartbeats of brokers, producers and consumers. They may arrive at any manager; read
//! managers forward them, because liveness lives in the write manager's memory. Only the
//! changes a heartbeat reveals are proposed to the Raft log.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{HttpRequest, HttpResponse, web};
use raftbus_protocol::ErrorCode;
use raftbus_protocol::meta::{
    BrokerHeartbeat, BrokerHeartbeatReply, ConsumerHeartbeat, ProducerHeartbeat,
};
use raftbus_protocol::names::validate_name;
use raftbus_protocol::retention::RetentionSpec;
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

fn changes(meta: &ClusterMeta, hb: &BrokerHeartbeat) -> BrokerChanges {
    let id = hb.broker.id;
    let known = meta.brokers.get(&id);
    let mut leaders = Vec::new();
    for g in &hb.groups {
        // A broker moved off a partition may still claim it (a restarted stale replica
        // briefly restores its old leadership) until it drops the replica: ignore it.
        let Some((_, _, p)) = meta
            .find_group(g.group_id)
            .filter(|(_, _, p)| p.involves(id))
        else {
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
        register: known.is_none_or(|b| b.member != hb.broker),
        revive: known.is_some_and(|b| !b.alive),
        leaders,
    }
}

fn desired(
    m: &Manager,
    meta: &ClusterMeta,
    hb: &BrokerHeartbeat,
    defaults: RetentionSpec,
) -> BrokerHeartbeatReply {
    let after = Duration::from_millis(m.settings.healing.leader_balance_after_ms);
    let lead_ok = |b| !after.is_zero() && m.liveness.broker_up_for(b, after);
    BrokerHeartbeatReply {
        assignments: moves::assignments(meta, hb.broker.id, lead_ok, defaults),
        removed: moves::removable(meta, hb.broker.id, &hb.groups),
    }
}

/// `POST /v1/heartbeat/broker`: records liveness and leadership, answers the desired replicas.
pub(super) async fn broker(
    m: web::Data<Manager>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, body).await;
    }
    let hb: BrokerHeartbeat = parse(&body)?;
    if hb.broker.id == 0 {
        return Err(ApiError::bad_request("broker id must be positive"));
    }
    m.liveness.touch_broker(hb.broker.id);
    for g in hb.groups.iter().filter(|g| g.is_leader) {
        m.liveness.set_leo(g.group_id, g.log_end_offset);
        m.liveness
            .set_extent(g.group_id, g.log_start_offset, g.learners.clone());
    }
    let c = m.read(|meta| changes(meta, &hb));
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
    for (group, replicas) in m.read(|meta| moves::completed(meta, &hb.groups)) {
        tracing::info!(%group, ?replicas, "replica move complete");
        m.propose(MetaCommand::CompleteMove { group, replicas })
            .await?;
    }
    let defaults = m.settings.topics.retention_defaults();
    Ok(HttpResponse::Ok().json(m.read(|meta| desired(&m, meta, &hb, defaults))))
}

/// `POST /v1/producers` and `/v1/heartbeat/producer`.
pub(super) async fn producer(
    m: web::Data<Manager>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, body).await;
    }
    let hb: ProducerHeartbeat = parse(&body)?;
    validate_name("topic", &hb.topic).map_err(|e| ApiError::new(ErrorCode::InvalidName, e))?;
    m.liveness.touch_producer(hb.producer_id);
    if m.read(|meta| !meta.producers.contains_key(&hb.producer_id)) {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        m.propose(MetaCommand::RegisterProducer {
            producer_id: hb.producer_id,
            topic: hb.topic,
            at_ms,
        })
        .await?;
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({})))
}

/// `POST /v1/consumers` (join) and `/v1/heartbeat/consumer`: answers the consumer's current
/// generation and partitions, joining (and rebalancing) when it is not a member.
pub(super) async fn consumer(
    m: web::Data<Manager>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, body).await;
    }
    let hb: ConsumerHeartbeat = parse(&body)?;
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
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({})))
}
