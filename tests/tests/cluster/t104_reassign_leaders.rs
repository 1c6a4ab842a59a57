//! Issue 7: `manager partition reassign` refuses bad input with a JSON 4xx (and the CLI with
//! one `error:` line), moves a partition to the requested replicas (learner, catch-up,
//! membership change, the replica left out dropped, leadership to the new preferred leader),
//! and leadership balance: after a leader is killed and restarted, leadership returns to the
//! preferred leaders once it has been up a while.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use raftbus_protocol::routes;
use raftbus_tests::manager::ManagedCluster;
use raftbus_tests::traffic::observed;
use raftbus_tests::wait_until;
use serde_json::{Value, json};

/// Posts `body` to a manager path; answers `(status, code, message)` of the error body.
async fn post_error(c: &ManagedCluster, path: &str, body: Value) -> (u16, String, String) {
    let url = raftbus_tests::pki::url(c.managers[0].addr(), path);
    let r = raftbus_tests::pki::client()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("JSON error body");
    let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    (status, field("code"), field("message"))
}

/// Every partition of `t` led by its preferred leader (first replica).
async fn preferred_lead(c: &ManagedCluster, t: &str) -> Result<(), String> {
    let seen = observed(c, t).await?;
    let off: Vec<u32> = seen
        .iter()
        .filter(|(p, o)| {
            o.as_ref()
                .is_none_or(|o| Some(&o.leader) != p.replicas.first())
        })
        .map(|(p, _)| p.partition)
        .collect();
    if off.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "partitions {off:?} not led by their preferred leader"
        ))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reassign_validates_moves_and_leaders_return() {
    let (mut c, t) = ManagedCluster::with_topic(4, &[], "r", 4).await.unwrap();

    let p0 = routes::partition_reassign("r", 0);
    for (path, body, status, code, needle) in [
        (
            routes::partition_reassign("nope", 0),
            json!({"replicas": [1, 2, 3]}),
            404,
            "unknown_topic",
            "nope",
        ),
        (
            routes::partition_reassign("r", 9),
            json!({"replicas": [1, 2, 3]}),
            404,
            "not_found",
            "partition 9",
        ),
        (
            p0.clone(),
            json!({"replicas": [1, 2]}),
            400,
            "bad_request",
            "replication factor",
        ),
        (
            p0.clone(),
            json!({"replicas": [1, 1, 2]}),
            400,
            "bad_request",
            "distinct",
        ),
        (
            p0.clone(),
            json!({"replicas": [1, 2, 9]}),
            400,
            "bad_request",
            "unknown broker 9",
        ),
        (
            p0.clone(),
            json!({"brokers": [1]}),
            400,
            "bad_request",
            "replicas",
        ),
        (
            routes::REBALANCE.to_string(),
            json!({"topic": "nope"}),
            404,
            "unknown_topic",
            "nope",
        ),
    ] {
        let (s, cd, msg) = post_error(&c, &path, body).await;
        assert_eq!((s, cd.as_str()), (status, code), "{path}: {msg}");
        assert!(msg.contains(needle), "{path}: {msg}");
    }
    let (ok, _, err) = c
        .admin_cli(&["partition", "reassign", "r", "0", "--replicas", "1,2,9"])
        .await
        .unwrap();
    assert!(!ok && err.trim().lines().count() == 1, "{err}");
    assert!(
        err.starts_with("error:") && err.contains("unknown broker 9"),
        "{err}"
    );

    // Move partition 0 onto the broker that lacks it, as its preferred leader.
    let from = t.partition_info[0].replicas.clone();
    let new = (1..=4).find(|b| !from.contains(b)).unwrap();
    let to = vec![new, from[0], from[1]];
    let left_out = from[2];
    let list = to.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let (ok, out, err) = c
        .admin_cli(&["partition", "reassign", "r", "0", "--replicas", &list])
        .await
        .unwrap();
    println!("$ manager partition reassign r 0 --replicas {list}\n{out}");
    assert!(ok, "{err}");
    let started = Instant::now();
    // One move per partition at a time (it takes at least a heartbeat round to complete).
    let (s, cd, msg) = post_error(&c, &p0, json!({"replicas": from})).await;
    assert_eq!((s, cd.as_str()), (409, "conflict"), "{msg}");
    wait_until(
        "partition 0 moved, led by its new preferred leader, old replica dropped",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async {
            let seen = observed(&c, "r").await?;
            let (p, o) = &seen[0];
            let want: BTreeSet<u64> = to.iter().copied().collect();
            let o = o.as_ref().ok_or("no confirmed leader")?;
            if p.replicas != to || p.target_replicas.is_some() || o.voters != want {
                return Err(format!("replicas {:?} voters {:?}", p.replicas, o.voters));
            }
            if o.leader != new {
                return Err(format!("led by broker-{}", o.leader));
            }
            let host = c.hosted("r").await?;
            if host[&left_out].contains(&0) {
                return Err(format!("broker-{left_out} still hosts partition 0"));
            }
            Ok(())
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", c.logs(30)));
    println!("reassigned in {} ms", started.elapsed().as_millis());
    let (_, desc, _) = c.admin_cli(&["topic", "describe", "r"]).await.unwrap();
    println!("$ manager topic describe r\n{desc}");
    assert!(desc.contains("LEARNERS"), "{desc}");

    // Leadership balance: kill the preferred leader of some partitions, restart it.
    wait_until(
        "preferred leaders lead",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || preferred_lead(&c, "r"),
    )
    .await
    .unwrap();
    let victim = to[0];
    let idx = c
        .brokers
        .iter()
        .position(|b| b.node_id() == victim)
        .unwrap();
    c.brokers[idx].kill9().unwrap();
    wait_until(
        "no partition led by the killed broker",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let seen = observed(&c, "r").await?;
            let all = seen
                .iter()
                .all(|(_, o)| o.as_ref().is_some_and(|o| o.leader != victim));
            all.then_some(()).ok_or("not yet".to_string())
        },
    )
    .await
    .unwrap();
    // While it is marked dead, a reassignment onto it is refused.
    wait_until(
        "broker marked dead",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async {
            let list = c.admin.brokers().await.ok()?;
            list.iter().find(|b| b.id == victim && !b.alive).map(|_| ())
        },
    )
    .await
    .unwrap();
    let p = t
        .partition_info
        .iter()
        .find(|p| !p.replicas.contains(&victim) && p.partition != 0);
    if let Some(p) = p {
        let path = routes::partition_reassign("r", p.partition);
        let body = json!({"replicas": [victim, p.replicas[0], p.replicas[1]]});
        let (s, cd, msg) = post_error(&c, &path, body).await;
        assert_eq!((s, cd.as_str()), (400, "bad_request"), "{msg}");
        assert!(msg.contains("dead"), "{msg}");
    }
    c.brokers[idx].start().unwrap();
    let restarted = Instant::now();
    wait_until(
        "leadership back on the preferred leaders",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || preferred_lead(&c, "r"),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", c.logs(30)));
    println!(
        "leadership back on the preferred leaders {} ms after restarting broker-{victim} (balance after 3000 ms up)",
        restarted.elapsed().as_millis()
    );
}
