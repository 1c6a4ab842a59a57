//! `[kafka]`: the Kafka-protocol listener.

use serde::{Deserialize, Serialize};

use crate::error::BrokerError;

/// `[kafka]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct KafkaSettings {
    /// `host:port` the Kafka listener binds, e.g. `0.0.0.0:9092`. Empty (the default): no
    /// Kafka listener. With `[security]` on it speaks TLS with the node certificate and
    /// requires SASL/PLAIN (password = a Raftbus client token); in insecure mode it is
    /// plaintext without authentication, like the HTTP API.
    pub listen_addr: String,
    /// `host:port` clients are told in Metadata answers (default: `listen_addr`).
    pub advertised_addr: Option<String>,
    /// Comma-separated `host:port` list of the managers' client API: Metadata, CreateTopics
    /// and DeleteTopics are answered from there, on behalf of the Kafka client (its token).
    /// Required when `listen_addr` is set.
    pub managers: String,
    /// Largest request frame accepted; a bigger one closes the connection before anything of
    /// it is read (the length prefix is untrusted).
    pub max_frame_bytes: usize,
    /// Requests of one connection handled at once (Kafka clients pipeline); answers still go
    /// back in request order.
    pub max_in_flight: usize,
    /// Open Kafka connections per broker; more are closed at once.
    pub max_connections: usize,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            listen_addr: String::new(),
            advertised_addr: None,
            managers: String::new(),
            max_frame_bytes: 32 << 20,
            max_in_flight: 64,
            max_connections: 1024,
        }
    }
}

impl KafkaSettings {
    /// True when the Kafka listener is on.
    pub fn enabled(&self) -> bool {
        !self.listen_addr.trim().is_empty()
    }

    /// The address this broker's Kafka listener is reached at, when it has one.
    pub fn advertised(&self) -> Option<&str> {
        if !self.enabled() {
            return None;
        }
        Some(
            self.advertised_addr
                .as_deref()
                .unwrap_or(self.listen_addr.trim()),
        )
    }

    /// The managers' client API addresses, blanks dropped.
    pub fn manager_addrs(&self) -> Vec<String> {
        self.managers
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect()
    }

    /// Checks values the types cannot express.
    pub(crate) fn validate(&self) -> Result<(), BrokerError> {
        let bad = |key: &str, reason: &str| {
            Err(BrokerError::InvalidConfig {
                key: format!("kafka.{key}"),
                reason: reason.into(),
            })
        };
        if !self.enabled() {
            return Ok(());
        }
        if self.manager_addrs().is_empty() {
            return bad(
                "managers",
                "must name the managers' client API (host:port, comma-separated) when \
                 kafka.listen_addr is set: Metadata is answered from there",
            );
        }
        if !(1024..=256 << 20).contains(&self.max_frame_bytes) {
            return bad("max_frame_bytes", "must be between 1 KiB and 256 MiB");
        }
        if self.max_in_flight == 0 || self.max_connections == 0 {
            return bad(
                "max_in_flight",
                "max_in_flight and max_connections must be positive",
            );
        }
        if let Some(a) = &self.advertised_addr
            && a.trim().is_empty()
        {
            return bad("advertised_addr", "must not be blank when given");
        }
        Ok(())
    }
}
