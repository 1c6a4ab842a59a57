//! Decoding a request frame, calling its API's handler and encoding the answer.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    DescribeGroupsRequest, FetchRequest, FindCoordinatorRequest, HeartbeatRequest,
    InitProducerIdRequest, JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest,
    ListOffsetsRequest, MetadataRequest, OffsetCommitRequest, OffsetFetchRequest, ProduceRequest,
    RequestHeader, ResponseHeader, SyncGroupRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable};

use super::errors::ConnError;
use super::{Kafka, Who, api_versions};

/// A request frame whose header is decoded; the body is decoded by its handler.
#[derive(Debug)]
pub(super) struct Request {
    /// Which API.
    pub api_key: ApiKey,
    /// Its version (checked against what this listener supports before the body is read).
    pub version: i16,
    /// Echoed in the answer.
    pub correlation_id: i32,
    /// The request body.
    pub body: Bytes,
}

impl Request {
    /// Decodes the header of `frame`; an unknown API key or a malformed header closes the
    /// connection (Kafka brokers do the same).
    pub fn parse(mut frame: Bytes) -> Result<Self, ConnError> {
        if frame.len() < 8 {
            return Err(ConnError::BadFrame(format!(
                "{} bytes are too short for a request header",
                frame.len()
            )));
        }
        let key = i16::from_be_bytes([frame[0], frame[1]]);
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let api_key = ApiKey::try_from(key)
            .map_err(|_| ConnError::BadFrame(format!("unknown API key {key}")))?;
        let header_version = api_key.request_header_version(version);
        let header = RequestHeader::decode(&mut frame, header_version)
            .map_err(|e| ConnError::BadFrame(format!("request header: {e}")))?;
        Ok(Self {
            api_key,
            version,
            correlation_id: header.correlation_id,
            body: frame,
        })
    }

    /// Decodes the body as `T` at the request's version.
    pub fn decode<T: Decodable>(&self) -> Result<T, ConnError> {
        let mut body = self.body.clone();
        let out = T::decode(&mut body, self.version).map_err(|e| {
            ConnError::BadFrame(format!("{:?} v{}: {e}", self.api_key, self.version))
        })?;
        if body.has_remaining() {
            tracing::debug!(
                api = ?self.api_key,
                trailing = body.remaining(),
                "kafka request has trailing bytes"
            );
        }
        Ok(out)
    }
}

/// Encodes `resp` as the answer to `req`: length, response header, body.
pub(super) fn encode<T: Encodable>(req: &Request, resp: &T) -> Result<BytesMut, ConnError> {
    encode_at(req, resp, req.version)
}

/// [`encode`] at an explicit body version (an unsupported ApiVersions is answered in v0).
pub(super) fn encode_at<T: Encodable>(
    req: &Request,
    resp: &T,
    version: i16,
) -> Result<BytesMut, ConnError> {
    let bad = |e: anyhow::Error| ConnError::BadFrame(format!("encoding the answer: {e}"));
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(req.correlation_id)
        .encode(&mut buf, req.api_key.response_header_version(version))
        .map_err(bad)?;
    resp.encode(&mut buf, version).map_err(bad)?;
    let len = i32::try_from(buf.len() - 4)
        .map_err(|_| ConnError::BadFrame("answer exceeds 2 GiB".into()))?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}

/// Decodes the body of `$req` as `$ty` and encodes the answer `$answer` makes of it.
macro_rules! answer {
    ($req:expr, $ty:ty, |$r:ident| $answer:expr) => {{
        let $r: $ty = $req.decode()?;
        encode(&$req, &$answer)?
    }};
}

/// Answers one authenticated request; `None` when the API sends no answer (produce with
/// `acks=0`). A version this listener does not support closes the connection.
pub(super) async fn handle(
    kafka: Arc<Kafka>,
    who: Who,
    req: Request,
) -> Result<Option<BytesMut>, ConnError> {
    let k = &*kafka;
    if !api_versions::supports(k, req.api_key, req.version) {
        return Err(ConnError::BadFrame(format!(
            "{:?} v{} is not supported (see ApiVersions)",
            req.api_key, req.version
        )));
    }
    let out = match req.api_key {
        ApiKey::Metadata => answer!(req, MetadataRequest, |r| {
            super::metadata::handle(k, &who, r, req.version).await
        }),
        ApiKey::Produce => {
            let r: ProduceRequest = req.decode()?;
            let acks = r.acks;
            let resp = super::produce::handle(k, &who, r).await;
            if acks == 0 {
                return Ok(None);
            }
            encode(&req, &resp)?
        }
        ApiKey::Fetch => answer!(req, FetchRequest, |r| {
            super::fetch::handle(k, &who, r).await
        }),
        ApiKey::ListOffsets => answer!(req, ListOffsetsRequest, |r| {
            super::list_offsets::handle(k, &who, r).await
        }),
        ApiKey::CreateTopics => answer!(req, CreateTopicsRequest, |r| {
            super::topics::create(k, &who, r).await
        }),
        ApiKey::DeleteTopics => answer!(req, DeleteTopicsRequest, |r| {
            super::topics::delete(k, &who, r).await
        }),
        ApiKey::FindCoordinator => answer!(req, FindCoordinatorRequest, |r| {
            super::offsets::find_coordinator(k, &who, r).await
        }),
        ApiKey::JoinGroup => answer!(req, JoinGroupRequest, |r| {
            super::group::join(k, &who, r, req.version).await
        }),
        ApiKey::SyncGroup => answer!(req, SyncGroupRequest, |r| {
            super::group::sync(k, &who, r).await
        }),
        ApiKey::Heartbeat => answer!(req, HeartbeatRequest, |r| {
            super::group::heartbeat(k, &who, r).await
        }),
        ApiKey::LeaveGroup => answer!(req, LeaveGroupRequest, |r| {
            super::group::leave(k, &who, r).await
        }),
        ApiKey::ListGroups => answer!(req, ListGroupsRequest, |r| {
            super::group::list(k, &who, r)
        }),
        ApiKey::DescribeGroups => answer!(req, DescribeGroupsRequest, |r| {
            super::group::describe(k, &who, r)
        }),
        ApiKey::OffsetCommit => answer!(req, OffsetCommitRequest, |r| {
            super::offsets::commit(k, &who, r).await
        }),
        ApiKey::OffsetFetch => answer!(req, OffsetFetchRequest, |r| {
            super::offsets::fetch(k, &who, r).await
        }),
        ApiKey::InitProducerId => answer!(req, InitProducerIdRequest, |r| {
            super::init_producer_id::handle(r)
        }),
        ApiKey::DescribeConfigs => {
            answer!(req, DescribeConfigsRequest, |r| {
                super::configs::describe(k, &who, r).await
            })
        }
        other => {
            return Err(ConnError::BadFrame(format!(
                "{other:?} is not served by this listener"
            )));
        }
    };
    Ok(Some(out))
}
