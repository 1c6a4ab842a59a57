//! Wire format of the per-peer batch route `POST /raft/v1/batch`: one message carries the
//! RPCs of many groups to one peer, and its response streams each group's answer as soon as
//! that group has it, so a slow group never holds up the others.
//!
//! Request body: MessagePack `Vec<BatchItem>`. Response body: frames, each a big-endian `u32`
//! length followed by a MessagePack `(u32 item index, ItemReply)`.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::{decode, encode};

/// Largest response frame accepted (one group's answer; answers are small).
pub(crate) const MAX_FRAME: usize = 16 << 20;

/// Which Raft RPC an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RpcKind {
    /// AppendEntries (replication and heartbeats).
    Append,
    /// RequestVote.
    Vote,
    /// Pre-vote.
    PreVote,
    /// Leadership transfer.
    TransferLeader,
}

impl RpcKind {
    /// The name used in the per-group route and in messages.
    pub fn name(self) -> &'static str {
        match self {
            RpcKind::Append => "append",
            RpcKind::Vote => "vote",
            RpcKind::PreVote => "pre-vote",
            RpcKind::TransferLeader => "transfer-leader",
        }
    }
}

/// One group's RPC inside a batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchItem {
    /// The group it is for.
    pub group: Uuid,
    /// Which RPC.
    pub kind: RpcKind,
    /// How long the sender waits for it (the receiver gives up after as long).
    pub ttl_ms: u32,
    /// The RPC's own MessagePack request body.
    pub body: Bytes,
}

/// One group's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ItemReply {
    /// What the group answered: a MessagePack `Result<Resp, String>`, as on the per-group route.
    Done(Bytes),
    /// The RPC did not reach the group (not hosted here, undecodable, timed out).
    Refused(String),
}

/// Encodes one response frame.
pub(crate) fn frame(index: u32, reply: &ItemReply) -> Bytes {
    let body = encode(&(index, reply)).unwrap_or_else(|e| {
        encode(&(
            index,
            ItemReply::Refused(format!("cannot encode reply: {e}")),
        ))
        .unwrap_or_default()
    });
    let mut b = BytesMut::with_capacity(4 + body.len());
    b.put_u32(body.len() as u32);
    b.put_slice(&body);
    b.freeze()
}

/// Splits complete frames off the front of `buf`; a partial frame stays for the next chunk.
pub(crate) fn take_frames(buf: &mut BytesMut) -> std::io::Result<Vec<(u32, ItemReply)>> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len > MAX_FRAME {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("batch reply frame of {len} bytes"),
            ));
        }
        if buf.len() < 4 + len {
            break;
        }
        buf.advance(4);
        let body = buf.split_to(len);
        out.push(decode(&body)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn frames_survive_any_chunking() {
        let mut all = BytesMut::new();
        for i in 0..5u32 {
            all.extend_from_slice(&frame(i, &ItemReply::Done(Bytes::from(vec![i as u8; 300]))));
        }
        all.extend_from_slice(&frame(9, &ItemReply::Refused("no".into())));
        let all = all.freeze();
        for chunk in [1usize, 3, 7, 100, 10_000] {
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for c in all.chunks(chunk) {
                buf.extend_from_slice(c);
                got.extend(take_frames(&mut buf).unwrap());
            }
            assert!(buf.is_empty());
            let idx: Vec<u32> = got.iter().map(|g| g.0).collect();
            assert_eq!(idx, vec![0, 1, 2, 3, 4, 9]);
            assert!(matches!(&got[2].1, ItemReply::Done(b) if b.len() == 300 && b[0] == 2));
        }
    }

    #[test]
    fn oversized_frame_is_an_error() {
        let mut buf = BytesMut::new();
        buf.put_u32(u32::MAX);
        assert!(take_frames(&mut buf).is_err());
    }

    fn kind() -> impl Strategy<Value = RpcKind> {
        prop_oneof![
            Just(RpcKind::Append),
            Just(RpcKind::Vote),
            Just(RpcKind::PreVote),
            Just(RpcKind::TransferLeader),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// A request body of any items decodes to the same items.
        #[test]
        fn any_items_roundtrip(
            items in proptest::collection::vec(
                (any::<u128>(), kind(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..64)),
                0..8,
            ),
        ) {
            let items: Vec<BatchItem> = items
                .into_iter()
                .map(|(g, kind, ttl_ms, body)| BatchItem {
                    group: Uuid::from_u128(g),
                    kind,
                    ttl_ms,
                    body: Bytes::from(body),
                })
                .collect();
            let back: Vec<BatchItem> = decode(&encode(&items).unwrap()).unwrap();
            prop_assert_eq!(back.len(), items.len());
            for (a, b) in back.iter().zip(&items) {
                prop_assert_eq!((a.group, a.kind, a.ttl_ms, &a.body), (b.group, b.kind, b.ttl_ms, &b.body));
            }
        }

        /// What the batch route does with a request body, and the sender with a reply
        /// stream: arbitrary bytes are an error or a value, never a panic.
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode::<Vec<BatchItem>>(&data);
            let _ = decode::<(u32, ItemReply)>(&data);
            let mut buf = BytesMut::from(&data[..]);
            let _ = take_frames(&mut buf);
        }

        /// Garbage inside well-formed frames reaches the MessagePack decoder.
        #[test]
        fn garbage_frames_never_panic(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..5),
        ) {
            let mut buf = BytesMut::new();
            for b in &bodies {
                buf.put_u32(b.len() as u32);
                buf.put_slice(b);
            }
            let _ = take_frames(&mut buf);
        }
    }
}
