//! The `producer` and `consumer` CLIs end to end against a real cluster (3 managers, 3
//! brokers): what a user pipes in comes out exactly once, keys keep their partition and order,
//! group members split the work, a killed consumer or a killed partition leader loses nothing,
//! and user errors are one `error:` line. Stdin fed in steps, gated on observed progress (not
//! on timing), puts the kills mid-stream.

use std::collections::{BTreeSet, HashMap};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use raftbus_protocol::meta::CreateTopicRequest;
use raftbus_tests::manager::ManagedCluster;
use raftbus_tests::piped::Piped;
use raftbus_tests::{bin_path, wait_until};
use tokio::process::Command;

/// The CLI `bin` with whitespace-separated `args`, talking to the test cluster's managers
/// only through `--bootstrap` (a `RAFTBUS_BOOTSTRAP` of the environment is removed).
fn cli(bin: &str, args: &str) -> Command {
    let mut cmd = Command::new(bin_path(bin).unwrap());
    cmd.args(args.split_whitespace())
        .env_remove("RAFTBUS_BOOTSTRAP")
        .envs(raftbus_tests::pki::client_env());
    cmd
}

/// Starts `bin args` with its pipes collected.
fn spawn(bin: &str, args: &str) -> Piped {
    Piped::spawn(&mut cli(bin, args))
}

/// Runs `bin args` with `stdin` to completion (within `timeout` seconds).
async fn run(
    bin: &str,
    args: &str,
    stdin: &str,
    timeout: u64,
) -> (ExitStatus, Vec<String>, String) {
    Piped::run(&mut cli(bin, args), stdin, Duration::from_secs(timeout)).await
}

/// A cluster with a write manager and, when `partitions > 0`, the RF-3 topic `topic`.
async fn cluster(env: &[(&str, &str)], topic: &str, partitions: u32) -> ManagedCluster {
    let c = ManagedCluster::start(3, 3, env).await.unwrap();
    c.write_manager(Duration::from_secs(20)).await.unwrap();
    if partitions > 0 {
        let (name, partitions) = (topic.into(), Some(partitions));
        let req = CreateTopicRequest {
            name,
            partitions,
            replication_factor: Some(3),
            retention: Default::default(),
        };
        let t = c
            .admin
            .create_topic(&req, Some(Duration::from_secs(30)))
            .await
            .unwrap();
        assert!(t.ready, "{t:?}");
    }
    c
}

/// Input lines `v0..v{n-1}`, each with its newline.
fn values(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("v{i}\n")).collect()
}

/// The `i` of each `v{i}` value in consumer output (the value is the last TAB field).
fn value_ids(lines: &[String]) -> Vec<usize> {
    let id = |l: &String| l.rsplit('\t').next().unwrap()[1..].parse().unwrap();
    lines.iter().map(id).collect()
}

/// Asserts every id in `0..n` appears exactly once in `ids`.
fn assert_exactly_once(ids: &[usize], n: usize) {
    let mut seen = vec![0u32; n];
    ids.iter().for_each(|&i| seen[i] += 1);
    let bad: Vec<(usize, u32)> = seen
        .into_iter()
        .enumerate()
        .filter(|&(_, k)| k != 1)
        .collect();
    assert!(
        bad.is_empty(),
        "{} ids not seen exactly once: {:?}",
        bad.len(),
        &bad[..bad.len().min(10)]
    );
}

/// Asserts a successful exit with exactly `n` lines of output.
fn assert_output(status: ExitStatus, out: &[String], n: usize, err: &str) {
    let lines = out.len();
    assert!(
        status.success() && lines == n,
        "{status}, {lines} lines, not {n}: {err}"
    );
}

/// The members' shared generation and partitions once both last reported the same
/// generation with partitions for each (reported after a poll, so in effect).
fn split(members: &[Piped]) -> Option<String> {
    let last: Vec<String> = members.iter().filter_map(|m| m.err_lines().pop()).collect();
    let parsed: Vec<(&str, &str)> = last.iter().filter_map(|l| parse_assignment(l)).collect();
    let agreed = parsed.len() == 2 && parsed[0].0 == parsed[1].0;
    (agreed && parsed.iter().all(|(_, p)| *p != "[]")).then(|| format!("{parsed:?}"))
}

