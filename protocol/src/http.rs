//! Server-side HTTP error handling shared by brokers and managers (feature `actix`).
//!
//! [`ApiError`] turns an [`ErrorBody`] into a response with the code's HTTP status; the
//! extractor configs make actix's own failures (bad path, bad query, bad JSON) answer with the
//! same JSON shape instead of plain text. [`Body`] reads a raw body up to the route's
//! [`BodyLimit`] and answers `413 too_large` naming the limit beyond it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use actix_web::error::{InternalError, JsonPayloadError};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, http::StatusCode, web};
use bytes::Bytes;

use crate::limits::{SMALL_BODY_LIMIT, human};
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

impl ApiError {
    /// `too_large`: a request body over `limit` bytes.
    pub fn body_too_large(limit: usize) -> Self {
        let mut e = Self::new(
            ErrorCode::TooLarge,
            format!(
                "request body exceeds this route's limit of {} ({limit} bytes)",
                human(limit)
            ),
        );
        e.0.limit_bytes = u32::try_from(limit).ok();
        e
    }
}

fn into_actix(e: ApiError) -> actix_web::Error {
    let resp = e.error_response();
    InternalError::from_response(e, resp).into()
}

fn bad(message: String) -> actix_web::Error {
    into_actix(ApiError::bad_request(message))
}

/// A JSON extractor config for `limit`: over-limit bodies answer `too_large`, other failures
/// `bad_request`. Register it per route (`web::resource(..).app_data(..)`) to override the
/// default of [`json_errors`].
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |e, _| match e {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                into_actix(ApiError::body_too_large(limit))
            }
            e => bad(e.to_string()),
        })
}

/// Registers extractor configs whose failures answer JSON errors, and the default body
/// limits ([`SMALL_BODY_LIMIT`] for [`Body`] and JSON bodies; routes with larger bodies set
/// their own).
pub fn json_errors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(|e, _| bad(e.to_string())))
        .app_data(web::QueryConfig::default().error_handler(|e, _| bad(e.to_string())))
        .app_data(json_config(SMALL_BODY_LIMIT))
        .app_data(BodyLimit(SMALL_BODY_LIMIT));
}

/// The body limit of a route, for [`Body`] (`web::resource(..).app_data(BodyLimit(n))`; the
/// app-wide default comes from [`json_errors`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// A raw request body read whole, refused with `413 too_large` beyond the route's
/// [`BodyLimit`] (by `Content-Length` before reading, or while reading a body without one).
#[derive(Debug, Clone)]
pub struct Body(pub Bytes);

impl FromRequest for Body {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let limit = req
            .app_data::<BodyLimit>()
            .map_or(SMALL_BODY_LIMIT, |l| l.0);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let payload = web::Payload::from_request(req, payload).into_inner();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit as u64) {
                return Err(ApiError::body_too_large(limit));
            }
            let payload = payload.map_err(|e| ApiError::bad_request(e.to_string()))?;
            match payload.to_bytes_limited(limit).await {
                Err(_) => Err(ApiError::body_too_large(limit)),
                Ok(Err(e)) => Err(ApiError::bad_request(format!("cannot read body: {e}"))),
                Ok(Ok(b)) => Ok(Self(b)),
            }
        })
    }
}

/// Default service: `not_found` JSON for unknown routes.
pub async fn no_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::NotFound,
        "no such route; see README for the API",
    ))
}

#[cfg(test)]
mod tests;
