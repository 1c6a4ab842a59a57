//! Start-up and graceful shutdown of a broker.
//!
//! Order matters. Start: pool, migrations, reopen every hosted group, listeners, then the
//! background loops (manager heartbeat). Shutdown: cancel the loops (no more replicas created
//! or removed), stop the client API (no new produces), wait for the loops to end, stop every
//! Raft group, stop the Raft listener, close the pool.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use raftbus_raft::Router;

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
    let d = &settings.database;
    let acquire = Duration::from_millis(d.acquire_timeout_ms);
    let db = raftbus_raft::runtime::connect_db(
        &d.url,
        d.max_connections,
        acquire,
        Duration::from_secs(30),
    )
    .await?;
    crate::migrate(&db).await?;
    let router = Router::new(
        Duration::from_millis(settings.raft.connect_timeout_ms),
        Duration::from_millis(settings.raft.backoff_ms),
        settings.peer_config(),
    );
    let storage = Storage::start(db.clone(), settings.storage_limits());
    let registry = Arc::new(Registry::new(
        settings.node.id,
        storage,
        router,
        settings.raft_config()?,
        settings.propose_config(),
    ));
    let n = registry.open_all().await?;
    tracing::info!(node = settings.node.id, partitions = n, "broker starting");

    let lookup = registry.clone();
    let raft_server =
        raftbus_raft::server::listen(&settings.server.raft_addr, settings.server.workers, lookup)
            .map_err(|source| BrokerError::Bind {
            addr: settings.server.raft_addr.clone(),
            source,
        })?;

    let peers = Arc::new(Peers::new(Duration::from_millis(
        settings.raft.peer_timeout_ms,
    )));
    let state = web::Data::new(ApiState {
        registry: registry.clone(),
        settings: settings.clone(),
        metrics: Default::default(),
        peers: peers.clone(),
    });
    let api_server =
        HttpServer::new(move || App::new().configure(|cfg| api::configure(cfg, state.clone())))
            .workers(settings.server.workers)
            .disable_signals()
            // Clients and peers keep HTTP/2 connections open: give in-flight requests 1 s, not 30.
            .shutdown_timeout(1)
            .bind_auto_h2c(&settings.server.api_addr)
            .map_err(|source| BrokerError::Bind {
                addr: settings.server.api_addr.clone(),
                source,
            })?
            .run();

    let (raft_handle, api_handle) = (raft_server.handle(), api_server.handle());
    let raft_task = tokio::spawn(raft_server);
    let api_task = tokio::spawn(api_server);
    let tasks = Tasks::start(&settings, &registry, &peers)?;
    tracing::info!(
        api = %settings.server.api_addr,
        raft = %settings.server.raft_addr,
        advertised_api = %settings.server.advertised_api(),
        advertised_raft = %settings.server.advertised_raft(),
        "broker ready"
    );

    raftbus_raft::runtime::shutdown_signal().await;
    tracing::info!("shutting down");
    tasks.cancel();
    api_handle.stop(true).await;
    tasks.join().await;
    registry.shutdown().await;
    // The groups' last writes commit before the pool closes.
    registry.storage().flush().await;
    // The groups are stopped: nothing useful can still arrive on the Raft listener.
    raft_handle.stop(false).await;
    let _ = tokio::join!(raft_task, api_task);
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}
