//! Cluster metadata: the state of the managers' Raft group and the deterministic rules that
//! change it. Every manager applies the same commands in the same order and holds the same
//! [`ClusterMeta`]; decisions that need judgment (placement) are made by the write manager
//! *before* proposing, so applying stays deterministic.

pub mod balance;
pub mod moves;
pub mod placement;
pub mod reap;
pub mod retention;
pub mod security;

use std::collections::{BTreeMap, BTreeSet};

use raftbus_protocol::ErrorCode;
use raftbus_protocol::acl::SecurityTable;
use raftbus_protocol::api::Member;
use raftbus_protocol::meta::ConsumerAssignment;
use raftbus_protocol::retention::RetentionSpec;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::raft::{MetaCommand, MetaResponse};

/// How many group ids of deleted topics are remembered so late brokers still drop them.
const TOMBSTONES: usize = 10_000;

/// A broker known to the cluster (discovered by its heartbeats).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRecord {
    /// Id and addresses.
    pub member: Member,
    /// False after it missed heartbeats for the timeout.
    pub alive: bool,
}

/// One partition's placement and reported leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRecord {
    /// Raft group id.
    pub group_id: Uuid,
    /// Replica broker ids, preferred leader first.
    pub replicas: Vec<u64>,
    /// Leader as reported by broker heartbeats.
    pub leader: Option<u64>,
    /// While a replica move runs: the replica set it moves to (see [`moves`]).
    #[serde(default)]
    pub target: Option<Vec<u64>>,
}

/// A topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRecord {
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// Replicas per partition.
    pub replication_factor: u32,
    /// Partitions by index.
    pub partitions: Vec<PartitionRecord>,
    /// Retention set on the topic; unset fields follow the cluster defaults. Last field and
    /// `serde(default)`, so metadata stored before retention existed still loads.
    #[serde(default)]
    pub retention: RetentionSpec,
}

/// A registered producer: legacy. Producer registrations are no longer stored (nothing read
/// them); records left from older versions are dropped by the next [`MetaCommand::Reap`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerRecord {
    /// Topic it writes.
    pub topic: String,
    /// Registration time, ms since the epoch.
    pub registered_ms: u64,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// Topic consumed.
    pub topic: String,
    /// Bumped on every membership change; offset commits carry it.
    pub generation: u64,
    /// Members and their partitions. Kept while empty (up to the offsets retention) so a
    /// short pause does not reset the group; see [`reap`] for how generations stay monotonic
    /// after it is removed.
    pub members: BTreeMap<Uuid, Vec<u32>>,
    /// Since when the group has had no members (ms since the epoch, the write manager's clock
    /// carried in the command that emptied it); `None` while it has members, or when it was
    /// emptied before this field existed (then the next reap stamps it). Last field and
    /// `serde(default)`, so stored metadata from before still loads.
    #[serde(default)]
    pub empty_since_ms: Option<u64>,
}

/// Everything the managers agree on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMeta {
    /// Brokers by id.
    pub brokers: BTreeMap<u64, BrokerRecord>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicRecord>,
    /// Group ids of deleted topics (bounded), so brokers drop their replicas.
    pub removed_groups: BTreeSet<Uuid>,
    /// Legacy producer registry: no longer written (see [`ProducerRecord`]); kept as a field
    /// so stored metadata decodes, emptied by the next reap.
    pub producers: BTreeMap<Uuid, ProducerRecord>,
    /// Consumer groups by name.
    pub groups: BTreeMap<String, GroupRecord>,
    /// A requested rebalance still being carried out (see [`balance`]).
    #[serde(default)]
    pub rebalance: Option<moves::RebalanceScope>,
    /// Users (token digests) and ACL rules (see [`security`]).
    #[serde(default)]
    pub security: SecurityTable,
    /// Highest generation of any consumer group removed by [`reap`]: a group created later
    /// starts above it, so a re-created group's commits are never refused as stale by the
    /// fences its predecessor left on the partitions. Last field and `serde(default)`.
    #[serde(default)]
    pub generation_floor: u64,
}

