//! Raftbus client library.
//!
//! - [`BrokerClient`]: the low-level broker API (produce one batch, fetch, offsets, partition
//!   admin and status), used by the higher-level clients and by tests.
//! - [`SdkError`]: one error type that tells retryable failures from fatal ones.

mod admin;
mod broker;
mod error;

pub use admin::Admin;
pub use broker::{BrokerClient, FetchedBatches};
pub use error::SdkError;
pub use raftbus_protocol as protocol;
