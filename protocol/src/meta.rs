//! JSON bodies of the manager API (`/v1/...` on every manager): cluster metadata, heartbeats,
//! topics, consumer groups.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::Member;
use crate::retention::{Retention, RetentionSpec};

/// Role of a manager in the metadata Raft group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Its Kafka listener as clients should reach it, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_addr: Option<String>,
}

/// `POST /v1/topics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// Partition state a broker reports in its heartbeat. Fields that are usually at their
/// default are left out of the JSON (the manager reads them with `serde(default)`), which keeps
/// a full report near [`crate::limits::HEARTBEAT_BYTES_PER_REPLICA`] bytes per replica.
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
    #[serde(default, skip_serializing_if = "is_zero")]
    pub log_start_offset: u64,
    /// Voters of the group's membership as this replica sees it (both halves while joint).
    #[serde(default)]
    pub voters: Vec<u64>,
    /// Learners of the group's membership as this replica sees it (meaningful from the
    /// leader).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learners: Vec<u64>,
    /// True while the membership is a joint configuration (a change is half done).
    #[serde(default, skip_serializing_if = "is_false")]
    pub joint: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn yes() -> bool {
    true
}

/// `POST /v1/heartbeat/broker`.
///
/// A report is *full* (every hosted group) or *incremental* (only the groups whose reported
/// fields changed since report `base`, which the manager acknowledged, plus the groups dropped
/// since). The write manager keeps each broker's last full picture in memory and merges
/// incremental reports into it, so its decisions always see every hosted group; when it cannot
/// merge (no picture after a write-manager failover, another session, a gap in the report
/// numbers) it answers `full_report_needed` and the broker sends everything next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerHeartbeat {
    /// The broker's id and addresses (brokers are discovered by their heartbeats).
    pub broker: Member,
    /// Every hosted group (`full`), or those that changed since report `base`.
    pub groups: Vec<HostedGroup>,
    /// True when `groups` lists every hosted group. Defaults to true: a broker that predates
    /// incremental reports always sends everything.
    #[serde(default = "yes")]
    pub full: bool,
    /// Random id of this broker process's run; report numbers restart with it, so a manager
    /// never merges a report into the picture of an earlier run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Uuid>,
    /// Number of this report within the session (one more per heartbeat sent).
    #[serde(default)]
    pub seq: u64,
    /// For an incremental report: the number of the last report the manager acknowledged (the
    /// one this delta is relative to). The manager merges only onto exactly that report.
    #[serde(default)]
    pub base: u64,
    /// For an incremental report: groups dropped since report `base`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<Uuid>,
    /// How many groups the broker hosts now: the manager checks its merged picture against it
    /// and asks for a full report on a mismatch (a safety net against any merge bug).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted: Option<u64>,
    /// Digest of the assignment set the broker last received (echoed from
    /// [`BrokerHeartbeatReply::assignments_digest`]); the manager answers `unchanged` instead of
    /// the whole set when its own set has the same digest. `None`: send the set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignments_digest: Option<String>,
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
    /// Replicas the broker should host (it creates the missing ones). Empty when `unchanged`:
    /// the broker keeps reconciling against the last set it received.
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    /// Groups the broker should drop (deleted topics', or moved off this broker).
    #[serde(default)]
    pub removed: Vec<Uuid>,
    /// Digest of the full assignment set as the manager computed it ([`assignments_digest`]);
    /// the broker echoes it in its next heartbeat. `None` from a manager that predates digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignments_digest: Option<String>,
    /// True when the set has the digest the broker sent: `assignments` is left empty.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unchanged: bool,
    /// True when the manager could not merge this (incremental) report into its picture of
    /// the broker: the next report must be full.
    #[serde(default, skip_serializing_if = "is_false")]
    pub full_report_needed: bool,
    /// True when the manager merges incremental reports. False from a manager that predates
    /// them, to which a broker keeps sending full reports.
    #[serde(default)]
    pub incremental: bool,
    /// Users (token digests) and ACL rules, for the broker to authorize clients with; absent
    /// from a manager that predates them (the broker keeps what it has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<crate::acl::SecurityTable>,
}

/// Digest of an assignment set: FNV-1a (64 bit) of its JSON, in hex. Only the write manager
/// computes it (a broker echoes it), so it need not be stable across versions: a different
/// digest only costs one full set.
pub fn assignments_digest(assignments: &[Assignment]) -> String {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    // Streamed into the hash: a set of thousands of assignments is never buffered.
    let _ = serde_json::to_writer(&mut h, assignments);
    format!("{:016x}", h.0)
}

/// FNV-1a as a byte sink.
struct Fnv(u64);

impl std::io::Write for Fnv {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for b in buf {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where clients find a topic's partitions: `GET /v1/metadata/{topic}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicMetadata {
    /// Topic.
    pub topic: String,
    /// Per partition: leader address and replicas.
    pub partitions: Vec<PartitionRoute>,
}

/// Route to one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsumerAssignment {
    /// Group generation; offset commits must carry it.
    pub generation: u64,
    /// Partitions this consumer owns in this generation.
    pub partitions: Vec<u32>,
}

/// `POST /v1/producers` and `POST /v1/heartbeat/producer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProducerHeartbeat {
    /// Producer id (the idempotence id).
    pub producer_id: Uuid,
    /// Topic it writes to.
    pub topic: String,
}

/// A consumer group as listed by `GET /v1/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupMember {
    /// Consumer id.
    pub consumer_id: Uuid,
    /// Assigned partitions.
    pub partitions: Vec<u32>,
}

#[cfg(test)]
mod tests;
