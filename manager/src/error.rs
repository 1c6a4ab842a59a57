//! Manager errors: [`ManagerError`] for start-up and internal failures (the process errors
//! every node shares, `raftbus_node::error`); client-facing errors are [`ApiError`] (stable
//! code, HTTP status, JSON body).

pub use raftbus_node::error::{ApiError, NodeError as ManagerError, internal};
