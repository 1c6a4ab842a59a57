//! Broker errors: [`BrokerError`] for start-up and internal failures (the process errors every
//! node shares, `raftbus_node::error`), [`ApiError`] for what a client sees (a stable code, an
//! HTTP status and a JSON body naming the problem).

pub use raftbus_node::error::{ApiError, NodeError as BrokerError, internal};
