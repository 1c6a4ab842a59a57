//! Managers acceptance 1, 5 and 6: a topic with 6 partitions and RF 3 becomes ready with
//! replicas on 3 distinct brokers and leaders spread; bad creations get clear 4xx errors and
//! leave nothing behind; the admin commands print tables and fail with one line.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use raftbus_protocol::meta::CreateTopicRequest;
use raftbus_sdk::SdkError;
use raftbus_tests::bin_path;
use raftbus_tests::manager::ManagedCluster;

fn create(name: &str, partitions: u32, rf: u32) -> CreateTopicRequest {
    CreateTopicRequest {
        name: name.into(),
        partitions: Some(partitions),
        replication_factor: Some(rf),
        retention: Default::default(),
    }
}

fn admin_cmd(c: &ManagedCluster, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin_path("manager").unwrap())
        .args(args)
        .env("RAFTBUS_BOOTSTRAP", c.bootstrap())
        .envs(raftbus_tests::pki::client_env())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn topics_are_placed_led_validated_and_administered() {
    let c = ManagedCluster::start(3, 3, &[]).await.unwrap();
    c.write_manager(Duration::from_secs(20)).await.unwrap();

    let t = c
        .admin
        .create_topic(&create("orders", 6, 3), Some(Duration::from_secs(30)))
        .await
        .unwrap_or_else(|e| panic!("create: {e}\n{}", c.logs(30)));
    assert!(t.ready, "every partition has a leader: {t:?}");
    let mut leaders = BTreeMap::new();
    for p in &t.partition_info {
        let mut r = p.replicas.clone();
        r.sort();
        r.dedup();
        assert_eq!(
            r.len(),
            3,
            "3 distinct brokers for partition {}",
            p.partition
        );
        *leaders.entry(p.leader.unwrap()).or_insert(0) += 1;
    }
    println!("leaders per broker: {leaders:?}");
    assert_eq!(
        leaders.len(),
        3,
        "every broker leads some partition: {leaders:?}"
    );

    // Bad creations: clear 4xx, nothing half-created.
    let before = c.admin.list_topics().await.unwrap().len();
    let e = c
        .admin
        .create_topic(&create("big", 1, 5), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SdkError::Api { status: 400, .. })
            && e.to_string().contains("exceeds the 3 brokers"),
        "{e}"
    );
    let e = c
        .admin
        .create_topic(&create("orders", 1, 1), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SdkError::Api { status: 409, .. }) && e.to_string().contains("already exists"),
        "{e}"
    );
    let e = c
        .admin
        .create_topic(&create("bad name!", 1, 1), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SdkError::Api { status: 400, .. })
            && e.to_string().contains("invalid topic name"),
        "{e}"
    );
    let e = c
        .admin
        .create_topic(&create("zero", 0, 1), None)
        .await
        .unwrap_err();
    assert!(matches!(&e, SdkError::Api { status: 400, .. }), "{e}");
    assert_eq!(
        c.admin.list_topics().await.unwrap().len(),
        before,
        "nothing half-created"
    );

    // Admin commands.
    let (ok, out, _) = admin_cmd(&c, &["topic", "describe", "orders"]);
    assert!(
        ok && out.contains("PARTITION") && out.contains("broker-"),
        "{out}"
    );
    println!("{out}");
    let (ok, out, _) = admin_cmd(&c, &["status"]);
    assert!(ok, "{out}");
    println!("{out}");
    for id in 1..=3 {
        assert!(
            out.contains(&format!("manager-{id}")) && out.contains(&format!("broker-{id}")),
            "{out}"
        );
    }
    assert!(out.contains("write") && out.contains("read"), "{out}");
    let (ok, out, _) = admin_cmd(&c, &["topic", "list"]);
    assert!(ok && out.contains("orders"), "{out}");
    let (ok, out, err) = admin_cmd(&c, &["topic", "create", "orders"]);
    assert!(
        !ok && out.is_empty() && err.trim().lines().count() == 1 && err.contains("already exists"),
        "{err}"
    );
    let (ok, _, err) = admin_cmd(&c, &["--bootstrap", "127.0.0.1:1", "topic", "list"]);
    assert!(
        !ok && err.starts_with("error:") && !err.contains("panicked"),
        "{err}"
    );
}
