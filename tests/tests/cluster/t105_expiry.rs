//! Bounded state (issue 13): 50,000 distinct idempotent producer ids on one partition, then
//! producer-id expiry on the broker and reaping on the manager. Partition state (the
//! `producer_state` rows), the encoded snapshot head and the managers' metadata (the stored
//! blob plus topic rows) return to about their earlier size; the figures are printed.
//!
//! The processes run with the default (7-day) expiry while the peak is built and measured,
//! then restart with a short one, so the peak never depends on how fast this machine is.

use std::time::{Duration, Instant};

use futures::StreamExt;
use raftbus_protocol::ErrorCode;
use raftbus_protocol::meta::{ConsumerHeartbeat, CreateTopicRequest, ProducerHeartbeat};
use raftbus_sdk::SdkError;
use raftbus_tests::manager::ManagedCluster;
use raftbus_tests::wait_until;
use uuid::Uuid;

use crate::batch_of;

const TOPIC: &str = "expiry";
const PRODUCERS: usize = 50_000;
const CONCURRENCY: usize = 64;
/// Consumer groups joined and left (empty groups the manager must reap).
const GROUPS: usize = 300;
/// Snapshot every this many entries; the test writes as many plain batches to get a fresh one.
const SNAPSHOT_EVERY: usize = 2_000;

fn psql_i64(c: &ManagedCluster, db: &str, sql: &str) -> i64 {
    let out = tokio::task::block_in_place(|| c.pg.psql(db, sql)).unwrap();
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{sql}: {out:?}"))
}

/// `producer_state` rows of the partition on broker-1.
fn producer_rows(c: &ManagedCluster, group: Uuid) -> i64 {
    let sql = format!("SELECT count(*) FROM producer_state WHERE group_id = '{group}'");
    psql_i64(c, "broker_1", &sql)
}

/// `consumer_offsets` rows of the partition on broker-1 (the managers' fences create one per
/// consumer group).
fn offset_rows(c: &ManagedCluster, group: Uuid) -> i64 {
    let sql = format!("SELECT count(*) FROM consumer_offsets WHERE group_id = '{group}'");
    psql_i64(c, "broker_1", &sql)
}

/// `(snapshot head bytes, the head's next_offset)` on broker-1 (`(0, 0)` before the first).
fn snapshot_head(c: &ManagedCluster, group: Uuid) -> (i64, u64) {
    let sql = format!(
        "SELECT coalesce((SELECT octet_length(head) || ' ' || \
         encode(substring(head from 1 for 10), 'hex') FROM partition_snapshot \
         WHERE group_id = '{group}'), '0 9400')"
    );
    let out = tokio::task::block_in_place(|| c.pg.psql("broker_1", &sql)).unwrap();
    let (len, hex) = out.trim().split_once(' ').unwrap();
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    (len.parse().unwrap(), head_next_offset(&bytes))
}

/// The head is a MessagePack array whose first element is `next_offset` (an unsigned int).
fn head_next_offset(b: &[u8]) -> u64 {
    assert_eq!(
        b[0] & 0xf0,
        0x90,
        "head is not a MessagePack array: {b:02x?}"
    );
    let be = |n: usize| {
        b[2..2 + n]
            .iter()
            .fold(0u64, |v, x| (v << 8) | u64::from(*x))
    };
    match b[1] {
        x @ 0..=0x7f => u64::from(x),
        0xcc => be(1),
        0xcd => be(2),
        0xce => be(4),
        0xcf => be(8),
        x => panic!("unexpected next_offset marker {x:#x}"),
    }
}

/// Stored metadata on manager-1: the `meta_state` blob plus every topic row.
fn meta_bytes(c: &ManagedCluster) -> i64 {
    psql_i64(
        c,
        "manager_1",
        "SELECT (SELECT coalesce(sum(octet_length(state)), 0) FROM meta_state) + \
         (SELECT coalesce(sum(octet_length(topic)), 0) FROM meta_topics)",
    )
}

