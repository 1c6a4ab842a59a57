//! Snapshots as a stream of bounded frames.
//!
//! A partition snapshot covers every record of the partition, which may be far larger than
//! memory. So snapshot data is never one buffer: the sender produces frames lazily (a broker
//! reads a page of batches from Postgres per frame), the transport streams them in one HTTP/2
//! request (`u32le length | frame` each, after an envelope frame with the sender's vote and
//! the snapshot meta), and the receiver writes each frame to `raft_snapshot_frames` as it
//! arrives. Only when the whole stream is staged does openraft get the snapshot, as
//! [`SnapshotData::Staged`], and the state machine installs it reading one frame at a time.
//! What a frame holds is the state machine's business; this module only moves them.
//!
//! ### To ensure correctness
//! - A transfer that breaks off (sender died, connection lost, frame over the limit) never
//!   reaches the state machine: openraft sees nothing, its staged rows are deleted, and the
//!   leader retries. Installing is one transaction of the state machine, which also deletes
//!   the group's staged frames ([`discard`]).
//! - Frames are read back in `seq` order, the order they were sent.

use std::io;
use std::pin::Pin;

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt, TryStreamExt, stream};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::codec::db_err;

/// The largest frame a receiver accepts. State machines aim far lower (a broker's frames are
/// `raft.snapshot_chunk_bytes`, 4 MiB by default); this bounds what one bad frame can cost.
pub const MAX_FRAME_BYTES: usize = 64 << 20;

/// Frame size of [`SnapshotData::from_bytes`].
pub const INLINE_FRAME_BYTES: usize = 4 << 20;

/// Snapshot frames in order.
pub type FrameStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// The snapshot data type of every Raftbus state machine.
pub enum SnapshotData {
    /// Frames produced on demand by the sender (or by this node, for its own snapshot).
    Frames(FrameStream),
    /// Frames received from a leader and staged in this node's database.
    Staged {
        /// The node's database.
        db: PgPool,
        /// The group the snapshot belongs to.
        group: Uuid,
        /// This transfer's id in `raft_snapshot_frames`.
        transfer: Uuid,
        /// How many frames were staged (`seq` 0 to `frames - 1`).
        frames: u32,
    },
}

impl SnapshotData {
    /// Data held in memory, cut into frames of [`INLINE_FRAME_BYTES`]: for snapshots known to
    /// be small (the managers' metadata), read back whole with [`SnapshotData::collect`].
    pub fn from_bytes(data: Vec<u8>) -> Self {
        let data = Bytes::from(data);
        let frames: Vec<io::Result<Bytes>> = (0..data.len().div_ceil(INLINE_FRAME_BYTES).max(1))
            .map(|i| {
                let end = ((i + 1) * INLINE_FRAME_BYTES).min(data.len());
                Ok(data.slice(i * INLINE_FRAME_BYTES..end))
            })
            .collect();
        SnapshotData::Frames(Box::pin(stream::iter(frames)))
    }

    /// The frames in order, read one at a time.
    pub fn into_frames(self) -> FrameStream {
        match self {
            SnapshotData::Frames(s) => s,
            SnapshotData::Staged {
                db,
                group,
                transfer,
                frames,
            } => Box::pin(stream::iter(0..frames).then(move |seq| {
                let db = db.clone();
                async move {
                    let (data,): (Vec<u8>,) = sqlx::query_as(
                        "SELECT data FROM raft_snapshot_frames \
                         WHERE group_id = $1 AND transfer = $2 AND seq = $3",
                    )
                    .bind(group)
                    .bind(transfer)
                    .bind(seq as i32)
                    .fetch_one(&db)
                    .await
                    .map_err(db_err)?;
                    Ok(Bytes::from(data))
                }
            })),
        }
    }

    /// Every frame concatenated, refusing more than `limit` bytes: for small snapshots only.
    pub async fn collect(self, limit: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut frames = self.into_frames();
        while let Some(frame) = frames.try_next().await? {
            if out.len() + frame.len() > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("snapshot larger than {limit} bytes"),
                ));
            }
            out.extend_from_slice(&frame);
        }
        Ok(out)
    }
}

