//! Produce and consume through a manager: a convenience for plain HTTP clients (curl). The
//! manager routes to the partition leader; real clients use the sdk and talk to leaders
//! directly.

use std::sync::atomic::{AtomicU32, Ordering};

use actix_web::{HttpRequest, HttpResponse, web};
use raftbus_protocol::ErrorCode;
use raftbus_protocol::api::{FetchJsonResponse, FetchParams, ProduceJsonRequest, ProduceResponse};
use raftbus_protocol::http::Body;
use raftbus_protocol::names::partition_for_key;
use raftbus_protocol::query::TopicProduceParams;
use raftbus_protocol::routes;

use super::parse;
use crate::error::{ApiError, internal};
use crate::node::Manager;

/// Round-robin position for unkeyed proxy produces.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Longest long poll relayed to a broker: below the 15 s timeout of the managers' HTTP client,
/// so a long `wait_ms` (brokers allow 30 s) answers with records or none instead of `503`.
const PROXY_MAX_WAIT_MS: u64 = 10_000;

/// Leader address of `topic/partition`, or the error a client should see.
fn leader_of(m: &Manager, topic: &str, partition: u32) -> Result<String, ApiError> {
    m.read(|meta| {
        let t = meta.topics.get(topic).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownTopic,
                format!("topic {topic:?} does not exist"),
            )
        })?;
        let p = t.partitions.get(partition as usize).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownPartition,
                format!("topic {topic:?} has {} partitions", t.partitions.len()),
            )
        })?;
        let addr = p.leader.and_then(|l| meta.api_addr(l)).ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotLeader,
                format!("{topic}/{partition} has no known leader right now; retry"),
            )
        })?;
        Ok(addr.to_string())
    })
}

/// Relays a broker's JSON answer (success or error) unchanged.
async fn relay(
    r: reqwest::Result<reqwest::Response>,
    addr: &str,
) -> Result<HttpResponse, ApiError> {
    let r = r.map_err(|e| {
        ApiError::new(
            ErrorCode::Unavailable,
            format!("broker at {addr} unreachable: {e}"),
        )
    })?;
    let status = actix_web::http::StatusCode::from_u16(r.status().as_u16()).map_err(internal)?;
    let body = r.bytes().await.map_err(internal)?;
    Ok(HttpResponse::build(status)
        .content_type("application/json")
        .body(body))
}

/// `POST /v1/topics/{topic}/records`: JSON records to one partition's leader.
#[utoipa::path(
    post,
    path = raftbus_protocol::routes::TOPIC_RECORDS,
    tag = "records",
    params(("topic" = String, Path, description = "Topic name"), TopicProduceParams),
    request_body = ProduceJsonRequest,
    responses((status = 200, description = "The leader's answer", body = ProduceResponse))
)]
pub(super) async fn produce(
    http: HttpRequest,
    m: web::Data<Manager>,
    topic: web::Path<String>,
    q: web::Query<TopicProduceParams>,
    Body(body): Body,
) -> Result<HttpResponse, ApiError> {
    let req: ProduceJsonRequest = parse(&body)?;
    let n = m
        .read(|meta| {
            meta.topics
                .get(topic.as_str())
                .map(|t| t.partitions.len() as u32)
        })
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownTopic,
                format!("topic {:?} does not exist", topic.as_str()),
            )
        })?;
    let partition = match (
        q.partition,
        req.records.first().and_then(|r| r.key.as_ref()),
    ) {
        (Some(p), _) => p,
        (None, Some(key)) => partition_for_key(key.as_bytes(), n),
        (None, None) => NEXT.fetch_add(1, Ordering::Relaxed) % n,
    };
    let addr = leader_of(&m, &topic, partition)?;
    let url = m
        .http
        .url(&addr, &routes::partition_records(&topic, partition));
    relay(
        m.http
            .http
            .post(url)
            .headers(credentials(&http))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await,
        &addr,
    )
    .await
}

/// `GET /v1/topics/{topic}/partitions/{partition}/records`: JSON records from the leader.
#[utoipa::path(
    get,
    path = raftbus_protocol::routes::TOPIC_PARTITION_RECORDS,
    tag = "records",
    params(
        ("topic" = String, Path, description = "Topic name"),
        ("partition" = u32, Path, description = "Partition index"),
        FetchParams
    ),
    responses((status = 200, description = "The leader's answer", body = FetchJsonResponse))
)]
pub(super) async fn consume(
    http: HttpRequest,
    m: web::Data<Manager>,
    path: web::Path<(String, u32)>,
    q: web::Query<FetchParams>,
) -> Result<HttpResponse, ApiError> {
    let (topic, partition) = path.into_inner();
    let addr = leader_of(&m, &topic, partition)?;
    let url = m
        .http
        .url(&addr, &routes::partition_records(&topic, partition));
    let mut q = q.into_inner();
    q.wait_ms = q.wait_ms.map(|w| w.min(PROXY_MAX_WAIT_MS));
    let get = m.http.http.get(url).headers(credentials(&http));
    relay(get.query(&q).send().await, &addr).await
}

/// The client's `Authorization` header, passed on: the broker checks the client, not us.
fn credentials(req: &HttpRequest) -> reqwest::header::HeaderMap {
    let mut out = reqwest::header::HeaderMap::new();
    if let Some(v) = req
        .headers()
        .get("authorization")
        .and_then(|v| reqwest::header::HeaderValue::from_bytes(v.as_bytes()).ok())
    {
        out.insert(reqwest::header::AUTHORIZATION, v);
    }
    out
}
