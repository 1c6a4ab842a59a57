//! Deterministic rules of the cluster metadata.

use super::*;

fn topic(meta: &mut ClusterMeta, name: &str, n: u32) {
    let partitions = (0..n).map(|_| (Uuid::new_v4(), vec![1, 2, 3])).collect();
    let r = meta.apply(MetaCommand::CreateTopic {
        name: name.into(),
        replication_factor: 3,
        created_ms: 0,
        partitions,
        retention: RetentionSpec::default(),
    });
    assert_eq!(r, MetaResponse::Ok);
}

fn join(meta: &mut ClusterMeta, c: Uuid) -> ConsumerAssignment {
    match meta.apply(MetaCommand::JoinGroup {
        group: "g".into(),
        topic: "t".into(),
        consumer_id: c,
    }) {
        MetaResponse::Assignment(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn duplicate_topic_is_refused() {
    let mut m = ClusterMeta::default();
    topic(&mut m, "t", 2);
    let r = m.apply(MetaCommand::CreateTopic {
        name: "t".into(),
        replication_factor: 3,
        created_ms: 0,
        partitions: vec![],
        retention: RetentionSpec::default(),
    });
    assert!(matches!(
        r,
        MetaResponse::Error {
            code: ErrorCode::TopicExists,
            ..
        }
    ));
}

#[test]
fn joins_and_leaves_rebalance_with_new_generations() {
    let mut m = ClusterMeta::default();
    topic(&mut m, "t", 6);
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(
        join(&mut m, a),
        ConsumerAssignment {
            generation: 1,
            partitions: (0..6).collect()
        }
    );
    let second = join(&mut m, b);
    assert_eq!(second.generation, 2);
    let first = m.assignment("g", a).unwrap();
    assert_eq!(first.partitions.len() + second.partitions.len(), 6);
    assert!(
        first
            .partitions
            .iter()
            .all(|p| !second.partitions.contains(p)),
        "no overlap"
    );
    assert_eq!(join(&mut m, b).generation, 2, "rejoining changes nothing");
    m.apply(MetaCommand::LeaveGroup {
        group: "g".into(),
        consumer_ids: vec![b],
        at_ms: 1,
    });
    assert_eq!(
        m.assignment("g", a).unwrap(),
        ConsumerAssignment {
            generation: 3,
            partitions: (0..6).collect()
        }
    );
}

#[test]
fn dead_broker_loses_leadership_and_deleted_topics_leave_tombstones() {
    let mut m = ClusterMeta::default();
    topic(&mut m, "t", 1);
    let g = m.topics["t"].partitions[0].group_id;
    m.apply(MetaCommand::SetLeaders {
        leaders: vec![(g, Some(2))],
    });
    m.apply(MetaCommand::SetBrokerAlive {
        id: 2,
        alive: false,
    });
    assert_eq!(m.topics["t"].partitions[0].leader, None);
    m.apply(MetaCommand::DeleteTopic { name: "t".into() });
    assert!(m.removed_groups.contains(&g) && m.topics.is_empty());
}
