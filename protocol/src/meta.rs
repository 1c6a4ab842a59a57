//! JSON bodies of the manager API (`/v1/...` on every manager): cluster metadata, heartbeats,
//! topics, consumer groups.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::Member;
use crate::retention::{Retention, RetentionSpec};

/// Role of a manager in the metadata Raft group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagerRole {
    /// The Raft leader: applies every metadata change.
    Write,
    /// A follower: serves reads, forwards writes to the write manager.
    Read,
    /// Not reachable or not part of a quorum.
    Unknown,
}

/// One manager as listed by `GET /v1/managers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerInfo {
    /// Manager node id.
    pub id: u64,
    /// Client API address.
    pub api_addr: String,
    /// Role as seen by the answering manager.
    pub role: ManagerRole,
    /// Whether it answered a health probe just now.
    pub healthy: bool,
}

/// A broker as the managers know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerInfo {
    /// Broker node id.
    pub id: u64,
    /// Client API address.
    pub api_addr: String,
    /// Raft address.
    pub raft_addr: String,
    /// True while its heartbeats arrive within the timeout.
    pub alive: bool,
    /// Replicas assigned to it.
    pub replicas: usize,
    /// Partitions it reported leading.
    pub leaders: usize,
}

/// `POST /v1/topics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTopicRequest {
    /// Topic name: 1..=249 of `[A-Za-z0-9._-]`.
    pub name: String,
    /// Number of partitions (default 3).
    #[serde(default)]
    pub partitions: Option<u32>,
    /// Replicas per partition (default 3).
    #[serde(default)]
    pub replication_factor: Option<u32>,
    /// Retention (`retention_ms`, `retention_bytes`); unset fields take the cluster defaults.
    #[serde(default, flatten)]
    pub retention: RetentionSpec,
}

/// One partition of a topic, with placement and observed leadership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    /// Partition index.
    pub partition: u32,
    /// Its Raft group id.
    pub group_id: Uuid,
    /// Replica broker ids; the first is the preferred leader.
    pub replicas: Vec<u64>,
    /// Leader as last reported by the brokers' heartbeats.
    pub leader: Option<u64>,
    /// Leader's client API address, when known.
    pub leader_addr: Option<String>,
    /// Log end offset as last reported by the leader.
    pub log_end_offset: u64,
    /// First stored offset as last reported by the leader (retention moves it up).
    #[serde(default)]
    pub log_start_offset: u64,
    /// Learners (non-voting replicas: those a move adds, still catching up) as last reported
    /// by the leader.
    #[serde(default)]
    pub learners: Vec<u64>,
    /// While a replica move is in progress: the replica set it moves to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_replicas: Option<Vec<u64>>,
}

/// A topic and its partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// Name.
    pub name: String,
    /// Number of partitions.
    pub partitions: u32,
    /// Replicas per partition.
    pub replication_factor: u32,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// True once every partition has a leader.
    pub ready: bool,
    /// Effective retention by age in ms (`-1`: unlimited).
    #[serde(default = "unlimited")]
    pub retention_ms: i64,
    /// Effective retention by size in bytes per partition (`-1`: unlimited).
    #[serde(default = "unlimited")]
    pub retention_bytes: i64,
    /// Per-partition detail.
    pub partition_info: Vec<PartitionInfo>,
}

fn unlimited() -> i64 {
    crate::retention::UNLIMITED
}

/// Partition state a broker reports in its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostedGroup {
    /// Group id.
    pub group_id: Uuid,
    /// True when this broker leads it.
    pub is_leader: bool,
    /// Leader known to this replica.
    pub leader: Option<u64>,
    /// Log end offset on this replica.
    pub log_end_offset: u64,
    /// First stored offset on this replica.
    #[serde(default)]
    pub log_start_offset: u64,
    /// Voters of the group's membership as this replica sees it (both halves while joint).
    #[serde(default)]
    pub voters: Vec<u64>,
    /// Learners of the group's membership as this replica sees it (meaningful from the
    /// leader).
    #[serde(default)]
    pub learners: Vec<u64>,
    /// True while the membership is a joint configuration (a change is half done).
    #[serde(default)]
    pub joint: bool,
}

/// `POST /v1/heartbeat/broker`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerHeartbeat {
    /// The broker's id and addresses (brokers are discovered by their heartbeats).
    pub broker: Member,
    /// Every group it hosts.
    pub groups: Vec<HostedGroup>,
}

/// A replica a broker should host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Topic.
    pub topic: String,
    /// Partition index.
    pub partition: u32,
    /// Group id.
    pub group_id: Uuid,
    /// Every broker the replica may talk to: the current replicas (preferred leader first,
    /// which initializes a brand-new group), then those a move adds.
    pub members: Vec<Member>,
    /// Voter set the group should have (the move target while a move is in progress). The
    /// partition leader converges its membership to it. Empty: the members are the voters.
    #[serde(default)]
    pub voters: Vec<u64>,
    /// Set when the managers want leadership on this broker (the preferred leader, alive long
    /// enough): the current leader transfers it there once it is caught up.
    #[serde(default)]
    pub preferred_leader: Option<u64>,
    /// Effective retention of the partition (the leader's `retention` loop enforces it).
    #[serde(default)]
    pub retention: Retention,
}

/// Reply to a broker heartbeat: the desired state (reconciled by the broker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerHeartbeatReply {
    /// Replicas the broker should host (it creates the missing ones).
    pub assignments: Vec<Assignment>,
    /// Groups of deleted topics the broker should drop.
    pub removed: Vec<Uuid>,
}

/// Where clients find a topic's partitions: `GET /v1/metadata/{topic}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMetadata {
    /// Topic.
    pub topic: String,
    /// Per partition: leader address and replicas.
    pub partitions: Vec<PartitionRoute>,
}

/// Route to one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRoute {
    /// Partition index.
    pub partition: u32,
    /// Leader's client address, if known.
    pub leader_addr: Option<String>,
    /// Client addresses of all replicas, preferred leader first.
    pub replica_addrs: Vec<String>,
}

/// `POST /v1/consumers`: join a consumer group (or `POST /v1/heartbeat/consumer` to stay in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerHeartbeat {
    /// Consumer instance id.
    pub consumer_id: Uuid,
    /// Group name.
    pub group: String,
    /// Topic consumed.
    pub topic: String,
}

/// A consumer's current assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerAssignment {
    /// Group generation; offset commits must carry it.
    pub generation: u64,
    /// Partitions this consumer owns in this generation.
    pub partitions: Vec<u32>,
}

/// `POST /v1/producers` and `POST /v1/heartbeat/producer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerHeartbeat {
    /// Producer id (the idempotence id).
    pub producer_id: Uuid,
    /// Topic it writes to.
    pub topic: String,
}

/// A consumer group as listed by `GET /v1/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// Group name.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Current generation.
    pub generation: u64,
    /// Members and their partitions.
    pub members: Vec<GroupMember>,
}

/// One member of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// Consumer id.
    pub consumer_id: Uuid,
    /// Assigned partitions.
    pub partitions: Vec<u32>,
}
