//! A leader's database connections die under load (as when its Postgres restarts): Raft
//! stops the group on the storage error, the broker's `revive` loop reopens it from its rows
//! once the database answers again, and no acknowledged record is lost or duplicated.

use std::time::{Duration, Instant};

use raftbus_protocol::api::Role;
use raftbus_tests::cluster::BrokerCluster;
use raftbus_tests::wait_until;
use uuid::Uuid;

use crate::batch_of;

/// Produces batch `seq` (one record) with retries; returns once it is acknowledged.
async fn send(c: &BrokerCluster, producer: Uuid, seq: u64) {
    let values = vec![format!("r{seq}")];
    let deadline = Instant::now() + Duration::from_secs(60);
    c.produce_retrying("outage", 0, batch_of(&values), (producer, seq), deadline)
        .await
        .unwrap_or_else(|e| panic!("batch {seq} never acknowledged: {e}\n{}", c.logs(40)));
}

async fn role(c: &BrokerCluster, i: usize) -> Option<Role> {
    let s = c.client.partition_status(&c.addr(i), "outage", 0).await;
    s.ok().map(|s| s.role)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_stopped_by_a_storage_error_is_reopened_without_loss() {
    let c = BrokerCluster::start(3).await.unwrap();
    c.create_partition("outage", 0, 0).await.unwrap();
    let leader = c
        .wait_leader("outage", 0, Duration::from_secs(20))
        .await
        .unwrap();
    let db = format!("broker_{}", c.brokers[leader].node_id());
    let producer = Uuid::new_v4();
    let mut seq = 0u64;
    for _ in 0..20 {
        send(&c, producer, seq).await;
        seq += 1;
    }

    // The leader's database refuses writes (every session read-only, like a Postgres that
    // is down or recovering): its next write fails and Raft stops the group.
    let sessions = |read_only: &str| {
        format!(
            "ALTER DATABASE {db} SET default_transaction_read_only = {read_only}; \
             SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{db}'"
        )
    };
    c.pg.psql("postgres", &sessions("on")).unwrap();
    let stopped_at = wait_until(
        "the leader's group stopped by a storage error",
        Duration::from_secs(60),
        Duration::from_millis(50),
        || async {
            let values = vec!["probe".to_string()];
            // Without a producer id: whether it lands does not matter, only that it makes the
            // leader write.
            let _ = c
                .client
                .produce(&c.addr(leader), "outage", 0, batch_of(&values), None)
                .await;
            (role(&c, leader).await == Some(Role::Stopped)).then(Instant::now)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(40)));
    // The other replicas keep the partition writable meanwhile.
    for _ in 0..20 {
        send(&c, producer, seq).await;
        seq += 1;
    }
    // The database takes writes again (fresh sessions): the group must come back by itself.
    c.pg.psql("postgres", &sessions("off")).unwrap();

    wait_until(
        "the stopped replica running again",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async { matches!(role(&c, leader).await, Some(r) if r != Role::Stopped).then_some(()) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(40)));
    println!(
        "stopped group running again {} ms after it stopped (the database refused writes for part of that)",
        stopped_at.elapsed().as_millis()
    );
    // The reopened replica restored its old vote and may believe for a moment that it still
    // leads its old term. Whatever it believes, it must never serve a read below what was
    // acknowledged meanwhile: sample it right away (each fetch is one request, no waiting).
    let mut refused = 0;
    for _ in 0..40 {
        match c
            .client
            .fetch(&c.addr(leader), "outage", 0, 0, 1 << 20, Duration::ZERO)
            .await
        {
            Ok(f) => assert!(
                f.high_watermark >= seq,
                "the reopened replica served a stale read: high watermark {} below the {seq} \
                 acknowledged records\n{}",
                f.high_watermark,
                c.logs(40)
            ),
            Err(e) => {
                assert!(e.is_retryable(), "{e}");
                refused += 1;
            }
        }
    }
    println!(
        "reopened replica: {refused} of 40 reads refused (not leader / not ready), none stale"
    );

    // Every acknowledged batch exactly once, in order (probes may add records in between).
    // A reopened replica may claim its old leadership for a moment (Raft restores its
    // vote) until the current leader's term reaches it: read from whoever leads once it settles.
    let read = wait_until(
        "a full read of outage/0",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async { c.read_all("outage", 0).await.ok() },
    )
    .await
    .unwrap();
    let acked: Vec<String> = read
        .iter()
        .map(|(_, r)| String::from_utf8_lossy(&r.value).into_owned())
        .filter(|v| v != "probe")
        .collect();
    let expected: Vec<String> = (0..seq).map(|s| format!("r{s}")).collect();
    assert_eq!(
        acked, expected,
        "every acknowledged record exactly once, in order"
    );
}
