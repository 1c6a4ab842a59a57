//! Raft log compaction under a steady write load (3 managers, 3 brokers, small snapshot
//! settings): every broker's `raft_log` stays bounded while far more entries are written than
//! it ever holds (row counts printed over time), autovacuum visits it, and a broker killed
//! while the others purge past its last entry comes back, is rebuilt from a snapshot and ends
//! with exactly the leader's partition state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use raftbus_protocol::meta::CreateTopicRequest;
use raftbus_protocol::retention::RetentionSpec;
use raftbus_sdk::{Admin, BrokerClient};
use raftbus_tests::manager::ManagedCluster;
use raftbus_tests::wait_until;
use uuid::Uuid;

use crate::batch_of;

const TOPIC: &str = "compact";
const PARTITIONS: u32 = 2;
const SNAPSHOT_EVERY: u64 = 200;
const KEEP: u64 = 50;
/// Rows one group may hold: entries since the last snapshot, the kept tail, and slack for a
/// snapshot being built while writes continue.
const GROUP_BOUND: i64 = (SNAPSHOT_EVERY + KEEP) as i64 + 150;
const STEADY: Duration = Duration::from_secs(100);
const SAMPLE: Duration = Duration::from_secs(10);

/// One SQL value from broker `i`'s database.
fn query(c: &ManagedCluster, i: usize, sql: &str) -> String {
    let db = format!("broker_{}", c.brokers[i].node_id());
    tokio::task::block_in_place(|| c.pg.psql(&db, sql))
        .unwrap()
        .trim()
        .to_string()
}

fn raft_log_rows(c: &ManagedCluster, i: usize) -> i64 {
    query(c, i, "SELECT count(*) FROM raft_log")
        .parse()
        .unwrap()
}

/// `(min, max)` Raft log index a broker holds for a group (`-1` when none).
fn log_span(c: &ManagedCluster, i: usize, group: Uuid) -> (i64, i64) {
    let sql = format!(
        "SELECT coalesce(min(log_index), -1) || ' ' || coalesce(max(log_index), -1) \
         FROM raft_log WHERE group_id = '{group}'"
    );
    let out = query(c, i, &sql);
    let mut v = out.split_whitespace().map(|x| x.parse::<i64>().unwrap());
    (v.next().unwrap(), v.next().unwrap())
}

/// A replica's partition state: watermarks and a digest of every stored batch.
fn state(c: &ManagedCluster, i: usize, group: Uuid) -> String {
    let sql = format!(
        "SELECT (SELECT next_offset || '/' || log_start_offset FROM sm_state WHERE group_id = '{group}') \
         || ' ' || (SELECT count(*) || ':' || coalesce(md5(string_agg(base_offset || ':' || \
         record_count || ':' || md5(data), ',' ORDER BY base_offset)), '-') \
         FROM partition_batches WHERE group_id = '{group}')"
    );
    query(c, i, &sql)
}

