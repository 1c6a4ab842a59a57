//! The Kafka-protocol listener: unmodified Kafka clients (librdkafka, the Java client,
//! kafka-python) produce to and consume from Raftbus.
//!
//! Every request is answered through the same broker internals as the HTTP API: produce goes
//! through the partition's proposer ([`crate::api::produce::append`]), fetch reads through
//! [`crate::api::fetch::read`], so there is one record space: a record produced here is read
//! by the `consumer` CLI at the same offset with the same key, value and timestamp, and the
//! other way round. Cluster metadata and topic administration come from the managers' client
//! API, called with the Kafka client's own token (SASL/PLAIN password), so the managers apply
//! the same ACLs as to any HTTP client.
//!
//! Files are named by Kafka API; `conn.rs` is the connection loop (framing, TLS, SASL state,
//! pipelining), `dispatch.rs` decodes a request and encodes its answer.

mod api_versions;
mod configs;
mod conn;
mod dispatch;
mod errors;
mod fetch;
mod group;
mod inflate;
mod init_producer_id;
mod list_offsets;
mod managers;
mod metadata;
mod offsets;
mod produce;
mod records;
mod sasl;
mod settings;
mod topics;

pub use init_producer_id::{producer_uuid, record_sequenced};
pub use settings::KafkaSettings;

use std::sync::Arc;

use actix_web::web;
use raftbus_protocol::acl::{Operation, ResourceKind};
use raftbus_security::NodeTls;
use raftbus_security::token::Tokens;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::api::ApiState;
use crate::error::{ApiError, BrokerError};

/// What every connection shares.
pub(crate) struct Kafka {
    /// The HTTP API's state: registry, settings, metrics, long-poll permits.
    pub api: web::Data<ApiState>,
    /// Token digests and ACLs; `None` in insecure mode (no authentication).
    pub tokens: Option<Tokens>,
    /// The managers' client API.
    pub managers: managers::Managers,
    /// The consumer groups this broker coordinates.
    pub groups: group::Coordinator,
}

/// Who sent a request: the SASL principal and the token it proved (forwarded to the
/// managers); `None` in insecure mode.
#[derive(Debug, Clone, Default)]
pub(crate) struct Who {
    /// Principal name and token.
    pub auth: Option<(String, String)>,
}

impl Who {
    /// The token to forward to the managers, if any.
    pub fn token(&self) -> Option<&str> {
        self.auth.as_ref().map(|(_, t)| t.as_str())
    }
}

impl Kafka {
    /// `Ok` when `who` may `op` on the resource (always in insecure mode).
    pub fn allowed(
        &self,
        who: &Who,
        kind: ResourceKind,
        name: &str,
        op: Operation,
    ) -> Result<(), ApiError> {
        match (&self.tokens, &who.auth) {
            (None, _) => Ok(()),
            (Some(t), Some((principal, _))) => t.require(principal, kind, name, op),
            (Some(_), None) => Err(ApiError::new(
                raftbus_protocol::ErrorCode::Unauthenticated,
                "not authenticated",
            )),
        }
    }
}

/// The running listener: its accept loop and connections end when `cancel` fires.
pub struct KafkaListener {
    accept: tokio::task::JoinHandle<()>,
    conns: TaskTracker,
}

impl KafkaListener {
    /// Waits until the accept loop and every connection have ended (after cancellation).
    pub async fn join(self) {
        let _ = self.accept.await;
        self.conns.close();
        self.conns.wait().await;
    }
}

/// Binds `[kafka] listen_addr` and serves it until `cancel` fires; `None` when it is not set.
pub async fn start(
    api: web::Data<ApiState>,
    tls: Option<&NodeTls>,
    tokens: Option<Tokens>,
    cancel: CancellationToken,
) -> Result<Option<KafkaListener>, BrokerError> {
    let settings = api.settings.clone();
    let s = &settings.kafka;
    if !s.enabled() {
        return Ok(None);
    }
    let addr = s.listen_addr.trim().to_string();
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| BrokerError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.public.clone()));
    let kafka = Arc::new(Kafka {
        managers: managers::Managers::new(&settings, tls),
        groups: group::Coordinator::default(),
        api,
        tokens,
    });
    let conns = TaskTracker::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(s.max_connections));
    tracing::info!(
        listen = %addr,
        advertised = s.advertised().unwrap_or_default(),
        tls = acceptor.is_some(),
        "kafka listener ready"
    );
    let span = tracing::info_span!("kafka-accept", addr = %addr);
    let tracker = conns.clone();
    let accept = tokio::spawn(
        async move {
            loop {
                let (stream, peer) = tokio::select! {
                    _ = cancel.cancelled() => break,
                    r = listener.accept() => match r {
                        Ok(x) => x,
                        Err(e) => {
                            // Out of descriptors and the like: pause instead of spinning.
                            tracing::warn!(error = %e, "kafka accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let Ok(permit) = limit.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "kafka.max_connections reached: connection closed");
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (kafka, acceptor, cancel) = (kafka.clone(), acceptor.clone(), cancel.clone());
                tracker.spawn(
                    async move {
                        let _permit = permit;
                        conn::serve(kafka, stream, acceptor, cancel).await;
                    }
                    .instrument(tracing::debug_span!("kafka-conn", %peer)),
                );
            }
        }
        .instrument(span),
    );
    Ok(Some(KafkaListener { accept, conns }))
}
