//! The Raft-log lane of the node's shared writer: appends, votes, truncations and purges of
//! every group, written together.
//!
//! ### To ensure correctness
//! - One level (see [`crate::commit::levels`]) is one statement with a data-modifying CTE per
//!   kind. Within a level a group has writes of one kind only, so no two parts of a statement
//!   touch the same row (Postgres runs the CTEs on one snapshot, in no set order).
//! - Appends of a group merge into one level only while their indexes keep rising, so
//!   `ON CONFLICT DO UPDATE` never meets one row twice in a statement.
//! - Several levels run in one transaction, in order: a truncate commits before the re-append
//!   that follows it.
//! - A node may add its own writes to the same transactions ([`ExtraLane`], a broker's applied
//!   state): written after the log statements, in the same transaction, so they commit with
//!   the log writes queued before them, never ahead of them.

use std::any::Any;
use std::fmt;
use std::io;
use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::codec::db_err;
use crate::commit::Lane;

/// One durable write of a group: to its Raft log, or the node's own ([`LogOp::Extra`]).
#[derive(Debug)]
pub enum LogOp {
    /// Rows `(index, encoded log id, encoded entry)`, consecutive indexes.
    Append {
        /// Group.
        group: Uuid,
        /// The rows.
        rows: Vec<(i64, Vec<u8>, Vec<u8>)>,
    },
    /// The group's vote (encoded).
    Vote {
        /// Group.
        group: Uuid,
        /// Encoded vote.
        vote: Vec<u8>,
    },
    /// Delete every entry above `after` (-1: all).
    Truncate {
        /// Group.
        group: Uuid,
        /// Last index kept.
        after: i64,
    },
    /// Delete every entry up to `upto` and remember the purged log id.
    Purge {
        /// Group.
        group: Uuid,
        /// Last index deleted.
        upto: i64,
        /// Encoded log id of that entry.
        log_id: Vec<u8>,
    },
    /// A write of the node's [`ExtraLane`], sharing the log's transactions.
    Extra(Box<dyn ExtraOp>),
}

/// A write the node adds to the log's transactions (a broker's applied state).
pub trait ExtraOp: Any + Send + Sync + fmt::Debug {
    /// The group it belongs to.
    fn group(&self) -> Uuid;
    /// `(entries, bytes)`, as [`Lane::weight`].
    fn weight(&self) -> (u64, u64);
    /// For the lane to get its own type back.
    fn as_any(&self) -> &dyn Any;
}

/// Writes a node's [`LogOp::Extra`] writes, in submission order, on a connection the log lane
/// may have put inside a transaction (so: statements only, no `COMMIT`).
pub trait ExtraLane: Send + Sync + 'static {
    /// Writes `items`.
    fn write<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        items: &'a [&'a dyn ExtraOp],
    ) -> BoxFuture<'a, io::Result<()>>;
}

impl LogOp {
    fn group_id(&self) -> Uuid {
        match self {
            LogOp::Append { group, .. }
            | LogOp::Vote { group, .. }
            | LogOp::Truncate { group, .. }
            | LogOp::Purge { group, .. } => *group,
            LogOp::Extra(op) => op.group(),
        }
    }
}

/// The Raft log tables' writer, with the node's extra lane, if any.
#[derive(Default, Clone)]
pub struct LogLane {
    extra: Option<Arc<dyn ExtraLane>>,
}

impl LogLane {
    /// A log lane whose transactions also carry `extra`'s writes.
    pub fn with_extra(extra: Arc<dyn ExtraLane>) -> Self {
        Self { extra: Some(extra) }
    }
}

const WRITE: &str = "\
WITH a AS (
    INSERT INTO raft_log (group_id, log_index, log_id, entry)
    SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::bytea[], $4::bytea[])
    ON CONFLICT (group_id, log_index) DO UPDATE SET log_id = EXCLUDED.log_id, entry = EXCLUDED.entry
), v AS (
    INSERT INTO raft_vote (group_id, vote)
    SELECT * FROM UNNEST($5::uuid[], $6::bytea[])
    ON CONFLICT (group_id) DO UPDATE SET vote = EXCLUDED.vote
), t AS (
    DELETE FROM raft_log l USING UNNEST($7::uuid[], $8::bigint[]) AS t(g, i)
    WHERE l.group_id = t.g AND l.log_index > t.i
), m AS (
    INSERT INTO raft_log_meta (group_id, last_purged)
    SELECT * FROM UNNEST($9::uuid[], $11::bytea[])
    ON CONFLICT (group_id) DO UPDATE SET last_purged = EXCLUDED.last_purged
)
DELETE FROM raft_log l USING UNNEST($9::uuid[], $10::bigint[]) AS p(g, i)
WHERE l.group_id = p.g AND l.log_index <= p.i";

