//! Raftbus error codes as Kafka error codes, chosen so that clients react the way Raftbus
//! means: retriable refusals (`not_leader`, `timeout`, `busy`) map to codes Kafka clients
//! retry after refreshing metadata; permanent ones to codes they report.

use kafka_protocol::ResponseError as K;
use raftbus_protocol::ErrorCode;

use crate::error::ApiError;

/// Failures that end a Kafka connection (the peer gets no answer to the bad frame).
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The length prefix announces more than `kafka.max_frame_bytes`.
    #[error("request frame of {len} bytes exceeds kafka.max_frame_bytes ({limit})")]
    FrameTooLarge {
        /// Announced length.
        len: i64,
        /// The limit.
        limit: usize,
    },
    /// The frame is not a request this listener understands.
    #[error("bad request frame: {0}")]
    BadFrame(String),
    /// A request other than ApiVersions or SASL before authentication.
    #[error("request {0} before SASL authentication")]
    Unauthenticated(i16),
    /// Reading or writing the socket failed.
    #[error("connection I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// The Kafka error code for a Raftbus error.
pub fn code(e: &ApiError) -> i16 {
    let k = match e.0.code {
        ErrorCode::NotLeader | ErrorCode::UnknownPartition | ErrorCode::WrongNode => {
            K::NotLeaderOrFollower
        }
        ErrorCode::Timeout | ErrorCode::Busy => K::RequestTimedOut,
        ErrorCode::NoQuorum => K::NotEnoughReplicas,
        ErrorCode::Unavailable => K::LeaderNotAvailable,
        ErrorCode::OffsetOutOfRange => K::OffsetOutOfRange,
        ErrorCode::TooLarge => K::MessageTooLarge,
        ErrorCode::OutOfOrderSequence => K::OutOfOrderSequenceNumber,
        ErrorCode::DuplicateSequence => K::DuplicateSequenceNumber,
        ErrorCode::UnknownProducer => K::UnknownProducerId,
        ErrorCode::StaleGeneration => K::IllegalGeneration,
        ErrorCode::UnknownTopic | ErrorCode::NotFound => K::UnknownTopicOrPartition,
        ErrorCode::TopicExists => K::TopicAlreadyExists,
        ErrorCode::InvalidName => K::InvalidTopicException,
        ErrorCode::InsufficientBrokers => K::InvalidReplicationFactor,
        ErrorCode::InvalidConfig => K::InvalidConfig,
        ErrorCode::Unauthenticated => K::SaslAuthenticationFailed,
        ErrorCode::Forbidden => K::TopicAuthorizationFailed,
        ErrorCode::BadRequest | ErrorCode::Conflict => K::InvalidRequest,
        ErrorCode::Internal => K::UnknownServerError,
    };
    k.code()
}
