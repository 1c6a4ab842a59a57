//! The broker's client API (`/v1/...`, `/health`, `/metrics`, `/openapi.json`).
//!
//! Every error is an [`ApiError`]: a stable code, an HTTP 4xx/5xx status and a JSON body that
//! names the problem, including errors raised by actix extractors (bad path or query).

mod admin;
pub(crate) mod fetch;
mod metrics;
pub(crate) mod offsets;
mod openapi;
mod policy;
pub(crate) mod produce;

pub use policy::policy;

use std::sync::Arc;

use actix_web::web;
use raftbus_protocol::ErrorCode;
use raftbus_protocol::routes;

pub use metrics::Metrics;

use crate::error::ApiError;
use crate::partition::{Partition, Registry};
use crate::peers::Peers;
use crate::settings::Settings;

/// Shared state of the API handlers.
pub struct ApiState {
    /// Hosted partitions.
    pub registry: Arc<Registry>,
    /// Validated settings (limits, timings).
    pub settings: Arc<Settings>,
    /// Request counters for `/metrics`.
    pub metrics: Metrics,
    /// Node-level liveness of the peer brokers (filled by the `quiesce` loop).
    pub peers: Arc<Peers>,
    /// One permit per fetch allowed to wait for records (`limits.max_long_polls`).
    pub long_polls: Arc<tokio::sync::Semaphore>,
}

/// Registers routes and JSON error handlers for extractor failures. Body limits: produce
/// reads up to `limits.max_batch_bytes` itself (`produce::read_body`); the JSON bodies
/// (partition create, offset commit, fence) get `json_errors`' default of
/// [`raftbus_protocol::limits::SMALL_BODY_LIMIT`]. Both answer `413 too_large` naming the limit.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<ApiState>) {
    cfg.app_data(state)
        .configure(raftbus_protocol::http::json_errors)
        .route(routes::HEALTH, web::get().to(admin::health))
        .route(routes::METRICS, web::get().to(metrics::render))
        .route(routes::PARTITIONS, web::get().to(admin::list))
        .route(routes::NODE_LEADERSHIP, web::get().to(admin::leadership))
        .route(routes::PARTITION, web::get().to(admin::status))
        .route(
            raftbus_protocol::openapi::PATH,
            raftbus_protocol::openapi::route(openapi::document()),
        )
        .service(
            web::resource(routes::PARTITION_RECORDS)
                .route(web::post().to(produce::produce))
                .route(web::get().to(fetch::fetch)),
        )
        .service(
            web::resource(routes::PARTITION_OFFSETS)
                .route(web::post().to(offsets::commit))
                .route(web::get().to(offsets::read)),
        )
        .default_service(web::to(raftbus_protocol::http::no_route));
}

/// The broker's own routes on its internal (mutual TLS) listener, next to the Raft RPCs:
/// what only managers may ask (create a replica group, fence a consumer group). Each handler
/// checks the caller's role.
pub fn configure_internal(cfg: &mut web::ServiceConfig, state: web::Data<ApiState>) {
    cfg.app_data(state)
        .configure(raftbus_protocol::http::json_errors)
        .service(
            web::resource(routes::PARTITION)
                .route(web::put().to(admin::create))
                // Peers' leader probes read a replica's status here (no client token).
                .route(web::get().to(admin::status)),
        )
        // Peers' quiesce loops ask which groups this broker leads.
        .route(routes::NODE_LEADERSHIP, web::get().to(admin::leadership))
        .route(routes::PARTITION_FENCE, web::post().to(offsets::fence));
}

/// Looks up a hosted partition or answers `unknown_partition`.
fn partition(state: &ApiState, topic: &str, partition: u32) -> Result<Arc<Partition>, ApiError> {
    state.registry.get(topic, partition).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownPartition,
            format!(
                "partition {topic}/{partition} is not hosted on broker {}",
                state.registry.node_id()
            ),
        )
    })
}

/// Refuses unless this replica leads the partition and still hears from a majority: either
/// the group's own quorum acknowledged it recently (it is busy), or a majority of its voters'
/// brokers answer node-level liveness queries (it is quiesced: idle groups send no heartbeats,
/// see `tasks::quiesce`).
fn require_leader(state: &ApiState, p: &Partition, check_quorum: bool) -> Result<(), ApiError> {
    let l = p.leadership();
    if !l.is_leader {
        return Err(ApiError::not_leader(&p.name(), l.leader));
    }
    let limit = state.settings.raft.timing.election_max_ms;
    let me = state.registry.node_id();
    let live_voters = l
        .voters
        .iter()
        .filter(|v| **v == me || state.peers.is_alive(**v))
        .count();
    let majority_live = live_voters * 2 > l.voters.len();
    if let Some(ms) = l
        .millis_since_quorum_ack
        .filter(|ms| check_quorum && *ms > limit && !majority_live)
    {
        return Err(ApiError::new(
            ErrorCode::NoQuorum,
            format!(
                "leader of {} has not heard from a majority of replicas for {ms} ms",
                p.name()
            ),
        ));
    }
    Ok(())
}
