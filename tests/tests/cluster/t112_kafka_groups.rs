//! kafka-python consumers in one group (issue 14, acceptance 2): two members split the
//! partitions and together read every record once; when one leaves the other takes over its
//! partitions; a group started again resumes from the committed offsets (committed on close,
//! so nothing is read twice). JoinGroup/SyncGroup/Heartbeat/LeaveGroup with kafka-python's
//! own range assignor.

use std::collections::HashSet;
use std::time::Duration;

use raftbus_tests::piped::Piped;
use raftbus_tests::{bin_path, kafka, wait_until};
use tokio::process::Command;

const N: usize = 300;

/// One group member: prints `ASSIGNED p,p`, `REC partition offset value`, `CLOSED`; closes
/// (committing and leaving the group) on a line on stdin.
const MEMBER: &str = r#"
import sys, threading
from kafka import KafkaConsumer, ConsumerRebalanceListener
bs, token, ca, group, topic = sys.argv[1:6]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
class L(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked): pass
    def on_partitions_assigned(self, assigned):
        print("ASSIGNED", ",".join(str(p.partition) for p in sorted(assigned, key=lambda p: p.partition)), flush=True)
c = KafkaConsumer(bootstrap_servers=bs.split(","), security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                  sasl_plain_username="admin", sasl_plain_password=token, ssl_cafile=ca,
                  group_id=group, auto_offset_reset="earliest", enable_auto_commit=True,
                  auto_commit_interval_ms=500)
c.subscribe([topic], listener=L())
while not stop.is_set():
    for tp, msgs in c.poll(timeout_ms=200).items():
        for m in msgs:
            print("REC", m.partition, m.offset, m.value.decode(), flush=True)
c.close()
print("CLOSED", flush=True)
"#;

/// A running member and the lines it printed.
struct Member(Piped);

impl Member {
    fn start(py: &std::path::Path, script: &std::path::Path, bs: &str) -> Self {
        let ca = raftbus_tests::pki::dir()
            .join("ca.pem")
            .display()
            .to_string();
        Member(Piped::spawn(Command::new(py).arg(script).args([
            bs,
            &raftbus_tests::pki::admin_token(),
            &ca,
            "grp",
            "gt",
        ])))
    }

    /// The partitions of its last assignment.
    fn assigned(&self) -> Option<String> {
        let lines = self.0.out_lines();
        let last = lines.iter().rev().find(|l| l.starts_with("ASSIGNED"))?;
        Some(last.trim_start_matches("ASSIGNED").trim().to_string())
    }

    /// Values of the records it read.
    fn values(&self) -> Vec<String> {
        self.0
            .out_lines()
            .iter()
            .filter_map(|l| l.strip_prefix("REC "))
            .map(|r| r.splitn(3, ' ').nth(2).unwrap_or_default().to_string())
            .collect()
    }

    async fn close(&mut self) {
        self.0.write(b"stop\n").await;
        let closed = || async {
            self.0
                .out_lines()
                .iter()
                .any(|l| l == "CLOSED")
                .then_some(())
        };
        wait_until(
            "a member to close",
            Duration::from_secs(30),
            Duration::from_millis(100),
            closed,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}; stderr: {:?}", self.0.err_lines()));
    }
}

async fn produce(c: &raftbus_tests::manager::ManagedCluster, from: usize) {
    let mut cmd = Command::new(bin_path("producer").unwrap());
    cmd.args(["--bootstrap", &c.bootstrap(), "--topic", "gt"])
        .envs(raftbus_tests::pki::client_env());
    let input: String = (from..from + N).map(|i| format!("v{i}\n")).collect();
    let (status, _, err) = Piped::run(&mut cmd, &input, Duration::from_secs(60)).await;
    assert!(status.success(), "producer failed: {err}");
}

async fn wait_for(what: &str, check: impl Fn() -> bool) {
    wait_until(
        what,
        Duration::from_secs(60),
        Duration::from_millis(100),
        || {
            let ok = check();
            async move { ok.then_some(()) }
        },
    )
    .await
    .unwrap();
}

fn expect(range: std::ops::Range<usize>) -> HashSet<String> {
    range.map(|i| format!("v{i}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn t112_kafka_python_group_splits_takes_over_and_resumes() {
    let py = kafka::python().expect("a venv with kafka-python (pip)");
    let (c, _) = kafka::cluster_with_topic(3, "gt", 4).await.unwrap();
    let bs = c.kafka_bootstrap();
    let script = c.dir.path().join("member.py");
    std::fs::write(&script, MEMBER).unwrap();

    // Two members split the four partitions.
    let mut a = Member::start(&py, &script, &bs);
    wait_for("member A to own every partition", || {
        a.assigned().as_deref() == Some("0,1,2,3")
    })
    .await;
    let mut b = Member::start(&py, &script, &bs);
    wait_for("A and B to split the partitions", || {
        let (x, y) = (
            a.assigned().unwrap_or_default(),
            b.assigned().unwrap_or_default(),
        );
        let mut all: Vec<&str> = x
            .split(',')
            .chain(y.split(','))
            .filter(|p| !p.is_empty())
            .collect();
        all.sort();
        !x.is_empty() && !y.is_empty() && all == ["0", "1", "2", "3"]
    })
    .await;
    println!("split: A {:?}, B {:?}", a.assigned(), b.assigned());
    produce(&c, 0).await;
    wait_for("A and B to read the first batch", || {
        a.values().len() + b.values().len() >= N
    })
    .await;
    let both: Vec<String> = a.values().into_iter().chain(b.values()).collect();
    let unique: HashSet<String> = both.iter().cloned().collect();
    println!(
        "first batch: A read {}, B read {}",
        a.values().len(),
        b.values().len()
    );
    assert_eq!(both.len(), N, "every record read once");
    assert_eq!(unique, expect(0..N));

    // B leaves: A takes over its partitions.
    b.close().await;
    wait_for("A to own every partition again", || {
        a.assigned().as_deref() == Some("0,1,2,3")
    })
    .await;
    let before = a.values().len();
    produce(&c, N).await;
    wait_for("A to read the second batch", || {
        a.values().len() >= before + N
    })
    .await;
    let second: Vec<String> = a.values()[before..].to_vec();
    println!("second batch: A read {}", second.len());
    assert_eq!(second.len(), N);
    assert_eq!(second.into_iter().collect::<HashSet<_>>(), expect(N..2 * N));
    a.close().await;

    // The group, started again, resumes from its committed offsets.
    produce(&c, 2 * N).await;
    let mut d = Member::start(&py, &script, &bs);
    wait_for("the restarted group to read the third batch", || {
        d.values().len() >= N
    })
    .await;
    d.close().await;
    let third = d.values();
    println!("restarted group read {} records", third.len());
    assert_eq!(third.len(), N, "nothing committed is read again");
    assert_eq!(
        third.into_iter().collect::<HashSet<_>>(),
        expect(2 * N..3 * N)
    );
}
