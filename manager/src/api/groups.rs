//! Consumer groups: list and describe.

use actix_web::{HttpRequest, HttpResponse, web};
use raftbus_protocol::ErrorCode;
use raftbus_protocol::meta::{GroupInfo, GroupMember};

use super::{ReadParams, consistent_read};
use crate::error::ApiError;
use crate::metadata::GroupRecord;
use crate::node::Manager;

fn info(name: &str, g: &GroupRecord) -> GroupInfo {
    GroupInfo {
        group: name.to_string(),
        topic: g.topic.clone(),
        generation: g.generation,
        members: g
            .members
            .iter()
            .map(|(id, parts)| GroupMember {
                consumer_id: *id,
                partitions: parts.clone(),
            })
            .collect(),
    }
}

#[utoipa::path(
    get,
    path = raftbus_protocol::routes::GROUPS,
    tag = "groups",
    params(ReadParams),
    responses((status = 200, description = "Every consumer group", body = [GroupInfo]))
)]
pub(super) async fn list(
    m: web::Data<Manager>,
    req: HttpRequest,
    q: web::Query<ReadParams>,
) -> Result<HttpResponse, ApiError> {
    if let Some(r) = consistent_read(&m, &req, &q).await? {
        return Ok(r);
    }
    let all: Vec<GroupInfo> = m.read(|meta| meta.groups.iter().map(|(n, g)| info(n, g)).collect());
    Ok(HttpResponse::Ok().json(all))
}

#[utoipa::path(
    get,
    path = raftbus_protocol::routes::GROUP,
    tag = "groups",
    params(("name" = String, Path, description = "Consumer group name"), ReadParams),
    responses((status = 200, description = "The group", body = GroupInfo))
)]
pub(super) async fn describe(
    m: web::Data<Manager>,
    req: HttpRequest,
    name: web::Path<String>,
    q: web::Query<ReadParams>,
) -> Result<HttpResponse, ApiError> {
    if let Some(r) = consistent_read(&m, &req, &q).await? {
        return Ok(r);
    }
    let g = m.read(|meta| meta.groups.get(name.as_str()).map(|g| info(&name, g)));
    let g = g.ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!("consumer group {:?} does not exist", name.as_str()),
        )
    })?;
    Ok(HttpResponse::Ok().json(g))
}
