//! Retention in the state machine: applying `Command::Trim`.
//!
//! ### To ensure correctness
//! - The leader's `retention` loop only *proposes* a new log start offset; every replica
//!   applies the same entry in the same order, so all of them delete the same batches and
//!   store the same `log_start_offset` (in `sm_state`, by the same statement that deletes
//!   the batches, `persist.rs`, and in snapshots through the snapshot head).
//! - Only whole batches are deleted: a batch is removed when it ends at or below the new log
//!   start offset, so a start offset inside a batch never loses the records above it.
//! - The log start offset never moves down and never passes the high watermark.

use super::state::{PartitionState, PendingWrites};
use crate::raft::CommandResponse;

impl PartitionState {
    /// Moves the log start offset up to `to` (clamped to the high watermark) and marks the
    /// batches below it for deletion; a lower or equal offset changes nothing.
    pub(super) fn trim(&mut self, to: u64, pending: &mut PendingWrites) -> CommandResponse {
        let to = to.min(self.next_offset);
        if to > self.log_start_offset {
            self.log_start_offset = to;
            pending.trim_below = Some(to);
        }
        CommandResponse::Trimmed {
            log_start_offset: self.log_start_offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::raft::Command;

    fn produce(s: &mut PartitionState, count: u32, pending: &mut PendingWrites) {
        s.apply_command(
            Command::Produce {
                producer: None,
                records: Bytes::from_static(b"x"),
                count,
                at_ms: 0,
            },
            pending,
        );
    }

    #[test]
    fn trim_moves_start_up_only_and_stops_at_the_high_watermark() {
        let mut s = PartitionState::default();
        let mut w = PendingWrites::default();
        produce(&mut s, 10, &mut w);
        produce(&mut s, 5, &mut w);
        let r = s.apply_command(
            Command::Trim {
                log_start_offset: 10,
            },
            &mut w,
        );
        assert_eq!(
            r,
            CommandResponse::Trimmed {
                log_start_offset: 10
            }
        );
        assert_eq!(w.trim_below, Some(10));

        let mut w = PendingWrites::default();
        let r = s.apply_command(
            Command::Trim {
                log_start_offset: 3,
            },
            &mut w,
        );
        assert_eq!(
            r,
            CommandResponse::Trimmed {
                log_start_offset: 10
            },
            "never moves down"
        );
        assert_eq!(w.trim_below, None);

        s.apply_command(
            Command::Trim {
                log_start_offset: 99,
            },
            &mut w,
        );
        assert_eq!(s.log_start_offset, 15, "clamped to the high watermark");
        assert_eq!(w.trim_below, Some(15));
    }
}
