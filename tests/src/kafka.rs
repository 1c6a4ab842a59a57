//! Real Kafka clients for the Kafka-listener tests: `kcat` (Debian) and a Python venv with
//! `kafka-python` and `confluent-kafka` (PyPI), installed when missing. An install that is
//! impossible fails the test with the reason: these tests never skip silently.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context, bail};

/// Serializes installs: tests run concurrently in one process.
static INSTALL: Mutex<()> = Mutex::new(());

fn on_path(bin: &str) -> Option<PathBuf> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    let path = path.trim();
    (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}

fn sh(script: &str) -> anyhow::Result<()> {
    let out = Command::new("sh").args(["-c", script]).output()?;
    if !out.status.success() {
        bail!(
            "`{script}` failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs Debian `packages` (as root: `apt-get update` once, then `install`).
fn apt(packages: &str) -> anyhow::Result<()> {
    if !is_root() {
        bail!("{packages} missing and not root: install it with apt-get (Debian package names)");
    }
    sh(&format!(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {packages} >/dev/null 2>&1 || \
         (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {packages})"
    ))
}

/// The `kcat` binary, installed from Debian when missing.
pub fn kcat() -> anyhow::Result<PathBuf> {
    let _g = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = on_path("kcat") {
        return Ok(p);
    }
    apt("kcat").context("installing kcat")?;
    on_path("kcat").context("kcat installed but not on PATH")
}

/// The repository root (the tests crate's parent).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `python3` of a venv under `.cache/kafka-venv` holding `kafka-python` and
/// `confluent-kafka` (the venv module from Debian's `python3-venv` when missing).
pub fn python() -> anyhow::Result<PathBuf> {
    let _g = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let venv = repo_root().join(".cache/kafka-venv");
    let py = venv.join("bin/python3");
    let ready = |py: &Path| {
        Command::new(py)
            .args(["-c", "import kafka, confluent_kafka"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready(&py) {
        return Ok(py);
    }
    let v = venv.display();
    if sh(&format!("python3 -m venv {v}")).is_err() {
        apt("python3-venv").context("installing python3-venv")?;
        sh(&format!("python3 -m venv {v}"))?;
    }
    sh(&format!(
        "{v}/bin/pip install -q 'kafka-python>=2.0.2' 'confluent-kafka>=2.3'"
    ))
    .context("installing kafka-python and confluent-kafka from PyPI")?;
    if !ready(&py) {
        bail!("{} cannot import kafka and confluent_kafka", py.display());
    }
    Ok(py)
}

/// librdkafka properties (`-X k=v` for kcat, a dict for confluent-kafka) reaching a secure
/// cluster's Kafka listener as `admin`: TLS against the test CA, SASL/PLAIN with the token.
pub fn rdkafka_props(bootstrap: &str) -> Vec<(String, String)> {
    let ca = crate::pki::dir().join("ca.pem").display().to_string();
    [
        ("bootstrap.servers", bootstrap.to_string()),
        ("security.protocol", "SASL_SSL".into()),
        ("sasl.mechanisms", "PLAIN".into()),
        ("sasl.username", "admin".into()),
        ("sasl.password", crate::pki::admin_token()),
        ("ssl.ca.location", ca),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// [`rdkafka_props`] as kcat arguments.
pub fn kcat_args(bootstrap: &str) -> Vec<String> {
    rdkafka_props(bootstrap)
        .into_iter()
        .flat_map(|(k, v)| ["-X".to_string(), format!("{k}={v}")])
        .collect()
}

/// A cluster of one manager and `brokers` brokers with Kafka listeners, and topic `topic`
/// (`partitions`, replication factor 3) with a leader for every partition.
pub async fn cluster_with_topic(
    brokers: u64,
    topic: &str,
    partitions: u32,
) -> anyhow::Result<(
    crate::manager::ManagedCluster,
    raftbus_protocol::meta::TopicInfo,
)> {
    let c = crate::manager::ManagedCluster::start_kafka(1, brokers, &[], &[]).await?;
    let t = c.create_ready_topic(topic, partitions).await?;
    Ok((c, t))
}
