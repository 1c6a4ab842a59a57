//! Acceptance 3 and 4: `kill -9` of a partition leader while a producer keeps sending. A new
//! leader takes over (the measured failover is printed), every acknowledged record is readable
//! exactly once (retries did not duplicate), and the killed broker, restarted on the same
//! database, catches up to the same commit index and the same records.

use std::time::{Duration, Instant};

use raftbus_tests::cluster::BrokerCluster;
use raftbus_tests::wait_until;
use uuid::Uuid;

use crate::batch_of;

const BATCH: usize = 10;

#[tokio::test(flavor = "multi_thread")]
async fn leader_kill_fails_over_without_loss_or_duplicates_and_the_replica_catches_up() {
    let mut c = BrokerCluster::start(3).await.unwrap();
    let group = c.create_partition("events", 0, 0).await.unwrap();
    let old_leader = c
        .wait_leader("events", 0, Duration::from_secs(20))
        .await
        .unwrap();

    let producer = Uuid::new_v4();
    let mut acked: Vec<(u64, Instant, Vec<String>)> = Vec::new();
    let mut seq = 0u64;
    let send = async |c: &BrokerCluster,
                      seq: &mut u64,
                      acked: &mut Vec<(u64, Instant, Vec<String>)>| {
        let values: Vec<String> = (0..BATCH).map(|i| format!("s{}-{i}", *seq)).collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        let r = c
            .produce_retrying("events", 0, batch_of(&values), (producer, *seq), deadline)
            .await
            .unwrap_or_else(|e| panic!("batch {} never acknowledged: {e}\n{}", *seq, c.logs(40)));
        acked.push((r.base_offset, Instant::now(), values));
        *seq += 1;
    };

    for _ in 0..30 {
        send(&c, &mut seq, &mut acked).await;
    }
    let killed_at = Instant::now();
    c.brokers[old_leader].kill9().unwrap();
    for _ in 0..30 {
        send(&c, &mut seq, &mut acked).await;
    }
    let first_after = acked
        .iter()
        .find(|(_, t, _)| *t > killed_at)
        .map(|(_, t, _)| *t)
        .unwrap();
    let failover = first_after - killed_at;
    println!(
        "failover after kill -9 of the leader: {} ms until the next acknowledged write",
        failover.as_millis()
    );
    let new_leader = c
        .wait_leader("events", 0, Duration::from_secs(10))
        .await
        .unwrap();
    assert_ne!(new_leader, old_leader);

    // Every acknowledged record exactly once, at the offsets its ack reported.
    let read = c.read_all("events", 0).await.unwrap();
    assert_eq!(
        read.len(),
        acked.len() * BATCH,
        "no loss, no duplicate from retried batches"
    );
    for (base, _, values) in &acked {
        for (i, v) in values.iter().enumerate() {
            let (offset, rec) = &read[*base as usize + i];
            assert_eq!(*offset, base + i as u64);
            assert_eq!(rec.value.as_ref(), v.as_bytes());
        }
    }

    // The killed broker restarts on its database and catches up.
    c.brokers[old_leader].start().unwrap();
    c.brokers[old_leader]
        .wait_healthy(Duration::from_secs(30))
        .await
        .unwrap();
    send(&c, &mut seq, &mut acked).await;
    let addr = c.addr(old_leader);
    let leader_addr = c.addr(
        c.wait_leader("events", 0, Duration::from_secs(10))
            .await
            .unwrap(),
    );
    wait_until(
        "the restarted replica to reach the leader's commit index",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            let mine = c.client.partition_status(&addr, "events", 0).await.ok()?;
            let lead = c
                .client
                .partition_status(&leader_addr, "events", 0)
                .await
                .ok()?;
            (mine.last_applied == lead.last_applied && mine.log_end_offset == lead.log_end_offset)
                .then_some(())
        },
    )
    .await
    .unwrap();
    let rows: Vec<Vec<String>> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(c.replica_rows(i, group).await.unwrap());
        }
        v
    };
    assert_eq!(
        rows[old_leader].len(),
        acked.len(),
        "one row per acknowledged batch"
    );
    assert!(
        rows.iter().all(|r| r == &rows[0]),
        "all replicas hold identical batches"
    );
}
