//! Wire types shared by Raftbus brokers, managers and clients.
//!
//! - [`batch`]: the binary record-batch format. A batch is the unit of work everywhere: one
//!   produce request per partition carries one batch, one batch is one Raft entry and one
//!   Postgres row.
//! - [`error`]: stable error codes carried by every error response, so clients can tell
//!   retryable errors (`not_leader`, `timeout`) from fatal ones.
//! - [`api`]: JSON bodies of the broker's client API.
//! - [`fetch`]: the binary framing of fetch responses.
//! - [`moves`]: JSON bodies of replica reassignment and rebalance.
//! - [`retention`]: topic retention as set by operators and as handed to brokers.
//! - [`limits`]: request body limits of the HTTP APIs.
//! - [`acl`]: principals, ACL rules and the table nodes authorize requests with.
//! - `openapi` (feature `openapi`): what the servers' OpenAPI documents share.
//! - [`routes`]: every HTTP route: patterns for servers, path builders for callers.
//! - [`query`]: query parameters of the manager API.

pub mod acl;
pub mod api;
pub mod batch;
pub mod error;
pub mod fetch;
#[cfg(feature = "actix")]
pub mod http;
pub mod limits;
pub mod meta;
pub mod moves;
pub mod names;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod query;
pub mod retention;
pub mod routes;
mod varint;

pub use batch::{BatchBuilder, BatchError, Header, Record, RecordBatch};
pub use error::{ErrorBody, ErrorCode};
