//! Start-up and graceful shutdown of a broker.
//!
//! Order matters. Start: pool, migrations, reopen every hosted group, listeners, then the
//! background loops (manager heartbeat). Shutdown: cancel the loops (no more replicas created
//! or removed), stop the client API (no new produces), wait for the loops to end, stop every
//! Raft group, stop the Raft listener, close the pool.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use raftbus_node::server::{Listeners, load_tls};
use raftbus_protocol::acl::SecurityTable;
use raftbus_raft::Router;
use raftbus_security::NodeIdentity;

use crate::api::{self, ApiState};
use crate::error::BrokerError;
use crate::partition::Registry;
use crate::peers::Peers;
use crate::settings::Settings;
use crate::storage::Storage;
use crate::tasks::Tasks;

/// Runs a broker until SIGINT or SIGTERM.
pub async fn run(settings: Settings) -> Result<(), BrokerError> {
    let settings = Arc::new(settings);
    let db = settings.database.connect().await?;
    crate::migrate(&db).await?;
    let tls = load_tls(&settings.security, "read, write and steer this broker")?;
    let me = NodeIdentity::broker(settings.node.id);
    let router = Router::new(
        me,
        tls.as_ref(),
        Duration::from_millis(settings.raft.connect_timeout_ms),
        Duration::from_millis(settings.raft.backoff_ms),
        settings.peer_config(),
    );
    // Frames of snapshot transfers a crash interrupted; no group runs yet.
    raftbus_raft::snapshot::discard_all(&db).await?;
    let mut storage = Storage::start(db.clone(), settings.storage_limits());
    storage.snapshot_frame_bytes = settings.raft.snapshot_frame_bytes;
    let registry = Arc::new(Registry::new(
        settings.node.id,
        storage,
        router,
        settings.raft_config()?,
        settings.propose_config(),
    ));
    let n = registry.open_all().await?;
    tracing::info!(node = settings.node.id, partitions = n, "broker starting");

    let peers = Arc::new(Peers::new(Duration::from_millis(
        settings.raft.peer_timeout_ms,
    )));
    let state = web::Data::new(ApiState {
        registry: registry.clone(),
        settings: settings.clone(),
        metrics: Default::default(),
        peers: peers.clone(),
        long_polls: Arc::new(tokio::sync::Semaphore::new(settings.limits.max_long_polls)),
    });

    let lookup = registry.clone();
    let internal_state = state.clone();
    let raft_server = raftbus_raft::server::listen(
        &settings.server.listen.raft_addr,
        settings.server.listen.workers,
        lookup,
        tls.as_ref(),
        move |cfg| api::configure_internal(cfg, internal_state.clone()),
    )
    .map_err(BrokerError::bind(&settings.server.listen.raft_addr))?;
    // Users and rules: empty until the managers send theirs (only `admin` exists before).
    let security = Arc::new(std::sync::RwLock::new(SecurityTable::default()));
    let tokens =
        raftbus_security::Tokens::from_settings(&settings.security, security.clone(), api::policy)?;
    let kafka_cancel = tokio_util::sync::CancellationToken::new();
    let kafka = crate::kafka::start(
        state.clone(),
        tls.as_ref(),
        tokens.clone(),
        kafka_cancel.clone(),
    )
    .await?;
    let tokens = tokens.map(web::Data::new);
    let api_server = raftbus_security::client_server!(
        &settings.server.listen.api_addr,
        settings.server.listen.workers,
        max_connections = settings.server.max_connections,
        tls.as_ref().map(|t| &t.public),
        tokens,
        move |cfg: &mut web::ServiceConfig| api::configure(cfg, state.clone())
    )
    .map_err(BrokerError::bind(&settings.server.listen.api_addr))?;

    let listeners = Listeners::start(raft_server, api_server);
    let tasks = Tasks::start(&settings, &registry, &peers, tls.as_ref(), &security)?;
    tracing::info!(
        api = %settings.server.listen.api_addr,
        raft = %settings.server.listen.raft_addr,
        advertised_api = %settings.server.advertised_api(),
        advertised_raft = %settings.server.advertised_raft(),
        "broker ready"
    );

    raftbus_node::runtime::shutdown_signal().await;
    tracing::info!("shutting down");
    tasks.cancel();
    // Client listeners first (HTTP and Kafka), so nothing new reaches the groups.
    kafka_cancel.cancel();
    listeners.stop_api().await;
    if let Some(k) = kafka {
        k.join().await;
    }
    tasks.join().await;
    registry.shutdown().await;
    // The groups' last writes commit before the pool closes.
    registry.storage().flush().await;
    listeners.stop().await;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}
