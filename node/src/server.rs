//! Start-up and ordered shutdown pieces of a node: transport security, the two listeners.

use actix_web::dev::{Server, ServerHandle};
use raftbus_security::{NodeTls, SecuritySettings};
use tokio::task::JoinHandle;

use crate::error::NodeError;

/// Loads the node's transport security; warns loudly when it is off (`what` says what anyone
/// who reaches a port could then do).
pub fn load_tls(settings: &SecuritySettings, what: &str) -> Result<Option<NodeTls>, NodeError> {
    let tls = NodeTls::load(settings)?;
    if tls.is_none() {
        tracing::warn!(
            "security.insecure = true: plain HTTP, no certificates, no authentication; anyone \
             who reaches a port can {what}"
        );
    }
    Ok(tls)
}

/// The node's two running listeners: the internal one (Raft RPCs, mutual TLS) and the client
/// API. Shutdown stops them in order (see [`Listeners::stop_api`], [`Listeners::stop`]).
pub struct Listeners {
    raft: ServerHandle,
    api: ServerHandle,
    tasks: (
        JoinHandle<std::io::Result<()>>,
        JoinHandle<std::io::Result<()>>,
    ),
}

impl Listeners {
    /// Runs both servers.
    pub fn start(raft: Server, api: Server) -> Self {
        let (raft_handle, api_handle) = (raft.handle(), api.handle());
        Self {
            raft: raft_handle,
            api: api_handle,
            tasks: (tokio::spawn(raft), tokio::spawn(api)),
        }
    }

    /// First step of shutdown: no new client requests; those running finish.
    pub async fn stop_api(&self) {
        self.api.stop(true).await;
    }

    /// Last step, once the node's Raft groups are stopped (nothing useful can still arrive on
    /// the Raft listener): stops it and waits for both servers to end.
    pub async fn stop(self) {
        self.raft.stop(false).await;
        let _ = tokio::join!(self.tasks.0, self.tasks.1);
    }
}
