//! Partition administration and health: create a replica, status, `/health`.

use actix_web::{HttpResponse, web};
use raftbus_protocol::api::{
    CreatePartitionRequest, CreatePartitionResponse, Health, NodeLeadership, PartitionStatus,
};
use raftbus_security::{Caller, Role};

use super::openapi::PartitionPath;
use super::{ApiState, partition};
use crate::error::ApiError;

#[utoipa::path(
    get,
    path = "/health",
    tag = "node",
    security(()),
    responses((status = 200, description = "The broker answers", body = Health))
)]
pub(super) async fn health(state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
        node_id: state.registry.node_id(),
        partitions: state.registry.all().len(),
    })
}

/// `GET /v1/node/leadership`: the groups this broker leads, asked by its peers' `quiesce`
/// loops several times a second in place of per-group heartbeats.
#[utoipa::path(
    get,
    path = raftbus_protocol::routes::NODE_LEADERSHIP,
    tag = "node",
    responses((status = 200, description = "Groups this broker leads", body = NodeLeadership))
)]
pub(super) async fn leadership(state: web::Data<ApiState>) -> HttpResponse {
    let leading = state
        .registry
        .all()
        .iter()
        .filter(|p| p.is_running_leader())
        .map(|p| p.group_id)
        .collect();
    HttpResponse::Ok().json(NodeLeadership {
        node_id: state.registry.node_id(),
        leading,
    })
}

/// `PUT /v1/partitions/{topic}/{partition}` on the internal listener: managers only (and
/// tests, which hold a manager certificate).
pub(super) async fn create(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(String, u32)>,
    body: web::Json<CreatePartitionRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Manager)?;
    let (topic, index) = path.into_inner();
    let req = body.into_inner();
    let group_id = req.group_id;
    let created = state.registry.create(&topic, index, req).await?;
    let resp = CreatePartitionResponse { group_id, created };
    Ok(if created {
        HttpResponse::Created().json(resp)
    } else {
        HttpResponse::Ok().json(resp)
    })
}

/// `GET /v1/partitions/{topic}/{partition}`: one hosted replica's status.
#[utoipa::path(
    get,
    path = raftbus_protocol::routes::PARTITION,
    tag = "partitions",
    params(PartitionPath),
    responses((status = 200, description = "The replica's status", body = PartitionStatus))
)]
pub(super) async fn status(
    state: web::Data<ApiState>,
    path: web::Path<PartitionPath>,
) -> Result<HttpResponse, ApiError> {
    let PartitionPath {
        topic,
        partition: index,
    } = path.into_inner();
    let p = partition(&state, &topic, index)?;
    Ok(HttpResponse::Ok().json(p.status(state.registry.node_id())))
}

/// `GET /v1/partitions`: every hosted replica's status.
#[utoipa::path(
    get,
    path = raftbus_protocol::routes::PARTITIONS,
    tag = "partitions",
    responses((status = 200, description = "Every hosted replica", body = [PartitionStatus]))
)]
pub(super) async fn list(state: web::Data<ApiState>) -> HttpResponse {
    let node = state.registry.node_id();
    let all: Vec<_> = state
        .registry
        .all()
        .iter()
        .map(|p| p.status(node))
        .collect();
    HttpResponse::Ok().json(all)
}
