//! Failures of a node process (start-up and internal), shared by brokers and managers, and
//! the mapping of a server-side failure to what a client sees.

pub use raftbus_protocol::http::ApiError;

/// Failures of a node process.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A setting failed validation.
    #[error("invalid setting `{key}`: {reason}")]
    InvalidConfig {
        /// Dotted key, e.g. `raft.heartbeat_ms`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Security settings or files could not be read.
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

impl NodeError {
    /// `InvalidConfig` for `key`.
    pub fn invalid(key: &str, reason: impl std::fmt::Display) -> Self {
        NodeError::InvalidConfig {
            key: key.into(),
            reason: reason.to_string(),
        }
    }

    /// Maps a listener's bind failure on `addr`.
    pub fn bind(addr: &str) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| NodeError::Bind {
            addr: addr.to_string(),
            source,
        }
    }
}

/// `internal` error for a client, logged here because the cause is server-side.
pub fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "internal error");
    ApiError::internal(e)
}
