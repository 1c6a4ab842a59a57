//! Security: nobody who merely reaches a port can steer, read or write the cluster.
//! Forged Raft RPCs (plain TCP, another CA's certificate, a real node's certificate claiming to
//! be another node) are refused and change nothing; forged broker heartbeats are refused and
//! register nothing; clients without the token get 401.

use std::time::Duration;

use openraft::raft::{AppendEntriesRequest, TransferLeaderRequest, VoteRequest};
use openraft::type_config::alias::{LeaderIdOf, VoteOf};
use openraft::vote::{RaftLeaderId, RaftVote};
use raftbus_broker::raft::TypeConfig;
use raftbus_protocol::api::PartitionStatus;
use raftbus_protocol::routes;
use raftbus_raft::codec::encode;
use raftbus_tests::cluster::BrokerCluster;
use raftbus_tests::manager::ManagedCluster;
use raftbus_tests::{pki, wait_until};
use serde_json::json;

use crate::batch_of;

/// A vote for `node` at a term no real election reaches.
fn huge_vote(node: u64) -> VoteOf<TypeConfig> {
    let leader = <LeaderIdOf<TypeConfig> as RaftLeaderId>::new(u64::MAX / 2, node);
    <VoteOf<TypeConfig> as RaftVote>::from_leader_id(leader, true)
}

/// Every forged RPC: `(rpc path, msgpack body)`, each carrying node `claimed`'s vote.
fn forged(claimed: u64) -> Vec<(&'static str, Vec<u8>)> {
    let append = AppendEntriesRequest::<TypeConfig> {
        vote: huge_vote(claimed),
        prev_log_id: None,
        entries: vec![],
        leader_commit: None,
    };
    let vote = VoteRequest::<TypeConfig>::new(huge_vote(claimed), None);
    let transfer = TransferLeaderRequest::<TypeConfig>::new(huge_vote(claimed), claimed, None);
    vec![
        ("append", encode(&append).unwrap()),
        ("vote", encode(&vote).unwrap()),
        ("pre-vote", encode(&vote).unwrap()),
        ("transfer-leader", encode(&transfer).unwrap()),
        // Never decoded: refused on who sent it.
        ("snapshot", vec![0x90]),
    ]
}

