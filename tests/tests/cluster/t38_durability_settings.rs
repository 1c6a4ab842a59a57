//! Issue 13, durability: a node refuses a database that would lose committed transactions in
//! a crash (`fsync = off`), with an error naming the setting, instead of acknowledging writes
//! a power loss can undo; and every session it opens runs with `synchronous_commit = on`.

use std::time::Duration;

use raftbus_tests::manager::{ManagerPorts, ManagerProcess, peers_arg};
use raftbus_tests::postgres::PgServer;
use raftbus_tests::process::BrokerProcess;

#[test]
fn brokers_and_managers_refuse_a_database_with_fsync_off() {
    let pg = PgServer::start().unwrap();
    let broker_db = pg.create_database("broker_1").unwrap();
    let manager_db = pg.create_database("manager_1").unwrap();
    // fsync is reloadable: the running server now acknowledges commits it never flushed.
    pg.psql("postgres", "ALTER SYSTEM SET fsync = off").unwrap();
    pg.psql("postgres", "SELECT pg_reload_conf()").unwrap();
    assert_eq!(pg.psql("postgres", "show fsync").unwrap().trim(), "off");

    let mut broker = BrokerProcess::spawn(1, &broker_db, pg.dir()).unwrap();
    let status = broker
        .daemon_mut()
        .wait_exit(Duration::from_secs(60))
        .unwrap();
    assert!(!status.success(), "broker must refuse to start: {status}");
    let log = broker.log_tail(200);
    assert!(
        log.contains("fsync = off"),
        "error must name the setting:\n{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("fsync = off"))
        .unwrap_or_default();
    println!("FSYNC broker refused to start ({status}): {line}");

    let ports = ManagerPorts::allocate(1);
    let peers = peers_arg(std::slice::from_ref(&ports));
    let mut manager = ManagerProcess::new(ports, &peers, &manager_db, pg.dir(), vec![]).unwrap();
    manager.start().unwrap();
    let status = manager
        .daemon_mut()
        .wait_exit(Duration::from_secs(60))
        .unwrap();
    assert!(!status.success(), "manager must refuse to start: {status}");
    let log = manager.log_tail(200);
    assert!(
        log.contains("fsync = off"),
        "error must name the setting:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn node_sessions_run_with_synchronous_commit_on() {
    let pg = PgServer::start().unwrap();
    let url = pg.create_database("sessions").unwrap();
    // A role default of `off` would silently void acknowledgements; the node overrides it.
    pg.psql(
        "postgres",
        "ALTER ROLE postgres SET synchronous_commit = off",
    )
    .unwrap();
    let db =
        raftbus_node::runtime::connect_db(&url, 2, Duration::from_secs(5), Duration::from_secs(5))
            .await
            .unwrap();
    let (setting,): (String,) = sqlx::query_as("SHOW synchronous_commit")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(setting, "on");
    // Not durability, but set on the same sessions: the record path's prepared statements
    // keep one generic plan instead of being re-planned on every execution.
    let (plans,): (String,) = sqlx::query_as("SHOW plan_cache_mode")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(plans, "force_generic_plan");
}
