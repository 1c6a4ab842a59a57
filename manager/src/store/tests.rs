use std::sync::{Arc, RwLock};

use sqlx::postgres::PgPoolOptions;

use super::*;
use crate::metadata::TopicRecord;

fn topic(partitions: usize) -> TopicRecord {
    TopicRecord {
        created_ms: 0,
        replication_factor: 1,
        partitions: (0..partitions)
            .map(|_| crate::metadata::PartitionRecord {
                group_id: uuid::Uuid::new_v4(),
                replicas: vec![1],
                leader: None,
                target: None,
            })
            .collect(),
        retention: Default::default(),
    }
}

/// A state machine whose pool never connects: enough for the row bookkeeping.
fn machine(published: &ClusterMeta, now: ClusterMeta, rewrite_all: bool) -> MetaStateMachine {
    let db = PgPoolOptions::new()
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap();
    MetaStateMachine {
        db,
        state: Persisted {
            meta: now,
            ..Default::default()
        },
        shared: Arc::new(RwLock::new(published.clone())),
        rewrite_all,
        log: None,
    }
}

#[tokio::test]
async fn only_changed_topics_are_written_and_removed_ones_deleted() {
    let mut before = ClusterMeta::default();
    for name in ["a", "b", "c"] {
        before.topics.insert(name.into(), topic(2));
    }
    let mut now = before.clone();
    now.topics.get_mut("a").unwrap().partitions[1].leader = Some(1);
    now.topics.remove("b");
    now.topics.insert("d".into(), topic(1));
    let m = machine(&before, now.clone(), false);
    assert_eq!(
        m.topic_changes(),
        (
            vec!["a".to_string(), "d".to_string()],
            vec!["b".to_string()]
        )
    );
    // Nothing changed: nothing written.
    let m = machine(&now, now.clone(), false);
    assert_eq!(m.topic_changes(), (vec![], vec![]));
    // After a snapshot or a pre-migration blob: every topic.
    let m = machine(&now, now.clone(), true);
    assert_eq!(m.topic_changes().0, ["a", "c", "d"]);
}
