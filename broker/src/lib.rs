//! Raftbus broker: the data plane.
//!
//! A broker hosts partition replicas. Each replica is one Raft group whose log
//! ([`raftbus_raft::PgLogStore`]) and state machine ([`state_machine`]) live in the broker's
//! own Postgres database. All groups share one HTTP/2 connection per peer broker.
//!
//! - [`settings`]: layered configuration.
//! - [`partition`]: the registry of hosted replicas and their creation.
//! - [`api`]: produce, fetch, offsets, status, health and metrics over HTTP.
//! - [`kafka`]: the Kafka-protocol listener (unmodified Kafka clients).
//! - [`tasks`]: background loops (heartbeats to the managers, reconciling assignments).
//! - [`server`]: start-up and graceful shutdown.

pub mod api;
pub mod error;
pub mod kafka;
pub mod partition;
pub mod peers;
pub mod raft;
pub mod server;
pub mod settings;
pub mod state_machine;
pub mod storage;
pub mod tasks;

pub use error::BrokerError;
pub use server::run;
pub use settings::{Args, Settings};

/// Broker-specific migrations (`migrations/broker`); run after [`raftbus_raft::MIGRATOR`].
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/broker");

/// Runs all migrations a broker database needs.
pub async fn migrate(db: &sqlx::PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    raftbus_raft::migrate(&raftbus_raft::MIGRATOR, db).await?;
    raftbus_raft::migrate(&MIGRATOR, db).await
}
