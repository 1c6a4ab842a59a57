//! openraft's `RaftLogStorage` on Postgres.
//!
//! ### To ensure correctness
//! - Every write (vote, append, truncate, purge) is one committed statement or transaction
//!   before the call returns, and `append` reports the flush only after its commit: nothing
//!   openraft believes durable can be lost by a crash.
//! - openraft serializes the writes of one group; different groups share the pool and get
//!   Postgres's group commit for free.
//! - `truncate_after` and `purge` are single `DELETE`s, so no hole can appear in the log, and
//!   `purge` records the purged pointer in the same transaction as its delete.

use std::fmt::Debug;
use std::io;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::type_config::alias::{LogIdOf, VoteOf};
use openraft::{OptionalSend, RaftLogReader, RaftTypeConfig};
use sqlx::PgPool;
use uuid::Uuid;

use crate::codec::{db_err, decode, encode};
use crate::tail::Tail;

/// The Raft log of one group in one node's database.
pub struct PgLogStore<C: RaftTypeConfig> {
    /// The node's pool, shared by all its groups.
    db: PgPool,
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
    /// A store for `group`. Creates nothing: an empty group has no rows.
    pub fn new(db: PgPool, group: Uuid) -> Self {
        Self {
            db,
            group,
            tail: Tail::new(),
            _c: PhantomData,
        }
    }

    /// Deletes every log row of the group (used when a replica is removed for good).
    pub async fn destroy(&self) -> io::Result<()> {
        let mut tx = self.db.begin().await.map_err(db_err)?;
        for table in ["raft_log", "raft_vote", "raft_log_meta"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE group_id = $1"))
                .bind(self.group)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        self.tail.clear();
        Ok(())
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
        if let Some(entries) = self.tail.get(start as u64, end as u64) {
            return Ok(entries);
        }
        // One statement: a consistent view even while the writer appends or truncates.
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
            "SELECT entry FROM raft_log WHERE group_id = $1 AND log_index >= $2 AND log_index < $3 \
             ORDER BY log_index",
        )
        .bind(self.group)
        .bind(start)
        .bind(end)
        .fetch_all(&self.db)
        .await
        .map_err(db_err)?;
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
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<C>) -> Result<(), io::Error> {
        sqlx::query(
            "INSERT INTO raft_vote (group_id, vote) VALUES ($1, $2) \
             ON CONFLICT (group_id) DO UPDATE SET vote = EXCLUDED.vote",
        )
        .bind(self.group)
        .bind(encode(vote)?)
        .execute(&self.db)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let result = self.append_rows(entries).await;
        // The statement is committed (autocommit) when it returns: durable, so report it.
        match result {
            Ok(()) => {
                callback.io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.io_completed(Err(io::Error::new(e.kind(), e.to_string())));
                Err(e)
            }
        }
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        let last_index = last_log_id.map(|id| id.index);
        let after = last_index.map_or(-1, clamp);
        sqlx::query("DELETE FROM raft_log WHERE group_id = $1 AND log_index > $2")
            .bind(self.group)
            .bind(after)
            .execute(&self.db)
            .await
            .map_err(db_err)?;
        self.tail.truncated_after(last_index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> Result<(), io::Error> {
        let mut tx = self.db.begin().await.map_err(db_err)?;
        // Pointer first, in the same transaction: get_log_state never sees a gap it can't explain.
        sqlx::query(
            "INSERT INTO raft_log_meta (group_id, last_purged) VALUES ($1, $2) \
             ON CONFLICT (group_id) DO UPDATE SET last_purged = EXCLUDED.last_purged",
        )
        .bind(self.group)
        .bind(encode(&log_id)?)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query("DELETE FROM raft_log WHERE group_id = $1 AND log_index <= $2")
            .bind(self.group)
            .bind(clamp(log_id.index))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        self.tail.purged_upto(log_id.index);
        Ok(())
    }
}

impl<C: RaftTypeConfig> PgLogStore<C>
where
    C::Entry: Clone,
{
    /// Writes entries in one multi-row statement (one round trip, one commit).
    async fn append_rows<I>(&self, entries: I) -> io::Result<()>
    where
        I: IntoIterator<Item = C::Entry>,
    {
        let mut idx = Vec::new();
        let mut ids = Vec::new();
        let mut bodies = Vec::new();
        let mut kept = Vec::new();
        for e in entries {
            let log_id = e.log_id();
            idx.push(clamp(log_id.index));
            ids.push(encode(&log_id)?);
            let body = encode(&e)?;
            kept.push((log_id.index, e, body.len()));
            bodies.push(body);
        }
        if idx.is_empty() {
            return Ok(());
        }
        // ON CONFLICT overwrites: after a crash between truncate and append openraft may
        // re-append an index; the newer entry always wins.
        sqlx::query(
            "INSERT INTO raft_log (group_id, log_index, log_id, entry) \
             SELECT $1, * FROM UNNEST($2::bigint[], $3::bytea[], $4::bytea[]) \
             ON CONFLICT (group_id, log_index) DO UPDATE \
             SET log_id = EXCLUDED.log_id, entry = EXCLUDED.entry",
        )
        .bind(self.group)
        .bind(&idx)
        .bind(&ids)
        .bind(&bodies)
        .execute(&self.db)
        .await
        .map_err(db_err)?;
        self.tail.appended(kept);
        Ok(())
    }
}
