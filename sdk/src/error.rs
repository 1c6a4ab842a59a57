//! The SDK's error type.

use raftbus_protocol::{ErrorBody, ErrorCode};

/// Everything a Raftbus client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The server answered with an error body.
    #[error("{body} (HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The decoded error body (stable code, message, leader hint).
        body: ErrorBody,
    },
    /// The request never got an answer: connection refused or reset, timeout.
    #[error("cannot reach {addr}: {}", chain(source))]
    Transport {
        /// Where we tried to go.
        addr: String,
        /// Why it failed.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered something this client cannot decode.
    #[error("unexpected response from {addr}: {message}")]
    Protocol {
        /// Who answered.
        addr: String,
        /// What was wrong.
        message: String,
    },
    /// The caller passed something invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A record was not acknowledged: its batch was refused, or retries ran past the
    /// delivery timeout.
    #[error("delivery to partition {partition} failed: {message}")]
    Delivery {
        /// The record's partition.
        partition: u32,
        /// The server's code when the last attempt got an answer.
        code: Option<ErrorCode>,
        /// What went wrong (the last attempt's error).
        message: String,
    },
    /// The client was closed while the operation was pending.
    #[error("the client was closed")]
    Closed,
}

/// An error and its causes, `a: b: c` (reqwest's own message hides the cause, e.g. "connection
/// refused", in its source chain).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

impl SdkError {
    /// The server's stable error code, if the server answered.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            SdkError::Api { body, .. } => Some(body.code),
            _ => None,
        }
    }

    /// True when retrying (after a metadata refresh) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            SdkError::Api { body, .. } => body.code.is_retryable(),
            SdkError::Transport { .. } => true,
            SdkError::Protocol { .. }
            | SdkError::InvalidArgument(_)
            | SdkError::Delivery { .. }
            | SdkError::Closed => false,
        }
    }

    /// True when the outcome of a write is unknown (it may have been applied): the request
    /// reached the server, or may have, and no definite answer came back.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            SdkError::Api { body, .. } => {
                matches!(body.code, ErrorCode::Timeout | ErrorCode::Internal)
            }
            SdkError::Transport { source, .. } => !source.is_connect(),
            _ => false,
        }
    }

    /// For `not_leader`: the leader's `(id, api address)` if the server named one.
    pub fn leader_hint(&self) -> Option<(u64, &str)> {
        match self {
            SdkError::Api { body, .. } => Some((body.leader_id?, body.leader_addr.as_deref()?)),
            _ => None,
        }
    }
}
