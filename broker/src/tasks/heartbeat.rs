//! The broker → manager heartbeat and the reconcile loop it drives.
//!
//! Every `manager.heartbeat_ms` the broker reports who it is (advertised addresses) and what
//! it hosts (leadership and log end offset of every group) to one manager: in full now and
//! then, otherwise only what changed ([`report`]). The reply is the desired state, which the
//! broker reconciles: it drops the groups it is told to and creates the replicas it is
//! assigned but does not host. The assignment set comes only when it changed (the broker
//! echoes the digest of the set it holds; the manager answers `unchanged` when its set has
//! the same), and the broker reconciles against the last set it received every tick.
//! Managers are the source of truth, so a failed step is simply retried at the next tick:
//! errors are logged, never fatal, and unreachable managers never stop the broker from
//! serving.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use raftbus_node::tasks::Ticker;
use raftbus_protocol::api::{CreatePartitionRequest, Member};
use raftbus_protocol::meta::{Assignment, BrokerHeartbeat, BrokerHeartbeatReply, HostedGroup};
use raftbus_protocol::routes;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use super::membership::Desired;
use super::retention::RetentionPolicies;
use crate::error::BrokerError;
use crate::partition::Registry;
use crate::settings::Settings;
use raftbus_protocol::acl::SecurityTable;
use raftbus_security::NodeHttp;
use raftbus_security::{NodeIdentity, NodeTls};
use std::sync::RwLock;

pub mod report;

use report::{Pending, Reporter, SIZES};

/// Per-request timeout: a hung manager must not hold up the next one for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// At most one warning per this interval while no manager answers (a manager outage would
/// otherwise log every tick).
const WARN_EVERY: Duration = Duration::from_secs(10);

/// State of the heartbeat loop.
pub struct Heartbeat {
    /// This broker as it reports itself.
    me: Member,
    /// Manager addresses, in configured order.
    managers: Vec<String>,
    /// Tick interval.
    every: Duration,
    /// One client for every heartbeat: HTTP/2 connections to managers are reused.
    http: NodeHttp,
    registry: Arc<Registry>,
    /// Index of the manager to try first: the last one that answered.
    next: usize,
    /// Latest desired voters and leaders per group, for the `membership` loop.
    desired: Arc<Desired>,
    /// Set while no manager answers.
    failing: bool,
    /// When the last "no manager answered" warning was logged.
    last_warn: Option<Instant>,
    /// Where each reply's retention limits go, for the `retention` loop.
    retention: RetentionPolicies,
    /// Full and incremental reports.
    reporter: Reporter,
    /// The last assignment set received: reconciled every tick.
    assignments: Vec<Assignment>,
    /// The users and rules of the last reply (shared with the client API).
    security: Arc<RwLock<SecurityTable>>,
    /// Its digest, echoed so the manager sends the set again only when it changed (`None`:
    /// no set yet, or from a manager that predates digests).
    digest: Option<String>,
}

impl Heartbeat {
    /// The loop's state, or `None` when no managers are configured.
    pub fn new(
        settings: &Settings,
        registry: Arc<Registry>,
        tls: Option<&NodeTls>,
    ) -> Result<Option<Self>, BrokerError> {
        let managers = settings.manager.addrs();
        if managers.is_empty() {
            return Ok(None);
        }
        let http = NodeHttp::new(
            reqwest::Client::builder()
                .connect_timeout(REQUEST_TIMEOUT)
                .timeout(REQUEST_TIMEOUT),
            tls,
            NodeIdentity::broker(settings.node.id),
        );
        Ok(Some(Self {
            me: Member {
                id: settings.node.id,
                api_addr: settings.server.advertised_api().to_string(),
                raft_addr: settings.server.advertised_raft().to_string(),
                kafka_addr: settings.kafka.advertised().map(String::from),
            },
            managers,
            every: Duration::from_millis(settings.manager.heartbeat_ms),
            http,
            registry,
            next: 0,
            desired: Arc::default(),
            failing: false,
            last_warn: None,
            retention: RetentionPolicies::default(),
            reporter: Reporter::default(),
            assignments: Vec::new(),
            security: Arc::default(),
            digest: None,
        }))
    }

    /// The desired state this loop keeps current (read by the `membership` loop).
    pub fn desired(&self) -> Arc<Desired> {
        self.desired.clone()
    }

    /// Shares the retention limits of every reply with the `retention` loop.
    pub fn with_retention(mut self, policies: RetentionPolicies) -> Self {
        self.retention = policies;
        self
    }

    /// Where each reply's users and ACL rules go, for the client API's checks.
    pub fn with_security(mut self, table: Arc<RwLock<SecurityTable>>) -> Self {
        self.security = table;
        self
    }

    /// Heartbeats and reconciles until `cancel` fires. Cancellation interrupts a tick's wait
    /// and its requests, but a create or remove in progress completes first: both leave the
    /// registry and the database consistent only when they run to the end.
    pub async fn run(mut self, cancel: CancellationToken) {
        let span = tracing::info_span!("heartbeat", node = self.me.id);
        async move {
            tracing::info!(managers = ?self.managers, every_ms = self.every.as_millis() as u64, "started");
            let mut ticker = Ticker::new(self.every, cancel.clone());
            while ticker.tick().await {
                let digest = self.digest.clone();
                let (beat, pending) = self.reporter.report(&self.me, self.hosted(), digest);
                let reply = tokio::select! {
                    _ = cancel.cancelled() => break,
                    r = self.send(&beat, pending.full()) => r,
                };
                let Some(reply) = reply else { continue };
                let removed = self.accept(pending, reply);
                self.reconcile(&self.assignments, &removed, &cancel).await;
            }
            tracing::info!("stopped");
        }
        .instrument(span)
        .await
    }

