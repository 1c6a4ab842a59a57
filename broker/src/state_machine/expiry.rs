//! Expiry in the state machine: applying `Command::ExpireProducers` (idle producer ids) and
//! `Command::DropGroup` (offsets of consumer groups the managers removed).
//!
//! ### To ensure correctness
//! - Deterministic: a producer's `last_seen_ms` comes from the leader's clock carried in the
//!   produce entries, and the cut-off from the leader's clock carried in the expiry entry, so
//!   every replica (and a replica rebuilt from a snapshot, whose head carries `last_seen_ms`)
//!   forgets exactly the same producers at the same log index. No replica reads its own clock.
//! - Never a duplicate: an expired producer's next batch (sequence > 0) is refused with
//!   `unknown_producer` (`state.rs`), not taken for a new producer, so a late retry of a batch
//!   already stored cannot be stored again. The one retry that would look new is one of
//!   sequence 0 arriving after its own first attempt was stored *and* expired, which needs a
//!   producer retrying one batch for longer than `producers.expiry_ms`: hence the setting must
//!   stay far above the producers' delivery timeout (SDK default 30 s; expiry default 7 days).
//! - State from before expiry existed has `last_seen_ms = 0` (unknown): the first expiry entry
//!   stamps it with its own `now_ms` instead of expiring it, so such producers get a full
//!   `expiry_ms` from then on.

use std::collections::HashSet;

use uuid::Uuid;

use super::state::{PartitionState, PendingWrites, ProducerState};
use crate::raft::CommandResponse;

impl PartitionState {
    /// Forgets every producer last seen before `cutoff_ms`; stamps unknown last-seen times
    /// with `now_ms`. Recomputes the exact `oldest_seen_ms` of the survivors.
    pub(super) fn expire_producers(
        &mut self,
        cutoff_ms: u64,
        now_ms: u64,
        pending: &mut PendingWrites,
    ) -> CommandResponse {
        // Sets, not `Vec::contains`: both lists may hold every producer of the partition.
        let mut marked: HashSet<Uuid> = pending.producers.iter().copied().collect();
        let mut expired = Vec::new();
        for (id, s) in self.producers.iter_mut() {
            if s.last_seen_ms == 0 {
                s.last_seen_ms = now_ms;
                if marked.insert(*id) {
                    pending.producers.push(*id);
                }
            }
            if s.last_seen_ms < cutoff_ms {
                expired.push(*id);
            }
        }
        // Map order differs between replicas; the rows deleted do not, but keep the write's
        // order stable anyway (easier to compare in logs and tests).
        expired.sort_unstable();
        for id in &expired {
            self.producers.remove(id);
        }
        if !expired.is_empty() {
            let gone: HashSet<&Uuid> = expired.iter().collect();
            pending.producers.retain(|id| !gone.contains(id));
        }
        pending.expired.extend_from_slice(&expired);
        self.oldest_seen_ms = oldest_seen(self.producers.values());
        CommandResponse::ProducersExpired {
            expired: expired.len() as u32,
            remaining: self.producers.len() as u32,
        }
    }
}

impl PartitionState {
    /// Forgets a group the managers removed (after its offsets retention), unless a generation
    /// above `generation` wrote its row since (the group was re-created: it starts above every
    /// removed generation, see the managers' `generation_floor`).
    pub(super) fn drop_group(
        &mut self,
        group: String,
        generation: u64,
        pending: &mut PendingWrites,
    ) -> CommandResponse {
        let stale = self
            .offsets
            .get(&group)
            .is_some_and(|c| c.generation.is_none_or(|g| g <= generation));
        if stale {
            self.offsets.remove(&group);
            pending.offsets.retain(|g| *g != group);
            pending.dropped.push(group);
        }
        CommandResponse::GroupDropped { dropped: stale }
    }
}

