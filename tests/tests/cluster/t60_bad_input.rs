//! Acceptance 7: bad input (unknown partition, malformed body, offset beyond the end,
//! oversized batch, bad parameters, a timestamp or retention that overflows) gets a 4xx with a
//! JSON error naming the problem, and the broker keeps running. Both client APIs serve their
//! OpenAPI document without a token.

use std::time::Duration;

use raftbus_protocol::api::{CreatePartitionRequest, FetchParams, ProduceParams};
use raftbus_protocol::retention::MAX_RETENTION_MS;
use raftbus_protocol::routes;
use raftbus_tests::cluster::BrokerCluster;
use raftbus_tests::manager::ManagedCluster;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::batch_of;

async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(
        resp.status(),
        StatusCode::from_u16(status).unwrap(),
        "status"
    );
    let body: Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["code"], code, "{body}");
    let msg = body["message"].as_str().unwrap().to_string();
    assert!(!msg.is_empty());
    msg
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_json_4xx_and_the_broker_survives() {
    let c = BrokerCluster::start(1).await.unwrap();
    c.create_partition("t", 0, 0).await.unwrap();
    c.wait_leader("t", 0, Duration::from_secs(20))
        .await
        .unwrap();
    let base = c.brokers[0].api_url();
    let http = raftbus_tests::pki::client();
    let records = format!("{base}{}", routes::partition_records("t", 0));

    let r = http
        .post(format!("{base}{}", routes::partition_records("nope", 3)))
        .body(batch_of(&["x".into()]))
        .send()
        .await
        .unwrap();
    let m = expect_error(r, 404, "unknown_partition").await;
    assert!(m.contains("nope/3"), "{m}");

    let r = http
        .post(&records)
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .unwrap();
    let m = expect_error(r, 400, "bad_request").await;
    assert!(m.contains("record batch"), "{m}");

    let r = http
        .post(&records)
        .header("content-type", "application/json")
        .body("{\"records\":[{]}")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "bad_request").await;

    let r = http
        .post(&records)
        .header("content-type", "application/json")
        .body("{\"records\":[]}")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "bad_request").await;

    let r = http
        .post(&records)
        .query(&ProduceParams {
            producer_id: Some(Uuid::new_v4()),
            ..ProduceParams::default()
        })
        .body(batch_of(&["x".into()]))
        .send()
        .await
        .unwrap();
    let m = expect_error(r, 400, "bad_request").await;
    assert!(m.contains("sequence"), "{m}");

    // Base timestamp u64::MAX and one record whose delta is 1: refused when parsed.
    let mut overflow = vec![raftbus_protocol::batch::MAGIC];
    overflow.extend_from_slice(&1u32.to_le_bytes());
    overflow.extend_from_slice(&u64::MAX.to_le_bytes());
    overflow.extend_from_slice(&[1, 0, 0]);
    let r = http.post(&records).body(overflow).send().await.unwrap();
    let m = expect_error(r, 400, "bad_request").await;
    assert!(m.contains("timestamp overflows"), "{m}");

    let big = vec!["x".repeat(1 << 20); 5];
    let r = http
        .post(&records)
        .body(batch_of(&big))
        .send()
        .await
        .unwrap();
    let m = expect_error(r, 413, "too_large").await;
    assert!(m.contains("max_batch_bytes"), "{m}");

    let r = http
        .get(&records)
        .query(&FetchParams {
            offset: 1000,
            max_bytes: None,
            wait_ms: None,
        })
        .send()
        .await
        .unwrap();
    let body = expect_error(r, 416, "offset_out_of_range").await;
    assert!(body.contains("1000"), "{body}");

    let r = http
        .get(format!("{records}?offset=-1"))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "bad_request").await;

    let r = http
        .get(format!("{base}/v1/partitions/t/zero/records"))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "bad_request").await;

    let req = CreatePartitionRequest {
        group_id: Uuid::new_v4(),
        members: c.members(0),
    };
    // Replica creation is a manager's call, on the internal listener.
    let internal = raftbus_tests::pki::url(c.brokers[0].raft_addr(), "");
    let as_manager =
        raftbus_tests::pki::node_client("manager", raftbus_tests::pki::TEST_MANAGER_ID).unwrap();
    let r = as_manager
        .put(format!("{internal}/v1/partitions/bad%20name/0"))
        .json(&req)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_name").await;
    let r = as_manager
        .put(format!("{internal}{}", routes::partition("t", 0)))
        .json(&req)
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict").await;

    let r = http
        .post(format!("{base}{}", routes::partition_offsets("t", 0, "g")))
        .json(&serde_json::json!({"offset": 99}))
        .send()
        .await
        .unwrap();
    expect_error(r, 416, "offset_out_of_range").await;

    let r = http.get(format!("{base}/v1/nothing")).send().await.unwrap();
    expect_error(r, 404, "not_found").await;

    expect_openapi(&base).await;

    // Still serving.
    let ok = c
        .client
        .produce(&c.addr(0), "t", 0, batch_of(&["fine".into()]), None)
        .await
        .unwrap();
    assert_eq!(ok.base_offset, 0);
    c.client.health(&c.addr(0)).await.unwrap();
}

/// `GET {base}/openapi.json` without a token: an OpenAPI 3 document declaring bearer auth.
async fn expect_openapi(base: &str) {
    let r = raftbus_tests::pki::anonymous_client()
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn managers_refuse_overflowing_retention() {
    let c = ManagedCluster::start(1, 0, &[]).await.unwrap();
    c.write_manager(Duration::from_secs(20)).await.unwrap();
    let base = raftbus_tests::pki::url(c.managers[0].addr(), "");
    let http = raftbus_tests::pki::client();
    let too_old = serde_json::json!({"name": "t", "retention_ms": i64::MAX});
    let r = http
        .post(format!("{base}/v1/topics"))
        .json(&too_old)
        .send()
        .await
        .unwrap();
    let m = expect_error(r, 400, "bad_request").await;
    assert!(m.contains("retention_ms"), "{m}");
    let r = http
        .patch(format!("{base}/v1/topics/t"))
        .json(&serde_json::json!({"retention_ms": MAX_RETENTION_MS + 1}))
        .send()
        .await
        .unwrap();
    let m = expect_error(r, 400, "bad_request").await;
    assert!(m.contains("at most"), "{m}");
    expect_openapi(&base).await;
}
