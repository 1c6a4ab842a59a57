//! Low-level client of the broker API. Addresses are `host:port` of a broker's client
//! listener; the caller decides which broker to ask (the leader, normally).

use std::time::Duration;

use bytes::Bytes;
use raftbus_protocol::api::{
    AcceptedResponse, Acks, FetchParams, Health, OffsetCommitRequest, OffsetResponse,
    PartitionStatus, ProduceParams, ProduceResponse,
};
use raftbus_protocol::fetch::{
    BINARY_CONTENT_TYPE, HIGH_WATERMARK_HEADER, LOG_START_HEADER, parse_frames,
};
use raftbus_protocol::{ErrorBody, ErrorCode, RecordBatch, routes};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::{Credentials, SdkError};

/// Batches returned by one fetch.
#[derive(Debug, Clone)]
pub struct FetchedBatches {
    /// `(base_offset, batch)` in offset order; the first may start before the requested offset.
    pub batches: Vec<(u64, RecordBatch)>,
    /// Next offset to be written in the partition.
    pub high_watermark: u64,
    /// First offset still stored.
    pub log_start_offset: u64,
}

/// HTTP client of the broker API. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct BrokerClient {
    http: reqwest::Client,
    /// `https` or `http`, from the credentials.
    scheme: &'static str,
}

impl Default for BrokerClient {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl BrokerClient {
    /// A client whose requests time out after `timeout` (long polls add their wait to it).
    pub fn new(timeout: Duration) -> Self {
        Self::with_credentials(timeout, &Credentials::process_default())
    }

    /// [`BrokerClient::new`] with explicit credentials.
    pub fn with_credentials(timeout: Duration, credentials: &Credentials) -> Self {
        let builder = reqwest::Client::builder()
            .http2_prior_knowledge()
            .tcp_nodelay(true)
            // A killed or frozen host sends no reset: pings notice a dead connection in
            // ~1.5 s instead of letting requests hang until their timeout (the brokers hand a
            // silent leader's partitions over in about the same time).
            .http2_keep_alive_interval(Duration::from_millis(500))
            .http2_keep_alive_timeout(Duration::from_secs(1))
            .http2_keep_alive_while_idle(true)
            .connect_timeout(Duration::from_millis(1_000))
            .timeout(timeout)
            .no_proxy();
        let http = credentials
            .client(builder)
            .expect("credentials are validated when made");
        Self {
            http,
            scheme: credentials.scheme(),
        }
    }

    /// `scheme://addr{path}`.
    fn url(&self, addr: &str, path: &str) -> String {
        format!("{}://{addr}{path}", self.scheme)
    }

    /// Appends one batch to `topic/partition` on the broker at `addr`; returns once committed.
    pub async fn produce(
        &self,
        addr: &str,
        topic: &str,
        partition: u32,
        batch: Bytes,
        producer: Option<(Uuid, u64)>,
    ) -> Result<ProduceResponse, SdkError> {
        let path = routes::partition_records(topic, partition);
        let req = self.produce_request(addr, &path, batch, produce_params(producer, Acks::All));
        json(addr, req.send().await).await
    }

    /// Like [`BrokerClient::produce`] with a choice of acknowledgement: with `acks_leader` the
    /// broker answers once the leader accepted the batch (no offsets: `Ok(None)`), otherwise
    /// after commit with the base offset.
    pub async fn produce_acks(
        &self,
        addr: &str,
        topic: &str,
        partition: u32,
        batch: Bytes,
        producer: Option<(Uuid, u64)>,
        acks_leader: bool,
    ) -> Result<Option<u64>, SdkError> {
        if !acks_leader {
            return Ok(Some(
                self.produce(addr, topic, partition, batch, producer)
                    .await?
                    .base_offset,
            ));
        }
        let path = routes::partition_records(topic, partition);
        let params = produce_params(producer, Acks::Leader);
        let req = self.produce_request(addr, &path, batch, params);
        let _: AcceptedResponse = json(addr, req.send().await).await?;
        Ok(None)
    }

