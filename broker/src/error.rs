//! Broker errors: [`BrokerError`] for start-up and internal failures, [`ApiError`] for what a
//! client sees (a stable code, an HTTP status and a JSON body naming the problem).

use std::fmt;

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use raftbus_protocol::{ErrorBody, ErrorCode};

/// Failures of the broker process.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A setting failed validation.
    #[error("invalid setting `{key}`: {reason}")]
    InvalidConfig {
        /// Dotted key, e.g. `raft.heartbeat_ms`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The settings could not be read or parsed.
    #[error("cannot load settings: {0}")]
    Config(#[from] config::ConfigError),
    /// A database operation failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Storage I/O (openraft's storage error type).
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
    /// A Raft group could not be started.
    #[error("raft error: {0}")]
    Raft(String),
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

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

    /// `internal`, logging the cause.
    pub fn internal(e: impl fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(ErrorCode::Internal, e.to_string())
    }

    /// `not_leader`, naming the leader when known.
    pub fn not_leader(what: &str, leader: Option<(u64, String)>) -> Self {
        let msg = match &leader {
            Some((id, addr)) => {
                format!("this broker does not lead {what}; the leader is node {id} at {addr}")
            }
            None => format!(
                "this broker does not lead {what}; no leader is known (election in progress?)"
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
