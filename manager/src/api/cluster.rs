//! Cluster views: health, metrics, managers and brokers.

use raftbus_node::metrics::Scrape;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use futures::future::join_all;
use raftbus_protocol::meta::{BrokerInfo, ManagerInfo, ManagerRole};
use raftbus_protocol::routes;

use crate::metadata::ClusterMeta;
use crate::node::Manager;

#[utoipa::path(
    get,
    path = "/health",
    tag = "cluster",
    security(()),
    responses((status = 200, description = "`{status, node_id, role, leader}`", body = serde_json::Value))
)]
pub(super) async fn health(m: web::Data<Manager>) -> HttpResponse {
    let role = if m.is_leader() { "write" } else { "read" };
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "node_id": m.id,
        "role": role,
        "leader": m.leader().map(|(id, _)| id),
    }))
}

/// Every manager with its role as this manager sees it and a live health probe.
#[utoipa::path(
    get,
    path = raftbus_protocol::routes::MANAGERS,
    tag = "cluster",
    responses((status = 200, description = "Every manager", body = [ManagerInfo]))
)]
pub(super) async fn managers(m: web::Data<Manager>) -> HttpResponse {
    let leader = m.leader().map(|(id, _)| id);
    let probes = m.peers.iter().map(|p| {
        let m = m.clone();
        async move {
            if p.id == m.id {
                return true;
            }
            let url = m.http.url(&p.api_addr, routes::HEALTH);
            let r = m
                .http
                .http
                .get(url)
                .timeout(Duration::from_millis(700))
                .send()
                .await;
            r.is_ok_and(|r| r.status().is_success())
        }
    });
    let healthy = join_all(probes).await;
    let list: Vec<ManagerInfo> = m
        .peers
        .iter()
        .zip(healthy)
        .map(|(p, healthy)| ManagerInfo {
            id: p.id,
            api_addr: p.api_addr.clone(),
            role: match (leader == Some(p.id), healthy) {
                (true, true) => ManagerRole::Write,
                (false, true) => ManagerRole::Read,
                _ => ManagerRole::Unknown,
            },
            healthy,
        })
        .collect();
    HttpResponse::Ok().json(list)
}

/// Brokers with their load.
pub(super) fn broker_infos(meta: &ClusterMeta) -> Vec<BrokerInfo> {
    meta.brokers
        .values()
        .map(|b| {
            let parts = meta.topics.values().flat_map(|t| t.partitions.iter());
            let replicas = parts
                .clone()
                .filter(|p| p.replicas.contains(&b.member.id))
                .count();
            let leaders = parts.filter(|p| p.leader == Some(b.member.id)).count();
            BrokerInfo {
                id: b.member.id,
                api_addr: b.member.api_addr.clone(),
                raft_addr: b.member.raft_addr.clone(),
                alive: b.alive,
                replicas,
                leaders,
                kafka_addr: b.member.kafka_addr.clone(),
            }
        })
        .collect()
}

/// `GET /v1/brokers`.
#[utoipa::path(
    get,
    path = raftbus_protocol::routes::BROKERS,
    tag = "cluster",
    responses((status = 200, description = "Every broker", body = [BrokerInfo]))
)]
pub(super) async fn brokers(m: web::Data<Manager>) -> HttpResponse {
    HttpResponse::Ok().json(m.read(broker_infos))
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "cluster",
    responses((status = 200, description = "Prometheus text metrics", body = String, content_type = "text/plain"))
)]
pub(super) async fn metrics(m: web::Data<Manager>) -> HttpResponse {
    let (brokers, alive, topics, partitions, groups) = m.read(|meta| {
        (
            meta.brokers.len(),
            meta.brokers.values().filter(|b| b.alive).count(),
            meta.topics.len(),
            meta.topics
                .values()
                .map(|t| t.partitions.len())
                .sum::<usize>(),
            meta.groups.len(),
        )
    });
    let gauges = [
        (
            "raftbus_manager_is_write",
            "1 on the write manager (metadata Raft leader)",
            usize::from(m.is_leader()),
        ),
        ("raftbus_brokers", "Brokers known", brokers),
        (
            "raftbus_brokers_alive",
            "Brokers whose heartbeats arrive",
            alive,
        ),
        ("raftbus_topics", "Topics", topics),
        (
            "raftbus_partitions_total",
            "Partitions over all topics",
            partitions,
        ),
        ("raftbus_consumer_groups", "Consumer groups", groups),
    ];
    let mut s = Scrape::new();
    for (name, help, v) in gauges {
        s.gauge(name, help, v as i64);
    }
    s.render()
}
