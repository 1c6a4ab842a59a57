//! Raftbus manager: the control plane.
//!
//! Three managers form one Raft group whose state machine is the cluster metadata
//! ([`metadata::ClusterMeta`]): brokers, topics and their placement, producers, consumer
//! groups. The Raft leader is the write manager; followers are read managers that answer
//! reads locally and forward writes. Brokers, producers and consumers heartbeat to any
//! manager; liveness lives in the write manager's memory ([`liveness`]) and only the changes
//! it reveals go through the log.
//!
//! - [`settings`], [`error`]: configuration and errors.
//! - [`raft`], [`store`]: the metadata group and its persisted state machine.
//! - [`metadata`]: the state and its deterministic rules; placement.
//! - [`api`]: the HTTP API; [`tasks`]: the reap and fence loops; [`server`]: start and stop.
//! - [`admin`]: the `manager topic|broker|group|status` commands.

pub mod admin;
pub mod api;
pub mod error;
pub mod liveness;
pub mod metadata;
pub mod node;
pub mod raft;
pub mod reports;
pub mod server;
pub mod settings;
pub mod store;
pub mod tasks;

pub use error::ManagerError;
pub use server::run;
pub use settings::{ServeArgs, Settings};
