//! Start-up and graceful shutdown of a manager.
//!
//! Start: pool, migrations, metadata state machine, Raft (the lowest-id manager initializes a
//! pristine group with every peer), listeners, loops. Shutdown: cancel loops and await them,
//! stop the API, shut Raft down, stop the Raft listener, close the pool.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use raftbus_node::server::{Listeners, load_tls};
use raftbus_raft::commit::{Limits, Writer};
use raftbus_raft::server::GroupLookup;
use raftbus_raft::{LogLane, NetworkFactory, NodeAddr, PgLogStore, Router};
use raftbus_security::{NodeHttp, NodeIdentity};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::api;
use crate::error::ManagerError;
use crate::liveness::Liveness;
use crate::node::Manager;
use crate::raft::{META_GROUP, MetaConfig, MetaRaft};
use crate::reports::Reports;
use crate::settings::Settings;
use crate::store::MetaStateMachine;
use crate::tasks;

/// Routes Raft RPCs for the single metadata group.
struct MetaLookup {
    id: u64,
    raft: MetaRaft,
    /// Where received snapshot frames are staged.
    db: sqlx::PgPool,
}

impl GroupLookup<MetaConfig, MetaStateMachine> for MetaLookup {
    fn node_id(&self) -> u64 {
        self.id
    }

    fn role(&self) -> raftbus_security::Role {
        raftbus_security::Role::Manager
    }

    fn raft(&self, group: Uuid) -> Option<MetaRaft> {
        (group == META_GROUP).then(|| self.raft.clone())
    }

    fn db(&self) -> &sqlx::PgPool {
        &self.db
    }
}

/// Migrations of a manager database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/manager");

/// Runs a manager until SIGINT or SIGTERM.
pub async fn run(settings: Settings) -> Result<(), ManagerError> {
    let settings = Arc::new(settings);
    let peers = settings.peers()?;
    let db = settings.database.connect().await?;
    raftbus_raft::migrate(&raftbus_raft::MIGRATOR, &db).await?;
    raftbus_raft::migrate(&MIGRATOR, &db).await?;
    // Frames of snapshot transfers a crash interrupted; the group does not run yet.
    raftbus_raft::snapshot::discard_all(&db).await?;

    let tls = load_tls(&settings.security, "read and rewrite the cluster metadata")?;
    let me = NodeIdentity::manager(settings.node.id);
    let router = Router::new(
        me,
        tls.as_ref(),
        Duration::from_millis(500),
        Duration::from_millis(200),
        Default::default(),
    );
    let (mut sm, meta) = MetaStateMachine::open(db.clone()).await?;
    let network = NetworkFactory {
        router: router.clone(),
        group: META_GROUP,
    };
    // One group, but the same shared writer as brokers: its appends commit in the background.
    let writer = Writer::spawn("log", db.clone(), LogLane::default(), Limits::default());
    let log = PgLogStore::<MetaConfig>::new(db.clone(), writer.clone(), META_GROUP);
    sm.follow_log(log.flushed());
    let raft = MetaRaft::new(
        settings.node.id,
        Arc::new(settings.raft_config()?),
        network,
        log,
        sm,
    )
    .await
    .map_err(|e| ManagerError::Raft(e.to_string()))?;
    let lowest = peers.iter().map(|p| p.id).min();
    if lowest == Some(settings.node.id)
        && !raft
            .is_initialized()
            .await
            .map_err(|e| ManagerError::Raft(e.to_string()))?
    {
        let nodes: BTreeMap<u64, NodeAddr> = peers
            .iter()
            .map(|p| {
                (
                    p.id,
                    NodeAddr {
                        raft_addr: p.raft_addr.clone(),
                        api_addr: p.api_addr.clone(),
                    },
                )
            })
            .collect();
        if let Err(e) = raft.initialize(nodes).await {
            tracing::info!(error = %e, "metadata group initialize skipped");
        }
    }

    let http = NodeHttp::new(
        reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(700))
            .timeout(Duration::from_secs(15)),
        tls.as_ref(),
        me,
    );
    let brokers = NodeHttp::new(
        reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(700))
            .timeout(Duration::from_secs(10)),
        tls.as_ref(),
        me,
    );
    let m = Arc::new(Manager {
        id: settings.node.id,
        settings: settings.clone(),
        peers,
        raft: raft.clone(),
        meta,
        liveness: Liveness::default(),
        reports: Reports::default(),
        http,
        brokers,
    });

    let lookup = Arc::new(MetaLookup {
        id: settings.node.id,
        raft: raft.clone(),
        db: db.clone(),
    });
    let data = web::Data::from(m.clone());
    let internal_data = data.clone();
    let raft_server = raftbus_raft::server::listen(
        &settings.server.raft_addr,
        1,
        lookup,
        tls.as_ref(),
        move |cfg| api::configure_internal(cfg, internal_data.clone()),
    )
    .map_err(ManagerError::bind(&settings.server.raft_addr))?;
    let directory = Arc::new(api::MetaDirectory(m.meta.clone()));
    let tokens =
        raftbus_security::Tokens::from_settings(&settings.security, directory, api::policy)?
            .map(web::Data::new);
    let api_server = raftbus_security::client_server!(
        &settings.server.api_addr,
        settings.server.workers,
        tls.as_ref().map(|t| &t.public),
        tokens,
        move |cfg: &mut web::ServiceConfig| api::configure(cfg, data.clone())
    )
    .map_err(ManagerError::bind(&settings.server.api_addr))?;
    let listeners = Listeners::start(raft_server, api_server);

    let cancel = CancellationToken::new();
    let every =
        Duration::from_millis(settings.heartbeat.interval_ms / 2).max(Duration::from_millis(100));
    let healing_every = Duration::from_millis(settings.healing.interval_ms);
    let loops = vec![
        tasks::reap::spawn(m.clone(), every, cancel.clone()),
        tasks::fence::spawn(m.clone(), Duration::from_millis(500), cancel.clone()),
        tasks::heal::spawn(m.clone(), healing_every, cancel.clone()),
        tasks::balance::spawn(m.clone(), healing_every, cancel.clone()),
        tasks::expire::spawn(
            m.clone(),
            Duration::from_millis(settings.groups.reap_interval_ms),
            cancel.clone(),
        ),
    ];
    tracing::info!(node = settings.node.id, api = %settings.server.api_addr, raft = %settings.server.raft_addr, "manager ready");

    raftbus_node::runtime::shutdown_signal().await;
    tracing::info!("shutting down");
    cancel.cancel();
    for l in loops {
        let _ = l.await;
    }
    listeners.stop_api().await;
    if let Err(e) = raft.shutdown().await {
        tracing::warn!(error = %e, "raft shutdown failed");
    }
    listeners.stop().await;
    writer.wait_processed(writer.submitted()).await;
    db.close().await;
    Ok(())
}
