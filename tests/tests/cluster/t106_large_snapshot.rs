//! Issue 13: a follower whose database was dropped is rebuilt from a snapshot of a partition
//! holding 1 GiB of records (`RAFTBUS_SNAPSHOT_TEST_MIB` changes the size), while the peak
//! resident memory of the sending leader and of the receiving follower stays under 300 MiB:
//! snapshots stream in bounded frames and are staged in Postgres, never held whole. The rebuilt
//! replica's batches are byte-for-byte the leader's.
//!
//! The follower is down while the partition fills, then its database is dropped and it
//! restarts empty. Ignored in the plain `cargo test` run (it writes gigabytes); `scripts/test.sh` runs it alone
//! in its own stage.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use raftbus_protocol::RecordBatch;
use raftbus_protocol::api::{CreatePartitionRequest, Role};
use raftbus_tests::cluster::{BrokerCluster, create_replica};
use raftbus_tests::wait_until;
use uuid::Uuid;

const TOPIC: &str = "big";
const RSS_LIMIT_MIB: u64 = 300;
/// Records of 64 KiB, 16 per batch: 1 MiB batches.
const VALUE_BYTES: usize = 64 << 10;
const RECORDS_PER_BATCH: usize = 16;
const PRODUCERS: usize = 4;

/// Incompressible bytes (xorshift), so Postgres cannot shrink what the snapshot moves.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn batch(seed: u64) -> bytes::Bytes {
    let values: Vec<Vec<u8>> = (0..RECORDS_PER_BATCH as u64)
        .map(|i| noise(seed.wrapping_mul(1_000).wrapping_add(i), VALUE_BYTES))
        .collect();
    RecordBatch::from_records(values.iter().map(|v| (None, v.as_slice())), 0).into_bytes()
}

/// `VmRSS` or `VmHWM` of a process, in KiB.
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn sql(c: &BrokerCluster, i: usize, q: &str) -> String {
    let db = format!("broker_{}", c.brokers[i].node_id());
    tokio::task::block_in_place(|| c.pg.psql(&db, q))
        .unwrap()
        .trim()
        .to_string()
}

/// Watermarks, batch count and bytes of a replica: cheap enough to poll.
fn summary(c: &BrokerCluster, i: usize, group: Uuid) -> String {
    sql(
        c,
        i,
        &format!(
            "SELECT coalesce((SELECT next_offset || '/' || log_start_offset FROM sm_state \
             WHERE group_id = '{group}'), 'none') || ' ' || count(*) || ' ' || \
             coalesce(sum(octet_length(data)), 0) FROM partition_batches WHERE group_id = '{group}'"
        ),
    )
}

