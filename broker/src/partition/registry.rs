//! The registry of hosted partitions: lookup by group id (Raft RPCs) and by topic/partition
//! (clients), and opening all groups at start-up.
//!
//! Locks here are std locks held only for map lookups, never across an `.await`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::StreamExt;

use raftbus_protocol::api::Member;
use raftbus_raft::server::GroupLookup;
use raftbus_raft::{NetworkFactory, PgLogStore, Router};
use sqlx::PgPool;
use uuid::Uuid;

use super::Partition;
use super::propose::{ProposeConfig, Proposer};
use crate::error::BrokerError;
use crate::raft::{PartitionRaft, RaftConfig, TypeConfig};
use crate::state_machine::PartitionStateMachine;
use crate::state_machine::state::Dedup;
use crate::storage::{Storage, group};

/// Groups opened at once at start-up (bounded by the pool's connections anyway).
const OPEN_CONCURRENCY: usize = 16;

/// All partition replicas of this broker.
pub struct Registry {
    /// This broker's id.
    pub(super) node_id: u64,
    /// The broker's database.
    pub(super) db: PgPool,
    /// The broker's shared writers.
    storage: Storage,
    /// Shared Raft RPC client.
    pub(super) router: Router,
    /// Raft config of every partition group.
    pub(super) raft_config: Arc<RaftConfig>,
    /// How each group's `propose` task merges produce requests.
    propose: ProposeConfig,
    /// Hosted replicas by group id.
    groups: RwLock<HashMap<Uuid, Arc<Partition>>>,
    /// Group id by `(topic, partition)`.
    by_name: RwLock<HashMap<(String, u32), Uuid>>,
    /// Serializes creations so two concurrent requests never start one group twice.
    pub(super) create_lock: tokio::sync::Mutex<()>,
}

