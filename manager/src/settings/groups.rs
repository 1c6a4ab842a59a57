//! `[groups]`: how long idle metadata is kept (consumer groups without members).

use serde::{Deserialize, Serialize};

/// `[groups]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupSettings {
    /// A consumer group without members for this long is removed from the metadata and its
    /// committed offsets from the partitions (Kafka's `offsets.retention.minutes`; default 7
    /// days). A group joining again under the same name starts afresh (its consumers' reset
    /// policy), with a generation above every earlier one.
    pub offsets_retention_ms: u64,
    /// Interval of the `expire` loop (write manager only): reaps such groups and prunes the
    /// liveness entries of brokers, consumers and partitions the metadata no longer holds.
    pub reap_interval_ms: u64,
}

impl Default for GroupSettings {
    fn default() -> Self {
        Self {
            offsets_retention_ms: 7 * 24 * 3_600_000,
            reap_interval_ms: 60_000,
        }
    }
}

impl GroupSettings {
    /// `(key, reason)` of the first bad value.
    pub fn check(&self) -> Option<(&'static str, String)> {
        if self.offsets_retention_ms < 1_000 {
            return Some((
                "groups.offsets_retention_ms",
                "must be at least 1000".into(),
            ));
        }
        if self.reap_interval_ms < 10 {
            return Some(("groups.reap_interval_ms", "must be at least 10".into()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_week_and_bad_values_name_their_key() {
        let g = GroupSettings::default();
        assert_eq!(g.offsets_retention_ms, 604_800_000);
        assert_eq!(g.check(), None);
        let bad = GroupSettings {
            offsets_retention_ms: 5,
            ..g.clone()
        };
        assert_eq!(bad.check().unwrap().0, "groups.offsets_retention_ms");
        let bad = GroupSettings {
            reap_interval_ms: 0,
            ..g
        };
        assert_eq!(bad.check().unwrap().0, "groups.reap_interval_ms");
    }
}
