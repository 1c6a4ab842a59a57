//! JSON bodies of the broker client API (`/v1/...`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One replica of a partition: the broker's id and its two addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Member {
    /// Broker node id (never reused).
    pub id: u64,
    /// Client API address, `host:port`.
    pub api_addr: String,
    /// Raft RPC address, `host:port`.
    pub raft_addr: String,
    /// Kafka listener address clients are told (`[kafka] advertised_addr`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_addr: Option<String>,
}

/// `PUT /v1/partitions/{topic}/{partition}`: host a replica of this partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePartitionRequest {
    /// The partition's Raft group id, chosen once by whoever creates the topic. A topic
    /// deleted and created again gets new group ids, so old replicas never rejoin it.
    pub group_id: Uuid,
    /// The replica set. The first member is the preferred leader: it initializes the group.
    pub members: Vec<Member>,
}

/// Reply to [`CreatePartitionRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePartitionResponse {
    /// The group id.
    pub group_id: Uuid,
    /// False when the replica existed already (the call is idempotent).
    pub created: bool,
}

/// A record in JSON produce and fetch bodies. Keys and values are UTF-8 text there; use the
/// binary format for arbitrary bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JsonRecord {
    /// Optional key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value.
    pub value: String,
    /// Record headers, in order; left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<JsonHeader>,
}

/// A record header in JSON bodies: text name, text value (`null` is Kafka's null value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JsonHeader {
    /// Header name.
    pub key: String,
    /// Header value (lossy UTF-8 in fetch replies); `null` for a null value.
    pub value: Option<String>,
}

impl JsonHeader {
    /// A fetched header in JSON (the value as lossy UTF-8).
    pub fn lossy(h: &crate::Header) -> Self {
        Self {
            key: h.key.clone(),
            value: h
                .value
                .as_ref()
                .map(|v| String::from_utf8_lossy(v).into_owned()),
        }
    }

    /// The header as stored.
    pub fn to_header(&self) -> crate::Header {
        crate::Header {
            key: self.key.clone(),
            value: self.value.clone().map(bytes::Bytes::from),
        }
    }
}

/// JSON produce body (`content-type: application/json`), for curl and plain HTTP clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProduceJsonRequest {
    /// Records of the batch, in order.
    pub records: Vec<JsonRecord>,
}

/// When a produce is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Acks {
    /// After Raft commit (durable on a majority); the answer carries the offsets.
    #[default]
    All,
    /// As soon as the leader accepted the batch into its Raft pipeline: not yet durable, no
    /// offsets (HTTP 202 with [`AcceptedResponse`]). A leader crash can lose it.
    Leader,
}

/// Reply to an `acks=leader` produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptedResponse {
    /// Records in the accepted batch.
    pub record_count: u32,
}

/// How many recent batches per producer a partition remembers: a retry of one of them is
/// answered with the original offsets, so a producer keeps at most this many batches in
/// flight per partition.
pub const PRODUCER_WINDOW: usize = 8;

/// Query parameters of a produce request (both body formats). The default `acks=all` and
/// absent ids are left out of the query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct ProduceParams {
    /// Acknowledgement mode (default `all`).
    #[serde(default, skip_serializing_if = "Acks::is_all")]
    pub acks: Acks,
    /// Idempotent producer id; absent for a non-idempotent send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_id: Option<Uuid>,
    /// Per-partition batch sequence number of this producer (0, 1, 2, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
}

impl Acks {
    /// True for the default, [`Acks::All`].
    pub fn is_all(&self) -> bool {
        *self == Acks::All
    }
}

/// Reply to a produce request, sent once the batch is committed by a majority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProduceResponse {
    /// Offset of the batch's first record; the others follow densely.
    pub base_offset: u64,
    /// Number of records in the batch.
    pub record_count: u32,
    /// True when this batch was a retry of one already stored: nothing was appended and the
    /// offsets are those of the original.
    pub duplicate: bool,
}

/// Query parameters of `GET /v1/partitions/{topic}/{partition}/records`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct FetchParams {
    /// First offset wanted.
    #[serde(default)]
    pub offset: u64,
    /// Soft cap on the response size; at least one batch is returned if any is available.
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Long poll: wait up to this long for records at `offset` if none are there yet.
    #[serde(default)]
    pub wait_ms: Option<u64>,
}

