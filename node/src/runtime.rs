//! Process plumbing shared by brokers and managers: connecting to the node's database and
//! waiting for a shutdown signal.

use std::time::{Duration, Instant};

use std::str::FromStr;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Connects to a node's database, retrying transient failures for up to `patience`: in
/// containers Postgres may still be starting (or recovering after a crash) when the node is.
///
/// ### To ensure correctness
/// An acknowledgement means "durable on a majority", which holds only if a commit reaching
/// the node's database survives a crash. Every connection therefore runs with
/// `synchronous_commit = on` (whatever the server's or role's default), and a server running
/// with `fsync = off` is refused: the node would acknowledge writes a power loss can undo.
pub async fn connect_db(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
    patience: Duration,
) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.options([
        ("synchronous_commit", "on"),
        // The record path runs two statements of fixed shape over arrays (`UNNEST`), prepared
        // once per connection. Under the default `auto` mode Postgres re-plans them on every
        // execution, because a custom plan for the actual array lengths always looks cheaper
        // than the generic one: that planning was a third of Postgres's CPU under load
        // (`scripts/bench.sh`). Every other query is a keyed lookup that a generic plan serves
        // as well.
        ("plan_cache_mode", "force_generic_plan"),
    ]);
    let deadline = Instant::now() + patience;
    loop {
        let r = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options.clone())
            .await;
        match r {
            Ok(pool) => {
                check_durability(&pool).await?;
                return Ok(pool);
            }
            Err(e) if Instant::now() < deadline && is_transient(&e) => {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Refuses a server that would lose committed transactions in a crash.
async fn check_durability(db: &PgPool) -> Result<(), sqlx::Error> {
    let (fsync, sync_commit): (String, String) =
        sqlx::query_as("SELECT current_setting('fsync'), current_setting('synchronous_commit')")
            .fetch_one(db)
            .await?;
    if fsync != "on" {
        return Err(sqlx::Error::Configuration(
            format!(
                "the database runs with fsync = {fsync}: a crash could undo acknowledged \
                 writes; set fsync = on in postgresql.conf (or -c fsync=on) and restart it"
            )
            .into(),
        ));
    }
    if sync_commit != "on" {
        // The connection option above should make this impossible; a pooler that drops
        // startup options would not, so check what the session really got.
        return Err(sqlx::Error::Configuration(
            format!(
                "database sessions run with synchronous_commit = {sync_commit}, not on: \
                 acknowledged writes could be lost in a crash"
            )
            .into(),
        ));
    }
    Ok(())
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
