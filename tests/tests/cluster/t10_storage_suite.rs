//! openraft's storage conformance suite against the Postgres log store and the partition
//! state machine (acceptance 1 of the partitions issue).

use openraft::StorageError;
use openraft::testing::log::{StoreBuilder, Suite};
use raftbus_broker::raft::TypeConfig;
use raftbus_broker::state_machine::PartitionStateMachine;
use raftbus_broker::storage::Storage;
use raftbus_raft::PgLogStore;
use raftbus_raft::commit::Limits;
use raftbus_tests::PgServer;
use sqlx::PgPool;
use uuid::Uuid;

/// Every `build` gets a fresh group id in the same database and the same shared writers, as a
/// broker hosts many groups.
struct PgBuilder {
    storage: Storage,
}

impl StoreBuilder<TypeConfig, PgLogStore<TypeConfig>, PartitionStateMachine, ()> for PgBuilder {
    async fn build(
        &self,
    ) -> Result<((), PgLogStore<TypeConfig>, PartitionStateMachine), StorageError<TypeConfig>> {
        let group = Uuid::new_v4();
        let s = &self.storage;
        let (sm, _marks) = PartitionStateMachine::open(s.clone(), group)
            .await
            .expect("open state machine");
        Ok(((), PgLogStore::new(s.db.clone(), s.log.clone(), group), sm))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openraft_storage_suite_passes_on_postgres() {
    let pg = tokio::task::spawn_blocking(PgServer::start)
        .await
        .unwrap()
        .unwrap();
    let url = pg.create_database("suite").unwrap();
    let db = PgPool::connect(&url).await.unwrap();
    raftbus_broker::migrate(&db).await.unwrap();
    let storage = Storage::start(db, Limits::default());
    Suite::test_all(PgBuilder { storage })
        .await
        .expect("storage suite");
}