/// A steady writer: one batch per tick, alternating partitions, to the current leaders;
/// idempotent (producer id + sequence), so retries after a leader change never duplicate.
fn start_load(
    admin: Admin,
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = BrokerClient::new(Duration::from_secs(10));
        let producer = Uuid::new_v4();
        let mut seq = [0u64; PARTITIONS as usize];
        let mut leaders: Vec<Option<String>> = vec![None; PARTITIONS as usize];
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let p = (n % u64::from(PARTITIONS)) as u32;
            let values: Vec<String> = (0..5).map(|i| format!("{n}-{i}-{:0>80}", "")).collect();
            let batch = batch_of(&values);
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let pi = p as usize;
                if leaders[pi].is_none() {
                    leaders[pi] = admin
                        .describe_topic(TOPIC)
                        .await
                        .ok()
                        .and_then(|t| t.partition_info[pi].leader_addr.clone());
                }
                let r = match &leaders[pi] {
                    Some(addr) => {
                        client
                            .produce(addr, TOPIC, p, batch.clone(), Some((producer, seq[pi])))
                            .await
                    }
                    None => Err(raftbus_sdk::SdkError::InvalidArgument(
                        "no leader yet".into(),
                    )),
                };
                match r {
                    Ok(_) => break,
                    Err(e) => {
                        assert!(
                            Instant::now() < deadline,
                            "partition {p}: write failed for 30 s: {e}"
                        );
                        leaders[pi] = e.leader_hint().map(|(_, a)| a.to_string());
                        if leaders[pi].is_none() {
                            // Waiting for an election the managers have not heard of yet.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }
            seq[p as usize] += 1;
            n += 1;
            written.store(n, Ordering::Relaxed);
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn raft_log_stays_bounded_and_a_lagging_broker_is_rebuilt_from_a_snapshot() {
    let every = SNAPSHOT_EVERY.to_string();
    let keep = KEEP.to_string();
    let env = [
        ("RAFTBUS_RAFT__SNAPSHOT_EVERY_ENTRIES", every.as_str()),
        ("RAFTBUS_RAFT__KEEP_AFTER_SNAPSHOT", keep.as_str()),
        ("RAFTBUS_RETENTION__INTERVAL_MS", "1000"),
    ];
    let mut c = ManagedCluster::start_with_env(3, 3, &[], &env)
        .await
        .unwrap();
    let req = CreateTopicRequest {
        name: TOPIC.into(),
        partitions: Some(PARTITIONS),
        replication_factor: Some(3),
        // Retention too, so snapshots are sent while batches are being trimmed.
        retention: RetentionSpec {
            retention_ms: None,
            retention_bytes: Some(150_000),
        },
    };
    let info = c
        .admin
        .create_topic(&req, Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(info.ready);
    let groups: Vec<Uuid> = info.partition_info.iter().map(|p| p.group_id).collect();

    // Phase 1: steady load; raft_log row counts sampled over time.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let load = start_load(c.admin.clone(), stop.clone(), written.clone());
    let started = Instant::now();
    let mut max_rows = 0i64;
    println!(
        "t(s)  written  raft_log rows per broker  raft_log kB per broker (table + TOAST + index)"
    );
    let bound = GROUP_BOUND * i64::from(PARTITIONS);
    // At least STEADY, longer (bounded) on a machine too busy to write 3x the bound by then.
    let enough = || written.load(Ordering::Relaxed) as i64 > 3 * bound;
    while started.elapsed() < STEADY || (!enough() && started.elapsed() < 3 * STEADY) {
        tokio::time::sleep(SAMPLE).await; // sampling cadence of a measurement, not a wait for a condition
        assert!(!load.is_finished(), "the load stopped early");
        let rows: Vec<i64> = (0..3).map(|i| raft_log_rows(&c, i)).collect();
        let kb: Vec<String> = (0..3)
            .map(|i| query(&c, i, "SELECT pg_total_relation_size('raft_log') / 1024"))
            .collect();
        max_rows = max_rows.max(*rows.iter().max().unwrap());
        println!(
            "t={:<4} written={:<6} rows={rows:?} kB={kb:?}",
            started.elapsed().as_secs(),
            written.load(Ordering::Relaxed)
        );
    }
    let entries = written.load(Ordering::Relaxed) as i64;
    println!(
        "steady phase: {entries} batches written, raft_log max {max_rows} rows (bound {bound})"
    );
    assert!(
        entries > 3 * bound,
        "too few writes ({entries}) to show a bound of {bound}"
    );
    assert!(
        max_rows <= bound,
        "raft_log grew to {max_rows} rows (bound {bound})"
    );
    for i in 0..3 {
        let v = query(
            &c,
            i,
            "SELECT n_live_tup || ' live, ' || n_dead_tup || ' dead, autovacuums ' || autovacuum_count \
             || ', size ' || pg_size_pretty(pg_total_relation_size('raft_log')) \
             FROM pg_stat_user_tables WHERE relname = 'raft_log'",
        );
        println!("broker-{} raft_log: {v}", i + 1);
    }

    // Phase 2: broker-3 dies; writes go on until every live replica purged past its last entry.
    let behind: Vec<i64> = {
        c.brokers[2].kill9().unwrap();
        groups.iter().map(|g| log_span(&c, 2, *g).1).collect()
    };
    let at_kill = written.load(Ordering::Relaxed);
    wait_until(
        "the live replicas to purge past broker-3's last entry",
        Duration::from_secs(120),
        Duration::from_millis(500),
        || async {
            groups
                .iter()
                .zip(&behind)
                .all(|(g, last)| (0..2).all(|i| log_span(&c, i, *g).0 > last + 1))
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(20)));
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let total = written.load(Ordering::Relaxed);
    println!(
        "broker-3 down at {at_kill} batches (last log index per group {behind:?}); {} more written; \
         live replicas now start at {:?}",
        total - at_kill,
        groups
            .iter()
            .map(|g| log_span(&c, 0, *g).0)
            .collect::<Vec<_>>()
    );

    // Broker-3 comes back and catches up: identical state on all three replicas.
    let restarted_at = query(&c, 0, "SELECT extract(epoch FROM now())");
    c.brokers[2].start().unwrap();
    c.brokers[2]
        .wait_healthy(Duration::from_secs(30))
        .await
        .unwrap();
    for g in &groups {
        let what = format!("broker-3 to match the other replicas of group {g}");
        let s = wait_until(
            &what,
            Duration::from_secs(60),
            Duration::from_millis(300),
            || async {
                let s: Vec<String> = (0..3).map(|i| state(&c, i, *g)).collect();
                if s[0] == s[1] && s[1] == s[2] {
                    Ok(s[0].clone())
                } else {
                    Err(format!("{s:?}"))
                }
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(30)));
        println!("group {g}: next_offset/log_start and batch digest on all replicas: {s}");
    }
    let log = c.brokers[2].log_tail(1_000_000);
    let since_restart = log
        .rsplit("==== [raftbus-tests] starting")
        .next()
        .unwrap_or("");
    let installs = since_restart.matches("snapshot installed").count();
    println!("broker-3 installed {installs} snapshot(s) while catching up");
    assert!(installs >= 1, "broker-3 caught up without a snapshot");
    // Batches it got in a snapshot keep their append time (retention by age counts from it).
    for g in &groups {
        let sql = format!(
            "SELECT (extract(epoch FROM min(created_at)) < {restarted_at})::text \
             FROM partition_batches WHERE group_id = '{g}'"
        );
        assert_eq!(
            query(&c, 2, &sql),
            "true",
            "append times lost in the snapshot"
        );
    }
    let rows: Vec<i64> = (0..3).map(|i| raft_log_rows(&c, i)).collect();
    println!("raft_log rows per broker at the end: {rows:?}");
}
