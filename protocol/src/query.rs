//! Query parameters of the manager API (the broker's are in [`crate::api`]). Servers parse
//! them and clients send them with the same structs, so the keys are written only here.

use serde::{Deserialize, Serialize};

/// `?consistent=true` on manager reads: a linearizable read served by the write manager.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct ReadParams {
    /// Ask for a linearizable read.
    #[serde(default)]
    pub consistent: bool,
}

/// Query of `POST /v1/topics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct CreateTopicParams {
    /// Wait up to this long (ms) for every partition to elect a leader; 0 (absent): answer
    /// at once.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub wait_ms: u64,
}

/// Query of `GET /v1/metadata/{topic}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct MetadataParams {
    /// Create the topic with defaults when missing (if the managers' `topics.auto_create`
    /// allows).
    #[serde(default)]
    pub auto_create: bool,
}

/// Query of `POST /v1/topics/{topic}/records` (JSON produce through a manager).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct TopicProduceParams {
    /// Explicit partition; otherwise the first record's key picks it, or round robin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}