/// What must not change: each replica's term, leader and log, and the stored records.
async fn state(
    c: &BrokerCluster,
    group: uuid::Uuid,
) -> Vec<(u64, Option<u64>, Option<u64>, Vec<String>)> {
    let mut out = Vec::new();
    for i in 0..c.brokers.len() {
        let s: PartitionStatus = c
            .client
            .partition_status(&c.addr(i), "sec", 0)
            .await
            .unwrap();
        out.push((
            s.term,
            s.leader_id,
            s.last_log_index,
            c.replica_rows(i, group).await.unwrap(),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_raft_rpcs_are_refused_and_change_nothing() {
    let c = BrokerCluster::start(3).await.unwrap();
    let group = c.create_partition("sec", 0, 0).await.unwrap();
    let leader = c
        .wait_leader("sec", 0, Duration::from_secs(20))
        .await
        .unwrap();
    c.client
        .produce(
            &c.addr(leader),
            "sec",
            0,
            batch_of(&["a".into(), "b".into()]),
            None,
        )
        .await
        .unwrap();
    // The target: a follower (a deposed leader would show most clearly, but any replica counts).
    let target = (leader + 1) % 3;
    let target_id = c.brokers[target].node_id();
    let other_id = c.brokers[(leader + 2) % 3].node_id();
    let raft = c.brokers[target].raft_addr();
    // Every replica applied the two records (followers apply a moment after the ack).
    let before = wait_until(
        "every replica to store the records",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async {
            let s = state(&c, group).await;
            s.iter()
                .all(|r| r.3.len() == 1 && r.2 == s[0].2)
                .then_some(s)
        },
    )
    .await
    .unwrap();

    // (a) plain TCP: the listener speaks only TLS.
    let plain = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    // (b) a certificate of another CA, for the very name the sender claims.
    let rogue = tempfile::tempdir().unwrap();
    pki::certs_sh(rogue.path(), &["ca"]).unwrap();
    pki::certs_sh(rogue.path(), &["node", "broker", &other_id.to_string()]).unwrap();
    let mut pem = std::fs::read(rogue.path().join(format!("broker-{other_id}.pem"))).unwrap();
    pem.extend(std::fs::read(rogue.path().join(format!("broker-{other_id}.key"))).unwrap());
    let ca = std::fs::read(pki::dir().join("ca.pem")).unwrap();
    let other_ca = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    // (c) the leader's real certificate, claiming to be the third broker.
    let leader_id = c.brokers[leader].node_id();
    let real = pki::node_client("broker", leader_id).unwrap();

    for (rpc, body) in forged(other_id) {
        let path = format!("/raft/v1/{group}/{rpc}");
        let send = |http: &reqwest::Client, url: String| {
            http.post(url)
                .header("x-raft-target-node", target_id.to_string())
                .header("x-raftbus-sender", format!("broker-{other_id}"))
                .body(body.clone())
                .send()
        };
        let r = send(&plain, format!("http://{raft}{path}")).await;
        assert!(
            r.is_err() || !r.unwrap().status().is_success(),
            "{rpc} over plain TCP"
        );
        let r = send(&other_ca, pki::url(raft, &path)).await;
        assert!(
            r.is_err(),
            "{rpc} with another CA's certificate got an answer"
        );
        let r = send(&real, pki::url(raft, &path)).await.unwrap();
        assert_eq!(
            r.status(),
            403,
            "{rpc}: broker-{leader_id} speaking for broker-{other_id}"
        );
        let e: serde_json::Value = r.json().await.unwrap();
        assert_eq!(e["code"], "forbidden", "{e}");
    }
    // (c') The real sender naming itself, but carrying the other node's vote in the body.
    for (rpc, body) in forged(other_id) {
        let r = real
            .post(pki::url(raft, &format!("/raft/v1/{group}/{rpc}")))
            .header("x-raft-target-node", target_id.to_string())
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(
            !status.is_success() || text.contains("refused"),
            "{rpc}: {status} {text}"
        );
    }
    // A broker certificate is not a manager's: it cannot create replicas.
    let r = real
        .put(pki::url(raft, &routes::partition("evil", 0)))
        .json(&json!({ "group_id": uuid::Uuid::new_v4(), "members": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let after = state(&c, group).await;
    assert_eq!(before, after, "forged RPCs changed a replica");
    // And the group still works.
    c.client
        .produce(&c.addr(leader), "sec", 0, batch_of(&["c".into()]), None)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_heartbeats_register_nothing_and_clients_need_the_token() {
    let c = ManagedCluster::start(3, 2, &[]).await.unwrap();
    let before = c.admin.brokers().await.unwrap();
    let beat = |id: u64, api: &str| {
        json!({
            "broker": { "id": id, "api_addr": api, "raft_addr": "10.9.9.9:1" },
            "groups": [],
        })
    };
    let as_broker_1 = pki::node_client("broker", 1).unwrap();
    let anonymous = pki::anonymous_client();
    for m in &c.managers {
        let url = pki::url(m.internal_addr(), routes::BROKER_HEARTBEAT);
        // A new broker id, a real broker's id with other addresses, and a leader claim, from
        // broker 1's certificate: refused whichever manager leads.
        // And broker 2 "leading" a group with a finished voter set, as a move's completion.
        let mut claim = beat(2, "10.9.9.9:3");
        claim["groups"] = json!([{
            "group_id": uuid::Uuid::new_v4(), "is_leader": true, "leader": 2,
            "log_end_offset": 0, "voters": [2],
        }]);
        for hb in [beat(7, "10.9.9.9:2"), beat(2, "10.9.9.9:3"), claim] {
            let r = as_broker_1.post(&url).json(&hb).send().await.unwrap();
            assert_eq!(r.status(), 403, "{}", r.text().await.unwrap_or_default());
        }
        // Without a certificate there is no connection at all.
        assert!(
            anonymous
                .post(&url)
                .json(&beat(7, "x:1"))
                .send()
                .await
                .is_err()
        );
        // The client API no longer takes heartbeats.
        let r = pki::client()
            .post(pki::url(m.addr(), routes::BROKER_HEARTBEAT))
            .json(&beat(7, "x:1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    assert_eq!(
        c.admin.brokers().await.unwrap(),
        before,
        "a forged heartbeat changed the brokers"
    );

    // Clients: no token or a wrong token is 401 on admin, produce, fetch and commit calls.
    let m = c.managers[0].addr();
    let b = c.brokers[0].api_addr().to_string();
    let calls = [
        ("GET", pki::url(&m, routes::TOPICS)),
        ("POST", pki::url(&m, routes::TOPICS)),
        ("DELETE", pki::url(&m, &routes::topic("x"))),
        ("POST", pki::url(&b, &routes::partition_records("x", 0))),
        (
            "GET",
            pki::url(
                &b,
                &format!("{}?offset=0", routes::partition_records("x", 0)),
            ),
        ),
        (
            "POST",
            pki::url(&b, &routes::partition_offsets("x", 0, "g")),
        ),
    ];
    for (method, url) in calls {
        for token in [None, Some("rb_not_a_token")] {
            let mut req = anonymous.request(method.parse().unwrap(), &url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{method} {url} with {token:?}");
            let e: serde_json::Value = r.json().await.unwrap();
            assert_eq!(e["code"], "unauthenticated", "{e}");
        }
    }
    // /health stays open; the admin token is accepted.
    assert!(
        anonymous
            .get(pki::url(&b, routes::HEALTH))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert!(
        pki::client()
            .get(pki::url(&m, routes::TOPICS))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn acls_allow_a_principal_exactly_what_its_rules_say() {
    use raftbus_protocol::acl::{AclRule, Operation, ResourceKind};
    use raftbus_protocol::meta::CreateTopicRequest;

    let c = ManagedCluster::start(3, 2, &[]).await.unwrap();
    for name in ["a", "b"] {
        let req = CreateTopicRequest {
            name: name.into(),
            partitions: Some(1),
            replication_factor: Some(2),
            retention: Default::default(),
        };
        c.admin
            .create_topic(&req, Some(Duration::from_secs(30)))
            .await
            .unwrap();
    }
    let alice = c.admin.create_user("alice").await.unwrap();
    assert!(alice.token.starts_with("rb_"));
    c.admin
        .add_acl(&AclRule {
            principal: "alice".into(),
            resource: ResourceKind::Topic,
            name: "a".into(),
            prefix: false,
            operation: Operation::Consume,
        })
        .await
        .unwrap();
    let leader = |t: &'static str| {
        let admin = c.admin.clone();
        async move {
            let info = admin.describe_topic(t).await.ok()?;
            info.partition_info[0].leader_addr.clone()
        }
    };
    let (a, b) = (leader("a").await.unwrap(), leader("b").await.unwrap());
    let http = pki::anonymous_client();
    let as_alice = |r: reqwest::RequestBuilder| r.bearer_auth(&alice.token).send();
    // Brokers learn users and rules with their next heartbeat reply.
    wait_until(
        "the brokers to accept alice's token",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || async {
            let url = pki::url(
                &a,
                &format!("{}?offset=0", routes::partition_records("a", 0)),
            );
            let r = as_alice(http.get(url)).await.ok()?;
            r.status().is_success().then_some(())
        },
    )
    .await
    .unwrap();
    let code = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let e: serde_json::Value = r.json().await.unwrap_or_default();
        (
            status,
            e["code"].as_str().unwrap_or_default().to_string(),
            e["message"].to_string(),
        )
    };
    // Produce to `a`: consume only.
    let r = as_alice(
        http.post(pki::url(&a, &routes::partition_records("a", 0)))
            .body(batch_of(&["x".into()])),
    )
    .await
    .unwrap();
    let (status, c403, msg) = code(r).await;
    assert_eq!((status, c403.as_str()), (403, "forbidden"), "{msg}");
    assert!(msg.contains("alice") && msg.contains("produce"), "{msg}");
    // Consume `b`: no rule.
    let r = as_alice(http.get(pki::url(
        &b,
        &format!("{}?offset=0", routes::partition_records("b", 0)),
    )))
    .await
    .unwrap();
    assert_eq!(code(r).await.0, 403);
    // Administer: no rule.
    let r = as_alice(http.delete(pki::url(c.managers[0].addr(), &routes::topic("a"))))
        .await
        .unwrap();
    assert_eq!(code(r).await.0, 403);
    let r = as_alice(http.get(pki::url(c.managers[0].addr(), routes::USERS)))
        .await
        .unwrap();
    assert_eq!(code(r).await.0, 403);
    // Describing `a` is implied by consuming it.
    let r = as_alice(http.get(pki::url(c.managers[0].addr(), &routes::metadata("a"))))
        .await
        .unwrap();
    assert_eq!(code(r).await.0, 200);
    // The admin principal can do all of it.
    let admin = pki::client();
    let r = admin
        .post(pki::url(&a, &routes::partition_records("a", 0)))
        .body(batch_of(&["x".into()]))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // A removed user's token stops working everywhere.
    c.admin.remove_user("alice").await.unwrap();
    wait_until(
        "the brokers to refuse alice's token",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || async {
            let url = pki::url(
                &a,
                &format!("{}?offset=0", routes::partition_records("a", 0)),
            );
            let r = as_alice(http.get(url)).await.ok()?;
            (r.status() == 401).then_some(())
        },
    )
    .await
    .unwrap();
}