/// `(generation, partitions)` of a `consumer -v` assignment line.
fn parse_assignment(line: &str) -> Option<(&str, &str)> {
    line.strip_prefix("consumer: generation ")?
        .split_once(", partitions ")
}

/// Tests 1 and 2: 100,000 keyed lines in, the same lines out of a group consumer, each key on
/// one partition in produced order; the group's second run prints nothing.
#[tokio::test(flavor = "multi_thread")]
async fn t90_keyed_lines_round_trip_in_order_through_a_group() {
    const N: usize = 100_000;
    let c = cluster(&[], "", 0).await;
    let bs = c.bootstrap();
    let input: String = (0..N).map(|i| format!("k{}:v{i}\n", i % 50)).collect();
    let started = Instant::now();
    let args = format!("--bootstrap {bs} --topic lines --key-separator : --print-offsets");
    let (status, out, err) = run("producer", &args, &input, 100).await;
    let secs = started.elapsed().as_secs_f64();
    assert_output(status, &out, N, &err);
    println!(
        "producer: {N} records in {secs:.2} s = {:.0} records/s (incl. process start)",
        N as f64 / secs
    );
    let slot = |p: &str, o: &str| -> (u32, u64) { (p.parse().unwrap(), o.parse().unwrap()) };
    let offsets: Vec<(u32, u64)> = out
        .iter()
        .map(|l| l.split_once('\t').map(|(p, o)| slot(p, o)).unwrap())
        .collect();
    let mut last: HashMap<usize, (u32, u64)> = HashMap::new();
    for (i, &(p, o)) in offsets.iter().enumerate() {
        if let Some((lp, lo)) = last.insert(i % 50, (p, o)) {
            let key = i % 50;
            assert!(lp == p && o > lo, "k{key}: ({lp},{lo}) then ({p},{o})");
        }
    }
    let distinct = offsets.iter().collect::<BTreeSet<_>>().len();
    assert_eq!(distinct, N, "distinct offsets");

    let args = format!("--bootstrap {bs} --topic lines --group g --from-beginning");
    let flags = "--timeout-ms 5000 --print-key --print-offset";
    let (status, out, err) = run("consumer", &format!("{args} {flags}"), "", 90).await;
    assert_output(status, &out, N, &err);
    let ids = value_ids(&out);
    assert_exactly_once(&ids, N);
    let mut last: HashMap<usize, usize> = HashMap::new();
    for (line, &i) in out.iter().zip(&ids) {
        let f: Vec<&str> = line.split('\t').collect();
        let key = format!("k{}", i % 50);
        assert_eq!((f[2], slot(f[0], f[1])), (&*key, offsets[i]), "{line}");
        let prev = last.insert(i % 50, i);
        assert!(prev.is_none_or(|p| p < i), "{key}: v{i} after v{prev:?}");
    }
    let (status, out, err) = run("consumer", &format!("{args} --timeout-ms 3000"), "", 60).await;
    assert_output(status, &out, 0, &err);
}

/// Test 3: two members of one group, each printing its share, together print all once.
#[tokio::test(flavor = "multi_thread")]
async fn t90_two_group_members_print_every_record_once() {
    const N: usize = 20_000;
    let c = cluster(&[], "split", 4).await;
    let bs = c.bootstrap();
    let args =
        format!("--bootstrap {bs} --topic split --group g --from-beginning --timeout-ms 10000 -v");
    let members = [spawn("consumer", &args), spawn("consumer", &args)];
    // Records flow only once both run one generation's split (they print it after a poll).
    let two_way = || async { split(&members) };
    let (second, ms) = (Duration::from_secs(20), Duration::from_millis(50));
    let split = wait_until("a 2-way split", second, ms, two_way)
        .await
        .unwrap();
    println!("group split (generation, partitions): {split}");
    let args = format!("--bootstrap {bs} --topic split");
    let (status, _, err) = run("producer", &args, &values(N).concat(), 60).await;
    assert!(status.success(), "producer: {err}");
    let mut all = Vec::new();
    for m in members {
        let (status, out, err) = m.finish(Duration::from_secs(60)).await;
        println!("member printed {} records", out.len());
        assert!(status.success() && !out.is_empty(), "{status}: {err}");
        all.extend(value_ids(&out));
    }
    assert_exactly_once(&all, N);
}