/// Writes [`SNAPSHOT_EVERY`] plain batches one by one and waits for a snapshot built after
/// the first of them (so after everything written before); returns its head size.
async fn fresh_snapshot(c: &ManagedCluster, leader: &str, group: Uuid) -> i64 {
    let one = batch_of(&["p".to_string()]);
    let mut first = None;
    for _ in 0..SNAPSHOT_EVERY {
        let r = c
            .client
            .produce(leader, TOPIC, 0, one.clone(), None)
            .await
            .unwrap_or_else(|e| panic!("plain produce: {e}\n{}", c.logs(20)));
        first.get_or_insert(r.base_offset);
    }
    let first = first.unwrap();
    wait_until(
        "a snapshot built after the last writes",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            let (len, next) = snapshot_head(c, group);
            (next > first)
                .then_some(len)
                .ok_or_else(|| format!("snapshot head next_offset {next}, want > {first}"))
        },
    )
    .await
    .unwrap()
}

/// Produces one one-record idempotent batch (sequence 0) under each of `ids`, concurrently,
/// and registers each id with the managers the way `Producer::connect` does.
async fn flood(c: &ManagedCluster, leader: &str, ids: &[Uuid]) {
    let record = batch_of(&["x".to_string()]);
    let results: Vec<Result<(), String>> = futures::stream::iter(ids.iter().copied())
        .map(|id| {
            let record = record.clone();
            async move {
                let hb = ProducerHeartbeat {
                    producer_id: id,
                    topic: TOPIC.into(),
                };
                c.admin
                    .register_producer(&hb)
                    .await
                    .map_err(|e| format!("register: {e}"))?;
                let r = c
                    .client
                    .produce(leader, TOPIC, 0, record, Some((id, 0)))
                    .await
                    .map_err(|e| format!("produce: {e}"))?;
                (!r.duplicate)
                    .then_some(())
                    .ok_or_else(|| "a first batch reported as duplicate".to_string())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let failed: Vec<_> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        failed.is_empty(),
        "{} failed, first: {}",
        failed.len(),
        failed[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_producer_ids_and_empty_groups_expire_and_state_returns_to_its_size() {
    let t0 = Instant::now();
    let broker_env = [
        ("RAFTBUS_RAFT__SNAPSHOT_EVERY_ENTRIES", "2000"),
        ("RAFTBUS_PRODUCERS__INTERVAL_MS", "200"),
    ];
    let mut c = ManagedCluster::start_with_env(
        1,
        1,
        &[("RAFTBUS_GROUPS__REAP_INTERVAL_MS", "200")],
        &broker_env,
    )
    .await
    .unwrap();
    let req = CreateTopicRequest {
        name: TOPIC.into(),
        partitions: Some(1),
        replication_factor: Some(1),
        retention: Default::default(),
    };
    let info = c
        .admin
        .create_topic(&req, Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let group = info.partition_info[0].group_id;
    let leader = c.brokers[0].api_addr().to_string();

    // BEFORE: a first snapshot of a partition with no producers.
    let head_before = fresh_snapshot(&c, &leader, group).await;
    let rows_before = producer_rows(&c, group);
    let meta_before = meta_bytes(&c);

    // PEAK: 50,000 producer ids, each registered with the managers; empty consumer groups.
    let ids: Vec<Uuid> = (0..PRODUCERS).map(|_| Uuid::new_v4()).collect();
    let flood_start = Instant::now();
    flood(&c, &leader, &ids).await;
    let flood_time = flood_start.elapsed();
    for i in 0..GROUPS {
        let hb = ConsumerHeartbeat {
            consumer_id: Uuid::new_v4(),
            group: format!("g{i}"),
            topic: TOPIC.into(),
        };
        c.admin.join_group(&hb).await.unwrap();
        c.admin
            .leave_group(&hb.group, hb.consumer_id)
            .await
            .unwrap();
    }
    let head_peak = fresh_snapshot(&c, &leader, group).await;
    let rows_peak = producer_rows(&c, group);
    let meta_peak = meta_bytes(&c);
    assert_eq!(
        rows_peak, PRODUCERS as i64,
        "every producer id is remembered"
    );
    assert_eq!(c.admin.groups().await.unwrap().len(), GROUPS);

    // Restart both with short settings: everything above is now idle past them.
    let short = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    c.brokers[0].kill9().unwrap();
    c.brokers[0]
        .daemon_mut()
        .add_env(&short("RAFTBUS_PRODUCERS__EXPIRY_MS", "1000"));
    c.managers[0].kill9().unwrap();
    c.managers[0].add_env(&short("RAFTBUS_GROUPS__OFFSETS_RETENTION_MS", "1000"));
    c.managers[0].start().unwrap();
    c.managers[0]
        .wait_healthy(Duration::from_secs(30))
        .await
        .unwrap();
    c.brokers[0].start().unwrap();
    c.brokers[0]
        .wait_healthy(Duration::from_secs(30))
        .await
        .unwrap();

    // AFTER: the rows go, the groups go, and the next snapshot is back to its first size.
    wait_until(
        "every idle producer id to expire",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async { producer_rows(&c, group) == 0 },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(30)));
    wait_until(
        "every empty consumer group to be reaped",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async { c.admin.groups().await.is_ok_and(|g| g.is_empty()) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(30)));

    // An expired producer's next sequence is refused, never appended as new.
    match c
        .client
        .produce(
            &leader,
            TOPIC,
            0,
            batch_of(&["late".into()]),
            Some((ids[0], 1)),
        )
        .await
    {
        Err(SdkError::Api { body, .. }) => assert_eq!(body.code, ErrorCode::UnknownProducer),
        other => panic!("expected unknown_producer, got {other:?}"),
    }
    // A re-created group starts above the reaped one's generation, so a late drop of the old
    // one never touches its rows.
    let member = Uuid::new_v4();
    let again = c
        .admin
        .join_group(&ConsumerHeartbeat {
            consumer_id: member,
            group: "g0".into(),
            topic: TOPIC.into(),
        })
        .await
        .unwrap();
    assert!(again.generation > 2, "generation {}", again.generation);
    c.admin.leave_group("g0", member).await.unwrap();
    // The partition forgets the reaped groups' offsets and fences (the re-created g0's too,
    // once it is reaped again).
    wait_until(
        "the reaped groups' offsets to leave the partition",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async {
            let (rows, groups) = (offset_rows(&c, group), c.admin.groups().await);
            (rows == 0 && groups.is_ok_and(|g| g.is_empty()))
                .then_some(())
                .ok_or_else(|| format!("{rows} consumer_offsets rows"))
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(30)));

    let head_after = fresh_snapshot(&c, &leader, group).await;
    let rows_after = producer_rows(&c, group);
    let offsets_after = offset_rows(&c, group);
    let meta_after = wait_until(
        "the metadata back to its earlier size",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let m = meta_bytes(&c);
            // The generation floor and the re-joined group until it is reaped again.
            (m <= meta_before + 16)
                .then_some(m)
                .ok_or_else(|| format!("{m} bytes"))
        },
    )
    .await
    .unwrap();

    println!(
        "EXPIRY producers before={rows_before} peak={rows_peak} after={rows_after} (producer_state rows)"
    );
    println!("EXPIRY snapshot_head_bytes before={head_before} peak={head_peak} after={head_after}");
    println!("EXPIRY metadata_bytes before={meta_before} peak={meta_peak} after={meta_after}");
    println!("EXPIRY consumer_offsets rows of {GROUPS} reaped groups after: {offsets_after}");
    println!(
        "EXPIRY flood {PRODUCERS} producer ids in {:.1} s; test took {:.1} s",
        flood_time.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(rows_after, 0);
    assert!(
        head_peak > head_before + 1_000_000,
        "the peak holds 50,000 producers"
    );
    // The reaped groups' fence rows went too; offsets grew by a few digits.
    assert_eq!(offsets_after, 0, "the reaped groups' offsets are dropped");
    assert!(
        head_after <= head_before + 16,
        "{head_after} vs {head_before}"
    );
    assert!(meta_after <= meta_before + 16);
}
