//! Replica moves: a partition's `target` replica list (desired) next to its `replicas`
//! (current), the commands that start and complete a move, and what brokers are told to do
//! about it.
//!
//! A move is a spec/status pair reconciled by the brokers: the write manager proposes a target
//! ([`ClusterMeta::start_move`]); the new replicas are created from the heartbeat reply; the
//! partition leader adds them as learners and changes the group's voters to the target; when
//! the leader reports that membership, the write manager proposes the move complete
//! ([`ClusterMeta::complete_move`]) and the brokers left out drop their replica.
//!
//! Invariant: a broker is told to drop a replica only when it is in neither `replicas` nor
//! `target`, i.e. after the leader reported a membership without it (or it never was in one).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use raftbus_protocol::ErrorCode;
use raftbus_protocol::api::Member;
use raftbus_protocol::meta::{Assignment, HostedGroup};
use raftbus_protocol::retention::RetentionSpec;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ClusterMeta, PartitionRecord, error};
use crate::raft::{MetaCommand, MetaResponse};

/// What a requested rebalance covers (kept in the metadata until it has nothing left to do,
/// so a new write manager carries it on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebalanceScope {
    /// Only this topic; `None` = every topic.
    pub topic: Option<String>,
}

impl PartitionRecord {
    /// The replica set the partition is heading to: the target while a move runs.
    pub fn future_replicas(&self) -> &[u64] {
        self.target.as_deref().unwrap_or(&self.replicas)
    }

    /// True when `broker` is a current or future replica.
    pub fn involves(&self, broker: u64) -> bool {
        self.replicas.contains(&broker) || self.target.as_ref().is_some_and(|t| t.contains(&broker))
    }
}

fn same_set(a: &[u64], b: &[u64]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

impl ClusterMeta {
    /// Applies the commands about replica moves.
    pub(super) fn apply_move(&mut self, cmd: MetaCommand) -> MetaResponse {
        match cmd {
            MetaCommand::StartMove { group, target } => self.start_move(group, target),
            MetaCommand::CompleteMove { group, replicas } => self.complete_move(group, replicas),
            MetaCommand::RedirectMove {
                group,
                from,
                target,
            } => self.redirect_move(group, from, target),
            MetaCommand::SetRebalance { scope } => {
                self.rebalance = scope;
                MetaResponse::Ok
            }
            other => error(ErrorCode::Internal, format!("not a move command: {other}")),
        }
    }

    /// Starts a move of `group` to `target` (validated by the write manager). A target with the
    /// same brokers in another order only changes the preferred leader and applies at once.
    pub(super) fn start_move(&mut self, group: Uuid, target: Vec<u64>) -> MetaResponse {
        let Some(p) = self.partition_mut(group) else {
            return error(
                ErrorCode::NotFound,
                format!("no partition has group {group}"),
            );
        };
        if p.target.is_some() {
            return error(
                ErrorCode::Conflict,
                "a replica move of this partition is already in progress".into(),
            );
        }
        if same_set(&p.replicas, &target) {
            p.replicas = target;
        } else {
            p.target = Some(target);
        }
        MetaResponse::Ok
    }

    /// Completes the move of `group` to `replicas` if that is still its target (a late or
    /// repeated completion changes nothing).
    pub(super) fn complete_move(&mut self, group: Uuid, replicas: Vec<u64>) -> MetaResponse {
        if let Some(p) = self.partition_mut(group)
            && p.target.as_ref() == Some(&replicas)
        {
            p.replicas = replicas;
            p.target = None;
        }
        MetaResponse::Ok
    }

    /// Replaces the target of `group`'s move by `target` if it is still `from`.
    pub(super) fn redirect_move(
        &mut self,
        group: Uuid,
        from: Vec<u64>,
        target: Vec<u64>,
    ) -> MetaResponse {
        if let Some(p) = self.partition_mut(group)
            && p.target.as_ref() == Some(&from)
        {
            p.target = Some(target);
        }
        MetaResponse::Ok
    }

    /// Every partition by group id, built in one pass: a broker heartbeat looks up thousands
    /// of groups, and [`ClusterMeta::find_group`] scans every topic per lookup.
    pub fn partitions_by_group(&self) -> HashMap<Uuid, &PartitionRecord> {
        self.topics
            .values()
            .flat_map(|t| t.partitions.iter())
            .map(|p| (p.group_id, p))
            .collect()
    }

    /// Partitions with a move in progress (the throttle counts them).
    pub fn moves_in_progress(&self) -> usize {
        self.topics
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.target.is_some())
            .count()
    }

    /// Future replicas per live broker, over every topic (or one topic).
    pub fn replica_load(&self, topic: Option<&str>) -> BTreeMap<u64, usize> {
        let mut load: BTreeMap<u64, usize> = self
            .brokers
            .iter()
            .filter(|(_, b)| b.alive)
            .map(|(id, _)| (*id, 0))
            .collect();
        for (_, p) in self.partitions_of(topic) {
            for r in p.future_replicas() {
                if let Some(n) = load.get_mut(r) {
                    *n += 1;
                }
            }
        }
        load
    }

    /// `((topic, index), partition)` of every partition, or of one topic's.
    pub fn partitions_of<'a>(
        &'a self,
        topic: Option<&'a str>,
    ) -> impl Iterator<Item = ((&'a str, u32), &'a PartitionRecord)> + 'a {
        self.topics
            .iter()
            .filter(move |(name, _)| topic.is_none_or(|t| t == name.as_str()))
            .flat_map(|(name, t)| {
                t.partitions
                    .iter()
                    .enumerate()
                    .map(move |(i, p)| ((name.as_str(), i as u32), p))
            })
    }
}

