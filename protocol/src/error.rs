//! Stable error codes on the wire.
//!
//! Every error response of a broker or manager is an [`ErrorBody`] with a numeric `error_code`
//! and its snake_case name in `code`. Both are stable: a code is never renumbered or reused,
//! so clients decide retry-or-fail from the code alone ([`ErrorCode::is_retryable`]).

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident = $num:literal, $text:literal, $status:literal, $retry:literal; )*) => {
        /// A stable error code. The numbers are part of the wire protocol.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        #[repr(u16)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name = $num, )*
        }

        impl ErrorCode {
            /// The numeric code.
            pub fn number(self) -> u16 { self as u16 }

            /// The snake_case name, as in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $( Self::$name => $text, )* }
            }

            /// The HTTP status an error with this code is sent with.
            pub fn http_status(self) -> u16 {
                match self { $( Self::$name => $status, )* }
            }

            /// True when the same request may succeed later (after a metadata refresh or a
            /// leader election). Idempotent producers may retry these without duplicating.
            pub fn is_retryable(self) -> bool {
                match self { $( Self::$name => $retry, )* }
            }

            /// Looks a code up by number.
            pub fn from_number(n: u16) -> Option<Self> {
                match n { $( $num => Some(Self::$name), )* _ => None }
            }
        }
    };
}

codes! {
    /// An unexpected server-side failure (storage error, bug).
    Internal = 1, "internal", 500, true;
    /// The request is malformed: bad JSON, a bad parameter, an invalid record batch.
    BadRequest = 2, "bad_request", 400, false;
    /// This node does not lead the partition (or metadata group); the body names the leader.
    NotLeader = 3, "not_leader", 421, true;
    /// The partition is not hosted on this broker.
    UnknownPartition = 4, "unknown_partition", 404, true;
    /// The requested offset is outside `[log_start_offset, high_watermark]`.
    OffsetOutOfRange = 5, "offset_out_of_range", 416, false;
    /// A request body, record batch or record exceeds a size limit (the message names the
    /// limit, `limit_bytes` carries it).
    TooLarge = 6, "too_large", 413, false;
    /// The request did not complete in time. For a produce this is ambiguous: the batch may
    /// or may not have been committed, so retry with the same producer id and sequence.
    Timeout = 7, "timeout", 504, true;
    /// The partition's leader cannot reach a majority of its replicas: nothing is accepted.
    NoQuorum = 8, "no_quorum", 503, true;
    /// An idempotent producer skipped a sequence number (an earlier batch is missing).
    OutOfOrderSequence = 9, "out_of_order_sequence", 409, true;
    /// The sequence number is older than any the partition still remembers.
    DuplicateSequence = 10, "duplicate_sequence", 409, false;
    /// The request conflicts with existing state (e.g. a partition created with another group id).
    Conflict = 11, "conflict", 409, false;
    /// An offset commit carries a consumer-group generation older than the current one.
    StaleGeneration = 12, "stale_generation", 409, false;
    /// The node is starting, shutting down, or the group is not ready yet.
    Unavailable = 13, "unavailable", 503, true;
    /// A Raft RPC reached a node other than the one it was addressed to.
    WrongNode = 14, "wrong_node", 409, true;
    /// A setting is invalid.
    InvalidConfig = 15, "invalid_config", 400, false;
    /// The topic does not exist.
    UnknownTopic = 16, "unknown_topic", 404, false;
    /// A topic with that name exists already.
    TopicExists = 17, "topic_exists", 409, false;
    /// Fewer live brokers than the replication factor asks for.
    InsufficientBrokers = 18, "insufficient_brokers", 503, false;
    /// A topic or group name is not allowed.
    InvalidName = 19, "invalid_name", 400, false;
    /// The named resource (consumer group, member, route) does not exist.
    NotFound = 20, "not_found", 404, false;
    /// The request carries no credentials, or credentials nobody issued (a wrong token, an
    /// internal call without a cluster certificate).
    Unauthenticated = 21, "unauthenticated", 401, false;
    /// The principal is known but not allowed this operation on this resource (the message
    /// names the principal, the operation and the resource).
    Forbidden = 22, "forbidden", 403, false;
    /// An idempotent producer sent a sequence above 0 under an id the partition does not know.
    /// Either its first batch has not arrived yet (batches reordered by a failover: retrying
    /// succeeds once it has), or the id expired after being idle longer than the broker's
    /// `producers.expiry_ms`. Nothing was appended. A producer that already had a batch
    /// acknowledged under the id knows it is the latter: the SDK then fails the batch and
    /// continues with a new producer id (taking the batch as new could store a retry twice).
    UnknownProducer = 23, "unknown_producer", 409, true;
    /// The node is at a documented limit (a partition's produce queue is full, too many long
    /// polls wait): back off and retry. Nothing of the request was accepted.
    Busy = 24, "busy", 429, true;
}

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// The same code as a number.
    pub error_code: u16,
    /// Human-readable explanation naming the problem.
    pub message: String,
    /// For `not_leader`: the leader's node id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_id: Option<u64>,
    /// For `not_leader`: the leader's client API address (`host:port`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_addr: Option<String>,
    /// For `offset_out_of_range`: the first offset still stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_start_offset: Option<u64>,
    /// For `offset_out_of_range`: the next offset to be written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_watermark: Option<u64>,
    /// For `too_large`: the limit in bytes that was exceeded, so a client can tell how far
    /// over it was without parsing the message (`u32`: every body limit is below 4 GiB, and
    /// the SDK's error type stays small).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<u32>,
}

impl ErrorBody {
    /// A body with just a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            error_code: code.number(),
            message: message.into(),
            leader_id: None,
            leader_addr: None,
            log_start_offset: None,
            high_watermark: None,
            limit_bytes: None,
        }
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_carries_name_and_number() {
        let body = ErrorBody::new(ErrorCode::NotLeader, "ask node 2");
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["code"], "not_leader");
        assert_eq!(json["error_code"], 3);
        assert!(json.get("leader_addr").is_none());
        let back: ErrorBody = serde_json::from_value(json).unwrap();
        assert_eq!(back, body);
    }

    #[test]
    fn numbers_roundtrip() {
        for n in 1..=23 {
            let c = ErrorCode::from_number(n).unwrap();
            assert_eq!(c.number(), n);
            assert!((400..600).contains(&c.http_status()));
        }
        assert_eq!(ErrorCode::from_number(0), None);
    }
}
