//! The heartbeat loop against a fake manager (an actix server answering canned replies) and
//! a registry whose pool never connects: covers manager rotation, failure handling,
//! reconciliation of bad assignments and cancellation without a database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use raftbus_protocol::api::Member;
use raftbus_protocol::meta::{Assignment, BrokerHeartbeat, BrokerHeartbeatReply};
use raftbus_protocol::routes;
use raftbus_raft::Router;
use sqlx::postgres::PgPoolOptions;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Heartbeat;
use crate::partition::Registry;
use crate::settings::Settings;
use crate::storage::Storage;

/// What the fake manager saw and how it answers.
#[derive(Default)]
struct Fake {
    hits: AtomicUsize,
    fail: AtomicBool,
    last_broker: std::sync::Mutex<Option<Member>>,
}

async fn heartbeat(fake: web::Data<Arc<Fake>>, body: web::Json<BrokerHeartbeat>) -> HttpResponse {
    fake.hits.fetch_add(1, Ordering::SeqCst);
    *fake.last_broker.lock().unwrap() = Some(body.into_inner().broker);
    if fake.fail.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().body("no write manager");
    }
    // An assignment that does not list this broker (refused by validation, before any
    // database access) and a removal of a group that is not hosted.
    HttpResponse::Ok().json(BrokerHeartbeatReply {
        assignments: vec![Assignment {
            topic: "t".into(),
            partition: 0,
            group_id: Uuid::new_v4(),
            members: vec![Member {
                id: 99,
                api_addr: "x:1".into(),
                raft_addr: "x:2".into(),
                kafka_addr: None,
            }],
            voters: vec![],
            preferred_leader: None,
            retention: Default::default(),
        }],
        removed: vec![Uuid::new_v4()],
        assignments_digest: Some("d1".into()),
        unchanged: false,
        full_report_needed: false,
        incremental: true,
        security: None,
    })
}

/// Starts the fake manager on a free port; returns its address and state.
fn fake_manager() -> (String, Arc<Fake>, actix_web::dev::ServerHandle) {
    let fake = Arc::new(Fake::default());
    let data = web::Data::new(fake.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route(routes::BROKER_HEARTBEAT, web::post().to(heartbeat))
    })
    .workers(1)
    .disable_signals()
    .bind_auto_h2c("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0].to_string();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (addr, fake, handle)
}

/// A free port nobody listens on: connections are refused at once.
fn dead_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn heartbeat_for(managers: &[&str], every_ms: u64) -> Heartbeat {
    let mut s = Settings::default();
    s.node.id = 1;
    s.server.advertised_api_addr = Some("10.0.0.1:9091".into());
    s.manager.bootstrap = managers.join(",");
    s.manager.heartbeat_ms = every_ms;
    let db = PgPoolOptions::new()
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap();
    // Insecure: the fake managers of these tests speak cleartext HTTP.
    let router = Router::new(
        raftbus_security::NodeIdentity::broker(1),
        None,
        Duration::from_millis(100),
        Duration::from_millis(100),
        Default::default(),
    );
    let registry = Arc::new(Registry::new(
        1,
        Storage::start(db, s.storage_limits()),
        router,
        s.raft_config().unwrap(),
        s.propose_config(),
    ));
    Heartbeat::new(&s, registry, None).unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_managers_means_no_loop() {
    let s = Settings::default();
    let db = PgPoolOptions::new()
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap();
    // Insecure: the fake managers of these tests speak cleartext HTTP.
    let router = Router::new(
        raftbus_security::NodeIdentity::broker(1),
        None,
        Duration::from_millis(100),
        Duration::from_millis(100),
        Default::default(),
    );
    let registry = Arc::new(Registry::new(
        1,
        Storage::start(db, s.storage_limits()),
        router,
        s.raft_config().unwrap(),
        s.propose_config(),
    ));
    assert!(Heartbeat::new(&s, registry, None).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn tries_managers_in_order_and_sticks_to_the_one_that_answers() {
    let (addr, fake, server) = fake_manager();
    let dead = dead_addr();
    let mut hb = heartbeat_for(&[&dead, &addr], 1_000);
    let (beat, pending) = hb.reporter.report(&hb.me, hb.hosted(), None);
    assert!(beat.groups.is_empty() && beat.full && pending.full());
    assert_eq!(beat.broker.api_addr, "10.0.0.1:9091", "advertised address");
    assert_eq!(
        beat.broker.raft_addr, "127.0.0.1:9191",
        "listen address by default"
    );

    let reply = hb.send(&beat, true).await.expect("second manager answers");
    assert_eq!(hb.next, 1);
    assert_eq!(fake.hits.load(Ordering::SeqCst), 1);
    assert_eq!(fake.last_broker.lock().unwrap().as_ref().unwrap().id, 1);
    // Bad assignment and unknown removal: logged, nothing hosted, no panic.
    let removed = hb.accept(pending, reply);
    assert_eq!(
        (hb.digest.as_deref(), hb.assignments.len()),
        (Some("d1"), 1)
    );
    hb.reconcile(&hb.assignments, &removed, &CancellationToken::new())
        .await;
    assert!(hb.registry.all().is_empty());

    fake.fail.store(true, Ordering::SeqCst);
    assert!(hb.send(&beat, true).await.is_none(), "non-2xx is a failure");
    assert!(hb.failing && hb.last_warn.is_some());
    assert_eq!(hb.next, 1, "no manager answered: keep the last good one");
    fake.fail.store(false, Ordering::SeqCst);
    assert!(hb.send(&beat, true).await.is_some());
    assert!(!hb.failing);
    server.stop(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn loop_ticks_until_cancelled() {
    let (addr, fake, server) = fake_manager();
    let hb = heartbeat_for(&[&addr], 20);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(hb.run(cancel.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while fake.hits.load(Ordering::SeqCst) < 3 {
        assert!(tokio::time::Instant::now() < deadline, "loop does not tick");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("loop stops promptly")
        .unwrap();
    server.stop(false).await;
}