impl ClusterMeta {
    /// Applies one command.
    pub fn apply(&mut self, cmd: MetaCommand) -> MetaResponse {
        match cmd {
            MetaCommand::UpsertBroker { member } => {
                self.brokers.insert(
                    member.id,
                    BrokerRecord {
                        member,
                        alive: true,
                    },
                );
                MetaResponse::Ok
            }
            MetaCommand::SetBrokerAlive { id, alive } => {
                if let Some(b) = self.brokers.get_mut(&id) {
                    b.alive = alive;
                }
                if !alive {
                    // A dead broker leads nothing; clients must not be sent there.
                    for p in self
                        .topics
                        .values_mut()
                        .flat_map(|t| t.partitions.iter_mut())
                    {
                        if p.leader == Some(id) {
                            p.leader = None;
                        }
                    }
                }
                MetaResponse::Ok
            }
            MetaCommand::CreateTopic {
                name,
                replication_factor,
                created_ms,
                partitions,
                retention,
            } => {
                if self.topics.contains_key(&name) {
                    return error(
                        ErrorCode::TopicExists,
                        format!("topic {name:?} already exists"),
                    );
                }
                let partitions = partitions
                    .into_iter()
                    .map(|(group_id, replicas)| PartitionRecord {
                        group_id,
                        replicas,
                        leader: None,
                        target: None,
                    })
                    .collect();
                self.topics.insert(
                    name,
                    TopicRecord {
                        created_ms,
                        replication_factor,
                        partitions,
                        retention,
                    },
                );
                MetaResponse::Ok
            }
            MetaCommand::Security(cmd) => security::apply(&mut self.security, cmd),
            MetaCommand::DeleteTopic { name } => {
                let Some(t) = self.topics.remove(&name) else {
                    return error(
                        ErrorCode::UnknownTopic,
                        format!("topic {name:?} does not exist"),
                    );
                };
                self.removed_groups
                    .extend(t.partitions.iter().map(|p| p.group_id));
                while self.removed_groups.len() > TOMBSTONES {
                    self.removed_groups.pop_first();
                }
                self.groups.retain(|_, g| g.topic != name);
                self.producers.retain(|_, p| p.topic != name);
                MetaResponse::Ok
            }
            MetaCommand::SetLeaders { leaders } => {
                for (group, leader) in leaders {
                    if let Some(p) = self.partition_mut(group) {
                        p.leader = leader;
                    }
                }
                MetaResponse::Ok
            }
            cmd @ (MetaCommand::StartMove { .. }
            | MetaCommand::CompleteMove { .. }
            | MetaCommand::RedirectMove { .. }
            | MetaCommand::SetRebalance { .. }) => self.apply_move(cmd),
            // Entries of older versions: the registry is gone (nothing read it), so they change
            // nothing; the next reap drops records they left.
            MetaCommand::RegisterProducer { .. } => MetaResponse::Ok,
            MetaCommand::JoinGroup {
                group,
                topic,
                consumer_id,
            } => self.join(group, topic, consumer_id),
            MetaCommand::LeaveGroup {
                group,
                consumer_ids,
                at_ms,
            } => {
                if let Some(g) = self.groups.get_mut(&group) {
                    let before = g.members.len();
                    g.members.retain(|id, _| !consumer_ids.contains(id));
                    if g.members.len() != before {
                        g.generation += 1;
                        // 0: an entry from before `at_ms` existed; the next reap stamps it.
                        if g.members.is_empty() && at_ms > 0 {
                            g.empty_since_ms = Some(at_ms);
                        }
                        self.rebalance(&group);
                    }
                }
                MetaResponse::Ok
            }
            MetaCommand::Reap {
                now_ms,
                offsets_retention_ms,
            } => self.reap(now_ms, offsets_retention_ms),
            MetaCommand::SetRetention { name, change } => self.set_retention(&name, change),
        }
    }

    fn join(&mut self, group: String, topic: String, consumer_id: Uuid) -> MetaResponse {
        let Some(t) = self.topics.get(&topic) else {
            return error(
                ErrorCode::UnknownTopic,
                format!("topic {topic:?} does not exist"),
            );
        };
        let n = t.partitions.len() as u32;
        let floor = self.generation_floor;
        let g = self
            .groups
            .entry(group.clone())
            .or_insert_with(|| GroupRecord {
                topic: topic.clone(),
                generation: floor,
                members: BTreeMap::new(),
                empty_since_ms: None,
            });
        if g.topic != topic {
            return error(
                ErrorCode::Conflict,
                format!(
                    "consumer group {group:?} consumes topic {:?}, not {topic:?}",
                    g.topic
                ),
            );
        }
        if let std::collections::btree_map::Entry::Vacant(e) = g.members.entry(consumer_id) {
            e.insert(Vec::new());
            g.empty_since_ms = None;
            g.generation += 1;
            placement::assign_partitions(&mut g.members, n);
        }
        MetaResponse::Assignment(
            self.assignment(&group, consumer_id)
                .expect("member just added"),
        )
    }

    fn rebalance(&mut self, group: &str) {
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        let n = self
            .topics
            .get(&g.topic)
            .map_or(0, |t| t.partitions.len() as u32);
        placement::assign_partitions(&mut g.members, n);
    }

    /// A member's current assignment, if it is in the group.
    pub fn assignment(&self, group: &str, consumer_id: Uuid) -> Option<ConsumerAssignment> {
        let g = self.groups.get(group)?;
        let partitions = g.members.get(&consumer_id)?.clone();
        Some(ConsumerAssignment {
            generation: g.generation,
            partitions,
        })
    }

    fn partition_mut(&mut self, group: Uuid) -> Option<&mut PartitionRecord> {
        self.topics
            .values_mut()
            .flat_map(|t| t.partitions.iter_mut())
            .find(|p| p.group_id == group)
    }

    /// `(topic, index, partition)` of a group id.
    pub fn find_group(&self, group: Uuid) -> Option<(&str, u32, &PartitionRecord)> {
        self.topics.iter().find_map(|(name, t)| {
            t.partitions
                .iter()
                .enumerate()
                .find(|(_, p)| p.group_id == group)
                .map(|(i, p)| (name.as_str(), i as u32, p))
        })
    }

    /// Client address of a broker.
    pub fn api_addr(&self, broker: u64) -> Option<&str> {
        self.brokers
            .get(&broker)
            .map(|b| b.member.api_addr.as_str())
    }

    /// A broker's internal (Raft) listener address, if it is known.
    pub fn raft_addr(&self, broker: u64) -> Option<&str> {
        self.brokers
            .get(&broker)
            .map(|b| b.member.raft_addr.as_str())
    }
}

fn error(code: ErrorCode, message: String) -> MetaResponse {
    MetaResponse::Error { code, message }
}

#[cfg(test)]
mod tests;
