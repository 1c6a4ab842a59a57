//! Calls to the managers' client API on behalf of a Kafka client (cluster metadata, topic
//! administration), and to partition leaders' client API (offsets of partitions led
//! elsewhere). The client's token goes along, so every node authorizes it like any HTTP
//! client; the managers are tried in turn until one answers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use raftbus_protocol::ErrorCode;
use raftbus_protocol::api::{OffsetCommitRequest, OffsetResponse};
use raftbus_protocol::error::ErrorBody;
use raftbus_protocol::meta::{BrokerInfo, CreateTopicRequest, TopicInfo};
use raftbus_protocol::query::{CreateTopicParams, MetadataParams};
use raftbus_protocol::routes;
use raftbus_security::{NodeHttp, NodeIdentity, NodeTls};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::settings::Settings;

/// A node that could not be reached (the next one may be).
struct Unreached(ApiError);

/// Decodes a JSON answer.
fn parse<T: DeserializeOwned>(answer: Result<bytes::Bytes, ApiError>) -> Result<T, ApiError> {
    serde_json::from_slice(&answer?).map_err(crate::error::internal)
}

/// Per call to one node.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The managers' client API.
pub(crate) struct Managers {
    http: NodeHttp,
    addrs: Vec<String>,
    /// The manager to try first (the last one that answered).
    next: AtomicUsize,
}

impl Managers {
    /// A client of `[kafka] managers`.
    pub fn new(settings: &Settings, tls: Option<&NodeTls>) -> Self {
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(TIMEOUT);
        Self {
            http: NodeHttp::new(builder, tls, NodeIdentity::broker(settings.node.id)),
            addrs: settings.kafka.manager_addrs(),
            next: AtomicUsize::new(0),
        }
    }

    /// Sends one request to each manager in turn until one answers (any HTTP status);
    /// connection failures move on to the next.
    async fn send(
        &self,
        token: Option<&str>,
        build: impl Fn(&reqwest::Client, String) -> reqwest::RequestBuilder,
        path: &str,
    ) -> Result<bytes::Bytes, ApiError> {
        let start = self.next.load(Ordering::Relaxed);
        let mut last = ApiError::new(ErrorCode::Unavailable, "no managers configured");
        for i in 0..self.addrs.len() {
            let n = (start + i) % self.addrs.len();
            match self.call(&self.addrs[n], token, &build, path).await {
                Err(Unreached(e)) => last = e,
                Ok(answer) => {
                    self.next.store(n, Ordering::Relaxed);
                    return answer;
                }
            }
        }
        Err(last)
    }

    /// One request to the client API at `addr`: `Err` when it could not be reached, else its
    /// body or the error it answered.
    async fn call(
        &self,
        addr: &str,
        token: Option<&str>,
        build: impl Fn(&reqwest::Client, String) -> reqwest::RequestBuilder,
        path: &str,
    ) -> Result<Result<bytes::Bytes, ApiError>, Unreached> {
        let mut req = build(&self.http.http, self.http.url(addr, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let unreached = |e: reqwest::Error| {
            Unreached(ApiError::new(
                ErrorCode::Unavailable,
                format!("{addr}: {e}"),
            ))
        };
        let resp = req.send().await.map_err(unreached)?;
        let ok = resp.status().is_success();
        let body = resp.bytes().await.map_err(unreached)?;
        if ok {
            return Ok(Ok(body));
        }
        Ok(Err(match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(b) => ApiError(b),
            Err(_) => ApiError::new(
                ErrorCode::Unavailable,
                format!(
                    "{addr} answered {} bytes that are no error body",
                    body.len()
                ),
            ),
        }))
    }

    /// Commits (`commit`) or reads (`None`) a group's offset at the client API of the
    /// partition's leader (`addr`).
    pub async fn leader_offsets(
        &self,
        token: Option<&str>,
        addr: &str,
        (topic, index): (&str, u32),
        group: &str,
        commit: Option<OffsetCommitRequest>,
    ) -> Result<OffsetResponse, ApiError> {
        let path = routes::partition_offsets(topic, index, group);
        let build = |c: &reqwest::Client, url| match &commit {
            Some(body) => c.post(url).json(body),
            None => c.get(url),
        };
        let answer = self.call(addr, token, build, &path).await;
        parse(answer.map_err(|Unreached(e)| e)?)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        token: Option<&str>,
        path: &str,
        query: &impl serde::Serialize,
    ) -> Result<T, ApiError> {
        parse(
            self.send(token, |c, url| c.get(url).query(query), path)
                .await,
        )
    }

    /// Every broker the managers know.
    pub async fn brokers(&self, token: Option<&str>) -> Result<Vec<BrokerInfo>, ApiError> {
        self.get(token, routes::BROKERS, &()).await
    }

    /// Every topic with its partitions.
    pub async fn topics(&self, token: Option<&str>) -> Result<Vec<TopicInfo>, ApiError> {
        self.get(token, routes::TOPICS, &()).await
    }

    /// One topic, created with the cluster's defaults first when `auto_create` and the
    /// managers' `topics.auto_create` allow.
    pub async fn topic(
        &self,
        token: Option<&str>,
        name: &str,
        auto_create: bool,
    ) -> Result<TopicInfo, ApiError> {
        if auto_create {
            let _: serde_json::Value = self
                .get(
                    token,
                    &routes::metadata(name),
                    &MetadataParams { auto_create },
                )
                .await?;
        }
        self.get(token, &routes::topic(name), &()).await
    }

    /// Creates a topic, waiting up to `wait_ms` for its leaders.
    pub async fn create_topic(
        &self,
        token: Option<&str>,
        req: &CreateTopicRequest,
        wait_ms: u64,
    ) -> Result<(), ApiError> {
        let query = CreateTopicParams { wait_ms };
        self.send(
            token,
            |c, url| c.post(url).query(&query).json(req),
            routes::TOPICS,
        )
        .await
        .map(drop)
    }

    /// Deletes a topic.
    pub async fn delete_topic(&self, token: Option<&str>, name: &str) -> Result<(), ApiError> {
        self.send(token, |c, url| c.delete(url), &routes::topic(name))
            .await
            .map(drop)
    }
}
