//! openraft on Postgres and HTTP/2, generic over the Raft type config.
//!
//! Both Raftbus roles run Raft groups: a broker runs one per partition replica, the managers
//! run one for cluster metadata. This crate holds what they share:
//!
//! - [`PgLogStore`]: openraft's `RaftLogStorage` in Postgres, one row per entry keyed by
//!   `(group_id, log_index)`; every write is committed before it is reported.
//! - [`commit`]: group commit, one writer task per node and lane shared by all its groups
//!   ([`LogWriter`] for the Raft log; brokers add a lane for applied state).
//! - [`Router`] and [`NetworkFactory`]: the multi-raft client side (openraft-multi
//!   `GroupRouter`) over one shared HTTP/2 `reqwest` client: one connection per peer carries
//!   every group.
//! - [`server`]: the actix-web handlers that receive those RPCs and route them by group id.
//! - [`NodeAddr`]: the node type of every group (a node's Raft and client API addresses).
//! - [`codec`]: the compact binary (MessagePack) encoding used in rows and RPC bodies.
//! - [`snapshot`]: snapshot data as a stream of bounded frames, staged by the receiver.

pub mod batch;
pub mod codec;
pub mod commit;
mod log_lane;
mod log_store;
mod network;
mod node;
mod peer;
pub mod server;
pub mod snapshot;
mod tail;

pub use log_lane::{ExtraLane, ExtraOp, LogLane, LogOp};
pub use log_store::{Flushed, LogWriter, PgLogStore};
pub use network::{NetworkFactory, Router};
pub use node::NodeAddr;
pub use peer::{PeerConfig, PeerStats};
pub use snapshot::SnapshotData;

/// Default log filter of the node binaries (`RUST_LOG` overrides it): the Raft library's own
/// info messages are per group and per election, too many for a node with thousands of groups.
pub const DEFAULT_LOG_FILTER: &str = "info,openraft=warn";

/// Bytes of entries one append RPC carries at most (a single larger entry goes alone): with
/// `server::RPC_BODY_LIMIT` it bounds what a receiver buffers per RPC.
pub const MAX_APPEND_BYTES: usize = 8 << 20;

/// Migrations of the Raft log tables (`migrations/raft`), shared by brokers and managers.
/// Each role's own migrator runs with `ignore_missing` so the two coexist in one database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/raft");

/// Runs `migrator` on `db`, tolerating migrations applied by other components' migrators
/// (brokers and managers add their own tables next to the Raft tables in one database).
pub async fn migrate(
    migrator: &sqlx::migrate::Migrator,
    db: &sqlx::PgPool,
) -> Result<(), sqlx::migrate::MigrateError> {
    let mut m = sqlx::migrate::Migrator {
        migrations: migrator.migrations.clone(),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    m.set_ignore_missing(true);
    m.run(db).await
}
