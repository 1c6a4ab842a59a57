//! Kafka clients against the brokers' Kafka listener (issue 14), over TLS with SASL/PLAIN
//! (the admin token): `kcat -L` lists the brokers, the topic and its leaders; `kcat -P` sends
//! 10,000 keyed lines (lz4-compressed batches) that `kcat -C -e` reads back in order per
//! partition; the `consumer` CLI reads the same records at the same offsets; and records the
//! `producer` CLI sends are read by kcat at the offsets the CLI printed (one record space);
//! kafka-python creates, describes, writes, reads and deletes a topic; and a group's offsets
//! are the same whether the `consumer` CLI or a Kafka client committed them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use raftbus_tests::piped::Piped;
use raftbus_tests::{bin_path, kafka, wait_until};
use tokio::process::Command;

const N: usize = 10_000;

/// confluent-kafka with `group.id` and assigned partitions: reads the group's committed
/// offsets (committed by the `consumer` CLI), commits `5 + partition`, reads them again.
const OFFSETS: &str = r#"
import json, sys
from confluent_kafka import Consumer, TopicPartition
props = json.loads(sys.argv[1]); topic = sys.argv[2]; n = int(sys.argv[3])
c = Consumer({**props, "group.id": "kg", "enable.auto.commit": False})
parts = [TopicPartition(topic, p, 0) for p in range(n)]
# Offsets another API committed are visible here first.
print("BEFORE", sorted((t.partition, t.offset) for t in c.committed(parts, timeout=20)), flush=True)
c.commit(offsets=[TopicPartition(topic, p, 5 + p) for p in range(n)], asynchronous=False)
print("AFTER", sorted((t.partition, t.offset) for t in c.committed(parts, timeout=20)), flush=True)
c.close()
"#;

/// kafka-python (its own protocol code, not librdkafka): CreateTopics, DescribeConfigs,
/// gzip-compressed produce, fetch from the beginning with assigned partitions, ListOffsets by
/// timestamp, DeleteTopics.
const KAFKA_PYTHON: &str = r#"
import sys
from kafka import KafkaAdminClient, KafkaProducer, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic, ConfigResource, ConfigResourceType
bs, token, ca, rf = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conf = dict(bootstrap_servers=bs.split(","), security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
            sasl_plain_username="admin", sasl_plain_password=token, ssl_cafile=ca)
admin = KafkaAdminClient(**conf)
admin.create_topics([NewTopic("kp", num_partitions=2, replication_factor=rf)], timeout_ms=30000)
cfg = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp")])
print("CONFIGS", cfg, flush=True)
prod = KafkaProducer(acks="all", compression_type="gzip", **conf)
for i in range(100):
    prod.send("kp", key=b"k%d" % (i % 7), value=b"p%d" % i)
prod.flush(30)
cons = KafkaConsumer(consumer_timeout_ms=3000, **conf)
parts = [TopicPartition("kp", p) for p in (0, 1)]
cons.assign(parts)
cons.seek_to_beginning()
got = [(m.partition, m.offset, m.key.decode(), m.value.decode()) for m in cons]
print("READ", len(got), sorted(got)[:2], flush=True)
print("TIMES", cons.offsets_for_times({tp: 0 for tp in parts}), flush=True)
admin.delete_topics(["kp"], timeout_ms=30000)
print("DELETED", flush=True)
"#;
const KEYS: usize = 50;

/// Runs `program args` with `stdin`, bounded: `(success, stdout, stderr)`.
pub(crate) async fn run(
    program: &std::path::Path,
    args: &[String],
    env: &[(String, String)],
    stdin: &str,
) -> (bool, String, String) {
    let mut cmd = Command::new(program);
    cmd.args(args).envs(env.iter().map(|(k, v)| (k, v)));
    let (status, out, err) = Piped::run(&mut cmd, stdin, Duration::from_secs(90)).await;
    (status.success(), out.join("\n"), err)
}

/// kcat with the cluster's connection properties first.
pub(crate) fn kcat_args(bs: &str, rest: &[&str]) -> Vec<String> {
    let mut a = kafka::kcat_args(bs);
    a.extend(rest.iter().map(|s| s.to_string()));
    a
}

/// The whitespace-separated words of `s`, as arguments.
pub(crate) fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

/// The `partition \t offset` lines `producer --print-offsets` prints.
pub(crate) fn printed_offsets(out: &str) -> Vec<(u32, u64)> {
    out.lines()
        .map(|l| {
            let (p, o) = l.split_once('\t').unwrap();
            (p.parse().unwrap(), o.parse().unwrap())
        })
        .collect()
}

