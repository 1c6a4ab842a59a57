//! `kill -9` of a broker while its shared storage writer commits transactions spanning many
//! groups (issue 11, acceptance 6). Every partition keeps a producer busy, so the victim's
//! writer has a multi-group transaction in flight most of the time; the test checks from the
//! victim's own counters that its transactions really held several groups just before the kill.
//! Afterwards every acknowledged batch of every partition is readable exactly once at the
//! offsets its ack reported, and the restarted broker holds the same rows as the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use raftbus_tests::cluster::BrokerCluster;
use raftbus_tests::wait_until;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::batch_of;

const PARTITIONS: u32 = 24;
const BATCH: usize = 5;

/// `(transactions, groups)` of the log lane, from a broker's `/metrics`.
async fn writer_counters(http: &reqwest::Client, addr: &str) -> Option<(f64, f64)> {
    let text = http
        .get(raftbus_tests::pki::url(
            addr,
            raftbus_protocol::routes::METRICS,
        ))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{lane=\"log\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    Some((
        value("raftbus_storage_transactions_total")?,
        value("raftbus_storage_groups_total")?,
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_during_shared_transactions_loses_nothing() {
    let c = BrokerCluster::start(3).await.unwrap();
    let mut groups = Vec::new();
    for p in 0..PARTITIONS {
        groups.push(c.create_partition("many", p, p as usize % 3).await.unwrap());
    }
    for p in 0..PARTITIONS {
        c.wait_leader("many", p, Duration::from_secs(30))
            .await
            .unwrap();
    }
    let c = Arc::new(tokio::sync::RwLock::new(c));
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicUsize::new(0));
    let mut producers = JoinSet::new();
    for p in 0..PARTITIONS {
        let (c, stop, acks) = (c.clone(), stop.clone(), acks.clone());
        producers.spawn(async move {
            let id = Uuid::new_v4();
            let mut acked = Vec::new();
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let values: Vec<String> = (0..BATCH).map(|i| format!("p{p}-s{seq}-{i}")).collect();
                let deadline = Instant::now() + Duration::from_secs(30);
                let r = c
                    .read()
                    .await
                    .produce_retrying("many", p, batch_of(&values), (id, seq), deadline)
                    .await
                    .unwrap_or_else(|e| panic!("{p}: batch {seq} never acknowledged: {e}"));
                acked.push((r.base_offset, values));
                acks.fetch_add(1, Ordering::Relaxed);
                seq += 1;
            }
            (p, acked)
        });
    }

    // The victim: broker 2 (index 1), which leads a third of the partitions and follows the rest.
    let victim = 1;
    let http = raftbus_tests::pki::client();
    let addr = c.read().await.addr(victim);
    let before = writer_counters(&http, &addr).await.expect("metrics");
    let (txns, groups_per_txn) = wait_until(
        "the victim's writer to commit multi-group transactions",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            let now = writer_counters(&http, &addr).await?;
            let (t, g) = (now.0 - before.0, now.1 - before.1);
            (t >= 20.0 && g / t > 1.5).then_some((t, g / t))
        },
    )
    .await
    .unwrap();
    println!(
        "victim's log writer before the kill: {txns} transactions, {groups_per_txn:.1} groups each"
    );
    // Killed straight through its pid: taking the cluster's write lock would first let every
    // in-flight produce finish, and the writer might then be idle.
    let pid = c.read().await.brokers[victim]
        .daemon_pid()
        .expect("victim runs");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let at_kill = acks.load(Ordering::Relaxed);
    wait_until(
        "the survivors to acknowledge 100 more batches without the victim",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { (acks.load(Ordering::Relaxed) >= at_kill + 100).then_some(()) },
    )
    .await
    .unwrap();
    {
        let mut c = c.write().await;
        let b = c.brokers[victim].daemon_mut();
        b.wait_exit(Duration::from_secs(5)).unwrap();
        c.brokers[victim].start().unwrap();
    }
    c.write().await.brokers[victim]
        .wait_healthy(Duration::from_secs(30))
        .await
        .unwrap();
    // Producing on: the restarted replica catches up under load.
    let after_restart = writer_counters(&http, &addr).await.unwrap_or_default();
    wait_until(
        "the restarted broker's writer to commit again",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            let now = writer_counters(&http, &addr).await?;
            (now.0 > after_restart.0 + 10.0).then_some(())
        },
    )
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    while let Some(r) = producers.join_next().await {
        acked.push(r.unwrap());
    }

    let c = c.read().await;
    let mut total = 0;
    for (p, batches) in &acked {
        let read = c.read_all("many", *p).await.unwrap();
        let want: usize = batches.len() * BATCH;
        assert_eq!(read.len(), want, "partition {p}: no loss, no duplicate");
        for (base, values) in batches {
            for (i, v) in values.iter().enumerate() {
                let (offset, rec) = &read[*base as usize + i];
                assert_eq!(*offset, base + i as u64);
                assert_eq!(
                    rec.value.as_ref(),
                    v.as_bytes(),
                    "partition {p} offset {offset}"
                );
            }
        }
        total += want;
    }
    println!("{total} acknowledged records over {PARTITIONS} partitions, all read back once");

    // Every replica, the restarted one included, converges on identical rows.
    for (p, group) in groups.iter().enumerate() {
        let leader = c
            .wait_leader("many", p as u32, Duration::from_secs(10))
            .await
            .unwrap();
        let want = c.replica_rows(leader, *group).await.unwrap();
        wait_until(
            "every replica to hold the leader's rows",
            Duration::from_secs(30),
            Duration::from_millis(200),
            || async {
                for i in 0..3 {
                    if c.replica_rows(i, *group).await.ok()? != want {
                        return None;
                    }
                }
                Some(())
            },
        )
        .await
        .unwrap_or_else(|e| panic!("partition {p}: {e}\n{}", c.logs(30)));
    }
}
