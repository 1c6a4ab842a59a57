//! The test clusters' certificates and admin token: one CA per test process (made by
//! `scripts/certs.sh`, the same script `cluster.sh` uses), node certificates made on first use.
//! Every test cluster runs with security on; clients use [`client`] or the sdk, whose process
//! default credentials [`init`] sets to the CA and the admin token.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, bail};

/// The process's PKI directory (a temp dir kept until the process exits).
struct Pki {
    dir: tempfile::TempDir,
    /// Serializes runs of the script (it writes into one directory).
    lock: Mutex<()>,
}

static PKI: OnceLock<Pki> = OnceLock::new();

/// Identity the tests use to call internal listeners as an operator would not: a manager
/// certificate no running manager has (broker-only tests create partitions with it).
pub const TEST_MANAGER_ID: u64 = 999;

/// Runs `scripts/certs.sh DIR args...`.
pub fn certs_sh(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/certs.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(dir)
        .args(args)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "certs.sh {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn pki() -> &'static Pki {
    PKI.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("raftbus-pki-")
            .tempdir()
            .expect("temp dir for test certificates");
        certs_sh(dir.path(), &["ca"]).expect("test CA");
        certs_sh(dir.path(), &["token", "admin"]).expect("test admin token");
        let pki = Pki {
            dir,
            lock: Mutex::new(()),
        };
        let creds = raftbus_sdk::Credentials::new(
            Some(&pki.dir.path().join("ca.pem")),
            Some(&read(&pki.dir.path().join("admin.token"))),
        )
        .expect("test credentials");
        raftbus_sdk::Credentials::set_process_default(creds);
        pki
    })
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// Makes the CA and sets the sdk's default credentials (idempotent).
pub fn init() {
    pki();
}

/// The PKI directory.
pub fn dir() -> PathBuf {
    pki().dir.path().to_path_buf()
}

/// The admin token.
pub fn admin_token() -> String {
    read(&dir().join("admin.token"))
}

/// `(cert, key)` of node `role-id`, made on first use.
pub fn node_files(role: &str, id: u64) -> anyhow::Result<(PathBuf, PathBuf)> {
    let p = pki();
    let _guard = p.lock.lock().unwrap_or_else(|e| e.into_inner());
    certs_sh(p.dir.path(), &["node", role, &id.to_string()])?;
    let base = p.dir.path().join(format!("{role}-{id}"));
    Ok((base.with_extension("pem"), base.with_extension("key")))
}

/// The `RAFTBUS_SECURITY__*` settings of node `role-id`.
pub fn node_env(role: &str, id: u64) -> anyhow::Result<Vec<(String, String)>> {
    let (cert, key) = node_files(role, id)?;
    let d = dir();
    let s = |p: &Path| p.display().to_string();
    Ok(vec![
        ("RAFTBUS_SECURITY__CA_CERT".into(), s(&d.join("ca.pem"))),
        ("RAFTBUS_SECURITY__CERT".into(), s(&cert)),
        ("RAFTBUS_SECURITY__KEY".into(), s(&key)),
        (
            "RAFTBUS_SECURITY__ADMIN_TOKEN_SHA256".into(),
            read(&d.join("admin.token.sha256")),
        ),
    ])
}

/// `https://addr{path}`.
pub fn url(addr: impl std::fmt::Display, path: &str) -> String {
    format!("https://{addr}{path}")
}

fn builder() -> reqwest::ClientBuilder {
    let ca = std::fs::read(dir().join("ca.pem")).expect("test CA");
    reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("test CA PEM"))
}

/// A raw HTTP client trusting the test CA, without credentials (add a bearer token per request).
pub fn anonymous_client() -> reqwest::Client {
    builder().build().expect("test HTTP client")
}

/// A raw HTTP client trusting the test CA and sending the admin token.
pub fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {}", admin_token())
            .parse()
            .expect("token header"),
    );
    builder()
        .default_headers(headers)
        .build()
        .expect("test HTTP client")
}

/// A client of internal listeners presenting node `role-id`'s certificate and naming that
/// node as the sender.
pub fn node_client(role: &str, id: u64) -> anyhow::Result<reqwest::Client> {
    let (cert, key) = node_files(role, id)?;
    let mut pem = std::fs::read(cert)?;
    pem.extend(std::fs::read(key)?);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-raftbus-sender", format!("{role}-{id}").parse()?);
    Ok(builder()
        .identity(reqwest::Identity::from_pem(&pem)?)
        .http2_prior_knowledge()
        .default_headers(headers)
        .build()?)
}

/// `RAFTBUS_CA_CERT` and `RAFTBUS_TOKEN` (admin) for a CLI process.
pub fn client_env() -> Vec<(String, String)> {
    vec![
        (
            "RAFTBUS_CA_CERT".into(),
            dir().join("ca.pem").display().to_string(),
        ),
        ("RAFTBUS_TOKEN".into(), admin_token()),
    ]
}
