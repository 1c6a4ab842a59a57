//! openraft's `RaftLogStorage` on Postgres.
//!
//! Writes go through the node's shared [`LogWriter`] (see `commit`), which commits the writes
//! of all groups queued together in one transaction.
//!
//! ### To ensure correctness
//! - `append` returns once the entries are queued and readable (they enter the in-memory tail
//!   at once) and reports the flush only after the writer's transaction committed: nothing
//!   openraft believes durable can be lost by a crash.
//! - `save_vote`, `truncate_after` and `purge` have no callback, so they wait for their commit
//!   before returning; the writer commits a group's writes in submission order, so a truncate
//!   never overtakes the appends queued before it.
//! - A truncate is one `DELETE` of a suffix and a purge one `DELETE` of a prefix with the purge
//!   pointer in the same statement, so no hole can appear in the log.

use std::fmt::Debug;
use std::io;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::type_config::alias::{LogIdOf, VoteOf};
use openraft::{OptionalSend, RaftLogReader, RaftTypeConfig};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::codec::{db_err, decode, encode};
use crate::commit::Writer;
use crate::log_lane::{LogLane, LogOp};
use crate::tail::{FlushState, Tail};

/// The node's shared Raft-log writer (one per process, every group's log writes).
pub type LogWriter = Writer<LogLane>;

/// A group's durable log index, as its state machine sees it: an entry is recorded as
/// applied only once the replica's own log holds it durably (see [`Flushed::wait`]). The
/// index itself is kept by the group's tail (`tail.rs`).
#[derive(Clone)]
pub struct Flushed {
    rx: watch::Receiver<FlushState>,
}

impl Flushed {
    /// Waits until the group's own log holds `index` durably. A replica may learn that an
    /// entry is committed (held by a majority) before its own append of it committed; were
    /// its applied state to record the entry first, a crash could leave `last_applied` above a
    /// log whose entry at that index is an older, conflicting one, which openraft refuses to
    /// start from. Errors when the group's log writes failed (it is stopping).
    pub async fn wait(&self, index: u64) -> io::Result<()> {
        let mut rx = self.rx.clone();
        let s = rx
            .wait_for(|s| s.failed || s.index.is_some_and(|i| i >= index))
            .await
            .map_err(|_| io::Error::other("log store dropped"))?;
        if s.failed {
            return Err(io::Error::other("a log write of this group failed"));
        }
        Ok(())
    }
}

/// The Raft log of one group in one node's database.
pub struct PgLogStore<C: RaftTypeConfig> {
    /// The node's pool, shared by all its groups (reads).
    db: PgPool,
    /// The node's shared writer (every durable write).
    writer: LogWriter,
    /// Which group's rows this store reads and writes.
    group: Uuid,
    /// The newest entries, shared with the readers (replication reads them from memory).
    tail: Tail<C::Entry>,
    _c: PhantomData<C>,
}

impl<C: RaftTypeConfig> Clone for PgLogStore<C> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            writer: self.writer.clone(),
            group: self.group,
            tail: self.tail.clone(),
            _c: PhantomData,
        }
    }
}

impl<C: RaftTypeConfig> PgLogStore<C>
where
    C::Entry: Clone,
{
    /// A store for `group` writing through `writer`. Creates nothing: an empty group has no
    /// rows.
    pub fn new(db: PgPool, writer: LogWriter, group: Uuid) -> Self {
        Self {
            db,
            writer,
            group,
            tail: Tail::new(),
            _c: PhantomData,
        }
    }

    /// The group's durable index, for its state machine.
    pub fn flushed(&self) -> Flushed {
        Flushed {
            rx: self.tail.subscribe(),
        }
    }
}

