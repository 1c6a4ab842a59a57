//! The `[security]` settings section (same keys for brokers and managers).

use serde::{Deserialize, Serialize};

use crate::SecurityError;

/// `[security]`: TLS material and client authentication.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SecuritySettings {
    /// Plain HTTP everywhere, no certificates, no authentication: anyone who reaches a port
    /// can read, write and steer the cluster. For throwaway local experiments only; logged as
    /// a warning at start-up.
    pub insecure: bool,
    /// PEM file of the cluster CA: the only issuer whose certificates internal listeners
    /// accept, and the root internal calls verify servers against.
    pub ca_cert: String,
    /// PEM file of this node's certificate (chain), issued by the cluster CA for the name
    /// `<role>-<id>.node.raftbus` plus every address the node is reached at.
    pub cert: String,
    /// PEM file of this node's private key.
    pub key: String,
    /// Hex SHA-256 of the admin token: its holder is the `admin` principal, allowed
    /// everything (the token itself is never stored by a node).
    pub admin_token_sha256: String,
}

impl SecuritySettings {
    /// Checks that a secure node names all its files.
    pub fn validate(&self) -> Result<(), SecurityError> {
        if self.insecure {
            return Ok(());
        }
        for (key, v) in [
            ("ca_cert", &self.ca_cert),
            ("cert", &self.cert),
            ("key", &self.key),
        ] {
            if v.is_empty() {
                return Err(SecurityError::Config(format!(
                    "security.{key} is not set: give the node its TLS files (scripts/certs.sh \
                     makes them) or set security.insecure = true for a plain-HTTP experiment"
                )));
            }
        }
        Ok(())
    }
}
