//! JSON bodies of replica moves on the managers: `POST
//! /v1/topics/{topic}/partitions/{p}/reassign` and `POST /v1/rebalance`.

use serde::{Deserialize, Serialize};

/// `POST /v1/topics/{topic}/partitions/{p}/reassign`: move a partition to another replica set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReassignRequest {
    /// The new replica broker ids, preferred leader first; as many as the replication factor,
    /// distinct, every one a live broker.
    pub replicas: Vec<u64>,
}

/// `POST /v1/rebalance`: even out replicas and preferred leaders over the live brokers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RebalanceRequest {
    /// Only this topic (default: every topic).
    #[serde(default)]
    pub topic: Option<String>,
}

/// One planned or started change of a partition's replica list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlannedMove {
    /// Topic.
    pub topic: String,
    /// Partition index.
    pub partition: u32,
    /// Replicas before.
    pub from: Vec<u64>,
    /// Replicas after, preferred leader first.
    pub to: Vec<u64>,
}

/// Answer to a reassign or rebalance: what changed at once and what is still to come.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MovesReply {
    /// Moves proposed now (replica moves run in the background, throttled).
    pub started: Vec<PlannedMove>,
    /// Moves still waiting for a free slot (the managers keep starting them).
    pub pending: usize,
}