/// Moves whose target the group's leader, `broker` (the reporting broker, a member of the
/// target), reports as its (uniform) voter set, as
/// `(group, target)` to propose complete.
pub fn completed(meta: &ClusterMeta, broker: u64, groups: &[HostedGroup]) -> Vec<(Uuid, Vec<u64>)> {
    let index = meta.partitions_by_group();
    groups
        .iter()
        .filter(|g| g.is_leader && !g.joint)
        .filter_map(|g| {
            let p = index.get(&g.group_id)?;
            let target = p.target.as_ref()?;
            // Only a leader in the target set may complete a move: a broker leaving the group
            // (or claiming a leadership it lost) could otherwise drop the old replicas early.
            (target.contains(&broker) && same_set(target, &g.voters))
                .then(|| (g.group_id, target.clone()))
        })
        .collect()
}

/// Groups `broker` hosts that it should drop: deleted topics' and those it was moved off.
/// `groups` must be groups the broker is known to host (every one, or a subset: a group left
/// out is simply not dropped this time).
pub fn removable(meta: &ClusterMeta, broker: u64, groups: &[HostedGroup]) -> Vec<Uuid> {
    let index = meta.partitions_by_group();
    groups
        .iter()
        .map(|g| g.group_id)
        .filter(|g| {
            meta.removed_groups.contains(g) || index.get(g).is_some_and(|p| !p.involves(broker))
        })
        .collect()
}

