//! Placement decisions: which brokers host a new topic's replicas, and which consumer owns
//! which partition.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::ClusterMeta;

/// Chooses `rf` distinct live brokers per partition. Brokers are ordered by how many replicas
/// they already host (then id), and partition `p` takes the `rf` brokers starting at position
/// `p` of that order: replicas spread evenly, and so do preferred leaders (the first replica).
/// `None` when fewer than `rf` brokers are alive.
pub fn place_replicas(meta: &ClusterMeta, partitions: u32, rf: u32) -> Option<Vec<Vec<u64>>> {
    let mut load: BTreeMap<u64, usize> = meta
        .brokers
        .iter()
        .filter(|(_, b)| b.alive)
        .map(|(id, _)| (*id, 0))
        .collect();
    if load.len() < rf as usize || rf == 0 {
        return None;
    }
    for p in meta.topics.values().flat_map(|t| t.partitions.iter()) {
        for r in &p.replicas {
            if let Some(n) = load.get_mut(r) {
                *n += 1;
            }
        }
    }
    let mut order: Vec<u64> = load.keys().copied().collect();
    order.sort_by_key(|id| (load[id], *id));
    let n = order.len();
    Some(
        (0..partitions as usize)
            .map(|p| (0..rf as usize).map(|k| order[(p + k) % n]).collect())
            .collect(),
    )
}

/// Round-robin assignment of `partitions` over the members (sorted by id): every partition to
/// exactly one member, member loads differ by at most one.
pub fn assign_partitions(members: &mut BTreeMap<Uuid, Vec<u32>>, partitions: u32) {
    let ids: Vec<Uuid> = members.keys().copied().collect();
    for v in members.values_mut() {
        v.clear();
    }
    if ids.is_empty() {
        return;
    }
    for p in 0..partitions {
        members
            .get_mut(&ids[p as usize % ids.len()])
            .expect("member")
            .push(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::BrokerRecord;
    use raftbus_protocol::api::Member;

    fn meta(brokers: &[(u64, bool)]) -> ClusterMeta {
        let mut m = ClusterMeta::default();
        for &(id, alive) in brokers {
            let member = Member {
                id,
                api_addr: format!("b{id}:1"),
                raft_addr: format!("b{id}:2"),
                kafka_addr: None,
            };
            m.brokers.insert(id, BrokerRecord { member, alive });
        }
        m
    }

    #[test]
    fn replicas_distinct_and_even_and_leaders_spread() {
        let m = meta(&[(1, true), (2, true), (3, true)]);
        let placed = place_replicas(&m, 6, 3).unwrap();
        let mut per_broker = BTreeMap::new();
        let mut leaders = BTreeMap::new();
        for r in &placed {
            let mut s = r.clone();
            s.sort();
            s.dedup();
            assert_eq!(s.len(), 3, "distinct brokers");
            for b in r {
                *per_broker.entry(*b).or_insert(0) += 1;
            }
            *leaders.entry(r[0]).or_insert(0) += 1;
        }
        assert!(per_broker.values().all(|&n| n == 6));
        assert!(leaders.values().all(|&n| n == 2), "{leaders:?}");
    }

    #[test]
    fn not_enough_live_brokers() {
        let m = meta(&[(1, true), (2, false), (3, true)]);
        assert!(place_replicas(&m, 1, 3).is_none());
        assert_eq!(place_replicas(&m, 1, 2).unwrap(), vec![vec![1, 3]]);
    }

    #[test]
    fn assignment_covers_each_partition_once() {
        let mut members: BTreeMap<Uuid, Vec<u32>> =
            (0..3).map(|_| (Uuid::new_v4(), vec![])).collect();
        assign_partitions(&mut members, 7);
        let mut all: Vec<u32> = members.values().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..7).collect::<Vec<_>>());
        assert!(members.values().all(|v| v.len() == 2 || v.len() == 3));
    }
}
