//! SDK handles clean up when dropped (structure issue, acceptance 2): a group consumer dropped
//! without `close()` leaves its group, so the remaining member gets its partitions within the
//! session timeout (the managers' `heartbeat.timeout_ms`, 5 s by default), and nothing of the
//! dropped consumer keeps heartbeating.

use std::time::Duration;

use raftbus_protocol::meta::CreateTopicRequest;
use raftbus_sdk::{Consumer, ConsumerConfig, StartFrom};
use raftbus_tests::manager::ManagedCluster;
use raftbus_tests::wait_until;

/// The managers' default session timeout (`[heartbeat] timeout_ms`).
const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_group_consumer_hands_its_partitions_over() {
    let c = ManagedCluster::start(1, 1, &[]).await.unwrap();
    let req = CreateTopicRequest {
        name: "drops".into(),
        partitions: Some(4),
        replication_factor: Some(1),
        retention: Default::default(),
    };
    c.admin
        .create_topic(&req, Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let cfg = || {
        ConsumerConfig::new(c.bootstrap())
            .group(Some("g".into()))
            .start(StartFrom::Earliest)
    };
    let mut stays = Consumer::connect(cfg(), "drops").await.unwrap();
    let leaves = Consumer::connect(cfg(), "drops").await.unwrap();
    wait_until(
        "both members to hold two partitions each",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async {
            let g = c.admin.group("g").await.ok()?;
            (g.members.len() == 2 && g.members.iter().all(|m| m.partitions.len() == 2))
                .then_some(())
        },
    )
    .await
    .unwrap();
    // Keep the staying member polling, as an application would.
    let _ = stays.poll(Duration::from_millis(100)).await.unwrap();

    drop(leaves);
    let g = wait_until(
        "the remaining member to hold all four partitions",
        SESSION_TIMEOUT,
        Duration::from_millis(50),
        || async {
            let g = c.admin.group("g").await.ok()?;
            (g.members.len() == 1 && g.members[0].partitions.len() == 4).then_some(g)
        },
    )
    .await
    .unwrap();
    // The dropped member is gone for good: it does not come back by heartbeating.
    let generation = g.generation;
    for _ in 0..3 {
        let _ = stays.poll(Duration::from_millis(500)).await.unwrap();
    }
    let g = c.admin.group("g").await.unwrap();
    assert_eq!(g.members.len(), 1, "the dropped consumer did not rejoin");
    assert_eq!(g.generation, generation, "no rebalance after the hand-over");
    stays.close().await.unwrap();
}
