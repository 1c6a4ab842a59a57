//! Idle groups go quiet and still fail over: after the writes stop, the brokers exchange no
//! Raft RPCs at all (node-level liveness stands in for per-group heartbeats), a write to a
//! quiet group succeeds at once, and freezing (SIGSTOP) the leader of quiet groups hands
//! them to live brokers without losing an acknowledged record.

use std::time::{Duration, Instant};

use raftbus_tests::cluster::BrokerCluster;
use raftbus_tests::wait_until;
use uuid::Uuid;

use crate::batch_of;

const PARTITIONS: u32 = 6;

/// Sum over all brokers of the Raft append RPCs they received (from `/metrics`).
async fn append_rpcs(c: &BrokerCluster, running: &[usize]) -> u64 {
    let mut total = 0;
    for &i in running {
        let url = raftbus_tests::pki::url(c.addr(i), raftbus_protocol::routes::METRICS);
        let http = raftbus_tests::pki::client();
        let body = http.get(url).send().await.unwrap().text().await.unwrap();
        total += body
            .lines()
            .find_map(|l| l.strip_prefix("raftbus_raft_append_rpcs_received_total "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .expect("the append RPC counter is exported");
    }
    total
}

/// One batch of one value to `quiet/p` (retrying through leader changes), counted as acked.
async fn send_one(c: &BrokerCluster, p: u32, producer: Uuid, seq: &mut [u64], label: &str) {
    let i = p as usize;
    let values = vec![format!("{label}-{p}")];
    let deadline = Instant::now() + Duration::from_secs(30);
    c.produce_retrying("quiet", p, batch_of(&values), (producer, seq[i]), deadline)
        .await
        .unwrap_or_else(|e| panic!("{label} write to quiet/{p}: {e}\n{}", c.logs(30)));
    seq[i] += 1;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_groups_stop_heartbeating_and_a_frozen_leader_is_replaced() {
    let mut c = BrokerCluster::start(3).await.unwrap();
    for p in 0..PARTITIONS {
        c.create_partition("quiet", p, p as usize % 3)
            .await
            .unwrap();
    }
    let producer = Uuid::new_v4();
    let mut seq = vec![0u64; PARTITIONS as usize];
    for p in 0..PARTITIONS {
        c.wait_leader("quiet", p, Duration::from_secs(20))
            .await
            .unwrap();
        send_one(&c, p, producer, &mut seq, "before").await;
    }

    // Quiet: the append RPC counter stays unchanged for 2 s (polled, not slept on).
    let all = [0, 1, 2];
    let started = Instant::now();
    let last = std::sync::Mutex::new((u64::MAX, Instant::now()));
    wait_until(
        "no Raft append RPCs between idle brokers for 2 s",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let now = append_rpcs(&c, &all).await;
            let mut last = last.lock().unwrap();
            if last.0 != now {
                *last = (now, Instant::now());
            }
            (last.1.elapsed() >= Duration::from_secs(2)).then_some(())
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(30)));
    println!(
        "quiet {} ms after the last write: 0 append RPCs per 2 s across 3 brokers, {PARTITIONS} groups",
        started.elapsed().as_millis()
    );

    // A quiet group takes a write at once (no no_quorum: its peers answer liveness queries).
    let t = Instant::now();
    let values = vec!["after-quiet".to_string()];
    c.client
        .produce(
            &c.addr(
                c.wait_leader("quiet", 0, Duration::from_secs(5))
                    .await
                    .unwrap(),
            ),
            "quiet",
            0,
            batch_of(&values),
            Some((producer, seq[0])),
        )
        .await
        .unwrap_or_else(|e| panic!("write to a quiet group refused: {e}\n{}", c.logs(30)));
    seq[0] += 1;
    println!(
        "write to a quiet group acknowledged in {} ms",
        t.elapsed().as_millis()
    );

    // Freeze the leader of partition 0 (quiet again or not, it stops answering anything).
    let frozen = c
        .wait_leader("quiet", 0, Duration::from_secs(5))
        .await
        .unwrap();
    c.brokers[frozen].daemon_mut().signal("STOP").unwrap();
    let froze_at = Instant::now();
    let survivors: Vec<usize> = all.iter().copied().filter(|i| *i != frozen).collect();
    for p in 0..PARTITIONS {
        let values = vec![format!("frozen-{p}")];
        let batch = batch_of(&values);
        // Ask the survivors only: the frozen broker would hang the request.
        let r = wait_until(
            &format!("a live leader of quiet/{p} taking a write"),
            Duration::from_secs(30),
            Duration::from_millis(50),
            || async {
                for &i in &survivors {
                    let ok = c
                        .client
                        .produce(
                            &c.addr(i),
                            "quiet",
                            p,
                            batch.clone(),
                            Some((producer, seq[p as usize])),
                        )
                        .await
                        .is_ok();
                    if ok {
                        return Some(());
                    }
                }
                None
            },
        )
        .await;
        r.unwrap_or_else(|e| panic!("{e}\n{}", c.logs(30)));
        if p == 0 {
            println!(
                "frozen leader replaced: first write acknowledged {} ms after SIGSTOP",
                froze_at.elapsed().as_millis()
            );
        }
        seq[p as usize] += 1;
    }

    // Thaw it: it rejoins as a follower and every acknowledged record is there exactly once.
    c.brokers[frozen].daemon_mut().signal("CONT").unwrap();
    for p in 0..PARTITIONS {
        send_one(&c, p, producer, &mut seq, "thawed").await;
        let read = c.read_all("quiet", p).await.unwrap();
        assert_eq!(
            read.len(),
            seq[p as usize] as usize,
            "partition {p}: every ack exactly once (one record per acknowledged batch)"
        );
        for (i, (offset, _)) in read.iter().enumerate() {
            assert_eq!(*offset, i as u64);
        }
    }
}
