//! Client of the managers' API: cluster status, topics, consumer groups, producer and consumer
//! registration. Every manager serves every route (followers forward writes to the write
//! manager), so any one live manager suffices: calls fail over between the bootstrap addresses.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use raftbus_protocol::meta::{
    BrokerInfo, ConsumerAssignment, ConsumerHeartbeat, CreateTopicRequest, GroupInfo, ManagerInfo,
    ProducerHeartbeat, TopicInfo, TopicMetadata,
};
use raftbus_protocol::moves::{MovesReply, ReassignRequest, RebalanceRequest};
use raftbus_protocol::query::{CreateTopicParams, MetadataParams};
use raftbus_protocol::{ErrorCode, routes};
use reqwest::{RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::broker::{json, ok};
use crate::protocol::acl::{AclRule, CreateUserRequest, CreateUserResponse};
use crate::{Credentials, SdkError};

mod bootstrap;
use bootstrap::parse_bootstrap;

/// Connect timeout per manager: short, so a dead manager costs little before failing over.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Request timeout; calls that wait server-side (topic creation) add their wait to it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a call keeps asking while managers answer `not_leader` (a write manager change:
/// an election takes a few seconds at most).
const ELECTION_PATIENCE: Duration = Duration::from_secs(10);

/// HTTP client of the managers. Remembers which manager answered last and asks it first.
/// Cheap to clone; clones share connections and the "last good" manager.
#[derive(Debug, Clone)]
pub struct Admin {
    http: reqwest::Client,
    /// `https` or `http`, from the credentials.
    scheme: &'static str,
    managers: std::sync::Arc<Vec<String>>,
    /// Index into `managers` of the last manager that answered (success or API error).
    last_good: std::sync::Arc<AtomicUsize>,
}

impl Admin {
    /// A client of the managers listed in `bootstrap`: comma-separated `host:port` or
    /// `http(s)://host:port` entries (the scheme is dropped: the credentials decide it). Fails
    /// with [`SdkError::InvalidArgument`] naming the bad entry on an empty list or an
    /// unparsable address.
    pub fn new(bootstrap: &str) -> Result<Admin, SdkError> {
        Self::with_credentials(bootstrap, &Credentials::process_default())
    }

    /// [`Admin::new`] with explicit credentials.
    pub fn with_credentials(bootstrap: &str, credentials: &Credentials) -> Result<Admin, SdkError> {
        let managers = parse_bootstrap(bootstrap)?;
        let builder = reqwest::Client::builder()
            .http2_prior_knowledge()
            .tcp_nodelay(true)
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT);
        let http = credentials.client(builder)?;
        Ok(Admin {
            http,
            scheme: credentials.scheme(),
            managers: std::sync::Arc::new(managers),
            last_good: std::sync::Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The normalized (`host:port`) manager addresses this client uses.
    pub fn bootstrap(&self) -> &[String] {
        &self.managers
    }

    /// Every manager with its role and health, as seen by the answering manager.
    pub async fn managers(&self) -> Result<Vec<ManagerInfo>, SdkError> {
        self.call(routes::MANAGERS, &[], |h, u| h.get(u)).await
    }

    /// Every broker the managers know, alive or not.
    pub async fn brokers(&self) -> Result<Vec<BrokerInfo>, SdkError> {
        self.call(routes::BROKERS, &[], |h, u| h.get(u)).await
    }

    /// Creates a topic. With `wait_ready`, the manager waits up to that long for every
    /// partition to elect a leader before answering; check [`TopicInfo::ready`] either way.
    pub async fn create_topic(
        &self,
        req: &CreateTopicRequest,
        wait_ready: Option<Duration>,
    ) -> Result<TopicInfo, SdkError> {
        let wait = wait_ready.filter(|w| !w.is_zero());
        self.call(routes::TOPICS, &[], |h, u| {
            let r = h.post(u).json(req);
            match wait {
                Some(w) => r
                    .query(&CreateTopicParams {
                        wait_ms: w.as_millis().min(u64::MAX as u128) as u64,
                    })
                    .timeout(REQUEST_TIMEOUT.saturating_add(w)),
                None => r,
            }
        })
        .await
    }

    /// Every topic with its partitions.
    pub async fn list_topics(&self) -> Result<Vec<TopicInfo>, SdkError> {
        self.call(routes::TOPICS, &[], |h, u| h.get(u)).await
    }

    /// One topic with placement, leaders and log end offsets of its partitions.
    pub async fn describe_topic(&self, name: &str) -> Result<TopicInfo, SdkError> {
        self.call(routes::TOPIC, &[name], |h, u| h.get(u)).await
    }

    /// Moves a partition to another replica set (preferred leader first); the move runs in
    /// the background, throttled, and `describe_topic` shows it until it completes.
    pub async fn reassign(
        &self,
        topic: &str,
        partition: u32,
        replicas: &[u64],
    ) -> Result<MovesReply, SdkError> {
        let body = ReassignRequest {
            replicas: replicas.to_vec(),
        };
        let p = partition.to_string();
        self.call(routes::PARTITION_REASSIGN, &[topic, &p], |h, u| {
            h.post(u).json(&body)
        })
        .await
    }

    /// Evens out replicas and preferred leaders over the live brokers (one topic or all);
    /// the managers keep starting the remaining moves until none is left.
    pub async fn rebalance(&self, topic: Option<&str>) -> Result<MovesReply, SdkError> {
        let body = RebalanceRequest {
            topic: topic.map(str::to_string),
        };
        self.call(routes::REBALANCE, &[], |h, u| h.post(u).json(&body))
            .await
    }

    /// Changes a topic's retention (the fields of `change` that are set); answers the topic as
    /// it is afterwards. Partition leaders apply the new limits within a heartbeat and one
    /// retention interval.
    pub async fn alter_topic(
        &self,
        name: &str,
        change: &crate::protocol::retention::RetentionSpec,
    ) -> Result<TopicInfo, SdkError> {
        self.call(routes::TOPIC, &[name], |h, u| h.patch(u).json(change))
            .await
    }

    /// Deletes a topic; brokers drop its replicas on their next heartbeat.
    pub async fn delete_topic(&self, name: &str) -> Result<(), SdkError> {
        self.call_unit(routes::TOPIC, &[name], |h, u| h.delete(u))
            .await
    }

    /// Where the partitions of `topic` live, creating the topic with defaults first when
    /// `auto_create` is set and the managers allow it.
    pub async fn metadata(
        &self,
        topic: &str,
        auto_create: bool,
    ) -> Result<TopicMetadata, SdkError> {
        self.call(routes::METADATA, &[topic], |h, u| {
            h.get(u).query(&MetadataParams { auto_create })
        })
        .await
    }

    /// Every consumer group.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>, SdkError> {
        self.call(routes::GROUPS, &[], |h, u| h.get(u)).await
    }

    /// One consumer group with its members' partitions.
    pub async fn group(&self, name: &str) -> Result<GroupInfo, SdkError> {
        self.call(routes::GROUP, &[name], |h, u| h.get(u)).await
    }

    /// Joins a consumer group; the answer is this consumer's partitions and generation.
    pub async fn join_group(&self, hb: &ConsumerHeartbeat) -> Result<ConsumerAssignment, SdkError> {
        self.call(routes::CONSUMERS, &[], |h, u| h.post(u).json(hb))
            .await
    }

    /// Keeps a consumer in its group; the answer reflects any rebalance since the last call.
    pub async fn consumer_heartbeat(
        &self,
        hb: &ConsumerHeartbeat,
    ) -> Result<ConsumerAssignment, SdkError> {
        self.call(routes::CONSUMER_HEARTBEAT, &[], |h, u| h.post(u).json(hb))
            .await
    }

    /// Leaves a consumer group at once (instead of waiting for the heartbeat timeout).
    pub async fn leave_group(&self, group: &str, consumer_id: Uuid) -> Result<(), SdkError> {
        let id = consumer_id.to_string();
        self.call_unit(routes::CONSUMER, &[group, &id], |h, u| h.delete(u))
            .await
    }

    /// Adds a user (or gives it a new token, revoking the old one); the answer holds the token,
    /// which the managers do not keep.
    pub async fn create_user(&self, name: &str) -> Result<CreateUserResponse, SdkError> {
        let body = CreateUserRequest { name: name.into() };
        self.call(routes::USERS, &[], |h, u| h.post(u).json(&body))
            .await
    }

    /// Removes a user and its ACL rules.
    pub async fn remove_user(&self, name: &str) -> Result<(), SdkError> {
        self.call_unit(routes::USER, &[name], |h, u| h.delete(u))
            .await
    }

    /// The user names.
    pub async fn users(&self) -> Result<Vec<String>, SdkError> {
        self.call(routes::USERS, &[], |h, u| h.get(u)).await
    }

    /// Adds an ACL rule (idempotent).
    pub async fn add_acl(&self, rule: &AclRule) -> Result<(), SdkError> {
        self.call_unit(routes::ACLS, &[], |h, u| h.post(u).json(rule))
            .await
    }

    /// Removes an ACL rule.
    pub async fn remove_acl(&self, rule: &AclRule) -> Result<(), SdkError> {
        self.call_unit(routes::ACLS, &[], |h, u| h.delete(u).json(rule))
            .await
    }

    /// Every ACL rule.
    pub async fn acls(&self) -> Result<Vec<AclRule>, SdkError> {
        self.call(routes::ACLS, &[], |h, u| h.get(u)).await
    }

    /// Registers an idempotent producer for a topic.
    pub async fn register_producer(&self, hb: &ProducerHeartbeat) -> Result<(), SdkError> {
        self.call_unit(routes::PRODUCERS, &[], |h, u| h.post(u).json(hb))
            .await
    }

    /// Keeps a producer registration alive.
    pub async fn producer_heartbeat(&self, hb: &ProducerHeartbeat) -> Result<(), SdkError> {
        self.call_unit(routes::PRODUCER_HEARTBEAT, &[], |h, u| h.post(u).json(hb))
            .await
    }

    /// [`Self::send`], then decodes the JSON answer.
    async fn call<T: DeserializeOwned>(
        &self,
        pattern: &str,
        names: &[&str],
        build: impl Fn(&reqwest::Client, Url) -> RequestBuilder,
    ) -> Result<T, SdkError> {
        let (addr, resp) = self.send(pattern, names, build).await?;
        json(addr, Ok(resp)).await
    }

    /// [`Self::send`], ignoring whatever body a successful answer has.
    async fn call_unit(
        &self,
        pattern: &str,
        names: &[&str],
        build: impl Fn(&reqwest::Client, Url) -> RequestBuilder,
    ) -> Result<(), SdkError> {
        let (_, resp) = self.send(pattern, names, build).await?;
        // Drain the body so the stream ends cleanly; its content does not matter.
        let _ = resp.bytes().await;
        Ok(())
    }

    /// Sends the request built by `build` for the route `pattern` filled with `names`
    /// (percent-encoded, `raftbus_protocol::routes::fill`) to the managers,
    /// starting with the last one that answered. Moves on only on transport errors; an answer
    /// (even an error status) is final. Returns the answering address with the response.
    async fn send(
        &self,
        pattern: &str,
        names: &[&str],
        build: impl Fn(&reqwest::Client, Url) -> RequestBuilder,
    ) -> Result<(&str, Response), SdkError> {
        for name in names {
            if name.is_empty() || *name == "." || *name == ".." {
                return Err(SdkError::InvalidArgument(format!("invalid name {name:?}")));
            }
        }
        // `not_leader` comes only from a request that never reached the metadata log (the
        // write manager is changing), so sending it again is safe whatever it asks.
        let deadline = Instant::now() + ELECTION_PATIENCE;
        loop {
            match self.send_once(pattern, names, &build).await {
                Err(e) if e.code() == Some(ErrorCode::NotLeader) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                answered => return answered,
            }
        }
    }

    /// One round of [`Self::send`] over the managers.
    async fn send_once(
        &self,
        pattern: &str,
        names: &[&str],
        build: &impl Fn(&reqwest::Client, Url) -> RequestBuilder,
    ) -> Result<(&str, Response), SdkError> {
        let n = self.managers.len();
        let start = self.last_good.load(Ordering::Relaxed);
        let mut last_err = None;
        for i in 0..n {
            let idx = (start + i) % n;
            let addr = self.managers[idx].as_str();
            let url = endpoint(self.scheme, addr, pattern, names)?;
            match ok(addr, build(&self.http, url).send().await).await {
                Err(e @ SdkError::Transport { .. }) => {
                    tracing::debug!(manager = addr, error = %e, "manager unreachable, trying next");
                    last_err = Some(e);
                }
                answered => {
                    self.last_good.store(idx, Ordering::Relaxed);
                    return answered.map(|resp| (addr, resp));
                }
            }
        }
        Err(last_err.unwrap_or_else(|| SdkError::InvalidArgument("no manager address".into())))
    }
}

/// `{scheme}://{addr}` and the route `pattern` filled with the percent-encoded `names`.
fn endpoint(scheme: &str, addr: &str, pattern: &str, names: &[&str]) -> Result<Url, SdkError> {
    let path = routes::fill(pattern, names);
    Url::parse(&format!("{scheme}://{addr}{path}"))
        .map_err(|e| SdkError::InvalidArgument(format!("bad URL: {e}")))
}

#[cfg(test)]
mod tests;