impl Registry {
    /// An empty registry.
    pub fn new(
        node_id: u64,
        storage: Storage,
        router: Router,
        raft_config: RaftConfig,
        propose: ProposeConfig,
    ) -> Self {
        Self {
            node_id,
            db: storage.db.clone(),
            storage,
            router,
            raft_config: Arc::new(raft_config),
            propose,
            groups: RwLock::new(HashMap::new()),
            by_name: RwLock::new(HashMap::new()),
            create_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The broker's database pool.
    pub fn db(&self) -> &PgPool {
        &self.db
    }

    /// The broker's Raft RPC client (for its counters).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The broker's shared writers (for their counters).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// This broker's id.
    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// Reopens every group recorded in the database (after a restart).
    /// Opens `OPEN_CONCURRENCY` groups at a time: each open is a few sequential reads, so
    /// thousands of groups opened one by one would keep a restarted broker dark for minutes.
    pub async fn open_all(&self) -> Result<usize, BrokerError> {
        let rows = group::list(&self.db).await?;
        let n = rows.len();
        let mut opens = futures::stream::iter(rows.into_iter().map(
            |(group_id, topic, partition, members)| async move {
                let members: Vec<Member> = serde_json::from_value(members).map_err(|e| {
                    BrokerError::Raft(format!("bad member list of {group_id}: {e}"))
                })?;
                self.open(group_id, topic, partition as u32, members).await
            },
        ))
        .buffer_unordered(OPEN_CONCURRENCY);
        while let Some(opened) = opens.next().await {
            opened?;
        }
        Ok(n)
    }

    /// Starts the Raft instance of a group from whatever its rows hold and registers it.
    pub(super) async fn open(
        &self,
        group_id: Uuid,
        topic: String,
        partition: u32,
        members: Vec<Member>,
    ) -> Result<Arc<Partition>, BrokerError> {
        for m in &members {
            self.router.remember_new(m.id, &m.raft_addr);
        }
        let log =
            PgLogStore::<TypeConfig>::new(self.db.clone(), self.storage.log.clone(), group_id);
        // UNSAFE negative control: set process-wide by `Settings::load` from `[unsafe]`.
        let dedup = if crate::settings::unsafe_skip_dedup() {
            tracing::warn!(group = %group_id, "UNSAFE: producer deduplication is OFF for this group");
            Dedup::Off
        } else {
            Dedup::On
        };
        let (mut sm, marks) =
            PartitionStateMachine::open_with(self.storage.clone(), group_id, dedup).await?;
        sm.follow_log(log.flushed());
        let unpersisted = sm.unpersisted();
        let network = NetworkFactory {
            router: self.router.clone(),
            group: group_id,
        };
        let raft = PartitionRaft::new(self.node_id, self.raft_config.clone(), network, log, sm)
            .await
            .map_err(|e| BrokerError::Raft(format!("cannot start group {group_id}: {e}")))?;
        let proposer = Proposer::spawn(raft.clone(), self.propose, format!("{topic}/{partition}"));
        let p = Arc::new(Partition {
            group_id,
            topic: topic.clone(),
            partition,
            proposer,
            raft,
            marks,
            unpersisted,
            members,
            lease_flight: Default::default(),
            read_flight: Default::default(),
        });
        self.groups
            .write()
            .expect("groups lock")
            .insert(group_id, p.clone());
        self.by_name
            .write()
            .expect("names lock")
            .insert((topic, partition), group_id);
        tracing::info!(group = %group_id, partition = %p.name(), "partition replica opened");
        Ok(p)
    }

    /// The replica of `topic/partition`, if hosted here.
    pub fn get(&self, topic: &str, partition: u32) -> Option<Arc<Partition>> {
        let id = *self
            .by_name
            .read()
            .expect("names lock")
            .get(&(topic.to_string(), partition))?;
        self.by_id(id)
    }

    /// The replica of a group, if hosted here.
    pub fn by_id(&self, group: Uuid) -> Option<Arc<Partition>> {
        self.groups
            .read()
            .expect("groups lock")
            .get(&group)
            .cloned()
    }

    /// Every hosted replica, sorted by topic and partition.
    pub fn all(&self) -> Vec<Arc<Partition>> {
        let mut v: Vec<_> = self
            .groups
            .read()
            .expect("groups lock")
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        v
    }

    /// Drops the replica of `group_id` for good (its topic was deleted): stops its Raft
    /// instance, then deletes its rows. Returns `false` when it is not hosted here.
    ///
    /// Runs under the create lock so a concurrent create of the same group cannot interleave.
    /// Every row of the group, Raft tables included, goes in one transaction
    /// (`storage::group::delete`): a crash leaves the group either whole or gone.
    pub async fn remove(&self, group_id: Uuid) -> Result<bool, BrokerError> {
        let _guard = self.create_lock.lock().await;
        let removed = self.groups.write().expect("groups lock").remove(&group_id);
        let Some(p) = removed else {
            return Ok(false);
        };
        {
            let mut names = self.by_name.write().expect("names lock");
            if names.get(&(p.topic.clone(), p.partition)) == Some(&group_id) {
                names.remove(&(p.topic.clone(), p.partition));
            }
        }
        if let Err(e) = p.raft.shutdown().await {
            tracing::warn!(partition = %p.name(), error = %e, "raft shutdown failed");
        }
        group::delete(&self.storage, group_id).await?;
        tracing::info!(group = %group_id, partition = %p.name(), "partition replica removed");
        Ok(true)
    }

    /// Restarts the Raft instance of a group that Raft stopped (a storage error is fatal
    /// to it) from its rows, like a broker restart does for every group. Returns `false` when
    /// the group is not hosted or still running. Runs under the create lock, so it cannot
    /// interleave with a create or remove of the same group.
    pub async fn reopen(&self, group_id: Uuid) -> Result<bool, BrokerError> {
        let _guard = self.create_lock.lock().await;
        let Some(p) = self.by_id(group_id) else {
            return Ok(false);
        };
        if !p.is_stopped() {
            return Ok(false);
        }
        // Only once the database takes writes again: a group reopened earlier would restore
        // its leadership, fail its first write and stop again, and each such flap resets the
        // other replicas' election timers, keeping the partition leaderless. A no-op update
        // proves writes work (a read-only or unreachable database fails it).
        group::probe_write(&self.db, group_id).await?;
        // Already stopped: this only joins its tasks.
        let _ = p.raft.shutdown().await;
        self.open(group_id, p.topic.clone(), p.partition, p.members.clone())
            .await?;
        Ok(true)
    }

    /// Stops every group's Raft instance (last step of shutdown, before the pool closes).
    pub async fn shutdown(&self) {
        for p in self.all() {
            if let Err(e) = p.raft.shutdown().await {
                tracing::warn!(partition = %p.name(), error = %e, "raft shutdown failed");
            }
        }
    }
}

impl GroupLookup<TypeConfig, PartitionStateMachine> for Registry {
    fn node_id(&self) -> u64 {
        self.node_id
    }

    fn role(&self) -> raftbus_security::Role {
        raftbus_security::Role::Broker
    }

    fn raft(&self, group: Uuid) -> Option<PartitionRaft> {
        self.by_id(group).map(|p| p.raft.clone())
    }

    fn db(&self) -> &sqlx::PgPool {
        &self.storage().db
    }
}
