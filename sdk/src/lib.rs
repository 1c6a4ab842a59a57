//! Raftbus client library.
//!
//! - [`BrokerClient`]: the low-level broker API (produce one batch, fetch, offsets, partition
//!   admin and status), used by the higher-level clients and by tests.
//! - [`Admin`]: the managers (topics, groups, cluster status).
//! - [`Producer`]: batching, idempotent, retrying producer for one topic.
//! - [`Consumer`]: standalone or consumer-group reader with committed offsets.
//! - [`SdkError`]: one error type that tells retryable failures from fatal ones.

mod admin;
mod broker;
mod consumer;
mod credentials;
mod error;
mod producer;
mod routes;

pub use admin::Admin;
pub use broker::{BrokerClient, FetchedBatches};
pub use consumer::{Consumer, ConsumerConfig, ConsumerRecord, ResetPolicy, StartFrom};
pub use credentials::Credentials;
pub use error::SdkError;
pub use producer::{Acks, Delivery, DeliveryFuture, Producer, ProducerConfig, Record};
pub use raftbus_protocol as protocol;
pub use raftbus_protocol::Header;
