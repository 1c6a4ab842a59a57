//! Managers acceptance 4: two consumers in one group split the partitions with no overlap;
//! when one stops heartbeating its partitions go to the other within the heartbeat timeout;
//! an offset commit carrying the old generation is refused.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use raftbus_protocol::ErrorCode;
use raftbus_protocol::meta::{ConsumerHeartbeat, CreateTopicRequest};
use raftbus_tests::manager::ManagedCluster;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn group_members_split_partitions_and_take_over_with_fencing() {
    let c = ManagedCluster::start(3, 3, &[("RAFTBUS_HEARTBEAT__TIMEOUT_MS", "3000")])
        .await
        .unwrap();
    c.write_manager(Duration::from_secs(20)).await.unwrap();
    let req = CreateTopicRequest {
        name: "jobs".into(),
        partitions: Some(4),
        replication_factor: Some(3),
        retention: Default::default(),
    };
    let topic = c
        .admin
        .create_topic(&req, Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(topic.ready);

    let hb = |id| ConsumerHeartbeat {
        consumer_id: id,
        group: "workers".into(),
        topic: "jobs".into(),
    };
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    c.admin.join_group(&hb(a)).await.unwrap();
    c.admin.join_group(&hb(b)).await.unwrap();
    let aa = c.admin.consumer_heartbeat(&hb(a)).await.unwrap();
    let ba = c.admin.consumer_heartbeat(&hb(b)).await.unwrap();
    assert_eq!(aa.generation, ba.generation);
    let sa: BTreeSet<u32> = aa.partitions.iter().copied().collect();
    let sb: BTreeSet<u32> = ba.partitions.iter().copied().collect();
    assert!(sa.is_disjoint(&sb), "no overlap: {sa:?} {sb:?}");
    assert_eq!(sa.union(&sb).count(), 4, "every partition owned");
    let old_generation = aa.generation;

    // b stops heartbeating ("killed"); a keeps going and receives everything.
    let stopped = Instant::now();
    let all = loop {
        let now = c.admin.consumer_heartbeat(&hb(a)).await.unwrap();
        if now.partitions.len() == 4 {
            break now;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(15),
            "no takeover: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "takeover after {} ms (heartbeat timeout 3000 ms), generation {} -> {}",
        stopped.elapsed().as_millis(),
        old_generation,
        all.generation
    );
    assert!(all.generation > old_generation);

    // The fence reaches the partition leaders; then an old-generation commit is refused.
    let p = ba.partitions[0];
    let leader = topic.partition_info[p as usize]
        .leader_addr
        .clone()
        .unwrap();
    let refused = raftbus_tests::wait_until(
        "old generation refused",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            match c
                .client
                .commit_offset(&leader, "jobs", p, "workers", 0, Some(old_generation))
                .await
            {
                Err(e) if e.code() == Some(ErrorCode::StaleGeneration) => Some(e),
                _ => None,
            }
        },
    )
    .await
    .unwrap();
    println!("stale commit: {refused}");
    c.client
        .commit_offset(&leader, "jobs", p, "workers", 0, Some(all.generation))
        .await
        .unwrap();
}
