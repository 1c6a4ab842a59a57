//! Retention by size end to end (3 managers, 3 brokers): after `manager topic alter
//! --retention-bytes`, old batches disappear from every replica's database, the log start
//! offset agrees on all replicas and in `describe`, a fetch below it is `offset_out_of_range`
//! carrying it, and consumers apply their reset policy (earliest continues from the new
//! start, fail reports the error). Bad alter input is a 4xx with a JSON body.

use std::time::{Duration, Instant};

use raftbus_protocol::ErrorCode;
use raftbus_protocol::meta::CreateTopicRequest;
use raftbus_protocol::retention::{RetentionSpec, UNLIMITED};
use raftbus_sdk::{
    Consumer, ConsumerConfig, Producer, ProducerConfig, Record, ResetPolicy, SdkError, StartFrom,
};
use raftbus_tests::manager::ManagedCluster;
use raftbus_tests::{bin_path, wait_until};

use crate::batch_of;

const TOPIC: &str = "ret";
const BATCHES: usize = 40;
const PER_BATCH: usize = 10;
/// Each batch is ~1.2 KB (10 records of 100 bytes); this keeps the newest 6 or so.
const LIMIT: i64 = 8_000;

/// One replica's stored batches: `(first base_offset, batch count, total bytes)`.
fn stored(c: &ManagedCluster, broker: usize, group: uuid::Uuid) -> (i64, i64, i64) {
    let db = format!("broker_{}", c.brokers[broker].node_id());
    let sql = format!(
        "SELECT coalesce(min(base_offset), -1) || ' ' || count(*) || ' ' || \
         coalesce(sum(octet_length(data)), 0) FROM partition_batches WHERE group_id = '{group}'"
    );
    let out = tokio::task::block_in_place(|| c.pg.psql(&db, &sql)).unwrap();
    let v: Vec<i64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
    (v[0], v[1], v[2])
}

