//! Process plumbing shared by brokers and managers: connecting to the node's database and
//! waiting for a shutdown signal.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// Connects to a node's database, retrying transient failures for up to `patience`: in
/// containers Postgres may still be starting (or recovering after a crash) when the node is.
pub async fn connect_db(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
    patience: Duration,
) -> Result<PgPool, sqlx::Error> {
    let deadline = Instant::now() + patience;
    loop {
        let r = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect(url)
            .await;
        match r {
            Ok(pool) => return Ok(pool),
            Err(e) if Instant::now() < deadline && is_transient(&e) => {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Connection refused/reset, pool timeout, or "the database system is starting up" (57P03).
fn is_transient(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut)
        || e.as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == "57P03")
}

/// Resolves on SIGINT or SIGTERM (containers stop with SIGTERM).
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