    /// A binary produce of `batch` to `path` with its query.
    fn produce_request(
        &self,
        addr: &str,
        path: &str,
        batch: Bytes,
        params: ProduceParams,
    ) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(addr, path))
            .header("content-type", BINARY_CONTENT_TYPE)
            .query(&params)
            .body(batch)
    }

    /// Fetches committed batches from `offset` on, waiting up to `wait` for new ones.
    pub async fn fetch(
        &self,
        addr: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        max_bytes: u64,
        wait: Duration,
    ) -> Result<FetchedBatches, SdkError> {
        let resp = self
            .http
            .get(self.url(addr, &routes::partition_records(topic, partition)))
            .header("accept", BINARY_CONTENT_TYPE)
            .query(&FetchParams {
                offset,
                max_bytes: Some(max_bytes),
                wait_ms: Some(wait.as_millis() as u64),
            })
            .timeout(wait + Duration::from_secs(10))
            .send()
            .await;
        let resp = ok(addr, resp).await?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        let (hw, start) = (header(HIGH_WATERMARK_HEADER), header(LOG_START_HEADER));
        let body = resp.bytes().await.map_err(|source| SdkError::Transport {
            addr: addr.into(),
            source,
        })?;
        let batches = parse_frames(body).map_err(|e| protocol(addr, e))?;
        Ok(FetchedBatches {
            batches,
            high_watermark: hw.ok_or_else(|| protocol(addr, "missing high watermark header"))?,
            log_start_offset: start.unwrap_or(0),
        })
    }

    /// Commits a consumer group's offset on a partition (through its Raft log).
    pub async fn commit_offset(
        &self,
        addr: &str,
        topic: &str,
        partition: u32,
        group: &str,
        offset: u64,
        generation: Option<u64>,
    ) -> Result<OffsetResponse, SdkError> {
        let req = self
            .http
            .post(self.url(addr, &routes::partition_offsets(topic, partition, group)))
            .json(&OffsetCommitRequest { offset, generation });
        json(addr, req.send().await).await
    }

    /// Reads a consumer group's committed offset on a partition.
    pub async fn read_offset(
        &self,
        addr: &str,
        topic: &str,
        partition: u32,
        group: &str,
    ) -> Result<OffsetResponse, SdkError> {
        let req = self
            .http
            .get(self.url(addr, &routes::partition_offsets(topic, partition, group)));
        json(addr, req.send().await).await
    }

    /// Status of one replica.
    pub async fn partition_status(
        &self,
        addr: &str,
        topic: &str,
        partition: u32,
    ) -> Result<PartitionStatus, SdkError> {
        json(
            addr,
            self.http
                .get(self.url(addr, &routes::partition(topic, partition)))
                .send()
                .await,
        )
        .await
    }

    /// Status of every replica a broker hosts.
    pub async fn list_partitions(&self, addr: &str) -> Result<Vec<PartitionStatus>, SdkError> {
        json(
            addr,
            self.http
                .get(self.url(addr, routes::PARTITIONS))
                .send()
                .await,
        )
        .await
    }

    /// `/health` of a broker.
    pub async fn health(&self, addr: &str) -> Result<Health, SdkError> {
        json(
            addr,
            self.http.get(self.url(addr, routes::HEALTH)).send().await,
        )
        .await
    }
}

/// The produce query: acknowledgement mode, producer id and sequence when idempotent.
fn produce_params(producer: Option<(Uuid, u64)>, acks: Acks) -> ProduceParams {
    ProduceParams {
        acks,
        producer_id: producer.map(|(id, _)| id),
        sequence: producer.map(|(_, seq)| seq),
    }
}

fn protocol(addr: &str, e: impl std::fmt::Display) -> SdkError {
    SdkError::Protocol {
        addr: addr.into(),
        message: e.to_string(),
    }
}

/// Maps transport failures and error statuses to [`SdkError`].
pub(crate) async fn ok(
    addr: &str,
    r: reqwest::Result<reqwest::Response>,
) -> Result<reqwest::Response, SdkError> {
    let resp = r.map_err(|source| SdkError::Transport {
        addr: addr.into(),
        source,
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let bytes = resp.bytes().await.map_err(|source| SdkError::Transport {
        addr: addr.into(),
        source,
    })?;
    let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| {
        let code = if status.is_server_error() {
            ErrorCode::Internal
        } else {
            ErrorCode::BadRequest
        };
        ErrorBody::new(code, String::from_utf8_lossy(&bytes).into_owned())
    });
    Err(SdkError::Api {
        status: status.as_u16(),
        body,
    })
}

pub(crate) async fn json<T: DeserializeOwned>(
    addr: &str,
    r: reqwest::Result<reqwest::Response>,
) -> Result<T, SdkError> {
    let resp = ok(addr, r).await?;
    let bytes = resp.bytes().await.map_err(|source| SdkError::Transport {
        addr: addr.into(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| protocol(addr, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query a request carries, as sent.
    fn query(req: reqwest::RequestBuilder) -> Option<String> {
        req.build().unwrap().url().query().map(str::to_string)
    }

    #[test]
    fn produce_and_fetch_queries_keep_their_wire_form() {
        let c = BrokerClient::default();
        let id = Uuid::nil();
        let produce = |producer, acks| {
            let params = produce_params(producer, acks);
            query(c.produce_request("a:1", "/", Bytes::new(), params))
        };
        assert_eq!(produce(None, Acks::All), None);
        assert_eq!(
            produce(Some((id, 3)), Acks::All).as_deref(),
            Some(format!("producer_id={id}&sequence=3").as_str())
        );
        assert_eq!(
            produce(Some((id, 3)), Acks::Leader).as_deref(),
            Some(format!("acks=leader&producer_id={id}&sequence=3").as_str())
        );
        let fetch = c.http.get("http://a:1/").query(&FetchParams {
            offset: 5,
            max_bytes: Some(10),
            wait_ms: Some(0),
        });
        assert_eq!(
            query(fetch).as_deref(),
            Some("offset=5&max_bytes=10&wait_ms=0")
        );
    }
}
