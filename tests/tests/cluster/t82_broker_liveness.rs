//! Managers acceptance 3: a broker killed with kill -9 is marked dead after the heartbeat
//! timeout and alive again after restart; its replicas rejoin.

use std::time::{Duration, Instant};

use raftbus_protocol::api::Role;
use raftbus_protocol::meta::CreateTopicRequest;
use raftbus_tests::manager::ManagedCluster;
use raftbus_tests::wait_until;

#[tokio::test(flavor = "multi_thread")]
async fn dead_broker_is_detected_and_rejoins() {
    let mut c = ManagedCluster::start(3, 3, &[("RAFTBUS_HEARTBEAT__TIMEOUT_MS", "3000")])
        .await
        .unwrap();
    c.write_manager(Duration::from_secs(20)).await.unwrap();
    let req = CreateTopicRequest {
        name: "t".into(),
        partitions: Some(3),
        replication_factor: Some(3),
        retention: Default::default(),
    };
    assert!(
        c.admin
            .create_topic(&req, Some(Duration::from_secs(30)))
            .await
            .unwrap()
            .ready
    );

    c.brokers[2].kill9().unwrap();
    let killed = Instant::now();
    wait_until(
        "broker-3 marked dead",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || async {
            c.admin
                .brokers()
                .await
                .ok()?
                .iter()
                .find(|b| b.id == 3 && !b.alive)
                .map(|_| ())
        },
    )
    .await
    .unwrap();
    let took = killed.elapsed();
    println!(
        "broker-3 marked dead {} ms after kill -9 (timeout 3000 ms)",
        took.as_millis()
    );
    assert!(
        took >= Duration::from_millis(2_000),
        "not before the timeout"
    );
    // Partitions it led have new leaders, reported by the survivors.
    let t = wait_until(
        "all partitions led by live brokers",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || async {
            let t = c.admin.describe_topic("t").await.ok()?;
            t.partition_info
                .iter()
                .all(|p| p.leader.is_some_and(|l| l != 3))
                .then_some(t)
        },
    )
    .await
    .unwrap();
    assert!(t.ready);

    c.brokers[2].start().unwrap();
    c.brokers[2]
        .wait_healthy(Duration::from_secs(30))
        .await
        .unwrap();
    wait_until(
        "broker-3 alive again",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || async {
            c.admin
                .brokers()
                .await
                .ok()?
                .iter()
                .find(|b| b.id == 3 && b.alive)
                .map(|_| ())
        },
    )
    .await
    .unwrap();
    let addr = c.brokers[2].api_addr().to_string();
    wait_until(
        "broker-3 replicas rejoined",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || async {
            let all = c.client.list_partitions(&addr).await.ok()?;
            (all.len() == 3
                && all.iter().all(|s| {
                    matches!(s.role, Role::Follower | Role::Leader) && s.leader_id.is_some()
                }))
            .then_some(())
        },
    )
    .await
    .unwrap();
}
