//! Reaping idle metadata: consumer groups empty longer than the offsets retention (Kafka's
//! `offsets.retention.minutes`) and the legacy producer registry.
//!
//! ### To ensure correctness
//! - Deterministic: "empty since" is the proposer's clock carried in the `LeaveGroup` that
//!   emptied the group, and "now" is carried in the `Reap` entry; no manager reads its own clock
//!   while applying, so all of them remove the same groups.
//! - [`ClusterMeta::reap_due`] (the write manager's decision to propose) and
//!   [`ClusterMeta::reap`] (applying) use the same rule, so a proposal is made only when it
//!   changes something and nothing is proposed again and again.
//! - Generations never go back: a removed group's generation raises
//!   [`ClusterMeta::generation_floor`], where a re-created group of the same name starts, so
//!   the fences its predecessor left on partition leaders never refuse the new group's commits.
//! - A group emptied before `empty_since_ms` existed is stamped with the reap's `now_ms`
//!   instead of removed, so it gets a full retention from then on.

use super::ClusterMeta;
use crate::raft::MetaResponse;

impl ClusterMeta {
    /// True when [`ClusterMeta::reap`] at `now_ms` would change anything.
    pub fn reap_due(&self, now_ms: u64, retention_ms: u64) -> bool {
        !self.producers.is_empty()
            || self.groups.values().any(|g| {
                g.members.is_empty()
                    && g.empty_since_ms
                        .is_none_or(|t| t.saturating_add(retention_ms) <= now_ms)
            })
    }

    /// `(name, topic, generation)` of the groups a reap at `now_ms` removes.
    pub fn reapable(&self, now_ms: u64, retention_ms: u64) -> Vec<(String, String, u64)> {
        self.groups
            .iter()
            .filter(|(_, g)| {
                g.members.is_empty()
                    && g.empty_since_ms
                        .is_some_and(|t| t.saturating_add(retention_ms) <= now_ms)
            })
            .map(|(name, g)| (name.clone(), g.topic.clone(), g.generation))
            .collect()
    }

    /// Removes groups empty since `now_ms - retention_ms` or earlier, stamps empty groups of
    /// unknown age with `now_ms`, and drops the legacy producer registry.
    pub(super) fn reap(&mut self, now_ms: u64, retention_ms: u64) -> MetaResponse {
        self.producers.clear();
        for (name, _, generation) in self.reapable(now_ms, retention_ms) {
            self.groups.remove(&name);
            self.generation_floor = self.generation_floor.max(generation);
        }
        for g in self.groups.values_mut() {
            if g.members.is_empty() && g.empty_since_ms.is_none() {
                g.empty_since_ms = Some(now_ms);
            }
        }
        MetaResponse::Ok
    }
}

#[cfg(test)]
mod tests {
    use raftbus_protocol::meta::ConsumerAssignment;
    use raftbus_protocol::retention::RetentionSpec;
    use uuid::Uuid;

    use super::*;
    use crate::metadata::ProducerRecord;
    use crate::raft::MetaCommand;

    fn setup() -> ClusterMeta {
        let mut m = ClusterMeta::default();
        m.apply(MetaCommand::CreateTopic {
            name: "t".into(),
            replication_factor: 1,
            created_ms: 0,
            partitions: vec![(Uuid::new_v4(), vec![1])],
            retention: RetentionSpec::default(),
        });
        m
    }

    fn join(m: &mut ClusterMeta, group: &str, c: Uuid) -> ConsumerAssignment {
        match m.apply(MetaCommand::JoinGroup {
            group: group.into(),
            topic: "t".into(),
            consumer_id: c,
        }) {
            MetaResponse::Assignment(a) => a,
            other => panic!("{other:?}"),
        }
    }

    fn leave(m: &mut ClusterMeta, group: &str, c: Uuid, at_ms: u64) {
        m.apply(MetaCommand::LeaveGroup {
            group: group.into(),
            consumer_ids: vec![c],
            at_ms,
        });
    }

    fn reap(m: &mut ClusterMeta, now_ms: u64) {
        m.apply(MetaCommand::Reap {
            now_ms,
            offsets_retention_ms: 1_000,
        });
    }

    #[test]
    fn empty_groups_go_after_the_retention_and_generations_stay_monotonic() {
        let mut m = setup();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        join(&mut m, "idle", a);
        join(&mut m, "busy", b);
        leave(&mut m, "idle", a, 5_000);
        assert_eq!(m.groups["idle"].empty_since_ms, Some(5_000));
        assert!(!m.reap_due(5_999, 1_000), "not yet");
        let mut replica = m.clone();
        reap(&mut m, 5_999);
        assert!(m.groups.contains_key("idle"));
        assert!(m.reap_due(6_000, 1_000));
        assert_eq!(
            m.reapable(6_000, 1_000),
            vec![("idle".to_string(), "t".to_string(), 2)]
        );
        reap(&mut m, 6_000);
        reap(&mut replica, 6_000);
        assert_eq!(m, replica, "every manager applies the same reap alike");
        assert!(!m.groups.contains_key("idle") && m.groups.contains_key("busy"));
        assert!(!m.reap_due(10_000, 1_000), "nothing left to do");
        let gone = 2; // joined (1) and left (2)
        assert_eq!(m.generation_floor, gone);
        // Re-created: starts above the removed group's generation.
        assert!(join(&mut m, "idle", a).generation > gone);
    }

    #[test]
    fn rejoining_keeps_a_group_and_unknown_ages_are_stamped_first() {
        let mut m = setup();
        let a = Uuid::new_v4();
        join(&mut m, "g", a);
        leave(&mut m, "g", a, 1_000);
        join(&mut m, "g", a);
        assert_eq!(m.groups["g"].empty_since_ms, None);
        assert!(!m.reap_due(1_000_000, 1_000));
        // Emptied by an entry of an older version (no time): stamped, not removed.
        leave(&mut m, "g", a, 0);
        assert!(m.reap_due(50_000, 1_000));
        reap(&mut m, 50_000);
        assert_eq!(m.groups["g"].empty_since_ms, Some(50_000));
        reap(&mut m, 51_000);
        assert!(m.groups.is_empty());
    }

    #[test]
    fn the_legacy_producer_registry_is_dropped_and_no_longer_grows() {
        let mut m = setup();
        m.producers.insert(
            Uuid::new_v4(),
            ProducerRecord {
                topic: "t".into(),
                registered_ms: 1,
            },
        );
        m.apply(MetaCommand::RegisterProducer {
            producer_id: Uuid::new_v4(),
            topic: "t".into(),
            at_ms: 2,
        });
        assert_eq!(
            m.producers.len(),
            1,
            "registrations are not stored any more"
        );
        assert!(m.reap_due(0, 1_000));
        reap(&mut m, 0);
        assert!(m.producers.is_empty());
    }
}
