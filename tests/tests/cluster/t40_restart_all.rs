//! Acceptance 5: all three brokers killed with `kill -9` at once, then restarted: every
//! acknowledged record is still there and the partitions accept writes again.

use std::time::{Duration, Instant};

use raftbus_tests::cluster::BrokerCluster;
use uuid::Uuid;

use crate::batch_of;

#[tokio::test(flavor = "multi_thread")]
async fn whole_cluster_crash_loses_nothing_acknowledged() {
    let mut c = BrokerCluster::start(3).await.unwrap();
    for p in 0..2 {
        c.create_partition("logs", p, p as usize).await.unwrap();
        c.wait_leader("logs", p, Duration::from_secs(20))
            .await
            .unwrap();
    }
    let producer = Uuid::new_v4();
    let mut expected = [Vec::new(), Vec::new()];
    let mut seqs = [0u64; 2];
    for round in 0..20 {
        for p in 0..2u32 {
            let values: Vec<String> = (0..20).map(|i| format!("p{p}-{round}-{i}")).collect();
            let deadline = Instant::now() + Duration::from_secs(20);
            c.produce_retrying(
                "logs",
                p,
                batch_of(&values),
                (producer, seqs[p as usize]),
                deadline,
            )
            .await
            .unwrap();
            seqs[p as usize] += 1;
            expected[p as usize].extend(values);
        }
    }

    for b in &mut c.brokers {
        b.kill9().unwrap();
    }
    for b in &mut c.brokers {
        b.start().unwrap();
    }
    for b in &mut c.brokers {
        b.wait_healthy(Duration::from_secs(30)).await.unwrap();
    }

    for p in 0..2u32 {
        let read = c.read_all("logs", p).await.unwrap();
        let values: Vec<&[u8]> = read.iter().map(|(_, r)| r.value.as_ref()).collect();
        let want: Vec<&[u8]> = expected[p as usize].iter().map(|v| v.as_bytes()).collect();
        assert_eq!(values, want, "logs/{p} after restarting every broker");
        let deadline = Instant::now() + Duration::from_secs(30);
        let r = c
            .produce_retrying(
                "logs",
                p,
                batch_of(&["after".into()]),
                (producer, seqs[p as usize]),
                deadline,
            )
            .await
            .unwrap();
        assert_eq!(
            r.base_offset,
            want.len() as u64,
            "writes resume at the next offset"
        );
    }
}
