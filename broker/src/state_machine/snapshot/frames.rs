//! What a partition snapshot's frames hold, and how a sender produces them.
//!
//! A snapshot is sent as a sequence of [`Frame`]s: the watermarks first, then the producer
//! state and the committed offsets in pages, then the stored batches a page at a time, each
//! page read from `partition_batches` only when the transport asks for the next frame. No
//! frame holds more than about `raft.snapshot_frame_bytes` (plus one batch), whatever the
//! partition's size.

use std::io;

use bytes::Bytes;
use futures::stream;
use raftbus_raft::codec::{db_err, encode};
use raftbus_raft::snapshot::FrameStream;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use super::SnapshotHead;
use crate::state_machine::state::{CommittedOffset, ProducerState};

/// Producer or offset entries per frame: a few hundred KiB at most.
const ENTRIES_PER_FRAME: usize = 8_192;
/// Upper bound on rows one page query considers; the byte budget usually stops it earlier.
const ROWS_PER_PAGE: i64 = 8_192;

/// One frame of a partition snapshot.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Frame {
    /// Always first: the partition's offsets. The receiver raises the log start to the first
    /// batch it gets (retention may have trimmed some since the snapshot was built).
    Head {
        /// Offset the next record gets.
        next_offset: u64,
        /// First offset the snapshot claims to hold.
        log_start_offset: u64,
    },
    /// Idempotent producers' sequence state.
    Producers(Vec<(Uuid, ProducerState)>),
    /// Consumer groups' committed offsets.
    Offsets(Vec<(String, CommittedOffset)>),
    /// Stored batches in offset order: `(base_offset, record_count, appended_ms, batch)`;
    /// `appended_ms` keeps retention by age counting from the original append.
    Batches(Vec<(u64, u32, i64, Bytes)>),
}

/// Where the sender is in the snapshot.
enum Step {
    Head,
    Producers(usize),
    Offsets(usize),
    /// The next batch to read is at or above this offset.
    Batches(u64),
    Done,
}

struct Sender {
    db: PgPool,
    group: Uuid,
    head: SnapshotHead,
    frame_bytes: i64,
    step: Step,
}

/// The frames of the snapshot `head` describes, read lazily from the database.
pub(super) fn send(db: PgPool, group: Uuid, head: SnapshotHead, frame_bytes: usize) -> FrameStream {
    let sender = Sender {
        db,
        group,
        head,
        frame_bytes: frame_bytes as i64,
        step: Step::Head,
    };
    Box::pin(stream::try_unfold(sender, |mut s| async move {
        let frame = s.next().await?;
        Ok(frame.map(|f| (f, s)))
    }))
}

impl Sender {
    async fn next(&mut self) -> io::Result<Option<Bytes>> {
        let h = &self.head;
        let frame = match self.step {
            Step::Head => {
                self.step = Step::Producers(0);
                Frame::Head {
                    next_offset: h.next_offset,
                    log_start_offset: h.log_start_offset,
                }
            }
            Step::Producers(i) if i < h.producers.len() => {
                let end = (i + ENTRIES_PER_FRAME).min(h.producers.len());
                self.step = Step::Producers(end);
                Frame::Producers(h.producers[i..end].to_vec())
            }
            Step::Producers(_) => {
                self.step = Step::Offsets(0);
                return Box::pin(self.next()).await;
            }
            Step::Offsets(i) if i < h.offsets.len() => {
                let end = (i + ENTRIES_PER_FRAME).min(h.offsets.len());
                self.step = Step::Offsets(end);
                Frame::Offsets(h.offsets[i..end].to_vec())
            }
            Step::Offsets(_) => {
                self.step = Step::Batches(h.log_start_offset);
                return Box::pin(self.next()).await;
            }
            Step::Batches(from) => {
                let page = self.page(from).await?;
                match page.last() {
                    None => {
                        self.step = Step::Done;
                        return Ok(None);
                    }
                    Some((base, count, _, _)) => {
                        self.step = Step::Batches(base + u64::from(*count));
                    }
                }
                Frame::Batches(page)
            }
            Step::Done => return Ok(None),
        };
        encode(&frame).map(|b| Some(Bytes::from(b)))
    }

    /// The batches from `from` on (below the snapshot's end) whose bytes before them stay
    /// under the frame budget: at least one batch, at most budget plus one batch.
    async fn page(&self, from: u64) -> io::Result<Vec<(u64, u32, i64, Bytes)>> {
        // The window sum reads sizes from the TOAST headers; only the rows returned are
        // detoasted and sent.
        let rows: Vec<(i64, i32, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT base_offset, record_count, ms, data FROM ( \
                 SELECT base_offset, record_count, data, \
                        (extract(epoch FROM created_at) * 1000)::bigint AS ms, \
                        sum(octet_length(data)) OVER (ORDER BY base_offset) AS upto \
                 FROM partition_batches \
                 WHERE group_id = $1 AND base_offset >= $2 AND base_offset < $3 \
                 ORDER BY base_offset LIMIT $4) page \
             WHERE upto - octet_length(data) < $5 ORDER BY base_offset",
        )
        .bind(self.group)
        .bind(from as i64)
        .bind(self.head.next_offset as i64)
        .bind(ROWS_PER_PAGE)
        .bind(self.frame_bytes)
        .fetch_all(&self.db)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(b, c, ms, d)| (b as u64, c as u32, ms, Bytes::from(d)))
            .collect())
    }
}
