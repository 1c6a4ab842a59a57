//! `[producers]`: expiry of idle idempotent-producer ids on partitions.

use serde::{Deserialize, Serialize};

use crate::error::BrokerError;

/// Shortest accepted `producers.expiry_ms`. Expiry should stay far above the producers'
/// delivery timeout (a producer retrying one batch for longer than this could see its id
/// expire between two attempts); a second is the floor for tests, days are normal.
const MIN_EXPIRY_MS: u64 = 1_000;

/// `[producers]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ProducerSettings {
    /// A producer id that appended nothing to a partition for this long is forgotten there
    /// (its sequence state leaves the partition's state, its `producer_state` row and later
    /// snapshots). Kafka's `transactional.id.expiration.ms`; default 7 days. Its next batch
    /// there is refused with `unknown_producer`; the SDK then continues with a new id.
    pub expiry_ms: u64,
    /// Interval of the `expiry` loop: each tick, the leader of every partition whose oldest
    /// producer may be due proposes one `ExpireProducers` entry. Ids therefore outlive
    /// `expiry_ms` by at most about this long. 0 disables expiry.
    pub interval_ms: u64,
}

impl Default for ProducerSettings {
    fn default() -> Self {
        Self {
            expiry_ms: 7 * 24 * 3_600_000,
            interval_ms: 60_000,
        }
    }
}

impl ProducerSettings {
    /// Checks values the types cannot express.
    pub(super) fn validate(&self) -> Result<(), BrokerError> {
        if self.expiry_ms < MIN_EXPIRY_MS {
            return Err(BrokerError::InvalidConfig {
                key: "producers.expiry_ms".into(),
                reason: format!(
                    "must be at least {MIN_EXPIRY_MS} (and well above the producers' delivery timeout)"
                ),
            });
        }
        if self.interval_ms > 0 && self.interval_ms < 10 {
            return Err(BrokerError::InvalidConfig {
                key: "producers.interval_ms".into(),
                reason: "must be 0 (off) or at least 10".into(),
            });
        }
        Ok(())
    }
}