    /// Every hosted group as reported to the managers.
    fn hosted(&self) -> Vec<HostedGroup> {
        self.registry
            .all()
            .iter()
            .map(|p| {
                let l = p.leadership();
                let (voters, learners, joint) = p.membership();
                let marks = *p.marks.borrow();
                HostedGroup {
                    group_id: p.group_id,
                    is_leader: l.is_leader,
                    leader: l.leader.map(|(id, _)| id),
                    log_end_offset: marks.next_offset,
                    log_start_offset: marks.log_start_offset,
                    voters,
                    learners,
                    joint,
                }
            })
            .collect()
    }

    /// Takes a reply: records the acknowledgement and keeps the new assignment set, if it
    /// came (`unchanged`: the held set is still current). Returns the groups to drop.
    fn accept(&mut self, pending: Pending, mut reply: BrokerHeartbeatReply) -> Vec<Uuid> {
        self.reporter.acknowledged(pending, &reply);
        if let Some(table) = reply.security.take() {
            *self.security.write().expect("security table lock") = table;
        }
        if reply.unchanged {
            if self.digest.is_none() {
                // Never happens (no digest is sent without a set); ask for the set next time.
                tracing::warn!("manager answered `unchanged` to a heartbeat without a digest");
            }
            return reply.removed;
        }
        self.desired.replace(&reply.assignments);
        self.retention
            .replace(reply.assignments.iter().map(|a| (a.group_id, a.retention)));
        self.assignments = reply.assignments;
        self.digest = reply.assignments_digest;
        reply.removed
    }

    /// Sends the heartbeat to the managers in order, starting with the last one that
    /// answered, until one answers 2xx with a reply it can decode.
    async fn send(&mut self, beat: &BrokerHeartbeat, full: bool) -> Option<BrokerHeartbeatReply> {
        let body = match serde_json::to_vec(beat) {
            Ok(b) => bytes::Bytes::from(b),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode heartbeat");
                return None;
            }
        };
        let n = self.managers.len();
        let mut errors = Vec::with_capacity(n);
        for k in 0..n {
            let i = (self.next + k) % n;
            let addr = &self.managers[i];
            match post(&self.http, addr, body.clone()).await {
                Ok((reply, size)) => {
                    SIZES.record(full, body.len(), reply.unchanged, size);
                    if std::mem::take(&mut self.failing) {
                        tracing::info!(manager = %addr, "a manager answers again");
                    }
                    self.next = i;
                    return Some(reply);
                }
                Err(e) => {
                    tracing::debug!(manager = %addr, error = %e, "heartbeat not accepted");
                    errors.push(format!("{addr}: {e}"));
                }
            }
        }
        self.failing = true;
        let now = Instant::now();
        if self
            .last_warn
            .is_none_or(|t| now.duration_since(t) >= WARN_EVERY)
        {
            self.last_warn = Some(now);
            tracing::warn!(errors = %errors.join("; "), "no manager accepted the heartbeat; retrying");
        }
        None
    }

    /// Applies the desired state: removals first (a re-created topic's partition may reuse
    /// the name of a removed group, and a replica moved away is dropped), then the missing
    /// replicas (a replica moved here is created uninitialized; the leader adds it).
    async fn reconcile(
        &self,
        assignments: &[Assignment],
        removed: &[Uuid],
        cancel: &CancellationToken,
    ) {
        for &group in removed {
            if cancel.is_cancelled() {
                return;
            }
            if self.registry.by_id(group).is_none() {
                continue;
            }
            if let Err(e) = self.registry.remove(group).await {
                tracing::warn!(%group, error = %e, "cannot remove replica; retrying next tick");
            }
        }
        for a in assignments {
            if cancel.is_cancelled() {
                return;
            }
            if !self.needs_create(a) {
                continue;
            }
            let (topic, partition, group) = (&a.topic, a.partition, a.group_id);
            let req = CreatePartitionRequest {
                group_id: group,
                members: a.members.clone(),
            };
            match self.registry.create(topic, partition, req).await {
                Ok(true) => tracing::info!(%group, "{topic}/{partition}: assigned replica created"),
                Ok(false) => {}
                Err(e) => tracing::warn!(
                    %group, error = %e, "{topic}/{partition}: cannot create assigned replica; retrying next tick"
                ),
            }
        }
    }

    /// A replica must be created when it is not hosted, and re-driven when this broker is
    /// its preferred leader and it has no membership yet (a crash between opening and
    /// initializing it would otherwise leave it uninitialized forever).
    fn needs_create(&self, a: &Assignment) -> bool {
        match self.registry.by_id(a.group_id) {
            None => true,
            Some(p) => a.members.first().is_some_and(|m| m.id == self.me.id) && !p.has_membership(),
        }
    }
}

/// One heartbeat to one manager: the decoded reply and its size in bytes, or why it failed.
async fn post(
    http: &NodeHttp,
    addr: &str,
    body: bytes::Bytes,
) -> Result<(BrokerHeartbeatReply, usize), String> {
    let resp = http
        .http
        .post(http.url(addr, routes::BROKER_HEARTBEAT))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| chain(&e))?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        let body: String = body.chars().take(200).collect();
        return Err(format!("HTTP {status}: {body}"));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("cannot read reply: {}", chain(&e)))?;
    let reply = serde_json::from_slice(&bytes).map_err(|e| format!("bad reply: {e}"))?;
    Ok((reply, bytes.len()))
}

/// An error with its causes (reqwest's own message hides "connection refused" and the like).
fn chain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

#[cfg(test)]
mod tests;
