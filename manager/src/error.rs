//! Manager errors: [`ManagerError`] for start-up and internal failures; client-facing errors
//! are [`ApiError`] (stable code, HTTP status, JSON body).

pub use raftbus_protocol::http::ApiError;

/// Failures of the manager process.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// A setting failed validation.
    #[error("invalid setting `{key}`: {reason}")]
    InvalidConfig {
        /// Dotted key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// Settings could not be read.
    #[error("{0}")]
    Security(#[from] raftbus_security::SecurityError),
    /// Settings could not be loaded.
    #[error("cannot load settings: {0}")]
    Config(#[from] config::ConfigError),
    /// Database failure.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migration failure.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Storage I/O.
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
    /// The metadata group could not start.
    #[error("raft error: {0}")]
    Raft(String),
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// `internal` error for a client, logged here.
pub fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "internal error");
    ApiError::internal(e)
}