/// A digest of every stored batch, in offset order.
fn digest(c: &BrokerCluster, i: usize, group: Uuid) -> String {
    sql(
        c,
        i,
        &format!(
            "SELECT md5(string_agg(base_offset || ':' || record_count || ':' || md5(data), ',' \
             ORDER BY base_offset)) FROM partition_batches WHERE group_id = '{group}'"
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes gigabytes: scripts/test.sh runs it alone"]
async fn a_replica_is_rebuilt_from_a_gigabyte_snapshot_in_bounded_memory() {
    let mib: u64 = std::env::var("RAFTBUS_SNAPSHOT_TEST_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    // Snapshots every 16 entries and a short kept log: a replica that starts empty is far
    // behind the leader's first log entry and can only be rebuilt from a snapshot.
    let env = [
        ("RAFTBUS_RAFT__SNAPSHOT_EVERY_ENTRIES", "16"),
        ("RAFTBUS_RAFT__KEEP_AFTER_SNAPSHOT", "4"),
    ];
    let mut c = BrokerCluster::start_with_env(3, &env).await.unwrap();
    let group = c.create_partition(TOPIC, 0, 0).await.unwrap();
    let first_leader = c
        .wait_leader(TOPIC, 0, Duration::from_secs(30))
        .await
        .unwrap();
    // The follower to rebuild is down while the partition fills (the fill then writes two
    // replicas, not three), and comes back with its database dropped.
    let f = (first_leader + 1) % 3;
    c.brokers[f].kill9().unwrap();

    // Fill the partition: `PRODUCERS` idempotent producers, one batch in flight each.
    let started = Instant::now();
    let batches = mib as usize / PRODUCERS;
    let sends = (0..PRODUCERS).map(|p| {
        let c = &c;
        async move {
            let producer = Uuid::new_v4();
            for seq in 0..batches as u64 {
                let deadline = Instant::now() + Duration::from_secs(120);
                let body = batch(p as u64 * 1_000_000 + seq);
                c.produce_retrying(TOPIC, 0, body, (producer, seq), deadline)
                    .await
                    .unwrap_or_else(|e| panic!("batch {seq} of producer {p}: {e}"));
            }
        }
    });
    futures::future::join_all(sends).await;
    let produce_s = started.elapsed().as_secs_f64();
    let leader = c
        .wait_leader(TOPIC, 0, Duration::from_secs(30))
        .await
        .unwrap();
    let stored = summary(&c, leader, group);
    println!("LARGE SNAPSHOT filled: {stored} (next/start, batches, bytes) in {produce_s:.1} s");

    assert_ne!(leader, f);
    // Lose the follower's database entirely, then bring it back empty.
    let db = format!("broker_{}", c.brokers[f].node_id());
    tokio::task::block_in_place(|| {
        c.pg.psql("postgres", &format!("DROP DATABASE {db}"))
            .unwrap();
        c.pg.create_database(&db).unwrap();
    });
    let leader_pid = c.brokers[leader].daemon_pid().unwrap();
    // Peak RSS from here on: the fill above is not what is measured.
    std::fs::write(format!("/proc/{leader_pid}/clear_refs"), "5").unwrap();
    let rebuild = Instant::now();
    c.brokers[f].start().unwrap();
    c.brokers[f]
        .wait_healthy(Duration::from_secs(60))
        .await
        .unwrap();
    let req = CreatePartitionRequest {
        group_id: group,
        members: c.members(0),
    };
    create_replica(c.brokers[f].raft_addr(), TOPIC, 0, &req)
        .await
        .unwrap();
    let follower_pid = c.brokers[f].daemon_pid().unwrap();
    // An idle leader has quiesced believing the follower holds its last entry; the next write
    // wakes replication, which finds the follower empty and far behind the purged log.
    let deadline = Instant::now() + Duration::from_secs(60);
    c.produce_retrying(
        TOPIC,
        0,
        batch(u64::MAX / 4_096),
        (Uuid::new_v4(), 0),
        deadline,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(60)));

    // Sample both processes' RSS while the follower catches up.
    let peak = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                for (k, pid) in [leader_pid, follower_pid].into_iter().enumerate() {
                    peak[k].fetch_max(proc_kib(pid, "VmRSS:"), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let wanted = summary(&c, leader, group);
    wait_until(
        "the follower to hold every batch",
        Duration::from_secs(900),
        Duration::from_millis(500),
        || {
            let (got, wanted) = (summary(&c, f, group), wanted.clone());
            async move { (got == wanted).then_some(()) }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(30)));
    let rebuild_s = rebuild.elapsed().as_secs_f64();
    sampler.abort();
    let hwm = [
        proc_kib(leader_pid, "VmHWM:"),
        proc_kib(follower_pid, "VmHWM:"),
    ];
    let [leader_mib, follower_mib] =
        [0, 1].map(|k| hwm[k].max(peak[k].load(Ordering::Relaxed)) / 1024);

    let log = c.brokers[f].log_tail(400);
    assert!(
        log.contains("snapshot installed"),
        "the follower must be rebuilt from a snapshot, not the log:\n{log}"
    );
    assert_eq!(digest(&c, f, group), digest(&c, leader, group));
    let status = c
        .client
        .partition_status(&c.addr(f), TOPIC, 0)
        .await
        .unwrap();
    assert_eq!(status.role, Role::Follower);
    println!(
        "LARGE SNAPSHOT rebuilt {wanted} in {rebuild_s:.1} s; peak RSS leader {leader_mib} MiB, \
         follower {follower_mib} MiB (limit {RSS_LIMIT_MIB} MiB). Reproduce: \
         cargo test -p raftbus-tests --test cluster t106 -- --ignored --nocapture"
    );
    assert!(
        leader_mib < RSS_LIMIT_MIB,
        "leader peak RSS {leader_mib} MiB"
    );
    assert!(
        follower_mib < RSS_LIMIT_MIB,
        "follower peak RSS {follower_mib} MiB"
    );
}