/// `partition \t offset \t key \t value` lines.
fn parse(out: &str) -> Vec<(u32, u64, String, String)> {
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, '\t').collect();
            assert_eq!(f.len(), 4, "{l:?}");
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].into(),
                f[3].into(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn t110_kcat_and_the_cli_share_one_record_space() {
    let kcat = kafka::kcat().expect("kcat is needed (Debian package kcat)");
    let (c, _) = kafka::cluster_with_topic(3, "kt", 3).await.unwrap();
    let bs = c.kafka_bootstrap();

    // 1. Metadata: every broker, and a leader for every partition.
    let list = wait_until(
        "kcat -L to list 3 brokers and 3 partitions with leaders",
        Duration::from_secs(30),
        Duration::from_millis(300),
        || async {
            let args = kcat_args(&bs, &["-L", "-t", "kt", "-m", "5"]);
            let (ok, out, _) = run(&kcat, &args, &[], "").await;
            let leaders = out
                .lines()
                .filter(|l| l.contains("partition ") && !l.contains("leader -1"))
                .count();
            (ok && out.contains(" 3 brokers:") && leaders == 3).then_some(out)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", c.logs(30)));
    println!("kcat -L:\n{list}");
    // A wrong token is refused at SASL: nothing is listed.
    let mut args = kcat_args(&bs, &["-L", "-m", "3"]);
    for a in args.iter_mut().filter(|a| a.starts_with("sasl.password=")) {
        *a = "sasl.password=rb_not_a_token".into();
    }
    let (ok, out, err) = run(&kcat, &args, &[], "").await;
    assert!(
        !ok && !out.contains("brokers:"),
        "a wrong token listed: {out}"
    );
    assert!(
        err.contains("uthentication"),
        "kcat -L with a wrong token: {err}"
    );

    // 2. 10,000 keyed lines in lz4-compressed batches.
    let input: String = (0..N).map(|i| format!("k{}:v{i}\n", i % KEYS)).collect();
    let started = Instant::now();
    let args = kcat_args(&bs, &["-P", "-t", "kt", "-K:", "-z", "lz4"]);
    let (ok, _, err) = run(&kcat, &args, &[], &input).await;
    assert!(ok, "kcat -P failed: {err}\n{}", c.logs(30));
    println!("kcat -P: {N} records in {:?}", started.elapsed());

    // 3. Read back to the end of every partition.
    let fmt = "%p\t%o\t%k\t%s\n";
    let args = kcat_args(&bs, &["-C", "-t", "kt", "-e", "-o", "beginning", "-f", fmt]);
    let started = Instant::now();
    let (ok, out, err) = run(&kcat, &args, &[], "").await;
    assert!(ok, "kcat -C failed: {err}");
    let read = parse(&out);
    println!("kcat -C: {} records in {:?}", read.len(), started.elapsed());
    assert_eq!(read.len(), N, "kcat -C read {} records", read.len());
    let mut next: BTreeMap<u32, u64> = BTreeMap::new();
    let mut key_at: HashMap<String, (u32, usize)> = HashMap::new();
    for (p, o, k, v) in &read {
        let want = next.entry(*p).or_default();
        assert_eq!(*o, *want, "partition {p}: offsets in order, none missing");
        *want += 1;
        let i: usize = v.trim_start_matches('v').parse().unwrap();
        assert_eq!(*k, format!("k{}", i % KEYS), "key of {v}");
        if let Some((kp, last)) = key_at.insert(k.clone(), (*p, i)) {
            assert!(
                kp == *p && last < i,
                "{k}: v{last} on {kp}, then {v} on {p}"
            );
        }
    }
    println!("per partition: {next:?}");

    // 4. The consumer CLI reads the same records at the same offsets.
    let cli = |bin: &str| bin_path(bin).unwrap();
    let args = words(&format!(
        "--bootstrap {} --topic kt --from-beginning --print-key --print-offset --timeout-ms 3000",
        c.bootstrap()
    ));
    let env = raftbus_tests::pki::client_env();
    let (ok, out, err) = run(&cli("consumer"), &args, &env, "").await;
    assert!(ok, "consumer failed: {err}");
    let by_cli: HashSet<_> = parse(&out).into_iter().collect();
    let by_kcat: HashSet<_> = read.into_iter().collect();
    assert_eq!(by_cli.len(), N, "consumer CLI read {}", by_cli.len());
    assert!(by_cli == by_kcat, "consumer CLI and kcat disagree");

    // 5. The other way round: the producer CLI's records, read by kcat at the printed offsets.
    let args = words(&format!(
        "--bootstrap {} --topic kt --key-separator : --print-offsets",
        c.bootstrap()
    ));
    let lines: String = (0..20).map(|i| format!("x{i}:w{i}\n")).collect();
    let (ok, out, err) = run(&cli("producer"), &args, &env, &lines).await;
    assert!(ok, "producer failed: {err}");
    let acked = printed_offsets(&out);
    assert_eq!(acked.len(), 20);
    for (i, (p, o)) in acked.iter().enumerate() {
        let (p, o) = (p.to_string(), o.to_string());
        let args = kcat_args(
            &bs,
            &["-C", "-t", "kt", "-p", &p, "-o", &o, "-c", "1", "-f", fmt],
        );
        let (ok, out, err) = run(&kcat, &args, &[], "").await;
        assert!(ok, "kcat -C -p {p} -o {o}: {err}");
        assert_eq!(
            parse(&out),
            [(
                p.parse().unwrap(),
                o.parse().unwrap(),
                format!("x{i}"),
                format!("w{i}")
            )]
        );
    }

    // 6. kafka-python, a second client implementation.
    let py = kafka::python().expect("a venv with kafka-python (pip)");
    let script = c.dir.path().join("kp.py");
    std::fs::write(&script, KAFKA_PYTHON).unwrap();
    let ca = raftbus_tests::pki::dir()
        .join("ca.pem")
        .display()
        .to_string();
    let token = raftbus_tests::pki::admin_token();
    let args = [
        script.display().to_string(),
        bs.clone(),
        token,
        ca,
        "3".into(),
    ];
    let (ok, out, err) = run(&py, &args, &[], "").await;
    println!("kafka-python:\n{out}");
    assert!(ok, "kafka-python failed: {err}\n{}", c.logs(20));
    assert!(out.contains("'retention.ms'"), "DescribeConfigs: {out}");
    assert!(out.contains("READ 100 "), "kafka-python read back: {out}");
    assert!(out.contains("DELETED"), "{out}");

    // 7. Offsets: the CLI's group commits are read by a Kafka client, and the other way round.
    let args = words(&format!(
        "--bootstrap {} --topic kt --group kg --from-beginning --timeout-ms 3000",
        c.bootstrap()
    ));
    let (ok, out, err) = run(&cli("consumer"), &args, &env, "").await;
    assert!(ok, "consumer --group failed: {err}");
    assert_eq!(out.lines().count(), N + 20, "the group read everything");
    let mut ends: BTreeMap<u32, u64> = next.clone();
    for (p, o) in &acked {
        let e = ends.entry(*p).or_default();
        *e = (*e).max(o + 1);
    }
    let props: serde_json::Map<String, serde_json::Value> = kafka::rdkafka_props(&bs)
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    let script = c.dir.path().join("offsets.py");
    std::fs::write(&script, OFFSETS).unwrap();
    let props = serde_json::Value::Object(props).to_string();
    let args = [script.display().to_string(), props, "kt".into(), "3".into()];
    let (ok, out, err) = run(&py, &args, &[], "").await;
    println!("confluent-kafka offsets:\n{out}");
    assert!(ok, "offsets script failed: {err}");
    let before: Vec<String> = ends.iter().map(|(p, o)| format!("({p}, {o})")).collect();
    assert!(
        out.contains(&format!("BEFORE [{}]", before.join(", "))),
        "{out}"
    );
    assert!(out.contains("AFTER [(0, 5), (1, 6), (2, 7)]"), "{out}");
    let args = words(&format!(
        "--bootstrap {} --topic kt --group kg --timeout-ms 3000 --print-offset --print-key",
        c.bootstrap()
    ));
    let (ok, out, err) = run(&cli("consumer"), &args, &env, "").await;
    assert!(ok, "consumer --group (again) failed: {err}");
    let resumed = parse(&out);
    for p in 0..3u32 {
        let first = resumed.iter().find(|r| r.0 == p).map(|r| r.1);
        assert_eq!(
            first,
            Some(5 + u64::from(p)),
            "partition {p} resumes at the Kafka commit"
        );
    }
    let skipped: u64 = (0..3).map(|p| 5 + p).sum();
    assert_eq!(resumed.len() as u64, (N + 20) as u64 - skipped);
}
