//! Users and ACL rules: `/v1/users` and `/v1/acls` (the `admin` operation on the cluster).
//! A user's token is minted by the write manager, returned once, and stored only as its
//! SHA-256 in the metadata group.

use actix_web::{HttpRequest, HttpResponse, web};
use raftbus_protocol::acl::{AclRule, CreateUserRequest, CreateUserResponse};
use raftbus_protocol::http::Body;
use raftbus_protocol::names::validate_name;
use raftbus_security::token::{Directory, sha256_hex};

use super::parse;
use crate::error::ApiError;
use crate::metadata::security::SecurityCommand;
use crate::node::Manager;
use crate::raft::MetaCommand;
use crate::store::SharedMeta;

/// The client API's view of users and rules: this manager's copy of the metadata.
pub struct MetaDirectory(pub SharedMeta);

impl Directory for MetaDirectory {
    fn with_table(&self, f: &mut dyn FnMut(&raftbus_protocol::acl::SecurityTable)) {
        f(&self.0.read().expect("meta lock").security);
    }
}

/// A new token: 244 random bits (two v4 UUIDs) behind a recognizable prefix.
fn mint() -> String {
    format!(
        "rb_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// `POST /v1/users` `{"name"}`: adds a user (or gives an existing one a new token) and
/// answers its token.
#[utoipa::path(
    post,
    path = raftbus_protocol::routes::USERS,
    tag = "security",
    request_body = CreateUserRequest,
    responses((status = 201, description = "The user's new token", body = CreateUserResponse))
)]
pub(super) async fn add(
    m: web::Data<Manager>,
    req: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, body).await;
    }
    let r: CreateUserRequest = parse(&body)?;
    validate_name("user", &r.name).map_err(ApiError::bad_request)?;
    let token = mint();
    m.propose(MetaCommand::Security(SecurityCommand::PutUser {
        name: r.name.clone(),
        token_sha256: sha256_hex(&token),
    }))
    .await?;
    Ok(HttpResponse::Created().json(CreateUserResponse {
        name: r.name,
        token,
    }))
}

/// `GET /v1/users`: the user names.
#[utoipa::path(
    get,
    path = raftbus_protocol::routes::USERS,
    tag = "security",
    responses((status = 200, description = "User names", body = [String]))
)]
pub(super) async fn list(m: web::Data<Manager>) -> HttpResponse {
    let names: Vec<String> = m.read(|meta| meta.security.users.keys().cloned().collect());
    HttpResponse::Ok().json(names)
}

/// `DELETE /v1/users/{name}`: removes a user and its rules (its token stops working).
#[utoipa::path(
    delete,
    path = raftbus_protocol::routes::USER,
    tag = "security",
    params(("name" = String, Path, description = "User name")),
    responses((status = 200, description = "`{removed: name}`", body = serde_json::Value))
)]
pub(super) async fn remove(
    m: web::Data<Manager>,
    req: HttpRequest,
    name: web::Path<String>,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, body).await;
    }
    m.propose(MetaCommand::Security(SecurityCommand::RemoveUser {
        name: name.to_string(),
    }))
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "removed": name.as_str() })))
}

/// `GET /v1/acls`: every rule.
#[utoipa::path(
    get,
    path = raftbus_protocol::routes::ACLS,
    tag = "security",
    responses((status = 200, description = "Every rule", body = [AclRule]))
)]
pub(super) async fn acls(m: web::Data<Manager>) -> HttpResponse {
    HttpResponse::Ok().json(m.read(|meta| meta.security.acls.clone()))
}

/// `POST /v1/acls` (add) and `DELETE /v1/acls` (remove), the rule as the body.
#[utoipa::path(
    method(post, delete),
    path = raftbus_protocol::routes::ACLS,
    tag = "security",
    request_body = AclRule,
    responses((status = 200, description = "The rule added or removed", body = AclRule))
)]
pub(super) async fn change_acl(
    m: web::Data<Manager>,
    req: HttpRequest,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    if !m.is_leader() {
        return m.forward(&req, body).await;
    }
    let rule: AclRule = parse(&body)?;
    let cmd = if req.method() == actix_web::http::Method::DELETE {
        SecurityCommand::RemoveAcl { rule: rule.clone() }
    } else {
        SecurityCommand::AddAcl { rule: rule.clone() }
    };
    m.propose(MetaCommand::Security(cmd)).await?;
    Ok(HttpResponse::Ok().json(rule))
}
