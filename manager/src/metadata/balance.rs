//! Decisions about where replicas should move: healing (replace a replica on a broker dead
//! for too long) and rebalancing (even out replicas and preferred leaders over live brokers).
//! Pure functions of the metadata, run by the write manager before it proposes
//! [`crate::raft::MetaCommand::StartMove`].

use std::collections::BTreeMap;

use uuid::Uuid;

use super::ClusterMeta;

/// A decided move: `(topic, partition)`, group, current and new replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// Topic.
    pub topic: String,
    /// Partition index.
    pub partition: u32,
    /// Raft group.
    pub group: Uuid,
    /// Current replicas.
    pub from: Vec<u64>,
    /// New replicas, preferred leader first.
    pub to: Vec<u64>,
}

impl Move {
    /// True when only the order (the preferred leader) changes: no data moves.
    pub fn is_reorder(&self) -> bool {
        let (mut a, mut b) = (self.from.clone(), self.to.clone());
        a.sort_unstable();
        b.sort_unstable();
        a == b
    }
}

fn is_alive(meta: &ClusterMeta, id: u64) -> bool {
    meta.brokers.get(&id).is_some_and(|b| b.alive)
}

/// Up to `slots` healing moves: for each partition without a move in progress that has a
/// replica on a broker `gone` says is dead past the grace period, replace that replica (one
/// per partition, keeping its position) by the least-loaded live broker not holding the
/// partition (ties: lowest id). Partitions missing a majority are skipped: their membership
/// cannot change until enough replicas return.
pub fn heal(meta: &ClusterMeta, gone: impl Fn(u64) -> bool, slots: usize) -> Vec<Move> {
    let mut load = meta.replica_load(None);
    let mut out = Vec::new();
    for ((topic, partition), p) in meta.partitions_of(None) {
        if out.len() >= slots {
            break;
        }
        if p.target.is_some() {
            continue;
        }
        let Some(pos) = p
            .replicas
            .iter()
            .position(|r| !is_alive(meta, *r) && gone(*r))
        else {
            continue;
        };
        let live = p.replicas.iter().filter(|r| is_alive(meta, **r)).count();
        if live * 2 <= p.replicas.len() {
            continue;
        }
        let Some((&new, _)) = load
            .iter()
            .filter(|(b, _)| !p.replicas.contains(b))
            .min_by_key(|(b, n)| (**n, **b))
        else {
            continue;
        };
        *load.get_mut(&new).expect("live broker") += 1;
        let mut to = p.replicas.clone();
        to[pos] = new;
        out.push(Move {
            topic: topic.to_string(),
            partition,
            group: p.group_id,
            from: p.replicas.clone(),
            to,
        });
    }
    out
}

/// Running moves that are adding a broker `gone` says is dead past the grace period: each
/// pointed at the least-loaded live broker holding neither the partition nor its target
/// instead (`from` is the old target). Needs no slot: the number of moves stays the same.
pub fn redirects(meta: &ClusterMeta, gone: impl Fn(u64) -> bool) -> Vec<Move> {
    let mut load = meta.replica_load(None);
    let mut out = Vec::new();
    for ((topic, partition), p) in meta.partitions_of(None) {
        let Some(target) = &p.target else { continue };
        let dead = |r: &u64| !p.replicas.contains(r) && !is_alive(meta, *r) && gone(*r);
        let Some(pos) = target.iter().position(dead) else {
            continue;
        };
        let Some((&new, _)) = load
            .iter()
            .filter(|(b, _)| !p.replicas.contains(b) && !target.contains(b))
            .min_by_key(|(b, n)| (**n, **b))
        else {
            continue;
        };
        *load.get_mut(&new).expect("live broker") += 1;
        let mut to = target.clone();
        to[pos] = new;
        out.push(Move {
            topic: topic.to_string(),
            partition,
            group: p.group_id,
            from: target.clone(),
            to,
        });
    }
    out
}

