//! Issue 13, backpressure: 1,000 concurrent idempotent producers on one partition and 5,000
//! concurrent long polls on one broker. Requests over the documented limits
//! (`limits.max_queued_bytes`, `limits.max_long_polls`, set low here) get `429 busy` at once
//! and are retried with backoff, as the sdk does (so is a long poll answered with the
//! retryable `unavailable` when a starved leader cannot confirm its lease in time); `/health`
//! keeps answering throughout, the leader's memory stays bounded (peak RSS printed), and every
//! acknowledged record is readable afterwards exactly once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use raftbus_protocol::api::{FetchParams, ProduceParams};
use raftbus_protocol::{RecordBatch, routes};
use raftbus_tests::cluster::BrokerCluster;
use reqwest::StatusCode;
use uuid::Uuid;

const TOPIC: &str = "flood";
const PRODUCERS: usize = 1_000;
const BATCHES_EACH: u64 = 3;
const RECORDS_PER_BATCH: usize = 8;
const LONG_POLLS: usize = 5_000;
/// Clients (connections) the producers and pollers spread over.
const CONNECTIONS: usize = 16;
const RSS_LIMIT_MIB: u64 = 400;

fn value(p: usize, seq: u64, i: usize) -> String {
    format!("{p:04}-{seq}-{i}-{}", "x".repeat(1_000))
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Counts of the answers the flood got.
#[derive(Default)]
struct Tally {
    acked: AtomicU64,
    busy: AtomicU64,
    polled: AtomicU64,
    polls_busy: AtomicU64,
    /// Retryable `unavailable` answers to long polls (each retried until it got 200 or 429).
    polls_unavailable: AtomicU64,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_gets_busy_answers_and_loses_nothing() {
    let env = [
        ("RAFTBUS_LIMITS__MAX_BATCH_BYTES", "65536"),
        ("RAFTBUS_LIMITS__MAX_QUEUED_BYTES", "262144"),
        ("RAFTBUS_LIMITS__MAX_LONG_POLLS", "1000"),
    ];
    let c = BrokerCluster::start_with_env(3, &env).await.unwrap();
    c.create_partition(TOPIC, 0, 0).await.unwrap();
    c.create_partition(TOPIC, 1, 0).await.unwrap();
    let leader = c
        .wait_leader(TOPIC, 0, Duration::from_secs(30))
        .await
        .unwrap();
    // Both partitions prefer broker 0; long polls go to partition 1's leader.
    let poll_leader = c
        .wait_leader(TOPIC, 1, Duration::from_secs(30))
        .await
        .unwrap();
    let base = c.brokers[leader].api_url();
    let poll_base = c.brokers[poll_leader].api_url();
    let clients: Vec<reqwest::Client> = (0..CONNECTIONS)
        .map(|_| raftbus_tests::pki::client())
        .collect();
    let tally = Arc::new(Tally::default());
    let done = Arc::new(AtomicBool::new(false));

    // Health and memory, sampled while the flood runs.
    let pid = c.brokers[leader].daemon_pid().unwrap();
    let watch = {
        let (done, health) = (done.clone(), raftbus_tests::pki::client());
        let url = format!("{base}/health");
        tokio::spawn(async move {
            let (mut peak, mut slowest, mut probes) = (0u64, Duration::ZERO, 0u32);
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                let t = Instant::now();
                let r = health
                    .get(&url)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                let status = r.map(|r| r.status()).map_err(|e| e.to_string());
                assert_eq!(status, Ok(StatusCode::OK), "/health during the flood");
                slowest = slowest.max(t.elapsed());
                probes += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (peak.max(rss_kib(pid)) / 1024, slowest, probes)
        })
    };

    let started = Instant::now();
    let polls = (0..LONG_POLLS).map(|k| {
        let (http, tally) = (clients[k % CONNECTIONS].clone(), tally.clone());
        let url = format!("{poll_base}{}", routes::partition_records(TOPIC, 1));
        let wait = FetchParams {
            offset: 0,
            max_bytes: None,
            wait_ms: Some(3000),
        };
        async move {
            // A leader that cannot confirm its lease in time (a starved machine) answers the
            // retryable `unavailable`; the client backs off and polls again, as the sdk does.
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut backoff = Duration::from_millis(50);
            loop {
                let r = http.get(&url).query(&wait).send().await;
                let r = r.expect("long poll transport");
                match r.status() {
                    StatusCode::OK => tally.polled.fetch_add(1, Ordering::Relaxed),
                    StatusCode::TOO_MANY_REQUESTS => {
                        let body: serde_json::Value = r.json().await.unwrap();
                        assert_eq!(body["code"], "busy", "{body}");
                        tally.polls_busy.fetch_add(1, Ordering::Relaxed)
                    }
                    StatusCode::SERVICE_UNAVAILABLE if Instant::now() < deadline => {
                        let body: serde_json::Value = r.json().await.unwrap();
                        assert_eq!(body["code"], "unavailable", "{body}");
                        tally.polls_unavailable.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_millis(500));
                        continue;
                    }
                    s => panic!("long poll answered {s}: {}", r.text().await.unwrap()),
                };
                break;
            }
        }
    });
    let produces = (0..PRODUCERS).map(|p| {
        let (http, tally) = (clients[p % CONNECTIONS].clone(), tally.clone());
        let base = base.clone();
        async move {
            let producer = Uuid::new_v4();
            let mut offsets = Vec::new();
            for seq in 0..BATCHES_EACH {
                let values: Vec<String> =
                    (0..RECORDS_PER_BATCH).map(|i| value(p, seq, i)).collect();
                let batch =
                    RecordBatch::from_records(values.iter().map(|v| (None, v.as_bytes())), 0);
                let url = format!("{base}{}", routes::partition_records(TOPIC, 0));
                let params = ProduceParams {
                    producer_id: Some(producer),
                    sequence: Some(seq),
                    ..ProduceParams::default()
                };
                let mut backoff = Duration::from_millis(20);
                let deadline = Instant::now() + Duration::from_secs(180);
                loop {
                    let r = http
                        .post(&url)
                        .query(&params)
                        .header("content-type", "application/octet-stream")
                        .body(batch.bytes().clone())
                        .send()
                        .await
                        .expect("produce transport");
                    let status = r.status();
                    let body: serde_json::Value = r.json().await.unwrap();
                    if status == StatusCode::OK {
                        tally.acked.fetch_add(1, Ordering::Relaxed);
                        offsets.push((seq, body["base_offset"].as_u64().unwrap()));
                        break;
                    }
                    let retry = status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::GATEWAY_TIMEOUT;
                    assert!(retry && Instant::now() < deadline, "{status}: {body}");
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        assert_eq!(body["code"], "busy", "{body}");
                        tally.busy.fetch_add(1, Ordering::Relaxed);
                    }
                    // The client's backoff, as the sdk does on a retryable answer.
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
            (p, offsets)
        }
    });
    let (acks, ()) = tokio::join!(futures::future::join_all(produces), async {
        futures::future::join_all(polls).await;
    });
    let flood_s = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let (peak_mib, slowest, probes) = watch.await.unwrap();

    // Every acknowledged batch is there once, at the offset it was acknowledged with.
    let records = c.read_all(TOPIC, 0).await.unwrap();
    let by_offset: HashMap<u64, String> = records
        .iter()
        .map(|(o, r)| (*o, String::from_utf8(r.value.to_vec()).unwrap()))
        .collect();
    assert_eq!(
        records.len(),
        PRODUCERS * BATCHES_EACH as usize * RECORDS_PER_BATCH
    );
    for (p, offsets) in &acks {
        for (seq, base) in offsets {
            for i in 0..RECORDS_PER_BATCH {
                assert_eq!(by_offset.get(&(base + i as u64)), Some(&value(*p, *seq, i)));
            }
        }
    }
    let t = &tally;
    println!(
        "FLOOD {PRODUCERS} producers x {BATCHES_EACH} batches: acked={} busy_answers={} | \
         {LONG_POLLS} long polls: answered={} busy={} unavailable_retried={} | {flood_s:.1} s | \
         /health {probes} probes, slowest {} ms | leader peak RSS {peak_mib} MiB",
        t.acked.load(Ordering::Relaxed),
        t.busy.load(Ordering::Relaxed),
        t.polled.load(Ordering::Relaxed),
        t.polls_busy.load(Ordering::Relaxed),
        t.polls_unavailable.load(Ordering::Relaxed),
        slowest.as_millis(),
    );
    assert_eq!(
        t.acked.load(Ordering::Relaxed),
        PRODUCERS as u64 * BATCHES_EACH
    );
    assert!(
        t.busy.load(Ordering::Relaxed) > 0,
        "the produce queue limit never applied"
    );
    assert!(
        t.polls_busy.load(Ordering::Relaxed) > 0,
        "the long-poll limit never applied"
    );
    assert_eq!(
        t.polled.load(Ordering::Relaxed) + t.polls_busy.load(Ordering::Relaxed),
        LONG_POLLS as u64
    );
    assert!(peak_mib < RSS_LIMIT_MIB, "leader peak RSS {peak_mib} MiB");
}
