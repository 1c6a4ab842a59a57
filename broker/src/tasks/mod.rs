//! Background loops of a broker, started after the listeners and stopped first at shutdown.
//!
//! Every loop gets a child of one [`CancellationToken`]. Shutdown cancels it before the client
//! API stops and then awaits each loop, so no loop can create or remove a replica while
//! [`Registry::shutdown`] stops the groups or after the pool is closed.

pub mod expiry;
pub mod heartbeat;
pub mod leader_probe;
pub mod membership;
pub mod quiesce;
pub mod retention;
pub mod revive;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use raftbus_node::tasks::Ticker;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::BrokerError;
use crate::partition::{Partition, Registry};
use crate::peers::Peers;
use crate::settings::Settings;
use raftbus_protocol::acl::SecurityTable;
use raftbus_security::{NodeHttp, NodeIdentity, NodeTls};

/// Tick of the `membership` loop: how soon a leader reacts to a move or a preferred leader.
const MEMBERSHIP_MS: u64 = 500;

/// The running background loops.
pub struct Tasks {
    cancel: CancellationToken,
    handles: Vec<(&'static str, JoinHandle<()>)>,
}

impl Tasks {
    /// Starts the loops the settings ask for: the manager heartbeat and the `membership`
    /// loop, which carries out the moves its replies ask for, only when `manager.bootstrap`
    /// lists managers (brokers without managers run none), the
    /// `retention` loop, which enforces the limits the heartbeat replies carry, the `expiry`
    /// loop, which forgets idle producer ids, and the failover loops (`leader_probe`, `quiesce`).
    pub fn start(
        settings: &Settings,
        registry: &Arc<Registry>,
        peers: &Arc<Peers>,
        tls: Option<&NodeTls>,
        security: &Arc<std::sync::RwLock<SecurityTable>>,
    ) -> Result<Self, BrokerError> {
        let me = NodeIdentity::broker(settings.node.id);
        let cancel = CancellationToken::new();
        let mut handles = Vec::new();
        let policies = retention::RetentionPolicies::default();
        if let Some(hb) = heartbeat::Heartbeat::new(settings, registry.clone(), tls)? {
            let hb = hb
                .with_retention(policies.clone())
                .with_security(security.clone());
            let every = Duration::from_millis(MEMBERSHIP_MS);
            let members =
                membership::run(registry.clone(), hb.desired(), every, cancel.child_token());
            handles.push(("heartbeat", tokio::spawn(hb.run(cancel.child_token()))));
            handles.push(("membership", tokio::spawn(members)));
        }
        if settings.retention.interval_ms > 0 {
            let every = Duration::from_millis(settings.retention.interval_ms);
            let timeout = Duration::from_millis(settings.limits.produce_timeout_ms);
            let task = retention::run(
                registry.clone(),
                policies,
                every,
                timeout,
                cancel.child_token(),
            );
            handles.push(("retention", tokio::spawn(task)));
        }
        if settings.producers.interval_ms > 0 {
            let task = expiry::run(
                registry.clone(),
                Duration::from_millis(settings.producers.expiry_ms),
                Duration::from_millis(settings.producers.interval_ms),
                Duration::from_millis(settings.limits.produce_timeout_ms),
                cancel.child_token(),
            );
            handles.push(("expiry", tokio::spawn(task)));
        }
        if settings.raft.leader_probe_ms > 0 {
            let every = Duration::from_millis(settings.raft.leader_probe_ms);
            let http = NodeHttp::new(reqwest::Client::builder().timeout(every), tls, me);
            let probe = leader_probe::run(
                registry.clone(),
                peers.clone(),
                http,
                every,
                cancel.child_token(),
            );
            handles.push(("leader_probe", tokio::spawn(probe)));
        }
        let r = &settings.raft;
        if r.quiesce_ms > 0 {
            let timing = quiesce::Timing {
                every: Duration::from_millis(r.quiesce_ms),
                idle_after: Duration::from_millis(r.idle_after_ms),
                ask_timeout: Duration::from_millis(r.peer_timeout_ms / 2),
            };
            let http = NodeHttp::new(
                reqwest::Client::builder()
                    .timeout(timing.ask_timeout)
                    .connect_timeout(timing.ask_timeout),
                tls,
                me,
            );
            let q = quiesce::Quiesce::new(registry.clone(), peers.clone(), http, timing);
            handles.push(("quiesce", tokio::spawn(q.run(cancel.child_token()))));
        }
        let revive = revive::run(registry.clone(), cancel.child_token());
        handles.push(("revive", tokio::spawn(revive)));
        Ok(Self { cancel, handles })
    }

    /// Asks every loop to stop; they finish the step they are in (see [`Tasks::join`]).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Waits for every loop to end. A loop that panicked is logged, not propagated: shutdown
    /// must go on.
    pub async fn join(self) {
        for (name, handle) in self.handles {
            if let Err(e) = handle.await {
                tracing::error!(task = name, error = %e, "background task failed");
            }
        }
    }
}

/// The loop of a partition-leader task (`retention`, `expiry`), run inside the task's span:
/// every `every` until `cancel` fires, `step` on each partition this broker leads for which
/// `due` holds. A failed step is logged and retried on the next tick; each decision is
/// recomputed from scratch, so nothing is lost by it.
async fn each_led_partition<D, S, Fut>(
    registry: &Registry,
    every: Duration,
    cancel: &CancellationToken,
    due: D,
    step: S,
) where
    D: Fn(&Partition) -> bool,
    S: Fn(Arc<Partition>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut tick = Ticker::new(every, cancel.clone());
    while tick.tick().await {
        for p in registry.all() {
            if cancel.is_cancelled() {
                break;
            }
            if !due(&p) || !p.leadership().is_leader {
                continue;
            }
            if let Err(e) = step(p.clone()).await {
                tracing::warn!(partition = %p.name(), error = %e, "not applied; retrying next tick");
            }
        }
    }
}
