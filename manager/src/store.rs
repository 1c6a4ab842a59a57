//! The metadata state machine, persisted in the manager's Postgres database.
//!
//! Metadata is small (brokers, topics, groups), so the whole [`ClusterMeta`] is written as one
//! row with `last_applied` after each run of applied entries: one transaction, atomic, and a
//! snapshot is simply that blob.
//!
//! ### To ensure correctness
//! - The state and `last_applied` are written in one statement before responses are sent.
//! - Readers (HTTP handlers) see the shared state only after it is persisted.

use std::io::{self, Cursor};
use std::sync::{Arc, RwLock};

use futures::{Stream, StreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine, Snapshot};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use raftbus_raft::codec::{db_err, decode, encode};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::metadata::ClusterMeta;
use crate::raft::{MetaConfig, MetaResponse};

type LogId = LogIdOf<MetaConfig>;
type Membership = StoredMembershipOf<MetaConfig>;

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
}

impl MetaStateMachine {
    /// Loads the persisted metadata (empty for a new manager).
    pub async fn open(db: PgPool) -> io::Result<(Self, SharedMeta)> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT state FROM meta_state WHERE id = 1")
            .fetch_optional(&db)
            .await
            .map_err(db_err)?;
        let state: Persisted = row.map(|(b,)| decode(&b)).transpose()?.unwrap_or_default();
        let shared = Arc::new(RwLock::new(state.meta.clone()));
        Ok((
            Self {
                db,
                state,
                shared: shared.clone(),
            },
            shared,
        ))
    }

    async fn persist(&self) -> io::Result<()> {
        sqlx::query(
            "INSERT INTO meta_state (id, state) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state",
        )
        .bind(encode(&self.state)?)
        .execute(&self.db)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    fn publish(&self) {
        *self.shared.write().expect("meta lock") = self.state.meta.clone();
    }
}

impl RaftStateMachine<MetaConfig> for MetaStateMachine {
    type SnapshotData = Cursor<Vec<u8>>;
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
        meta: &SnapshotMetaOf<MetaConfig>,
        snapshot: Self::SnapshotData,
    ) -> Result<(), io::Error> {
        let mut state: Persisted = decode(snapshot.get_ref())?;
        state.last_applied = meta.last_log_id;
        state.membership = meta.last_membership.clone();
        self.state = state;
        self.persist().await?;
        save_snapshot(&self.db, meta, snapshot.get_ref()).await?;
        self.publish();
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<MetaConfig, Self::SnapshotData>>, io::Error> {
        let row: Option<(Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT meta, data FROM meta_snapshot WHERE id = 1")
                .fetch_optional(&self.db)
                .await
                .map_err(db_err)?;
        row.map(|(m, d)| {
            Ok(Snapshot {
                meta: decode(&m)?,
                snapshot: Cursor::new(d),
            })
        })
        .transpose()
    }
}

async fn save_snapshot(
    db: &PgPool,
    meta: &SnapshotMetaOf<MetaConfig>,
    data: &[u8],
) -> io::Result<()> {
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
    type SnapshotData = Cursor<Vec<u8>>;

    async fn build_snapshot(
        &mut self,
    ) -> Result<SnapshotOf<MetaConfig, Self::SnapshotData>, io::Error> {
        let meta = SnapshotMetaOf::<MetaConfig> {
            last_log_id: self.state.last_applied,
            last_membership: self.state.membership.clone(),
        };
        let data = encode(&self.state)?;
        save_snapshot(&self.db, &meta, &data).await?;
        Ok(Snapshot {
            meta,
            snapshot: Cursor::new(data),
        })
    }
}
