//! `PATCH /v1/topics/{name}`: alter a topic's retention (`manager topic alter`).
//!
//! The body is a [`RetentionSpec`]: `retention_ms` and/or `retention_bytes`, each a positive
//! number or `-1` (unlimited); fields left out keep their value. Brokers pick the new limits up
//! with their next heartbeat reply and the partition leaders' `retention` loops enforce them.

use actix_web::{HttpRequest, HttpResponse, web};
use raftbus_protocol::http::Body;
use raftbus_protocol::retention::RetentionSpec;

use super::parse;
use super::topics::{find, unknown};
use crate::error::ApiError;
use crate::node::Manager;
use crate::raft::MetaCommand;

/// Validates and proposes the change; answers the topic as it is afterwards.
#[utoipa::path(
    patch,
    path = raftbus_protocol::routes::TOPIC,
    tag = "topics",
    params(("name" = String, Path, description = "Topic name")),
    request_body = RetentionSpec,
    responses((status = 200, description = "The topic afterwards", body = raftbus_protocol::meta::TopicInfo))
)]
pub(super) async fn alter(
    m: web::Data<Manager>,
    req: HttpRequest,
    name: web::Path<String>,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, body).await;
    }
    let change: RetentionSpec = parse(&body)?;
    if change == RetentionSpec::default() {
        return Err(ApiError::bad_request(
            "nothing to alter: set retention_ms and/or retention_bytes",
        ));
    }
    change.validate().map_err(ApiError::bad_request)?;
    if !m.read(|meta| meta.topics.contains_key(name.as_str())) {
        return Err(unknown(&name));
    }
    m.propose(MetaCommand::SetRetention {
        name: name.to_string(),
        change,
    })
    .await?;
    tracing::info!(topic = %name, ?change, "retention altered");
    Ok(HttpResponse::Ok().json(find(&m, &name)?))
}
