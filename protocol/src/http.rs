//! Server-side HTTP error handling shared by brokers and managers (feature `actix`).
//!
//! [`ApiError`] turns an [`ErrorBody`] into a response with the code's HTTP status; the
//! extractor configs make actix's own failures (bad path, bad query, bad JSON) answer with the
//! same JSON shape instead of plain text.

use std::fmt;

use actix_web::error::InternalError;
use actix_web::{HttpResponse, ResponseError, http::StatusCode, web};

use crate::{ErrorBody, ErrorCode};

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct ApiError(pub ErrorBody);

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ErrorBody::new(code, message))
    }

    /// `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// `internal`, logging nothing: callers log where they have context.
    pub fn internal(e: impl fmt::Display) -> Self {
        Self::new(ErrorCode::Internal, e.to_string())
    }

    /// `not_leader`, naming the leader `(id, api address)` when known.
    pub fn not_leader(what: &str, leader: Option<(u64, String)>) -> Self {
        let msg = match &leader {
            Some((id, addr)) => {
                format!("this node does not lead {what}; the leader is node {id} at {addr}")
            }
            None => format!(
                "this node does not lead {what}; no leader is known (election in progress?)"
            ),
        };
        let mut e = Self::new(ErrorCode::NotLeader, msg);
        if let Some((id, addr)) = leader {
            e.0.leader_id = Some(id);
            e.0.leader_addr = Some(addr);
        }
        e
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(&self.0)
    }
}

fn bad(message: String) -> actix_web::Error {
    let e = ApiError::bad_request(message);
    let resp = e.error_response();
    InternalError::from_response(e, resp).into()
}

/// Registers extractor configs whose failures answer `bad_request` JSON.
pub fn json_errors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(|e, _| bad(e.to_string())))
        .app_data(web::QueryConfig::default().error_handler(|e, _| bad(e.to_string())))
        .app_data(
            web::JsonConfig::default()
                .limit(1 << 20)
                .error_handler(|e, _| bad(e.to_string())),
        );
}

/// Default service: `not_found` JSON for unknown routes.
pub async fn no_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::NotFound,
        "no such route; see README for the API",
    ))
}
