//! Transport security shared by brokers, managers and the Raft transport.
//!
//! - [`SecuritySettings`]: the `[security]` section both node binaries read.
//! - [`NodeTls`]: rustls configurations built from the cluster CA and a node's certificate:
//!   the internal listener (mutual TLS, a cluster certificate required), the client listener
//!   (server certificate only) and the client side of internal calls.
//! - [`identity`]: who is calling on the internal listener. A caller names itself in the
//!   [`SENDER_HEADER`](identity::SENDER_HEADER); the name must be one its certificate is valid
//!   for, so a node can speak only for itself.
//!
//! ### To ensure correctness
//! - The chain of a peer certificate is checked by rustls during the handshake (only
//!   certificates signed by the cluster CA get a connection); [`identity::Caller`] only
//!   matches the already verified end-entity certificate against the claimed name.
//! - In `insecure` mode there is no certificate and the claimed name is trusted as is: that
//!   mode exists for local experiments and logs a warning at start-up.

pub mod identity;
mod settings;
mod tls;
pub mod token;

pub use identity::{Caller, NodeIdentity, PeerAuth, Role};
pub use settings::SecuritySettings;
pub use tls::{NodeHttp, NodeTls, internal_client, scheme};
pub use token::Tokens;

/// Errors loading certificates and keys.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// A file named in `[security]` could not be read or holds no usable PEM item.
    #[error("security.{key}: cannot use {path}: {message}")]
    File {
        /// The setting naming the file.
        key: &'static str,
        /// The path it names.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// `[security]` is incomplete or inconsistent.
    #[error("security: {0}")]
    Config(String),
    /// rustls refused the certificates or keys.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}