/// Deletes every staged frame of `group`: in the install transaction, when the group is
/// deleted, and after a transfer that did not install.
pub async fn discard<'e>(db: impl PgExecutor<'e>, group: Uuid) -> io::Result<()> {
    sqlx::query("DELETE FROM raft_snapshot_frames WHERE group_id = $1")
        .bind(group)
        .execute(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Deletes staged frames left by transfers a crash interrupted; called at start-up, before
/// any group runs.
pub async fn discard_all(db: &PgPool) -> io::Result<()> {
    sqlx::query("DELETE FROM raft_snapshot_frames")
        .execute(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Length-prefixes `frame` for the wire.
pub(crate) fn wire_frame(frame: &[u8]) -> io::Result<Bytes> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "snapshot frame of {} bytes is over the {MAX_FRAME_BYTES} limit",
                frame.len()
            ),
        ));
    }
    let mut out = BytesMut::with_capacity(4 + frame.len());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(frame);
    Ok(out.freeze())
}

/// Splits a byte stream back into the frames [`wire_frame`] made; holds at most one frame
/// plus one network read.
pub(crate) struct FrameReader {
    buf: BytesMut,
}

impl FrameReader {
    pub(crate) fn new() -> Self {
        Self {
            buf: BytesMut::new(),
        }
    }

    /// Adds bytes read from the network.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, if one has arrived; an error for a frame over the limit.
    pub(crate) fn next_frame(&mut self) -> io::Result<Option<Bytes>> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes(self.buf[..4].try_into().expect("4 bytes")) as usize;
        if len > MAX_FRAME_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("snapshot frame of {len} bytes is over the {MAX_FRAME_BYTES} limit"),
            ));
        }
        if self.buf.len() < 4 + len {
            // Reserve once for the whole frame rather than growing step by step.
            self.buf.reserve(4 + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(4);
        Ok(Some(self.buf.split_to(len).freeze()))
    }

    /// True when no partial frame is pending (the stream may end here).
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Stages one received frame.
pub(crate) async fn stage(
    db: &PgPool,
    group: Uuid,
    transfer: Uuid,
    seq: u32,
    frame: &[u8],
) -> io::Result<()> {
    sqlx::query(
        "INSERT INTO raft_snapshot_frames (group_id, transfer, seq, data) VALUES ($1, $2, $3, $4)",
    )
    .bind(group)
    .bind(transfer)
    .bind(seq as i32)
    .bind(frame)
    .execute(db)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Deletes one transfer's staged frames (it broke off, or openraft refused the snapshot).
pub(crate) async fn discard_transfer(db: &PgPool, group: Uuid, transfer: Uuid) {
    let r = sqlx::query("DELETE FROM raft_snapshot_frames WHERE group_id = $1 AND transfer = $2")
        .bind(group)
        .bind(transfer)
        .execute(db)
        .await;
    if let Err(e) = r {
        // Harmless: the next install of the group or the next start-up deletes them.
        tracing::warn!(%group, error = %e, "could not delete staged snapshot frames");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split_of_the_stream() {
        let frames: Vec<Vec<u8>> = vec![vec![], vec![1], vec![7; 1000], vec![2, 3]];
        let wire: Vec<u8> = frames
            .iter()
            .flat_map(|f| wire_frame(f).unwrap().to_vec())
            .collect();
        for step in [1, 3, 4, 5, 999, wire.len()] {
            let mut r = FrameReader::new();
            let mut got = Vec::new();
            for piece in wire.chunks(step) {
                r.push(piece);
                while let Some(f) = r.next_frame().unwrap() {
                    got.push(f.to_vec());
                }
            }
            assert!(r.is_empty());
            assert_eq!(got, frames, "split every {step} bytes");
        }
    }

    #[tokio::test]
    async fn bytes_in_memory_travel_as_bounded_frames_and_come_back_whole() {
        for len in [0, 1, INLINE_FRAME_BYTES, 2 * INLINE_FRAME_BYTES + 3] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let frames: Vec<Bytes> = SnapshotData::from_bytes(data.clone())
                .into_frames()
                .try_collect()
                .await
                .unwrap();
            assert!(frames.iter().all(|f| f.len() <= INLINE_FRAME_BYTES));
            let back = SnapshotData::from_bytes(data.clone())
                .collect(len)
                .await
                .unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn a_frame_over_the_limit_is_refused_before_it_is_buffered() {
        let mut r = FrameReader::new();
        r.push(&((MAX_FRAME_BYTES as u32) + 1).to_le_bytes());
        assert!(r.next_frame().is_err());
    }
}
