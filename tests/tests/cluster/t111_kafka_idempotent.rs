//! An idempotent librdkafka producer (confluent-kafka, `enable.idempotence=true`,
//! `acks=all`) streams records while the leader of its partition is killed with `kill -9`:
//! it finishes without an error and a read-back finds every record exactly once, in order
//! (issue 14, acceptance 3). Retried batches reach the new leader with their producer id and
//! sequences, which the partition deduplicates.

use std::process::Stdio;
use std::time::{Duration, Instant};

use raftbus_tests::{kafka, wait_until};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const N: usize = 4_000;

/// Produces `N` records `0..N` to partition 0, about 2 ms apart, printing `STARTED` once 200
/// are acknowledged and `DONE delivered errors` at the end.
const PRODUCER: &str = r#"
import json, sys, time
from confluent_kafka import Producer
props = json.loads(sys.argv[1]); n = int(sys.argv[2])
props.update({"enable.idempotence": True, "acks": "all", "linger.ms": 2,
              "message.timeout.ms": 60000})
p = Producer(props)
state = {"ok": 0, "err": []}
def report(err, msg):
    if err is None:
        state["ok"] += 1
        if state["ok"] == 200:
            print("STARTED", flush=True)
    else:
        state["err"].append(str(err))
for i in range(n):
    while True:
        try:
            p.produce("idem", value=str(i).encode(), partition=0, on_delivery=report)
            break
        except BufferError:
            p.poll(0.01)
    p.poll(0)
    time.sleep(0.002)
left = p.flush(90)
print("DONE", state["ok"], len(state["err"]), left, state["err"][:5], flush=True)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn t111_idempotent_producer_survives_leader_kill_exactly_once() {
    let py = kafka::python().expect("a venv with confluent-kafka (pip)");
    let kcat = kafka::kcat().expect("kcat (Debian package kcat)");
    let (mut c, t) = kafka::cluster_with_topic(3, "idem", 1).await.unwrap();
    let leader = t.partition_info[0].leader.expect("a leader");
    let bs = c.kafka_bootstrap();
    let props: serde_json::Map<String, serde_json::Value> = kafka::rdkafka_props(&bs)
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    let script = c.dir.path().join("idem.py");
    std::fs::write(&script, PRODUCER).unwrap();
    let mut child = Command::new(&py)
        .arg(&script)
        .arg(serde_json::Value::Object(props).to_string())
        .arg(N.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the producer acknowledged 200 records within 60 s")
        .unwrap();
    assert_eq!(first.as_deref(), Some("STARTED"), "{}", c.logs(20));
    let i = c
        .brokers
        .iter()
        .position(|b| b.node_id() == leader)
        .unwrap();
    c.brokers[i].kill9().unwrap();
    println!(
        "killed broker-{leader} (leader of idem/0) {:?} after the producer started",
        started.elapsed()
    );
    let done = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
        .await
        .expect("the producer finished within 120 s")
        .unwrap()
        .unwrap_or_default();
    println!("producer: {done} after {:?}", started.elapsed());
    assert!(
        done.starts_with(&format!("DONE {N} 0 0 ")),
        "every record delivered, no error: {done}\n{}",
        c.logs(30)
    );
    let _ = child.wait().await;

    // Read back from the surviving replicas (new leader elected already: the producer's last
    // acknowledgements came from it).
    let fmt = "%o\t%s\n";
    let live: Vec<String> = c
        .brokers
        .iter()
        .filter(|b| b.node_id() != leader)
        .map(|b| b.kafka_addr().to_string())
        .collect();
    let mut args = kafka::kcat_args(&live.join(","));
    args.extend(
        [
            "-C",
            "-t",
            "idem",
            "-p",
            "0",
            "-e",
            "-o",
            "beginning",
            "-f",
            fmt,
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let values = wait_until(
        "kcat to read idem/0 to its end",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || async {
            let out = Command::new(&kcat).args(&args).output().await.ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        },
    )
    .await
    .unwrap();
    let read: Vec<usize> = values
        .lines()
        .map(|l| l.split_once('\t').unwrap().1.parse().unwrap())
        .collect();
    println!("read back {} records", read.len());
    assert_eq!(
        read.len(),
        N,
        "exactly {N} records (no duplicate, none lost)"
    );
    assert!(
        read.iter().enumerate().all(|(i, v)| i == *v),
        "records in production order"
    );
}