/// The replicas `broker` should host. Members list the current replicas first (their first,
/// an established replica, is the only one that may initialize a group) and then the brokers a
/// move adds; `voters` is the membership the leader converges to. `lead_ok` says whether a
/// preferred leader has been up long enough to be handed leadership. Each carries its topic's
/// retention, unset fields taken from `defaults`.
pub fn assignments(
    meta: &ClusterMeta,
    broker: u64,
    lead_ok: impl Fn(u64) -> bool,
    defaults: RetentionSpec,
) -> Vec<Assignment> {
    let mut out = Vec::new();
    for ((topic, partition), p) in meta.partitions_of(None) {
        if !p.involves(broker) {
            continue;
        }
        let Some(t) = meta.topics.get(topic) else {
            continue;
        };
        let mut ids = p.replicas.clone();
        ids.extend(
            p.future_replicas()
                .iter()
                .filter(|r| !p.replicas.contains(r)),
        );
        let members: Option<Vec<Member>> = ids
            .iter()
            .map(|r| meta.brokers.get(r).map(|b| b.member.clone()))
            .collect();
        let Some(members) = members else { continue };
        let preferred = p.future_replicas().first().copied().filter(|&l| {
            p.target.is_none() && meta.brokers.get(&l).is_some_and(|b| b.alive) && lead_ok(l)
        });
        out.push(Assignment {
            topic: topic.to_string(),
            partition,
            group_id: p.group_id,
            members,
            voters: p.future_replicas().to_vec(),
            preferred_leader: preferred,
            retention: t.retention.resolve(defaults),
        });
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::metadata::BrokerRecord;

    pub(crate) fn meta_with(brokers: &[u64], replicas: &[&[u64]]) -> ClusterMeta {
        let mut m = ClusterMeta::default();
        for &id in brokers {
            let member = Member {
                id,
                api_addr: format!("b{id}:1"),
                raft_addr: format!("b{id}:2"),
                kafka_addr: None,
            };
            m.brokers.insert(
                id,
                BrokerRecord {
                    member,
                    alive: true,
                },
            );
        }
        let partitions = replicas
            .iter()
            .map(|r| (Uuid::new_v4(), r.to_vec()))
            .collect();
        m.apply(MetaCommand::CreateTopic {
            name: "t".into(),
            replication_factor: replicas.first().map_or(0, |r| r.len() as u32),
            created_ms: 0,
            partitions,
            retention: RetentionSpec::default(),
        });
        m
    }

    fn hosted(g: Uuid, leader: bool, voters: &[u64], joint: bool) -> HostedGroup {
        HostedGroup {
            group_id: g,
            is_leader: leader,
            leader: None,
            log_end_offset: 0,
            log_start_offset: 0,
            voters: voters.to_vec(),
            learners: vec![],
            joint,
        }
    }

    #[test]
    fn move_lifecycle() {
        let mut m = meta_with(&[1, 2, 3, 4], &[&[1, 2, 3]]);
        let g = m.topics["t"].partitions[0].group_id;
        assert_eq!(
            m.apply(MetaCommand::StartMove {
                group: g,
                target: vec![1, 2, 4]
            }),
            MetaResponse::Ok
        );
        assert!(matches!(
            m.apply(MetaCommand::StartMove {
                group: g,
                target: vec![1, 3, 4]
            }),
            MetaResponse::Error {
                code: ErrorCode::Conflict,
                ..
            }
        ));
        assert_eq!(m.moves_in_progress(), 1);
        // Broker 4 gets the replica, listed after the current ones; nobody drops anything yet.
        // It carries the topic's retention too (unset here: the defaults).
        let defaults = RetentionSpec {
            retention_ms: Some(60_000),
            retention_bytes: Some(-1),
        };
        let a = assignments(&m, 4, |_| true, defaults);
        let ids: Vec<u64> = a[0].members.iter().map(|x| x.id).collect();
        assert_eq!(
            (ids, a[0].voters.clone()),
            (vec![1, 2, 3, 4], vec![1, 2, 4])
        );
        assert_eq!(a[0].retention, defaults.resolve(RetentionSpec::default()));
        assert_eq!(a[0].retention.max_age_ms, Some(60_000));
        assert_eq!(a[0].preferred_leader, None, "no leader moves during a move");
        assert!(removable(&m, 3, &[hosted(g, false, &[], false)]).is_empty());
        // Only the leader's uniform membership completes it.
        assert!(completed(&m, 1, &[hosted(g, true, &[1, 2, 3, 4], true)]).is_empty());
        assert!(completed(&m, 1, &[hosted(g, false, &[1, 2, 4], false)]).is_empty());
        // Broker 3 is leaving: its claim completes nothing.
        assert!(completed(&m, 3, &[hosted(g, true, &[4, 2, 1], false)]).is_empty());
        let done = completed(&m, 1, &[hosted(g, true, &[4, 2, 1], false)]);
        assert_eq!(done, vec![(g, vec![1, 2, 4])]);
        m.apply(MetaCommand::CompleteMove {
            group: g,
            replicas: vec![1, 2, 4],
        });
        let p = &m.topics["t"].partitions[0];
        assert_eq!(
            (p.replicas.clone(), p.target.clone()),
            (vec![1, 2, 4], None)
        );
        assert_eq!(removable(&m, 3, &[hosted(g, false, &[], false)]), vec![g]);
        assert!(assignments(&m, 3, |_| true, RetentionSpec::default()).is_empty());
    }

    #[test]
    fn reorder_applies_at_once_and_names_preferred_leader() {
        let mut m = meta_with(&[1, 2, 3], &[&[1, 2, 3]]);
        let g = m.topics["t"].partitions[0].group_id;
        m.apply(MetaCommand::StartMove {
            group: g,
            target: vec![3, 1, 2],
        });
        let p = &m.topics["t"].partitions[0];
        assert_eq!(
            (p.replicas.clone(), p.target.clone()),
            (vec![3, 1, 2], None)
        );
        let d = RetentionSpec::default();
        assert_eq!(assignments(&m, 1, |_| true, d)[0].preferred_leader, Some(3));
        assert_eq!(assignments(&m, 1, |b| b != 3, d)[0].preferred_leader, None);
    }
}
