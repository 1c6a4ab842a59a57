//! A throwaway PostgreSQL server per test (or per test group).
//!
//! Brokers keep their Raft log and state in Postgres, and the tests are about durability, so
//! they need a real server with `fsync=on` rather than a mock. Each [`PgServer`] lives in its
//! own temp dir on a free loopback port and is destroyed (`pg_ctl stop -m immediate`, then the
//! directory removed) on drop. `initdb`/`postgres` refuse to run as root, so as root the server
//! runs as the `postgres` OS user via `runuser`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use tempfile::TempDir;

use crate::ports::free_port;
use crate::tail_file;

/// How many ports to try when the probed port is taken between probing and binding.
const START_ATTEMPTS: usize = 4;

/// A running PostgreSQL; see the module docs.
pub struct PgServer {
    bin_dir: PathBuf,
    port: u16,
    as_postgres_user: bool,
    running: bool,
    // Declared last so the directory is removed only after the server was stopped.
    dir: TempDir,
}

impl PgServer {
    /// `initdb` a fresh cluster in a temp dir and start it on a free port (`pg_ctl -w`).
    pub fn start() -> anyhow::Result<PgServer> {
        let bin_dir = bin_dir()?;
        let as_postgres_user = running_as_root();
        let dir = tempfile::Builder::new().prefix("raftbus-pg-").tempdir()?;
        if as_postgres_user {
            let mut chown = Command::new("chown");
            chown.args(["-R", "postgres:postgres"]).arg(dir.path());
            run(&mut chown).context("chown of the temp dir to the postgres user")?;
        }
        let (port, running) = (0, false);
        let mut server = PgServer {
            bin_dir,
            port,
            as_postgres_user,
            running,
            dir,
        };
        let data = server.data_dir();
        let mut initdb = server.pg_command("initdb");
        initdb.arg("-D").arg(&data);
        initdb.args("-U postgres --auth=trust -E UTF8 --locale=C --no-sync".split(' '));
        run(&mut initdb).context("initdb")?;

        let mut last_err = None;
        for _ in 0..START_ATTEMPTS {
            server.port = free_port();
            match server.pg_ctl_start() {
                Ok(()) => {
                    server.running = true;
                    return Ok(server);
                }
                Err(e) => {
                    // pg_ctl may have timed out with a postmaster still coming up: make sure
                    // nothing is left before retrying or giving up.
                    let _ = server.pg_ctl_stop("immediate");
                    let port_taken = std::fs::read_to_string(server.log_path())
                        .is_ok_and(|log| log.contains("already in use"));
                    last_err = Some(e);
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        let err = last_err.expect("at least one start attempt");
        Err(err.context(format!(
            "starting PostgreSQL from {} failed; server log tail:\n{}",
            server.bin_dir.display(),
            tail_file(&server.log_path(), 30)
        )))
    }

    /// `fsync` is on by default and deliberately not forced here, so a test can turn it off
    /// with `ALTER SYSTEM` and check that nodes refuse such a server.
    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k '{}' -c max_connections=300 \
             -c shared_buffers=128MB",
            self.port,
            self.dir.path().display()
        );
        let mut cmd = self.pg_command("pg_ctl");
        let (data, log) = (self.data_dir(), self.log_path());
        cmd.arg("-D").arg(&data).arg("-l").arg(&log);
        cmd.args(["-w", "-t", "60", "-o", &opts, "start"]);
        run(&mut cmd).map(drop).context("pg_ctl start")
    }

    fn pg_ctl_stop(&self, mode: &str) -> anyhow::Result<()> {
        let mut cmd = self.pg_command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", "60", "-m", mode, "stop"]);
        run(&mut cmd).map(drop).context("pg_ctl stop")
    }

    /// A command for a server-side binary, run as `postgres` when we are root.
    fn pg_command(&self, tool: &str) -> Command {
        let bin = self.bin_dir.join(tool);
        let mut cmd = if self.as_postgres_user {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(bin);
            cmd
        } else {
            Command::new(bin)
        };
        // A cwd the postgres user can read avoids "could not change directory" warnings.
        cmd.current_dir(self.dir.path());
        cmd
    }

    /// A client command (`psql`, `createdb`) against this server over TCP as `postgres`.
    fn client_command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(tool));
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
        ]);
        cmd.env("PGCONNECT_TIMEOUT", "10")
            .current_dir(self.dir.path());
        cmd
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connection URL for database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `name` (must not exist yet) and returns its URL.
    pub fn create_database(&self, name: &str) -> anyhow::Result<String> {
        run(self.client_command("createdb").arg(name))
            .with_context(|| format!("createdb {name}"))?;
        Ok(self.url(name))
    }

    /// Runs `sql` with `psql` in database `db`; returns unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> anyhow::Result<String> {
        let mut cmd = self.client_command("psql");
        cmd.args("-X -q -t -A -v ON_ERROR_STOP=1".split(' '));
        cmd.args(["-d", db, "-c", sql]);
        run(&mut cmd).with_context(|| format!("psql -d {db} -c {sql:?}"))
    }

    /// Directory holding the data dir, the socket and the server log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// Graceful shutdown (`-m fast`); the directory stays until drop.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if self.running {
            self.pg_ctl_stop("fast")?;
            self.running = false;
        }
        Ok(())
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.running
            && let Err(e) = self.pg_ctl_stop("immediate")
        {
            eprintln!(
                "raftbus-tests: stopping PostgreSQL on :{}: {e:#}",
                self.port
            );
        }
        // `self.dir` (TempDir) removes the directory when dropped right after this.
    }
}