/// A fetched record in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FetchedRecord {
    /// The record's offset.
    pub offset: u64,
    /// Key, if any (lossy UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Value (lossy UTF-8).
    pub value: String,
    /// Producer timestamp, ms since the epoch.
    pub timestamp_ms: u64,
    /// Record headers, in order; left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<JsonHeader>,
}

/// JSON fetch reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FetchJsonResponse {
    /// Records from the requested offset on.
    pub records: Vec<FetchedRecord>,
    /// Offset to ask for next.
    pub next_offset: u64,
    /// Next offset to be written in the partition.
    pub high_watermark: u64,
    /// First offset still stored.
    pub log_start_offset: u64,
}

/// `POST /v1/partitions/{topic}/{partition}/offsets/{group}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OffsetCommitRequest {
    /// Next offset the group will read (Kafka convention: last processed + 1).
    pub offset: u64,
    /// Consumer-group generation; commits older than the newest seen are refused.
    #[serde(default)]
    pub generation: Option<u64>,
}

/// `POST /v1/partitions/{topic}/{partition}/offsets/{group}/fence` (managers only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FenceRequest {
    /// The group's new generation; commits with a lower one are refused afterwards. With
    /// `drop`: the removed group's last generation.
    pub generation: u64,
    /// The managers removed the group (empty past the offsets retention): forget its offset
    /// and fence here instead, unless a newer generation wrote them. Sent only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop: bool,
}

/// Committed offset of a consumer group on one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OffsetResponse {
    /// Consumer group name.
    pub group: String,
    /// Committed offset, `None` if the group never committed on this partition.
    pub offset: Option<u64>,
    /// Generation of the last commit.
    pub generation: Option<u64>,
}

/// Role of a replica in its Raft group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Accepts produce requests.
    Leader,
    /// Replicates from the leader.
    Follower,
    /// Campaigning for leadership.
    Candidate,
    /// Non-voting replica catching up.
    Learner,
    /// The group stopped (fatal storage error) or is shutting down.
    Stopped,
}

/// Which groups a broker leads right now (`GET /v1/node/leadership`): the node-level
/// liveness answer that stands in for the per-group heartbeats of idle groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeLeadership {
    /// The answering broker.
    pub node_id: u64,
    /// Groups whose Raft is running on this broker and leading.
    pub leading: Vec<Uuid>,
}

/// Status of one partition replica (`GET /v1/partitions/{topic}/{partition}` and
/// `GET /v1/partitions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartitionStatus {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: u32,
    /// Raft group id.
    pub group_id: Uuid,
    /// This broker's id.
    pub node_id: u64,
    /// This replica's role.
    pub role: Role,
    /// Current Raft term.
    pub term: u64,
    /// Leader node id, if known.
    pub leader_id: Option<u64>,
    /// Leader's client API address, if known.
    pub leader_addr: Option<String>,
    /// Raft commit index known to this replica.
    pub commit_index: Option<u64>,
    /// Raft index applied to this replica's state machine.
    pub last_applied: Option<u64>,
    /// Raft index of this replica's last log entry.
    pub last_log_index: Option<u64>,
    /// Next offset to be written (the high watermark of applied records).
    pub log_end_offset: u64,
    /// First stored offset.
    pub log_start_offset: u64,
    /// Voting members.
    pub voters: Vec<u64>,
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// Always "ok" when the node answers.
    pub status: String,
    /// Node id.
    pub node_id: u64,
    /// Number of partition replicas hosted.
    pub partitions: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fence_body_keeps_its_wire_form() {
        let body = |drop| {
            let r = FenceRequest {
                generation: 4,
                drop,
            };
            serde_json::to_string(&r).unwrap()
        };
        assert_eq!(body(false), r#"{"generation":4}"#);
        assert_eq!(body(true), r#"{"generation":4,"drop":true}"#);
        let back: FenceRequest = serde_json::from_str(r#"{"drop":true,"generation":4}"#).unwrap();
        assert!(back.drop);
    }
}
