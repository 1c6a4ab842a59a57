//! Start-up and graceful shutdown of a broker.
//!
//! Order matters. Start: pool, migrations, reopen every hosted group, listeners, then the
//! background loops (manager heartbeat). Shutdown: cancel the loops (no more replicas created
//! or removed), stop the client API (no new produces), wait for the loops to end, stop every
//! Raft group, stop the Raft listener, close the pool.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer, web};
use raftbus_raft::Router;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::api::{self, ApiState};
use crate::error::BrokerError;
use crate::partition::Registry;
use crate::settings::Settings;
use crate::tasks::Tasks;

/// Connects to the broker database, retrying for a while: in containers Postgres may still be
/// starting when the broker does.
async fn connect(s: &Settings) -> Result<PgPool, BrokerError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = PgPoolOptions::new()
            .max_connections(s.database.max_connections)
            .acquire_timeout(Duration::from_millis(s.database.acquire_timeout_ms))
            .connect(&s.database.url)
            .await;
        match r {
            Ok(pool) => return Ok(pool),
            Err(e) if Instant::now() < deadline && is_transient(&e) => {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn is_transient(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut)
        || e.as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == "57P03")
}

/// Runs a broker until SIGINT or SIGTERM.
pub async fn run(settings: Settings) -> Result<(), BrokerError> {
    let settings = Arc::new(settings);
    let db = connect(&settings).await?;
    crate::migrate(&db).await?;
    let router = Router::new(
        Duration::from_millis(settings.raft.connect_timeout_ms),
        Duration::from_millis(settings.raft.backoff_ms),
    );
    let registry = Arc::new(Registry::new(
        settings.node.id,
        db.clone(),
        router,
        settings.raft_config()?,
    ));
    let n = registry.open_all().await?;
    tracing::info!(node = settings.node.id, partitions = n, "broker starting");

    let lookup = registry.clone();
    let raft_server = HttpServer::new(move || {
        App::new().configure(|cfg| raftbus_raft::server::configure(cfg, lookup.clone()))
    })
    .workers(settings.server.workers)
    .disable_signals()
    // Clients keep HTTP/2 connections open; do not let them hold a shutdown for 30 s.
    .shutdown_timeout(3)
    .bind_auto_h2c(&settings.server.raft_addr)
    .map_err(|source| BrokerError::Bind {
        addr: settings.server.raft_addr.clone(),
        source,
    })?
    .run();

    let state = web::Data::new(ApiState {
        registry: registry.clone(),
        settings: settings.clone(),
        metrics: Default::default(),
    });
    let api_server =
        HttpServer::new(move || App::new().configure(|cfg| api::configure(cfg, state.clone())))
            .workers(settings.server.workers)
            .disable_signals()
            // Clients keep HTTP/2 connections open; do not let them hold a shutdown for 30 s.
            .shutdown_timeout(3)
            .bind_auto_h2c(&settings.server.api_addr)
            .map_err(|source| BrokerError::Bind {
                addr: settings.server.api_addr.clone(),
                source,
            })?
            .run();

    let (raft_handle, api_handle) = (raft_server.handle(), api_server.handle());
    let raft_task = tokio::spawn(raft_server);
    let api_task = tokio::spawn(api_server);
    let tasks = Tasks::start(&settings, &registry)?;
    tracing::info!(
        api = %settings.server.api_addr,
        raft = %settings.server.raft_addr,
        advertised_api = %settings.server.advertised_api(),
        advertised_raft = %settings.server.advertised_raft(),
        "broker ready"
    );

    shutdown_signal().await;
    tracing::info!("shutting down");
    tasks.cancel();
    api_handle.stop(true).await;
    tasks.join().await;
    registry.shutdown().await;
    raft_handle.stop(true).await;
    let _ = tokio::join!(raft_task, api_task);
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM (containers stop with SIGTERM).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