/// Converts a `RangeBounds<u64>` into a half-open `[start, end)` over i64 log indexes.
fn index_range(range: &impl RangeBounds<u64>) -> (i64, i64) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => u64::MAX,
    };
    (clamp(start), clamp(end))
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl<C: RaftTypeConfig> RaftLogReader<C> for PgLogStore<C>
where
    C::Entry: Clone,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, io::Error> {
        let (start, end) = index_range(&range);
        if start >= end {
            return Ok(Vec::new());
        }
        // The tail holds every entry not yet durable; below its first index the database has
        // everything (only durable entries leave the tail).
        let (db_end, from_tail) = match self.tail.get_from(start as u64, end as u64) {
            Some((from, entries)) if from == start as u64 => return Ok(entries),
            Some((from, entries)) => (clamp(from), entries),
            None => (end, Vec::new()),
        };
        // One statement: a consistent view even while the writer appends or truncates.
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
            "SELECT entry FROM raft_log WHERE group_id = $1 AND log_index >= $2 AND log_index < $3 \
             ORDER BY log_index",
        )
        .bind(self.group)
        .bind(start)
        .bind(db_end)
        .fetch_all(&self.db)
        .await
        .map_err(db_err)?;
        let mut out = rows
            .iter()
            .map(|(b,)| decode(b))
            .collect::<io::Result<Vec<C::Entry>>>()?;
        out.extend(from_tail);
        Ok(out)
    }

    /// What replication sends: an append RPC carries entries up to [`crate::MAX_APPEND_BYTES`]
    /// (at least one), so its body stays under the receivers' limit however large the
    /// entries a follower lags behind by.
    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<C::Entry>, io::Error> {
        if start >= end {
            return Ok(Vec::new());
        }
        if let Some(entries) = self.tail.get_limited(start, end, crate::MAX_APPEND_BYTES) {
            return Ok(entries);
        }
        // Below the tail's first index the database has every entry; from it on, maybe not.
        let db_end = self.tail.first_index().map_or(end, |f| f.min(end));
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
            "SELECT entry FROM ( \
                 SELECT log_index, entry, \
                        sum(octet_length(entry)) OVER (ORDER BY log_index) AS upto \
                 FROM raft_log WHERE group_id = $1 AND log_index >= $2 AND log_index < $3 \
                 ORDER BY log_index LIMIT $4) r \
             WHERE upto - octet_length(entry) < $5 ORDER BY log_index",
        )
        .bind(self.group)
        .bind(clamp(start))
        .bind(clamp(db_end))
        .bind(clamp(end - start))
        .bind(crate::MAX_APPEND_BYTES as i64)
        .fetch_all(&self.db)
        .await
        .map_err(db_err)?;
        if rows.is_empty() {
            // The tail moved on meanwhile (an eviction or purge): read the range plainly.
            return self.try_get_log_entries(start..end).await;
        }
        rows.iter().map(|(b,)| decode(b)).collect()
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<C>>, io::Error> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT vote FROM raft_vote WHERE group_id = $1")
                .bind(self.group)
                .fetch_optional(&self.db)
                .await
                .map_err(db_err)?;
        row.map(|(b,)| decode(&b)).transpose()
    }
}

impl<C: RaftTypeConfig> RaftLogStorage<C> for PgLogStore<C>
where
    C::Entry: Clone,
{
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, io::Error> {
        let last: Option<(Vec<u8>,)> = sqlx::query_as(
            "SELECT log_id FROM raft_log WHERE group_id = $1 ORDER BY log_index DESC LIMIT 1",
        )
        .bind(self.group)
        .fetch_optional(&self.db)
        .await
        .map_err(db_err)?;
        let purged: Option<(Option<Vec<u8>>,)> =
            sqlx::query_as("SELECT last_purged FROM raft_log_meta WHERE group_id = $1")
                .bind(self.group)
                .fetch_optional(&self.db)
                .await
                .map_err(db_err)?;
        let last_purged_log_id: Option<LogIdOf<C>> =
            purged.and_then(|(p,)| p).map(|b| decode(&b)).transpose()?;
        let last_log_id: Option<LogIdOf<C>> = match last {
            Some((b,)) => Some(decode(&b)?),
            None => last_purged_log_id.clone(),
        };
        // Everything in the database is durable.
        let index = last_log_id.as_ref().map(|l| l.index);
        self.tail.stored_upto(index);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<C>) -> Result<(), io::Error> {
        self.writer
            .write(LogOp::Vote {
                group: self.group,
                vote: encode(vote)?,
            })
            .await
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut rows = Vec::new();
        let mut kept = Vec::new();
        for e in entries {
            let log_id = e.log_id();
            let body = encode(&e)?;
            kept.push((log_id.index, e, body.len()));
            rows.push((clamp(log_id.index), encode(&log_id)?, body));
        }
        let Some(last) = kept.last().map(|k| k.0) else {
            callback.io_completed(Ok(()));
            return Ok(());
        };
        // Readable at once (openraft may read it back before the flush), durable later.
        self.tail.appended(kept);
        let tail = self.tail.clone();
        self.writer.submit(
            LogOp::Append {
                group: self.group,
                rows,
            },
            Box::new(move |r: io::Result<()>| {
                match &r {
                    Ok(()) => tail.flushed(last),
                    Err(_) => tail.failed(),
                }
                callback.io_completed(r);
            }),
        )?;
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        let last_index = last_log_id.map(|id| id.index);
        let after = last_index.map_or(-1, clamp);
        self.writer
            .write(LogOp::Truncate {
                group: self.group,
                after,
            })
            .await?;
        self.tail.truncated_after(last_index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> Result<(), io::Error> {
        self.writer
            .write(LogOp::Purge {
                group: self.group,
                upto: clamp(log_id.index),
                log_id: encode(&log_id)?,
            })
            .await?;
        self.tail.purged_upto(log_id.index);
        Ok(())
    }
}
