//! Control traffic at scale (issue 11): a broker hosting more replicas than a full JSON
//! heartbeat of the old format could carry under the old 256 KiB body limit stays alive,
//! every partition gets a leader, records round-trip, and steady heartbeats are incremental
//! (a few hundred bytes each way). Over-limit bodies get `413 too_large` naming the limit.

use std::time::{Duration, Instant};

use raftbus_protocol::limits::{BROKER_HEARTBEAT_LIMIT, SMALL_BODY_LIMIT};
use raftbus_protocol::meta::CreateTopicRequest;
use raftbus_protocol::{ErrorBody, ErrorCode, routes};
use raftbus_sdk::{Producer, ProducerConfig, Record};
use raftbus_tests::manager::ManagedCluster;
use raftbus_tests::wait_until;

/// Topics and partitions per topic (the managers allow 1,024 per topic): 2,550 replicas on the
/// one broker. A full report carries ~110 bytes per replica here (RF 1, small offsets), so
/// ~280 KB, over the old 256 KiB limit even in the new, leaner encoding.
const TOPICS: usize = 3;
const PARTITIONS: u32 = 850;
const OLD_LIMIT: u64 = 256 * 1024;

/// `raftbus_heartbeat_last_bytes{kind}` and `raftbus_heartbeat_reports_total{kind}` from a
/// broker's `/metrics`.
async fn heartbeat_metrics(
    http: &reqwest::Client,
    addr: &str,
) -> anyhow::Result<Vec<(String, u64)>> {
    let text = http
        .get(raftbus_tests::pki::url(addr, routes::METRICS))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("raftbus_heartbeat_"))
        .filter_map(|l| {
            let (name, v) = l.rsplit_once(' ')?;
            Some((name.to_string(), v.parse().ok()?))
        })
        .collect())
}

fn metric(all: &[(String, u64)], name: &str, kind: &str) -> u64 {
    let key = format!("{name}{{kind=\"{kind}\"}}");
    all.iter().find(|(k, _)| *k == key).map_or(0, |(_, v)| *v)
}

