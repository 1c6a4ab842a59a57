//! The metadata state machine, persisted in the manager's Postgres database.
//!
//! Topics, the bulk of the metadata (thousands of partitions), are stored one row per topic in
//! `meta_topics`; everything else (brokers, groups, producers, `last_applied`, membership) is
//! one blob in `meta_state`. After each run of applied entries one transaction writes the
//! topics that changed (compared with the state published before the run), deletes the
//! removed ones and rewrites the blob. A snapshot is the whole state as one blob.
//!
//! ### To ensure correctness
//! - The changed topics, the blob and `last_applied` commit in one transaction before
//!   responses are sent.
//! - The published state is exactly what was last committed, so comparing with it finds every
//!   topic that differs from its row; after loading a pre-migration blob (topics inside) or
//!   installing a snapshot, every topic is written and rows of absent topics are deleted.
//! - Readers (HTTP handlers) see the shared state only after it is persisted.

use std::io;
use std::sync::{Arc, RwLock};

use futures::{Stream, StreamExt};
use raftbus_raft::codec::{db_err, decode, encode};
use raftbus_raft::{Flushed, SnapshotData};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::metadata::ClusterMeta;
use crate::raft::{
    EntryPayload, EntryResponder, META_GROUP, MetaConfig, MetaResponse, OptionalSend,
    RaftSnapshotBuilder, RaftStateMachine, Snapshot, SnapshotMeta, SnapshotOf, StoredMembership,
};

/// The metadata is small (topics, brokers, users); a snapshot this large is refused rather
/// than buffered.
const MAX_SNAPSHOT_BYTES: usize = 256 << 20;

type LogId = crate::raft::LogId;
type Membership = StoredMembership;

/// What is persisted: the metadata plus Raft's applied pointers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Persisted {
    last_applied: Option<LogId>,
    membership: Membership,
    meta: ClusterMeta,
}

/// Shared, read-mostly view of the metadata for request handlers.
pub type SharedMeta = Arc<RwLock<ClusterMeta>>;

/// The managers' state machine.
pub struct MetaStateMachine {
    db: PgPool,
    state: Persisted,
    shared: SharedMeta,
    /// Write every topic row on the next persist (the rows may not match the published state).
    rewrite_all: bool,
    /// The metadata group's durable log index: applied state is persisted only once this
    /// manager's own log holds the entries (see `raftbus_raft::Flushed::wait`).
    log: Option<Flushed>,
}

impl MetaStateMachine {
    /// Persists applied state only once this manager's own log holds the entries durably.
    pub fn follow_log(&mut self, flushed: Flushed) {
        self.log = Some(flushed);
    }

