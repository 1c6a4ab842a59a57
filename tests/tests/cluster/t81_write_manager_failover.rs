//! Managers acceptance 2: kill -9 of the write manager. Another manager becomes write manager
//! (time printed), earlier topics are still there, creating a topic works again, and records
//! keep flowing to existing partitions meanwhile (the data path does not need a manager).

use std::time::{Duration, Instant};

use raftbus_protocol::meta::{CreateTopicRequest, ManagerRole};
use raftbus_tests::manager::ManagedCluster;
use uuid::Uuid;

use crate::batch_of;

#[tokio::test(flavor = "multi_thread")]
async fn write_manager_failover_keeps_metadata_and_data_path() {
    let mut c = ManagedCluster::start(3, 3, &[]).await.unwrap();
    let w = c.write_manager(Duration::from_secs(20)).await.unwrap();
    let req = CreateTopicRequest {
        name: "before".into(),
        partitions: Some(3),
        replication_factor: Some(3),
        retention: Default::default(),
    };
    let t = c
        .admin
        .create_topic(&req, Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(t.ready);
    let leader_addr = t.partition_info[0].leader_addr.clone().unwrap();

    c.managers[w].kill9().unwrap();
    let killed = Instant::now();

    // Records keep flowing to an existing partition while the managers elect.
    let producer = Uuid::new_v4();
    let mut seq = 0;
    let new_w = loop {
        let r = c
            .client
            .produce(
                &leader_addr,
                "before",
                0,
                batch_of(&[format!("r{seq}")]),
                Some((producer, seq)),
            )
            .await;
        r.unwrap_or_else(|e| panic!("produce during manager failover: {e}"));
        seq += 1;
        let list = c.admin.managers().await.unwrap_or_default();
        if let Some(m) = list.iter().find(|m| m.role == ManagerRole::Write) {
            break m.id;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no new write manager within 30 s"
        );
    };
    println!(
        "write manager failover: {} ms (manager-{new_w} took over); {seq} batches produced meanwhile",
        killed.elapsed().as_millis()
    );
    assert_ne!(new_w, c.managers[w].ports.id);

    let topics = c.admin.list_topics().await.unwrap();
    assert!(
        topics.iter().any(|t| t.name == "before"),
        "topic survived: {topics:?}"
    );
    let req = CreateTopicRequest {
        name: "after".into(),
        partitions: Some(2),
        replication_factor: Some(3),
        retention: Default::default(),
    };
    let t = c
        .admin
        .create_topic(&req, Some(Duration::from_secs(30)))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(30)));
    assert!(t.ready, "{t:?}");
}
