//! The broker's storage: its Postgres pool and the shared writer every partition group
//! writes through (group commit, see `raftbus_raft::commit`).
//!
//! ### To ensure correctness
//! Shutdown stops every group before dropping the last [`Storage`] handle: the writers end
//! only once every handle is gone and their queues are drained, so the groups' last writes
//! commit before the pool closes (see `server.rs`).

pub mod group;

use sqlx::PgPool;

use raftbus_raft::LogWriter;
use raftbus_raft::commit::Limits;

use crate::state_machine::StateWriter;

/// Pool and writers of one broker; cheap to clone.
#[derive(Clone)]
pub struct Storage {
    /// Reads, and the rare writes outside the record path (create, remove, snapshots).
    pub db: PgPool,
    /// The shared writer: Raft-log writes and applied state of every group.
    pub log: LogWriter,
    /// Applied state of every group, through `log` (same transactions).
    pub state: StateWriter,
    /// Records per snapshot frame sent to a lagging replica (`raft.snapshot_frame_bytes`):
    /// what bounds a snapshot's memory on both sides.
    pub snapshot_frame_bytes: usize,
}

impl Storage {
    /// Starts the shared writer on `db` with `limits` per transaction.
    pub fn start(db: PgPool, limits: Limits) -> Self {
        let (log, state) = StateWriter::start(db.clone(), limits);
        Self {
            db,
            log,
            state,
            snapshot_frame_bytes: crate::settings::RaftSettings::default().snapshot_frame_bytes,
        }
    }

    /// Waits until every write submitted so far was processed by the writer.
    pub async fn flush(&self) {
        self.log.wait_processed(self.log.submitted()).await;
    }
}
