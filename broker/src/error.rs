//! Broker errors: [`BrokerError`] for start-up and internal failures, [`ApiError`] for what a
//! client sees (a stable code, an HTTP status and a JSON body naming the problem).

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
    #[error("{0}")]
    Security(#[from] raftbus_security::SecurityError),
    /// Settings could not be loaded.
    #[error("cannot load settings: {0}")]
    Config(#[from] config::ConfigError),
    /// A database operation failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Storage I/O (the Raft library's storage error type).
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

pub use raftbus_protocol::http::ApiError;

/// `internal` error for a client, logged here because the cause is server-side.
pub fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "internal error");
    ApiError::internal(e)
}