/// Column arrays of one statement.
#[derive(Default)]
struct Level<'a> {
    a_group: Vec<Uuid>,
    a_index: Vec<i64>,
    a_id: Vec<&'a [u8]>,
    a_entry: Vec<&'a [u8]>,
    v_group: Vec<Uuid>,
    v_vote: Vec<&'a [u8]>,
    t_group: Vec<Uuid>,
    t_after: Vec<i64>,
    p_group: Vec<Uuid>,
    p_upto: Vec<i64>,
    p_id: Vec<&'a [u8]>,
}

impl<'a> Level<'a> {
    fn add(&mut self, op: &'a LogOp) {
        match op {
            LogOp::Append { group, rows } => {
                for (i, id, e) in rows {
                    self.a_group.push(*group);
                    self.a_index.push(*i);
                    self.a_id.push(id);
                    self.a_entry.push(e);
                }
            }
            LogOp::Vote { group, vote } => {
                self.v_group.push(*group);
                self.v_vote.push(vote);
            }
            LogOp::Truncate { group, after } => {
                self.t_group.push(*group);
                self.t_after.push(*after);
            }
            LogOp::Purge {
                group,
                upto,
                log_id,
            } => {
                self.p_group.push(*group);
                self.p_upto.push(*upto);
                self.p_id.push(log_id);
            }
            // Split off before the log statements are built (`LogLane::write`).
            LogOp::Extra(_) => {}
        }
    }

    async fn execute<'e, E: sqlx::PgExecutor<'e>>(self, db: E) -> io::Result<()> {
        sqlx::query(WRITE)
            .bind(&self.a_group)
            .bind(&self.a_index)
            .bind(&self.a_id)
            .bind(&self.a_entry)
            .bind(&self.v_group)
            .bind(&self.v_vote)
            .bind(&self.t_group)
            .bind(&self.t_after)
            .bind(&self.p_group)
            .bind(&self.p_upto)
            .bind(&self.p_id)
            .execute(db)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

/// Whether `next` may share a statement with the group's previous write `prev`.
fn merges(prev: &LogOp, next: &LogOp) -> bool {
    match (prev, next) {
        (LogOp::Append { rows: p, .. }, LogOp::Append { rows: n, .. }) => {
            match (p.last(), n.first()) {
                (Some(l), Some(f)) => f.0 > l.0,
                _ => true,
            }
        }
        // Another vote or truncate replaces the first: same level would hit one row twice.
        _ => false,
    }
}

impl Lane for LogLane {
    type Item = LogOp;

    fn group(item: &LogOp) -> Uuid {
        item.group_id()
    }

    fn weight(item: &LogOp) -> (u64, u64) {
        match item {
            LogOp::Append { rows, .. } => (
                rows.len() as u64,
                rows.iter().map(|r| (r.1.len() + r.2.len()) as u64).sum(),
            ),
            LogOp::Vote { vote, .. } => (1, vote.len() as u64),
            LogOp::Truncate { .. } => (1, 0),
            LogOp::Purge { log_id, .. } => (1, log_id.len() as u64),
            LogOp::Extra(op) => op.weight(),
        }
    }

    async fn write(&self, db: &mut PgConnection, items: &[&LogOp]) -> io::Result<()> {
        let (mut log, mut extra): (Vec<&LogOp>, Vec<&dyn ExtraOp>) = (Vec::new(), Vec::new());
        for op in items {
            match op {
                LogOp::Extra(e) => extra.push(e.as_ref()),
                _ => log.push(*op),
            }
        }
        let lane = match (&self.extra, extra.is_empty()) {
            (_, true) => return write_log(db, &log).await,
            (Some(lane), false) => lane,
            (None, false) => return Err(io::Error::other("extra write without an extra lane")),
        };
        if log.is_empty() {
            return lane.write(db, &extra).await;
        }
        // Both kinds: one transaction, log first (see the module docs).
        let mut tx = sqlx::Connection::begin(db).await.map_err(db_err)?;
        write_log(&mut tx, &log).await?;
        lane.write(&mut tx, &extra).await?;
        tx.commit().await.map_err(db_err)
    }
}

/// The log statements of `items` (log writes only).
async fn write_log(db: &mut PgConnection, items: &[&LogOp]) -> io::Result<()> {
    crate::write_levels!(db, items, LogOp::group_id, merges, Level)
}