/// Test 4: a member killed with SIGKILL after it committed, while records keep coming; a
/// restarted member of the same group prints everything it had not committed.
#[tokio::test(flavor = "multi_thread")]
async fn t90_consumer_killed_mid_stream_resumes_without_loss() {
    const N: usize = 30_000;
    const STEP: usize = 500;
    let c = cluster(&[("RAFTBUS_HEARTBEAT__TIMEOUT_MS", "3000")], "resume", 3).await;
    let bs = c.bootstrap();
    let topic = c.admin.describe_topic("resume").await.unwrap();
    let leaders: Vec<String> = topic
        .partition_info
        .into_iter()
        .map(|p| p.leader_addr.unwrap())
        .collect();
    let committed = async || {
        for (p, addr) in leaders.iter().enumerate() {
            let r = c.client.read_offset(addr, "resume", p as u32, "g").await;
            if r.is_ok_and(|r| r.offset.is_some_and(|o| o > 0)) {
                return true;
            }
        }
        false
    };
    let args = format!("--bootstrap {bs} --topic resume --group g --from-beginning --timeout-ms");
    let first = spawn("consumer", &format!("{args} 60000"));
    let mut producer = spawn("producer", &format!("--bootstrap {bs} --topic resume"));
    let input = values(N);
    let mut sent = 0;
    // Feed in steps, each read back, until a third is in and the member has committed.
    while sent < N / 3 || !committed().await {
        assert!(sent < N, "no offset commit seen while {N} records flowed");
        let step = input[sent..sent + STEP].concat();
        producer.write(step.as_bytes()).await;
        sent += STEP;
        first.wait_out(sent).await;
    }
    let before = value_ids(&first.kill9().await);
    producer.write(input[sent..].concat().as_bytes()).await;
    let (status, _, err) = producer.finish(Duration::from_secs(60)).await;
    assert!(status.success(), "producer: {err}");
    // The dead member keeps its partitions until its heartbeat times out (3 s): the idle
    // timeout of the restarted one must outlast that.
    let (status, out, err) = run("consumer", &format!("{args} 10000"), "", 90).await;
    assert!(status.success(), "{status}: {err}");
    let after = value_ids(&out);
    let seen: BTreeSet<usize> = before.iter().copied().collect();
    let (repeated, new): (Vec<usize>, Vec<usize>) = after.iter().partition(|i| seen.contains(i));
    println!(
        "killed after {} of {N} records; the restart printed {}, {} of them repeated",
        before.len(),
        after.len(),
        repeated.len()
    );
    assert!(
        repeated.len() < before.len(),
        "resumed from committed offsets"
    );
    assert_exactly_once(&[before, new].concat(), N);
    let distinct = after.iter().collect::<BTreeSet<_>>().len();
    assert_eq!(distinct, after.len(), "no repeats within a run");
}

/// Test 5: `kill -9` of a partition leader while the producer sends 50,000 records.
#[tokio::test(flavor = "multi_thread")]
async fn t90_producer_survives_leader_kill_without_loss_or_duplicates() {
    const N: usize = 50_000;
    let mut c = cluster(&[], "failover", 3).await;
    let bs = c.bootstrap();
    let topic = c.admin.describe_topic("failover").await.unwrap();
    let leader = topic.partition_info[0].leader.unwrap();
    let victim = c
        .brokers
        .iter()
        .position(|b| b.node_id() == leader)
        .unwrap();
    let input = values(N);
    let mut p = spawn(
        "producer",
        &format!("--bootstrap {bs} --topic failover --print-offsets"),
    );
    p.write(input[..N / 5].concat().as_bytes()).await;
    p.wait_out(N / 10).await;
    let acked_before = p.out_len();
    c.brokers[victim].kill9().unwrap();
    let killed = Instant::now();
    p.write(input[N / 5..].concat().as_bytes()).await;
    let (status, out, err) = p.finish(Duration::from_secs(90)).await;
    println!(
        "killed broker-{leader} (leader of failover/0) after {acked_before} acks; the rest took {:.1} s",
        killed.elapsed().as_secs_f64()
    );
    assert_output(status, &out, N, &err);
    let args = format!("--bootstrap {bs} --topic failover --from-beginning --timeout-ms 5000");
    let (status, out, err) = run("consumer", &args, "", 60).await;
    assert!(status.success(), "{status}: {err}");
    assert_exactly_once(&value_ids(&out), N);
}