/// The moves that even out `topic`'s (or every topic's) replicas over the live brokers
/// (counts within one), then its preferred leaders (first replicas, within one where a
/// reorder can do it). Partitions with a move in progress or a dead replica are left alone
/// (healing handles the latter). Deterministic: brokers by load then id, partitions in order.
pub fn rebalance(meta: &ClusterMeta, topic: Option<&str>) -> Vec<Move> {
    let mut load: BTreeMap<u64, usize> = meta.replica_load(topic);
    if load.len() < 2 {
        return Vec::new();
    }
    // Planned replica lists (`to`) of the movable partitions.
    let mut plan: Vec<Move> = meta
        .partitions_of(topic)
        .filter(|(_, p)| p.target.is_none() && p.replicas.iter().all(|r| is_alive(meta, *r)))
        .map(|((t, i), p)| Move {
            topic: t.to_string(),
            partition: i,
            group: p.group_id,
            from: p.replicas.clone(),
            to: p.replicas.clone(),
        })
        .collect();
    // Replicas: move one from the fullest to the emptiest broker until within one.
    for _ in 0..10_000 {
        let Some((hi, lo, i)) = best_swap(&load, |hi, lo| {
            plan.iter()
                .position(|m| m.to.contains(&hi) && !m.to.contains(&lo))
        }) else {
            break;
        };
        let to = &mut plan[i].to;
        let pos = to.iter().position(|r| *r == hi).expect("holds hi");
        to[pos] = lo;
        *load.get_mut(&hi).expect("hi") -= 1;
        *load.get_mut(&lo).expect("lo") += 1;
    }
    // Preferred leaders: count first replicas of every partition in scope.
    let mut lead: BTreeMap<u64, usize> = load.keys().map(|b| (*b, 0)).collect();
    for (_, p) in meta.partitions_of(topic) {
        let first = plan
            .iter()
            .find(|m| m.group == p.group_id)
            .map_or(p.future_replicas().first().copied(), |m| {
                m.to.first().copied()
            });
        if let Some(n) = first.and_then(|f| lead.get_mut(&f)) {
            *n += 1;
        }
    }
    for _ in 0..10_000 {
        let Some((hi, lo, i)) = best_swap(&lead, |hi, lo| {
            plan.iter()
                .position(|m| m.to.first() == Some(&hi) && m.to.contains(&lo))
        }) else {
            break;
        };
        let to = &mut plan[i].to;
        let pos = to.iter().position(|r| *r == lo).expect("holds lo");
        to.swap(0, pos);
        *lead.get_mut(&hi).expect("hi") -= 1;
        *lead.get_mut(&lo).expect("lo") += 1;
    }
    plan.retain(|m| m.from != m.to);
    plan
}

