//! `[unsafe]`: switches that break guarantees on purpose, for crash-test negative controls.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

/// `[unsafe]`: **UNSAFE** switches that break Raftbus's guarantees on purpose. They exist
/// only so crash tests can check that their checker catches the resulting violations
/// (negative controls). All default to off; a broker with any of them on logs a loud warning
/// at start. Every broker of a cluster must use the same values: they change what the
/// replicated state machine does with an entry, so replicas that disagreed would diverge.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UnsafeSettings {
    /// UNSAFE, crash-test negative controls only (`RAFTBUS_UNSAFE__SKIP_DEDUP`). When true the
    /// partition state machine ignores producer ids and sequence numbers: every produced
    /// batch is appended, so a batch the producer retries (its first attempt was committed
    /// but the reply was lost) is stored twice. Breaks exactly-once appends.
    pub skip_dedup: bool,
}

/// The process-wide copy of `unsafe.skip_dedup`, set by [`super::Settings::load`] (the broker
/// binary's entry point) and read where partition state machines are opened. Tests that build
/// settings with [`super::Settings::load_from`] never set it, so it stays off for them.
static UNSAFE_SKIP_DEDUP: AtomicBool = AtomicBool::new(false);

/// True when this broker process runs with the UNSAFE `[unsafe] skip_dedup` switch.
pub fn unsafe_skip_dedup() -> bool {
    UNSAFE_SKIP_DEDUP.load(Ordering::Relaxed)
}

impl UnsafeSettings {
    /// Makes the switches visible process-wide and logs a warning for each one that is on.
    pub(super) fn publish(&self) {
        if self.skip_dedup {
            for _ in 0..3 {
                tracing::warn!(
                    "UNSAFE: [unsafe] skip_dedup = true (RAFTBUS_UNSAFE__SKIP_DEDUP): producer \
                     sequence numbers are IGNORED, retried batches are DUPLICATED. For crash-test \
                     negative controls only; never use this broker for real data"
                );
            }
        }
        UNSAFE_SKIP_DEDUP.store(self.skip_dedup, Ordering::Relaxed);
    }
}