/// `$RAFTBUS_PG_BIN`, else `/usr/lib/postgresql/15/bin`, else `pg_config --bindir`.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("RAFTBUS_PG_BIN") {
        let dir = PathBuf::from(dir);
        if !dir.join("initdb").is_file() {
            bail!("RAFTBUS_PG_BIN={} does not contain initdb", dir.display());
        }
        return Ok(dir);
    }
    let debian = PathBuf::from("/usr/lib/postgresql/15/bin");
    if debian.join("initdb").is_file() {
        return Ok(debian);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    bail!(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: set RAFTBUS_PG_BIN or install \
         them, e.g. `apt-get install -y postgresql-15` (scripts/test.sh does this as root)"
    )
}

/// Effective uid 0? Read from `/proc/self/status` (`Uid: real effective saved fs`), falling
/// back to `id -u`; avoids a libc dependency.
fn running_as_root() -> bool {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("Uid:"))
    {
        return line.split_whitespace().nth(2) == Some("0");
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a command to completion; on failure the error carries its stdout and stderr.
fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!(
            "{cmd:?} failed with {}\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        );
    }
    Ok(stdout)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::Duration;

    use super::*;
    use crate::wait::wait_until_blocking;

    #[test]
    fn starts_creates_database_and_answers_queries() {
        let pg = PgServer::start().unwrap();
        let url = pg.create_database("fixture_test").unwrap();
        assert_eq!(
            url,
            format!("postgres://postgres@127.0.0.1:{}/fixture_test", pg.port())
        );
        assert_eq!(pg.psql("fixture_test", "select 1").unwrap().trim(), "1");
        assert_eq!(pg.psql("postgres", "show fsync").unwrap().trim(), "on");
    }

    #[test]
    fn drop_removes_data_dir_and_frees_port() {
        let pg = PgServer::start().unwrap();
        let (dir, port) = (pg.dir().to_path_buf(), pg.port());
        assert!(pg.data_dir().join("PG_VERSION").is_file());
        drop(pg);
        assert!(!dir.exists(), "{} should have been removed", dir.display());
        let what = format!("port {port} to be free after drop");
        wait_until_blocking(
            &what,
            Duration::from_secs(10),
            Duration::from_millis(50),
            || TcpListener::bind(("127.0.0.1", port)),
        )
        .unwrap();
    }
}