/// POSTs `len` bytes to `url` and checks the `too_large` answer names `limit`.
async fn assert_too_large(http: &reqwest::Client, url: &str, len: usize, limit: usize) {
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .body(vec![b' '; len])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413, "{url}");
    let body: ErrorBody = r.json().await.unwrap();
    assert_eq!(body.code, ErrorCode::TooLarge);
    assert_eq!(body.limit_bytes, u32::try_from(limit).ok());
    println!("{url} with {len} bytes: 413 {}", body.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_replicas_heartbeat_incrementally() {
    let c = ManagedCluster::start(1, 1, &[("RAFTBUS_HEARTBEAT__TIMEOUT_MS", "5000")])
        .await
        .unwrap();
    c.write_manager(Duration::from_secs(20)).await.unwrap();
    let started = Instant::now();
    for t in 0..TOPICS {
        let req = CreateTopicRequest {
            name: format!("big{t}"),
            partitions: Some(PARTITIONS),
            replication_factor: Some(1),
            retention: Default::default(),
        };
        c.admin.create_topic(&req, None).await.unwrap();
    }
    let replicas = TOPICS * PARTITIONS as usize;
    wait_until(
        "every partition led",
        Duration::from_secs(180),
        Duration::from_millis(1_000),
        || async {
            let mut led = 0;
            for t in 0..TOPICS {
                let info = c
                    .admin
                    .describe_topic(&format!("big{t}"))
                    .await
                    .map_err(|e| e.to_string())?;
                led += info
                    .partition_info
                    .iter()
                    .filter(|p| p.leader.is_some())
                    .count();
            }
            (led == replicas)
                .then_some(())
                .ok_or(format!("{led}/{replicas} led"))
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", c.logs(30)));
    println!(
        "{replicas} replicas on one broker, all led after {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // No broker is declared dead over a 10 s window of steady heartbeats.
    let http = raftbus_tests::pki::client();
    let addr = c.brokers[0].api_addr().to_string();
    let before = heartbeat_metrics(&http, &addr).await.unwrap();
    let window = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    while window.elapsed() < Duration::from_secs(10) {
        tick.tick().await;
        let brokers = c.admin.brokers().await.unwrap();
        assert!(
            brokers.iter().all(|b| b.alive),
            "a broker was declared dead: {brokers:?}\n{}",
            c.logs(30)
        );
    }
    let after = heartbeat_metrics(&http, &addr).await.unwrap();
    let incremental = metric(&after, "raftbus_heartbeat_reports_total", "incremental")
        - metric(&before, "raftbus_heartbeat_reports_total", "incremental");
    // A full report goes at start (when the broker hosted nothing yet), then every
    // `FULL_REPORT_EVERY` (30 s): wait for one sent at this size, and for it to be answered.
    let fulls = metric(&after, "raftbus_heartbeat_reports_total", "full");
    let after = wait_until(
        "a full report of every hosted replica",
        Duration::from_secs(45),
        Duration::from_millis(500),
        || async {
            let m = heartbeat_metrics(&http, &addr)
                .await
                .map_err(|e| e.to_string())?;
            (metric(&m, "raftbus_heartbeat_reports_total", "full") > fulls
                && metric(&m, "raftbus_heartbeat_last_bytes", "full_request") > OLD_LIMIT)
                .then_some(m)
                .ok_or_else(|| "no full report at this size yet".to_string())
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", c.logs(30)));
    let last = |kind| metric(&after, "raftbus_heartbeat_last_bytes", kind);
    let (full_req, inc_req) = (last("full_request"), last("incremental_request"));
    let (set_rep, same_rep) = (last("set_reply"), last("unchanged_reply"));
    println!(
        "heartbeat at {replicas} replicas: full report {full_req} B, incremental {inc_req} B; \
         reply with the assignment set {set_rep} B, unchanged {same_rep} B; \
         {incremental} incremental beats in 10 s, {} full in all",
        metric(&after, "raftbus_heartbeat_reports_total", "full")
    );
    assert!(incremental >= 5, "steady heartbeats are incremental");
    assert!(
        full_req > OLD_LIMIT,
        "the full report exceeds the old limit"
    );
    assert!(set_rep > OLD_LIMIT, "so does the full assignment set");
    assert!(
        inc_req < 4_096 && same_rep < 4_096,
        "steady beats stay small"
    );

    // Records round-trip through one of the partitions.
    let p = Producer::connect(ProducerConfig::new(c.bootstrap()), "big0")
        .await
        .unwrap();
    let sent = p
        .send(Record::with_key("k", "hello"))
        .await
        .unwrap()
        .await
        .unwrap();
    p.close().await.unwrap();
    // Read back from the leader (the one broker); the fetch is a bounded long poll.
    let fetched = c
        .client
        .fetch(
            &addr,
            "big0",
            sent.partition,
            sent.offset.expect("acks=all returns offsets"),
            1 << 20,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let values: Vec<Vec<u8>> = fetched
        .batches
        .iter()
        .flat_map(|(_, b)| b.records().map(|r| r.value.to_vec()).collect::<Vec<_>>())
        .collect();
    assert_eq!(values, vec![b"hello".to_vec()], "the record read back");

    // Over-limit bodies: 413 with the limit named, on the large and on a small route.
    // Heartbeats go to the internal listener, from a broker's certificate.
    let hb = raftbus_tests::pki::url(c.managers[0].internal_addr(), routes::BROKER_HEARTBEAT);
    let as_broker = raftbus_tests::pki::node_client("broker", 1).unwrap();
    assert_too_large(
        &as_broker,
        &hb,
        BROKER_HEARTBEAT_LIMIT + 1,
        BROKER_HEARTBEAT_LIMIT,
    )
    .await;
    let topics = raftbus_tests::pki::url(c.managers[0].addr(), routes::TOPICS);
    assert_too_large(&http, &topics, SMALL_BODY_LIMIT + 1, SMALL_BODY_LIMIT).await;
}