/// Test 6: wrong bootstrap, unknown topic without auto-create, a record over the size limit;
/// then both `perf` tools print their report line.
#[tokio::test(flavor = "multi_thread")]
async fn t90_user_errors_are_one_line_and_perf_tools_report() {
    let c = cluster(&[], "", 0).await;
    let bs = c.bootstrap();
    let big = format!("{}\n", "x".repeat(2 << 20));
    let rogue = tempfile::tempdir().unwrap();
    raftbus_tests::pki::certs_sh(rogue.path(), &["ca"]).unwrap();
    let rogue_ca = rogue.path().join("ca.pem").display().to_string();
    // `BS` stands for the cluster's bootstrap list.
    let cases = [
        (
            "producer",
            "--bootstrap 127.0.0.1:1 --topic t --value x",
            "",
            "cannot reach",
        ),
        (
            "producer",
            "--bootstrap BS --topic nope --no-auto-create --value x",
            "",
            "nope",
        ),
        ("producer", "--bootstrap BS --topic big", &big, "exceeds"),
        ("consumer", "--bootstrap BS --topic nope", "", "nope"),
        // Security: a wrong token, a CA that did not sign the cluster's certificates.
        (
            "producer",
            "--bootstrap BS --topic t --value x --token rb_wrong",
            "",
            "token is not valid",
        ),
        (
            "consumer",
            "--bootstrap BS --topic t --ca-cert ROGUE_CA",
            "",
            "certificate",
        ),
    ];
    for (bin, args, stdin, expect) in cases {
        let args = args.replace("BS", &bs).replace("ROGUE_CA", &rogue_ca);
        let (status, _, err) = run(bin, &args, stdin, 30).await;
        println!("{bin}: {err}");
        let one_line = err.lines().count() == 1 && err.starts_with("error:");
        assert!(
            !status.success() && one_line,
            "{bin} {args}: {status}, {err}"
        );
        assert!(err.contains(expect) && !err.contains("panicked"), "{err}");
        assert!(!err.contains("backtrace"), "{err}");
    }
    let args = format!("perf --bootstrap {bs} --topic perf --num-records 20000 --record-size 100");
    let (status, out, err) = run("producer", &args, "", 60).await;
    // The Kafka-style summary, then a machine-readable RESULT line.
    let last = out
        .iter()
        .rev()
        .find(|l| l.starts_with("20000 records sent, "))
        .cloned()
        .unwrap_or_default();
    println!("producer perf: {last}");
    assert!(
        status.success() && last.starts_with("20000 records sent, "),
        "{out:?} {err}"
    );
    assert!(
        last.ends_with(" ms 99th.") && last.contains("ms avg latency"),
        "{last}"
    );
    let args = format!("perf --bootstrap {bs} --topic perf --messages 20000 --timeout-ms 5000");
    let (status, out, err) = run("consumer", &args, "", 60).await;
    println!("consumer perf: {out:?}");
    assert!(
        status.success()
            && out.iter().any(|l| l.starts_with("20000 records, "))
            && out
                .last()
                .is_some_and(|l| l.starts_with("RESULT records=20000 ")),
        "{err}"
    );
    // --max-messages stops mid-batch; Ctrl-C (SIGINT) is a clean exit 0.
    let args = format!("--bootstrap {bs} --topic perf --from-beginning --max-messages 5");
    let (status, out, err) = run("consumer", &args, "", 30).await;
    assert_output(status, &out, 5, &err);
    let member = spawn(
        "consumer",
        &format!("--bootstrap {bs} --topic perf --group i -v"),
    );
    let assigned = || async {
        member
            .err_lines()
            .iter()
            .any(|l| parse_assignment(l).is_some())
    };
    let (second, ms) = (Duration::from_secs(20), Duration::from_millis(20));
    wait_until("assigned", second, ms, assigned).await.unwrap();
    let pid = member.child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (status, _, err) = member.finish(Duration::from_secs(20)).await;
    assert!(status.success(), "Ctrl-C: {status}: {err}");
    let left = || async { c.admin.group("i").await.is_ok_and(|g| g.members.is_empty()) };
    wait_until("left the group", second, ms, left)
        .await
        .unwrap();
}