/// Runs `manager ARGS --bootstrap ...` against the cluster: `(success, stdout, stderr)`.
async fn manager_cli(c: &ManagedCluster, args: &[&str]) -> (bool, String, String) {
    cli(
        "manager",
        &format!("{} --bootstrap {}", args.join(" "), c.bootstrap()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_bytes_trims_every_replica_and_consumers_reset() {
    let c = ManagedCluster::start_with_env(3, 3, &[], &[("RAFTBUS_RETENTION__INTERVAL_MS", "300")])
        .await
        .unwrap();
    let req = CreateTopicRequest {
        name: TOPIC.into(),
        partitions: Some(1),
        replication_factor: Some(3),
        retention: Default::default(),
    };
    let info = c
        .admin
        .create_topic(&req, Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(info.ready);
    assert_eq!(
        (info.retention_ms, info.retention_bytes),
        (7 * 24 * 3_600_000, UNLIMITED),
        "cluster defaults: 7 days, unlimited"
    );
    let group = info.partition_info[0].group_id;
    let leader = info.partition_info[0].leader_addr.clone().unwrap();

    for b in 0..BATCHES {
        let values: Vec<String> = (0..PER_BATCH)
            .map(|i| format!("{:0>100}", b * PER_BATCH + i))
            .collect();
        c.client
            .produce(&leader, TOPIC, 0, batch_of(&values), None)
            .await
            .unwrap_or_else(|e| panic!("produce: {e}\n{}", c.logs(20)));
    }
    let end = (BATCHES * PER_BATCH) as u64;
    for i in 0..3 {
        let what = format!("broker-{} to store all {BATCHES} batches", i + 1);
        wait_until(
            &what,
            Duration::from_secs(20),
            Duration::from_millis(100),
            || async { stored(&c, i, group).1 == BATCHES as i64 },
        )
        .await
        .unwrap();
    }
    let before: Vec<_> = (0..3).map(|i| stored(&c, i, group)).collect();
    println!("before retention (first offset, batches, bytes) per replica: {before:?}");

    // Bad input: 400 with a JSON body naming the field; unknown topic: 404.
    let bad = RetentionSpec {
        retention_ms: None,
        retention_bytes: Some(0),
    };
    match c.admin.alter_topic(TOPIC, &bad).await {
        Err(SdkError::Api { status: 400, body }) => {
            assert!(body.message.contains("retention_bytes"), "{}", body.message)
        }
        other => panic!("expected 400, got {other:?}"),
    }
    let ok = RetentionSpec {
        retention_ms: None,
        retention_bytes: Some(LIMIT),
    };
    match c.admin.alter_topic("no-such-topic", &ok).await {
        Err(SdkError::Api { status: 404, body }) => {
            assert_eq!(body.code, ErrorCode::UnknownTopic)
        }
        other => panic!("expected 404, got {other:?}"),
    }
    let (success, _, err) =
        manager_cli(&c, &["topic", "alter", TOPIC, "--retention-ms", "0"]).await;
    assert!(!success && err.starts_with("error:"), "{err}");

    // The alter through the CLI.
    let limit = LIMIT.to_string();
    let (success, out, err) =
        manager_cli(&c, &["topic", "alter", TOPIC, "--retention-bytes", &limit]).await;
    assert!(success, "{err}");
    assert!(out.contains(&format!("retention-bytes {LIMIT}")), "{out}");

    // Every replica trims to the same start, below which nothing is stored.
    let start = wait_until(
        "every replica to trim to the same log start offset",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let mut starts = Vec::new();
            for i in 0..3 {
                let s = c
                    .client
                    .partition_status(&c.brokers[i].api_addr().to_string(), TOPIC, 0)
                    .await
                    .map_err(|e| e.to_string())?;
                starts.push(s.log_start_offset);
            }
            if starts[0] == 0 || starts.iter().any(|s| *s != starts[0]) {
                return Err(format!("log start offsets {starts:?}"));
            }
            Ok(starts[0])
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", c.logs(30)));
    let after: Vec<_> = (0..3).map(|i| stored(&c, i, group)).collect();
    println!("after retention-bytes={LIMIT}: log start offset {start}; per replica {after:?}");
    for (first, batches, bytes) in &after {
        assert_eq!(*first as u64, start, "first stored batch is the log start");
        assert!(*bytes <= LIMIT, "stored {bytes} bytes > limit {LIMIT}");
        assert!(*batches > 0 && (*batches as usize) < BATCHES);
        assert_eq!(start % PER_BATCH as u64, 0, "whole batches only");
    }
    assert_eq!(after[0], after[1]);
    assert_eq!(after[1], after[2]);

    // describe reports it (from the leader's heartbeat).
    wait_until(
        "describe to show the new log start offset",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let t = c.admin.describe_topic(TOPIC).await.ok()?;
            let p = &t.partition_info[0];
            (p.log_start_offset == start && p.log_end_offset == end && t.retention_bytes == LIMIT)
                .then_some(())
        },
    )
    .await
    .unwrap();
    let (success, out, err) = manager_cli(&c, &["topic", "describe", TOPIC]).await;
    assert!(success, "{err}");
    println!("{out}");
    assert!(
        out.contains("LOG-START-OFFSET") && out.contains(&format!(" {start} ")),
        "{out}"
    );

    // Below the start: 416 offset_out_of_range carrying the log start offset.
    let leader = c.admin.describe_topic(TOPIC).await.unwrap().partition_info[0]
        .leader_addr
        .clone()
        .unwrap();
    match c
        .client
        .fetch(&leader, TOPIC, 0, start - 1, 1 << 20, Duration::ZERO)
        .await
    {
        Err(SdkError::Api { status: 416, body }) => {
            assert_eq!(body.code, ErrorCode::OffsetOutOfRange);
            assert_eq!(body.log_start_offset, Some(start));
            assert_eq!(body.high_watermark, Some(end));
        }
        other => panic!("expected 416, got {:?}", other.map(|f| f.high_watermark)),
    }

    // reset=earliest continues from the new start and reads to the end.
    let cfg = ConsumerConfig::new(c.bootstrap()).reset(ResetPolicy::Earliest);
    let mut consumer = Consumer::connect(cfg, TOPIC).await.unwrap();
    consumer.assign(&[(0, StartFrom::Offset(0))]).await.unwrap();
    // Bounded by count and time; each poll itself waits for records (no sleeps).
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while (got.len() as u64) < end - start {
        assert!(Instant::now() < deadline, "read only {} records", got.len());
        let recs = consumer.poll(Duration::from_millis(300)).await.unwrap();
        got.extend(recs.into_iter().map(|r| r.offset));
    }
    assert_eq!(
        got,
        (start..end).collect::<Vec<_>>(),
        "continues from the new start"
    );
    println!("reset=earliest consumer read offsets {start}..{end}");

    // reset=fail reports the error instead.
    let cfg = ConsumerConfig::new(c.bootstrap()).reset(ResetPolicy::Fail);
    let mut strict = Consumer::connect(cfg, TOPIC).await.unwrap();
    strict.assign(&[(0, StartFrom::Offset(0))]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let err = loop {
        assert!(
            Instant::now() < deadline,
            "reset=fail never reported an error"
        );
        if let Err(e) = strict.poll(Duration::from_millis(300)).await {
            break e;
        }
    };
    assert_eq!(err.code(), Some(ErrorCode::OffsetOutOfRange), "{err}");

    // The consumer CLI's --reset flag: earliest continues at the start, fail is one error line.
    let from_zero = format!(
        "--bootstrap {} --topic {TOPIC} --partition 0 --offset 0 --timeout-ms 3000",
        c.bootstrap()
    );
    let (success, out, err) = cli(
        "consumer",
        &format!("{from_zero} --reset earliest --max-messages 1 --print-offset"),
    )
    .await;
    assert!(success, "{err}");
    assert!(out.starts_with(&format!("0\t{start}\t")), "{out}");
    let (success, _, err) = cli("consumer", &format!("{from_zero} --reset fail")).await;
    assert!(!success && err.contains("offset_out_of_range"), "{err}");

    // Retention by age: with retention_ms = 1 s every batch is due; all replicas empty out.
    let by_age = RetentionSpec {
        retention_ms: Some(1_000),
        retention_bytes: None,
    };
    c.admin.alter_topic(TOPIC, &by_age).await.unwrap();
    wait_until(
        "every replica to drop every batch older than 1 s",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let s: Vec<_> = (0..3).map(|i| stored(&c, i, group)).collect();
            s.iter().all(|(_, batches, _)| *batches == 0).then_some(())
        },
    )
    .await
    .unwrap();
    for i in 0..3 {
        let s = c
            .client
            .partition_status(&c.brokers[i].api_addr().to_string(), TOPIC, 0)
            .await
            .unwrap();
        assert_eq!((s.log_start_offset, s.log_end_offset), (end, end));
    }
    println!("retention_ms=1000: every replica empty, log start = log end = {end}");
}

/// Runs a CLI with whitespace-separated `args` (bounded): `(success, stdout, stderr)`.
async fn cli(bin: &str, args: &str) -> (bool, String, String) {
    let run = tokio::process::Command::new(bin_path(bin).unwrap())
        .args(args.split_whitespace())
        .env_remove("RAFTBUS_BOOTSTRAP")
        .envs(raftbus_tests::pki::client_env())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("CLI finished within 30 s")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Retention by age with the cluster default (7 days) never trims records that were just
/// produced. A leader publishes its high watermark before the applied state is written (the
/// batches are readable from memory meanwhile), so a retention tick that judged "no batch is
/// young enough" from the stored rows up to the published watermark would trim the newest
/// records of a partition with nothing stored yet. The crash test caught exactly that (offset
/// 0 of a new topic gone 3 s after its ack). Here a retention tick every 10 ms races the first
/// batch of each of 24 partitions (each race lost about one time in five before the fix).
#[tokio::test(flavor = "multi_thread")]
async fn retention_by_age_never_trims_what_was_just_produced() {
    const PARTITIONS: u32 = 24;
    const PER_PARTITION: u64 = 5;
    let c = ManagedCluster::start_with_env(1, 3, &[], &[("RAFTBUS_RETENTION__INTERVAL_MS", "10")])
        .await
        .unwrap();
    let req = CreateTopicRequest {
        name: "young".into(),
        partitions: Some(PARTITIONS),
        replication_factor: Some(3),
        retention: Default::default(),
    };
    let info = c
        .admin
        .create_topic(&req, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(info.retention_ms, 7 * 24 * 3_600_000, "cluster default");
    // One record at a time, no linger: every record is its own batch and Raft entry.
    let cfg = ProducerConfig::new(c.bootstrap()).linger(Duration::ZERO);
    let producer = Producer::connect(cfg, "young").await.unwrap();
    for i in 0..PER_PARTITION {
        for p in 0..PARTITIONS {
            let d = producer
                .send(Record::new(format!("r{i}")).to_partition(p))
                .await
                .unwrap()
                .await
                .unwrap_or_else(|e| panic!("produce {i} to {p}: {e}\n{}", c.logs(20)));
            assert_eq!(d.offset, Some(i));
        }
    }
    producer.close().await.unwrap();
    // Trims are applied on every replica: whoever leads now, each replica's log start is 0.
    for b in &c.brokers {
        for p in 0..PARTITIONS {
            let s = c
                .client
                .partition_status(&b.api_addr().to_string(), "young", p)
                .await
                .unwrap();
            assert_eq!(
                s.log_start_offset,
                0,
                "young records trimmed on broker {}: {s:?}\n{}",
                b.node_id(),
                c.logs(20)
            );
        }
    }
    println!(
        "{PARTITIONS} partitions x {PER_PARTITION} single-record batches under a 10 ms retention \
         tick: log start 0 everywhere"
    );
}
