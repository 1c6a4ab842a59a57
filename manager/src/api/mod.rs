//! The manager HTTP API (`/v1/...`), served by every manager.
//!
//! Reads are answered from the local applied metadata (`?consistent=true` asks for a
//! linearizable read, served by the write manager). Writes are applied by the write manager;
//! a read manager forwards them, so clients may use any manager.

mod cluster;
mod groups;
mod heartbeat;
mod moves;
mod openapi;
mod page;
mod policy;
mod proxy;
mod retention;
mod topics;
mod users;

pub use policy::policy;
pub use users::MetaDirectory;

use actix_web::{HttpResponse, web};
use raftbus_protocol::http::{BodyLimit, json_errors, no_route};
use raftbus_protocol::limits::{BROKER_HEARTBEAT_LIMIT, PRODUCE_JSON_LIMIT};
use raftbus_protocol::query::ReadParams;
use raftbus_protocol::routes;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, internal};
use crate::node::Manager;

/// Registers every route. Bodies are limited per route (`raftbus_protocol::limits`): the
/// broker heartbeat and JSON produce have their own limits, every other route the small
/// default `json_errors` registers.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<Manager>) {
    cfg.app_data(state)
        .configure(json_errors)
        .route(routes::INDEX, web::get().to(page::index))
        .route(routes::HEALTH, web::get().to(cluster::health))
        .route(routes::METRICS, web::get().to(cluster::metrics))
        .route(routes::MANAGERS, web::get().to(cluster::managers))
        .route(routes::BROKERS, web::get().to(cluster::brokers))
        .route(
            raftbus_protocol::openapi::PATH,
            raftbus_protocol::openapi::route(openapi::document()),
        )
        .service(
            web::resource(routes::TOPICS)
                .route(web::get().to(topics::list))
                .route(web::post().to(topics::create)),
        )
        .service(
            web::resource(routes::TOPIC)
                .route(web::get().to(topics::describe))
                .route(web::patch().to(retention::alter))
                .route(web::delete().to(topics::delete)),
        )
        .route(routes::TOPIC_PARTITIONS, web::get().to(topics::partitions))
        .route(routes::PARTITION_REASSIGN, web::post().to(moves::reassign))
        .route(routes::REBALANCE, web::post().to(moves::rebalance))
        .route(routes::METADATA, web::get().to(topics::metadata))
        .service(
            web::resource(routes::TOPIC_RECORDS)
                .app_data(BodyLimit(PRODUCE_JSON_LIMIT))
                .route(web::post().to(proxy::produce)),
        )
        .route(
            routes::TOPIC_PARTITION_RECORDS,
            web::get().to(proxy::consume),
        )
        .route(routes::PRODUCERS, web::post().to(heartbeat::producer))
        .route(
            routes::PRODUCER_HEARTBEAT,
            web::post().to(heartbeat::producer),
        )
        .route(routes::CONSUMERS, web::post().to(heartbeat::consumer))
        .route(
            routes::CONSUMER_HEARTBEAT,
            web::post().to(heartbeat::consumer),
        )
        .route(routes::CONSUMER, web::delete().to(heartbeat::leave))
        .service(
            web::resource(routes::USERS)
                .route(web::get().to(users::list))
                .route(web::post().to(users::add)),
        )
        .route(routes::USER, web::delete().to(users::remove))
        .service(
            web::resource(routes::ACLS)
                .route(web::get().to(users::acls))
                .route(web::post().to(users::change_acl))
                .route(web::delete().to(users::change_acl)),
        )
        .route(routes::GROUPS, web::get().to(groups::list))
        .route(routes::GROUP, web::get().to(groups::describe))
        .default_service(web::to(no_route));
}

/// The manager's own routes on its internal (mutual TLS) listener, next to the metadata
/// group's Raft RPCs: broker heartbeats, accepted only from the broker they describe.
pub fn configure_internal(cfg: &mut web::ServiceConfig, state: web::Data<Manager>) {
    cfg.app_data(state).configure(json_errors).service(
        web::resource(routes::BROKER_HEARTBEAT)
            .app_data(BodyLimit(BROKER_HEARTBEAT_LIMIT))
            .route(web::post().to(heartbeat::broker)),
    );
}

/// For a consistent read: `Some(forwarded response)` on a read manager, or `None` after the
/// write manager confirmed its leadership and applied everything committed so far.
async fn consistent_read(
    m: &Manager,
    req: &actix_web::HttpRequest,
    params: &ReadParams,
) -> Result<Option<HttpResponse>, ApiError> {
    if !params.consistent {
        return Ok(None);
    }
    if !m.is_leader() {
        return m.forward(req, web::Bytes::new()).await.map(Some);
    }
    crate::raft::read_index(&m.raft).await.map_err(internal)?;
    Ok(None)
}

/// Parses a JSON body, answering `bad_request` with serde's message.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}
