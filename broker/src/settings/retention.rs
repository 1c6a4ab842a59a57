//! `[retention]`: how often partition leaders enforce their topics' retention.

use serde::{Deserialize, Serialize};

use crate::error::BrokerError;

/// `[retention]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionSettings {
    /// Interval of the `retention` loop: each tick, the leader of every partition with a
    /// limit checks whether old batches are due and proposes one trim. Batches therefore
    /// outlive their limit by at most about this long. 0 disables the loop.
    pub interval_ms: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self { interval_ms: 5_000 }
    }
}

impl RetentionSettings {
    /// Checks values the types cannot express.
    pub(super) fn validate(&self) -> Result<(), BrokerError> {
        if self.interval_ms > 0 && self.interval_ms < 10 {
            return Err(BrokerError::InvalidConfig {
                key: "retention.interval_ms".into(),
                reason: "must be 0 (off) or at least 10".into(),
            });
        }
        Ok(())
    }
}
