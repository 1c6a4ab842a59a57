//! Wire types shared by Raftbus brokers, managers and clients.
//!
//! - [`batch`]: the binary record-batch format. A batch is the unit of work everywhere: one
//!   produce request per partition carries one batch, one batch is one Raft entry and one
//!   Postgres row.
//! - [`error`]: stable error codes carried by every error response, so clients can tell
//!   retryable errors (`not_leader`, `timeout`) from fatal ones.
//! - [`api`]: JSON bodies of the broker's client API.
//! - [`fetch`]: the binary framing of fetch responses.

pub mod api;
pub mod batch;
pub mod error;
pub mod fetch;
#[cfg(feature = "actix")]
pub mod http;
pub mod meta;
pub mod names;
mod varint;

pub use batch::{BatchBuilder, BatchError, Record, RecordBatch};
pub use error::{ErrorBody, ErrorCode};
