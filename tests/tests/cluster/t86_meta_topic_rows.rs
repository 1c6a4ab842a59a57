//! The managers' metadata store keeps topics in one row each (`meta_topics`): creating,
//! altering and deleting topics touches only their rows, and a restarted manager loads the
//! same metadata from the rows plus the blob.

use std::time::Duration;

use raftbus_protocol::meta::{CreateTopicRequest, TopicInfo};
use raftbus_protocol::retention::RetentionSpec;
use raftbus_tests::manager::ManagedCluster;
use raftbus_tests::wait_until;

/// `(name, retention_ms, group ids)` of every topic, as a manager answers.
fn shape(topics: &[TopicInfo]) -> Vec<(String, i64, Vec<uuid::Uuid>)> {
    let mut v: Vec<_> = topics
        .iter()
        .map(|t| {
            let groups = t.partition_info.iter().map(|p| p.group_id).collect();
            (t.name.clone(), t.retention_ms, groups)
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn topics_live_in_their_own_rows_and_survive_a_restart() {
    let mut c = ManagedCluster::start(1, 1, &[]).await.unwrap();
    c.write_manager(Duration::from_secs(20)).await.unwrap();
    for name in ["a", "b", "c"] {
        let req = CreateTopicRequest {
            name: name.into(),
            partitions: Some(2),
            replication_factor: Some(1),
            retention: Default::default(),
        };
        c.admin
            .create_topic(&req, Some(Duration::from_secs(30)))
            .await
            .unwrap();
    }
    c.admin.delete_topic("b").await.unwrap();
    let change = RetentionSpec {
        retention_ms: Some(60_000),
        retention_bytes: None,
    };
    c.admin.alter_topic("c", &change).await.unwrap();
    let rows =
        c.pg.psql("manager_1", "SELECT name FROM meta_topics ORDER BY name")
            .unwrap();
    assert_eq!(rows.split_whitespace().collect::<Vec<_>>(), ["a", "c"]);
    let before = shape(&c.admin.list_topics().await.unwrap());
    assert_eq!(before[1].1, 60_000);

    c.managers[0].kill9().unwrap();
    c.managers[0].start().unwrap();
    c.managers[0]
        .wait_healthy(Duration::from_secs(30))
        .await
        .unwrap();
    let after = wait_until(
        "the restarted manager answers with its topics",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async {
            let t = c.admin.list_topics().await.map_err(|e| e.to_string())?;
            let s = shape(&t);
            if s.len() == 2 {
                Ok(s)
            } else {
                Err(format!("{s:?}"))
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(after, before);
}
