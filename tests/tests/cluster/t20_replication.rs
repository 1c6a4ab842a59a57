//! Acceptance 2: three brokers, three partitions with three replicas each; 10,000 records
//! produced with acks are all read back exactly once, in order, at offsets 0..N-1, and every
//! replica stores the same batches.

use std::time::{Duration, Instant};

use futures::future::join_all;
use raftbus_tests::cluster::BrokerCluster;
use raftbus_tests::wait_until;
use uuid::Uuid;

use crate::batch_of;

const PARTITIONS: u32 = 3;
const PER_PARTITION: usize = 3_334;
const BATCH: usize = 50;

#[tokio::test(flavor = "multi_thread")]
async fn records_replicate_and_read_back_exactly_once_in_order() {
    let c = BrokerCluster::start(3).await.unwrap();
    let mut groups = Vec::new();
    for p in 0..PARTITIONS {
        groups.push(c.create_partition("orders", p, p as usize).await.unwrap());
    }
    for p in 0..PARTITIONS {
        c.wait_leader("orders", p, Duration::from_secs(20))
            .await
            .unwrap();
    }

    let started = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..PARTITIONS {
        let c = &c;
        tasks.push(async move {
            let producer = Uuid::new_v4();
            let values: Vec<String> = (0..PER_PARTITION).map(|i| format!("p{p}-r{i}")).collect();
            for (seq, chunk) in values.chunks(BATCH).enumerate() {
                let deadline = Instant::now() + Duration::from_secs(30);
                let r = c
                    .produce_retrying(
                        "orders",
                        p,
                        batch_of(chunk),
                        (producer, seq as u64),
                        deadline,
                    )
                    .await
                    .unwrap_or_else(|e| {
                        panic!("produce to orders/{p} failed: {e}\n{}", c.logs(30))
                    });
                assert_eq!(
                    r.base_offset,
                    (seq * BATCH) as u64,
                    "dense offsets per batch"
                );
                assert!(!r.duplicate);
            }
            values
        });
    }
    let produced = join_all(tasks).await;
    let total: usize = produced.iter().map(Vec::len).sum();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "produced {total} records in {secs:.2}s ({:.0} records/s, batches of {BATCH}, one at a time per partition)",
        total as f64 / secs
    );

    for (p, values) in produced.iter().enumerate() {
        let read = c.read_all("orders", p as u32).await.unwrap();
        assert_eq!(
            read.len(),
            values.len(),
            "orders/{p}: every record exactly once"
        );
        for (i, (offset, rec)) in read.iter().enumerate() {
            assert_eq!(*offset, i as u64, "orders/{p}: offsets are 0..N-1");
            assert_eq!(
                rec.value.as_ref(),
                values[i].as_bytes(),
                "orders/{p}: order preserved"
            );
        }
    }

    // All replicas converge on identical batches (followers apply shortly after the leader).
    for (p, group) in groups.iter().enumerate() {
        let what = format!("replicas of orders/{p} to store identical batches");
        wait_until(
            &what,
            Duration::from_secs(20),
            Duration::from_millis(200),
            || async {
                let rows: Vec<_> = join_all((0..3).map(|i| c.replica_rows(i, *group))).await;
                let rows: Vec<Vec<String>> =
                    rows.into_iter().collect::<anyhow::Result<_>>().ok()?;
                (rows[0].len() == values_batches() && rows.iter().all(|r| r == &rows[0]))
                    .then_some(())
            },
        )
        .await
        .unwrap();
    }
}

fn values_batches() -> usize {
    PER_PARTITION.div_ceil(BATCH)
}
