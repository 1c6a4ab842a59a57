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

use std::io;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::codec::db_err;
use crate::commit::Lane;

/// One durable write to a group's Raft log.
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
}

impl LogOp {
    fn group_id(&self) -> Uuid {
        match self {
            LogOp::Append { group, .. }
            | LogOp::Vote { group, .. }
            | LogOp::Truncate { group, .. }
            | LogOp::Purge { group, .. } => *group,
        }
    }
}

/// The Raft log tables' writer.
pub struct LogLane;

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
        }
    }

    async fn write(&self, db: &mut PgConnection, items: &[&LogOp]) -> io::Result<()> {
        crate::write_levels!(db, items, LogOp::group_id, merges, Level)
    }
}
