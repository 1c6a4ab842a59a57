//! Metadata: the Raftbus brokers with their advertised Kafka addresses, and each topic's
//! partitions with their leaders, from the managers (auto-creating per the cluster defaults
//! when the client asks and the managers allow). Partitions this broker hosts take the leader
//! from the local Raft group, which knows of a failover before the managers do.

use std::collections::HashMap;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use raftbus_protocol::acl::{Operation, ResourceKind};
use raftbus_protocol::meta::TopicInfo;

use super::errors::code;
use super::{Kafka, Who};
use crate::error::ApiError;

/// Splits `host:port` (IPv6 hosts in brackets keep them).
pub(super) fn host_port(addr: &str) -> Option<(String, i32)> {
    let (host, port) = addr.rsplit_once(':')?;
    Some((host.to_string(), port.parse().ok()?))
}

/// A Kafka broker id for a Raftbus node id (Kafka's are `i32`).
pub(super) fn broker_id(id: u64) -> BrokerId {
    BrokerId(i32::try_from(id).unwrap_or(-1))
}

pub(super) async fn handle(
    k: &Kafka,
    who: &Who,
    r: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    let token = who.token();
    let me = k.api.registry.node_id();
    let brokers = k.managers.brokers(token).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e.0, "kafka metadata: brokers unavailable");
        Vec::new()
    });
    // Only live brokers with a Kafka listener are named (as Kafka lists only live ones); a
    // partition led by another shows no leader, and clients ask again.
    let kafka_brokers: HashMap<u64, (String, i32)> = brokers
        .iter()
        .filter(|b| b.alive)
        .filter_map(|b| Some((b.id, host_port(b.kafka_addr.as_deref()?)?)))
        .collect();
    // Before v4 there is no flag: the broker's own policy decides (Kafka's default: create).
    let auto = version < 4 || r.allow_auto_topic_creation;
    let topics = match r.topics {
        None => match k.managers.topics(token).await {
            Ok(all) => all
                .into_iter()
                .filter(|t| {
                    k.allowed(who, ResourceKind::Topic, &t.name, Operation::Describe)
                        .is_ok()
                })
                .map(|t| topic(k, &t, &kafka_brokers))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e.0, "kafka metadata: topics unavailable");
                Vec::new()
            }
        },
        Some(wanted) => {
            let mut out = Vec::with_capacity(wanted.len());
            for name in wanted.into_iter().filter_map(|t| t.name) {
                let found = k.managers.topic(token, name.as_str(), auto).await;
                out.push(match found {
                    Ok(t) => topic(k, &t, &kafka_brokers),
                    Err(e) => failed(name, &e),
                });
            }
            out
        }
    };
    MetadataResponse::default()
        .with_brokers(
            kafka_brokers
                .iter()
                .map(|(id, (host, port))| {
                    MetadataResponseBroker::default()
                        .with_node_id(broker_id(*id))
                        .with_host(StrBytes::from_string(host.clone()))
                        .with_port(*port)
                })
                .collect(),
        )
        .with_cluster_id(Some(StrBytes::from_static_str("raftbus")))
        .with_controller_id(broker_id(me))
        .with_topics(topics)
}

fn failed(name: TopicName, e: &ApiError) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(Some(name))
        .with_error_code(code(e))
}

fn topic(
    k: &Kafka,
    t: &TopicInfo,
    kafka_brokers: &HashMap<u64, (String, i32)>,
) -> MetadataResponseTopic {
    let partitions = t
        .partition_info
        .iter()
        .map(|p| {
            let local = k
                .api
                .registry
                .get(&t.name, p.partition)
                .and_then(|h| h.leadership().leader.map(|(id, _)| id));
            let leader = local
                .or(p.leader)
                .filter(|id| kafka_brokers.contains_key(id));
            let replicas: Vec<BrokerId> = p.replicas.iter().map(|id| broker_id(*id)).collect();
            MetadataResponsePartition::default()
                .with_partition_index(i32::try_from(p.partition).unwrap_or(i32::MAX))
                .with_error_code(if leader.is_some() {
                    0
                } else {
                    ResponseError::LeaderNotAvailable.code()
                })
                .with_leader_id(leader.map_or(BrokerId(-1), broker_id))
                // No leader epochs: clients then skip epoch validation (KIP-320).
                .with_leader_epoch(-1)
                .with_isr_nodes(replicas.clone())
                .with_replica_nodes(replicas)
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
        .with_partitions(partitions)
}