/// The smallest `last_seen_ms` of `producers` (`u64::MAX` when empty).
pub(super) fn oldest_seen<'a>(producers: impl Iterator<Item = &'a ProducerState>) -> u64 {
    producers.map(|p| p.last_seen_ms).min().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use raftbus_protocol::ErrorCode;

    use super::*;
    use crate::raft::{Command, ProducerSeq};

    fn produce(s: &mut PartitionState, id: Uuid, seq: u64, at_ms: u64) -> CommandResponse {
        let mut w = PendingWrites::default();
        s.apply_command(
            Command::Produce {
                producer: Some(ProducerSeq { id, seq }),
                records: Bytes::from_static(b"x"),
                count: 1,
                at_ms,
            },
            &mut w,
        )
    }

    fn expire(s: &mut PartitionState, now_ms: u64, expiry_ms: u64) -> PendingWrites {
        let mut w = PendingWrites::default();
        s.apply_command(Command::ExpireProducers { now_ms, expiry_ms }, &mut w);
        w
    }

    #[test]
    fn idle_producers_expire_by_the_times_in_the_log_and_replicas_agree() {
        let (old, fresh) = (Uuid::new_v4(), Uuid::new_v4());
        let mut a = PartitionState::default();
        produce(&mut a, old, 0, 1_000);
        produce(&mut a, fresh, 0, 1_000);
        produce(&mut a, fresh, 1, 5_000);
        assert_eq!(a.oldest_seen_ms, 1_000);
        let mut b = a.clone();

        // Cut-off 4_000: `old` (seen at 1_000) goes, `fresh` (5_000) stays.
        let w = expire(&mut a, 10_000, 6_000);
        assert_eq!(w.expired, vec![old]);
        assert!(w.producers.is_empty(), "nothing to upsert");
        assert!(!a.producers.contains_key(&old) && a.producers.contains_key(&fresh));
        assert_eq!(a.oldest_seen_ms, 5_000, "exact again after expiry");

        // Another replica applying the same entry ends in the same state.
        expire(&mut b, 10_000, 6_000);
        assert_eq!(a.producers, b.producers);

        // A producer last seen exactly at the cut-off is not idle longer than the setting.
        let w = expire(&mut a, 11_000, 6_000);
        assert!(w.expired.is_empty());
    }

    #[test]
    fn an_expired_producer_is_refused_for_good_and_a_new_id_starts_over() {
        let id = Uuid::new_v4();
        let mut s = PartitionState::default();
        produce(&mut s, id, 0, 1_000);
        expire(&mut s, 100_000, 1_000);
        assert!(s.producers.is_empty());
        assert_eq!(s.oldest_seen_ms, u64::MAX);
        let before = s.next_offset;
        // Its next sequence (or a late retry of an old one) must not be appended.
        for seq in [1, 5] {
            assert!(matches!(
                produce(&mut s, id, seq, 100_001),
                CommandResponse::Rejected {
                    code: ErrorCode::UnknownProducer,
                    ..
                }
            ));
        }
        assert_eq!(s.next_offset, before, "nothing appended");
        let next = Uuid::new_v4();
        assert!(matches!(
            produce(&mut s, next, 0, 100_002),
            CommandResponse::Appended {
                duplicate: false,
                ..
            }
        ));
    }

    #[test]
    fn unknown_last_seen_is_stamped_not_expired_and_never_moves_back() {
        let id = Uuid::new_v4();
        let mut s = PartitionState::default();
        // An entry written before `at_ms` existed decodes with 0.
        produce(&mut s, id, 0, 0);
        assert_eq!(s.oldest_seen_ms, 0, "due for a look at once");
        let w = expire(&mut s, 50_000, 10_000);
        assert!(w.expired.is_empty());
        assert_eq!(w.producers, vec![id], "the stamped row is rewritten");
        assert_eq!(s.producers[&id].last_seen_ms, 50_000);
        // A leader with a slower clock never moves last-seen back.
        produce(&mut s, id, 1, 20_000);
        assert_eq!(s.producers[&id].last_seen_ms, 50_000);
        assert!(expire(&mut s, 59_000, 10_000).expired.is_empty());
        assert_eq!(expire(&mut s, 61_000, 10_000).expired, vec![id]);
    }

    #[test]
    fn a_removed_group_is_dropped_unless_a_newer_generation_wrote_it() {
        let mut s = PartitionState::default();
        let mut w = PendingWrites::default();
        let fence = |group: &str, generation| Command::FenceGroup {
            group: group.into(),
            generation,
        };
        s.apply_command(fence("old", 2), &mut w);
        s.apply_command(fence("new", 5), &mut w);
        let drop = |group: &str, generation| Command::DropGroup {
            group: group.into(),
            generation,
        };
        let mut w = PendingWrites::default();
        assert_eq!(
            s.apply_command(drop("old", 2), &mut w),
            CommandResponse::GroupDropped { dropped: true }
        );
        assert_eq!(
            s.apply_command(drop("new", 2), &mut w),
            CommandResponse::GroupDropped { dropped: false },
            "re-created above the removed generation: kept"
        );
        assert_eq!(w.dropped, vec!["old".to_string()]);
        assert!(!s.offsets.contains_key("old") && s.offsets.contains_key("new"));
        // Fenced again in the same run: the row is written, not deleted.
        s.apply_command(fence("old", 3), &mut w);
        assert!(w.dropped.is_empty() && w.offsets.contains(&"old".to_string()));
    }

    #[test]
    fn expired_and_back_in_one_run_is_upserted_not_deleted() {
        let id = Uuid::new_v4();
        let mut s = PartitionState::default();
        produce(&mut s, id, 0, 1_000);
        let mut w = PendingWrites::default();
        s.apply_command(
            Command::ExpireProducers {
                now_ms: 100_000,
                expiry_ms: 1_000,
            },
            &mut w,
        );
        s.apply_command(
            Command::Produce {
                producer: Some(ProducerSeq { id, seq: 0 }),
                records: Bytes::from_static(b"x"),
                count: 1,
                at_ms: 100_001,
            },
            &mut w,
        );
        assert!(w.expired.is_empty());
        assert_eq!(w.producers, vec![id]);
    }
}