    /// Loads the persisted metadata (empty for a new manager).
    pub async fn open(db: PgPool) -> io::Result<(Self, SharedMeta)> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT state FROM meta_state WHERE id = 1")
            .fetch_optional(&db)
            .await
            .map_err(db_err)?;
        let mut state: Persisted = row.map(|(b,)| decode(&b)).transpose()?.unwrap_or_default();
        // A blob written before topics had rows carries them: move them into rows next time.
        let rewrite_all = !state.meta.topics.is_empty();
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT name, topic FROM meta_topics")
            .fetch_all(&db)
            .await
            .map_err(db_err)?;
        for (name, topic) in rows {
            state.meta.topics.insert(name, decode(&topic)?);
        }
        let shared = Arc::new(RwLock::new(state.meta.clone()));
        Ok((
            Self {
                db,
                state,
                shared: shared.clone(),
                rewrite_all,
                log: None,
            },
            shared,
        ))
    }

    /// Names of the topics whose rows must be written, and of those whose rows must go.
    fn topic_changes(&self) -> (Vec<String>, Vec<String>) {
        let now = &self.state.meta.topics;
        if self.rewrite_all {
            return (now.keys().cloned().collect(), Vec::new());
        }
        let before = &self.shared.read().expect("meta lock").topics;
        let upsert = now
            .iter()
            .filter(|(name, t)| before.get(*name) != Some(*t))
            .map(|(name, _)| name.clone())
            .collect();
        let delete = before
            .keys()
            .filter(|name| !now.contains_key(*name))
            .cloned()
            .collect();
        (upsert, delete)
    }

    async fn persist(&mut self) -> io::Result<()> {
        let (upsert, delete) = self.topic_changes();
        let mut rows = Vec::with_capacity(upsert.len());
        for name in upsert {
            let topic = encode(&self.state.meta.topics[&name])?;
            rows.push((name, topic));
        }
        // The blob without the topics (they are in their rows).
        let topics = std::mem::take(&mut self.state.meta.topics);
        let blob = encode(&self.state);
        self.state.meta.topics = topics;
        let blob = blob?;

        let mut tx = self.db.begin().await.map_err(db_err)?;
        if self.rewrite_all {
            let keep: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
            sqlx::query("DELETE FROM meta_topics WHERE NOT (name = ANY($1))")
                .bind(&keep)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if !delete.is_empty() {
            sqlx::query("DELETE FROM meta_topics WHERE name = ANY($1)")
                .bind(&delete)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        for (name, topic) in &rows {
            sqlx::query(
                "INSERT INTO meta_topics (name, topic) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET topic = EXCLUDED.topic",
            )
            .bind(name)
            .bind(topic)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        sqlx::query(
            "INSERT INTO meta_state (id, state) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state",
        )
        .bind(blob)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        self.rewrite_all = false;
        Ok(())
    }

    fn publish(&self) {
        *self.shared.write().expect("meta lock") = self.state.meta.clone();
    }
}

impl RaftStateMachine<MetaConfig> for MetaStateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = MetaSnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, Membership), io::Error> {
        Ok((self.state.last_applied, self.state.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<MetaConfig>, io::Error>> + Unpin + OptionalSend,
    {
        let mut replies = Vec::new();
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            self.state.last_applied = Some(entry.log_id);
            let resp = match entry.payload {
                EntryPayload::Blank => MetaResponse::Ok,
                EntryPayload::Normal(cmd) => self.state.meta.apply(cmd),
                EntryPayload::Membership(m) => {
                    self.state.membership = Membership::new(Some(entry.log_id), m);
                    MetaResponse::Ok
                }
            };
            if let Some(r) = responder {
                replies.push((r, resp));
            }
        }
        if let (Some(log), Some(last)) = (&self.log, &self.state.last_applied) {
            log.wait(last.index).await?;
        }
        self.persist().await?;
        self.publish();
        for (r, resp) in replies {
            r.send(resp);
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        MetaSnapshotBuilder {
            db: self.db.clone(),
            state: self.state.clone(),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Self::SnapshotData,
    ) -> Result<(), io::Error> {
        let data = snapshot.collect(MAX_SNAPSHOT_BYTES).await?;
        let mut state: Persisted = decode(&data)?;
        state.last_applied = meta.last_log_id;
        state.membership = meta.last_membership.clone();
        self.state = state;
        self.rewrite_all = true;
        self.persist().await?;
        save_snapshot(&self.db, meta, &data).await?;
        raftbus_raft::snapshot::discard(&self.db, META_GROUP).await?;
        self.publish();
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<Self::SnapshotData>>, io::Error> {
        let row: Option<(Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT meta, data FROM meta_snapshot WHERE id = 1")
                .fetch_optional(&self.db)
                .await
                .map_err(db_err)?;
        row.map(|(m, d)| {
            Ok(Snapshot {
                meta: decode(&m)?,
                snapshot: SnapshotData::from_bytes(d),
            })
        })
        .transpose()
    }
}

async fn save_snapshot(db: &PgPool, meta: &SnapshotMeta, data: &[u8]) -> io::Result<()> {
    sqlx::query(
        "INSERT INTO meta_snapshot (id, meta, data) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET meta = EXCLUDED.meta, data = EXCLUDED.data",
    )
    .bind(encode(meta)?)
    .bind(data)
    .execute(db)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Snapshot of the metadata at the moment it was requested.
pub struct MetaSnapshotBuilder {
    db: PgPool,
    state: Persisted,
}

impl RaftSnapshotBuilder<MetaConfig> for MetaSnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<Self::SnapshotData>, io::Error> {
        let meta = SnapshotMeta {
            last_log_id: self.state.last_applied,
            last_membership: self.state.membership.clone(),
        };
        let data = encode(&self.state)?;
        save_snapshot(&self.db, &meta, &data).await?;
        Ok(Snapshot {
            meta,
            snapshot: SnapshotData::from_bytes(data),
        })
    }
}

#[cfg(test)]
mod tests;