/// The first `(hi, lo, partition)` with `count[hi] > count[lo] + 1` for which `find` names a
/// partition, trying the fullest brokers against the emptiest first.
fn best_swap(
    count: &BTreeMap<u64, usize>,
    find: impl Fn(u64, u64) -> Option<usize>,
) -> Option<(u64, u64, usize)> {
    let mut by_load: Vec<(usize, u64)> = count.iter().map(|(b, n)| (*n, *b)).collect();
    by_load.sort_unstable();
    for &(nh, hi) in by_load.iter().rev() {
        for &(nl, lo) in &by_load {
            if nh <= nl + 1 {
                break;
            }
            if let Some(i) = find(hi, lo) {
                return Some((hi, lo, i));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::moves::tests::meta_with;
    use crate::raft::MetaCommand;

    fn spread(meta: &ClusterMeta, moves: &[Move]) -> (BTreeMap<u64, usize>, BTreeMap<u64, usize>) {
        let (mut reps, mut lead) = (BTreeMap::new(), BTreeMap::new());
        for b in meta.brokers.keys() {
            reps.insert(*b, 0);
            lead.insert(*b, 0);
        }
        for (_, p) in meta.partitions_of(None) {
            let to = moves
                .iter()
                .find(|m| m.group == p.group_id)
                .map_or(&p.replicas, |m| &m.to);
            for r in to {
                *reps.get_mut(r).unwrap() += 1;
            }
            *lead.get_mut(&to[0]).unwrap() += 1;
        }
        (reps, lead)
    }

    fn within_one(m: &BTreeMap<u64, usize>) -> bool {
        m.values().max().unwrap() - m.values().min().unwrap() <= 1
    }

    #[test]
    fn heal_replaces_dead_replica_with_least_loaded_broker() {
        let mut m = meta_with(&[1, 2, 3, 4], &[&[1, 2, 3], &[2, 3, 4], &[3, 1, 2]]);
        m.apply(MetaCommand::SetBrokerAlive {
            id: 3,
            alive: false,
        });
        assert!(
            heal(&m, |_| false, 5).is_empty(),
            "not past the grace period"
        );
        let moves = heal(&m, |b| b == 3, 5);
        let tos: Vec<Vec<u64>> = moves.iter().map(|x| x.to.clone()).collect();
        assert_eq!(tos, vec![vec![1, 2, 4], vec![2, 1, 4], vec![4, 1, 2]]);
        assert_eq!(heal(&m, |b| b == 3, 2).len(), 2, "throttled");
        m.apply(MetaCommand::SetBrokerAlive {
            id: 2,
            alive: false,
        });
        let moves = heal(&m, |b| b == 3 || b == 2, 5);
        assert!(
            moves.iter().all(|x| x.from != vec![1, 2, 3]),
            "no majority: left alone"
        );
    }

    #[test]
    fn a_move_adding_a_dead_broker_is_redirected() {
        let mut m = meta_with(&[1, 2, 3, 4, 5], &[&[1, 2, 3]]);
        let g = m.topics["t"].partitions[0].group_id;
        m.apply(MetaCommand::StartMove {
            group: g,
            target: vec![1, 2, 4],
        });
        assert!(redirects(&m, |_| true).is_empty(), "every broker alive");
        m.apply(MetaCommand::SetBrokerAlive {
            id: 4,
            alive: false,
        });
        assert!(
            redirects(&m, |_| false).is_empty(),
            "not past the grace period"
        );
        let r = redirects(&m, |b| b == 4);
        assert_eq!(
            (r[0].from.clone(), r[0].to.clone()),
            (vec![1, 2, 4], vec![1, 2, 5])
        );
        m.apply(MetaCommand::RedirectMove {
            group: g,
            from: r[0].from.clone(),
            target: r[0].to.clone(),
        });
        m.apply(MetaCommand::RedirectMove {
            group: g,
            from: vec![1, 2, 4],
            target: vec![1, 2, 3],
        });
        assert_eq!(
            m.topics["t"].partitions[0].target,
            Some(vec![1, 2, 5]),
            "stale redirect ignored"
        );
        assert!(heal(&m, |b| b == 4, 5).is_empty(), "already moving");
    }

    #[test]
    fn rebalance_onto_a_new_broker_evens_replicas_and_leaders() {
        let parts: Vec<Vec<u64>> = (0..8u64)
            .map(|p| (0..3).map(|k| (p + k) % 4 + 1).collect())
            .collect();
        let refs: Vec<&[u64]> = parts.iter().map(Vec::as_slice).collect();
        let m = meta_with(&[1, 2, 3, 4, 5], &refs);
        let moves = rebalance(&m, Some("t"));
        let (reps, lead) = spread(&m, &moves);
        assert!(within_one(&reps) && within_one(&lead), "{reps:?} {lead:?}");
        assert!(moves.iter().all(|x| {
            let mut s = x.to.clone();
            s.sort();
            s.dedup();
            s.len() == 3
        }));
        assert!(rebalance(&m, Some("other")).is_empty());
    }

    #[test]
    fn balanced_cluster_needs_no_moves() {
        let m = meta_with(&[1, 2, 3], &[&[1, 2, 3], &[2, 3, 1], &[3, 1, 2]]);
        assert!(rebalance(&m, None).is_empty());
    }
}
