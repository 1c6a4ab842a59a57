//! Background loops of a broker, started after the listeners and stopped first at shutdown.
//!
//! Every loop gets a child of one [`CancellationToken`]. Shutdown cancels it before the client
//! API stops and then awaits each loop, so no loop can create or remove a replica while
//! [`Registry::shutdown`] stops the groups or after the pool is closed.

pub mod heartbeat;
pub mod leader_probe;

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::BrokerError;
use crate::partition::Registry;
use crate::settings::Settings;

/// The running background loops.
pub struct Tasks {
    cancel: CancellationToken,
    handles: Vec<(&'static str, JoinHandle<()>)>,
}

impl Tasks {
    /// Starts the loops the settings ask for: the manager heartbeat only when
    /// `manager.bootstrap` lists managers (brokers without managers run none).
    pub fn start(settings: &Settings, registry: &Arc<Registry>) -> Result<Self, BrokerError> {
        let cancel = CancellationToken::new();
        let mut handles = Vec::new();
        if let Some(hb) = heartbeat::Heartbeat::new(settings, registry.clone())? {
            handles.push(("heartbeat", tokio::spawn(hb.run(cancel.child_token()))));
        }
        if settings.raft.leader_probe_ms > 0 {
            let every = std::time::Duration::from_millis(settings.raft.leader_probe_ms);
            let probe = leader_probe::run(registry.clone(), every, cancel.child_token());
            handles.push(("leader_probe", tokio::spawn(probe)));
        }
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
