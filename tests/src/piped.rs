//! A child process driven step by step: stdin piped, stdout and stderr lines collected as they
//! arrive. For the CLIs and client scripts whose output a test watches while it runs.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;

use crate::wait_until;

/// Lines collected from one pipe.
pub type Lines = Arc<Mutex<Vec<String>>>;

/// A running child and what it has printed so far.
pub struct Piped {
    /// The process (for its pid; killed when dropped).
    pub child: Child,
    /// Its stdin until [`Piped::finish`] closes it.
    stdin: Option<ChildStdin>,
    out: Lines,
    err: Lines,
    /// The tasks collecting stdout and stderr; awaited so no line is lost at the end.
    readers: Vec<JoinHandle<()>>,
}

impl Piped {
    /// Starts `cmd` with its three pipes attached here.
    pub fn spawn(cmd: &mut Command) -> Piped {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let (out, err) = (Lines::default(), Lines::default());
        let readers = vec![
            collect(child.stdout.take().unwrap(), out.clone()),
            collect(child.stderr.take().unwrap(), err.clone()),
        ];
        let stdin = child.stdin.take();
        Piped {
            child,
            stdin,
            out,
            err,
            readers,
        }
    }

    /// Runs `cmd` with `stdin` to completion (bounded): `(status, stdout lines, stderr)`.
    pub async fn run(
        cmd: &mut Command,
        stdin: &str,
        timeout: Duration,
    ) -> (ExitStatus, Vec<String>, String) {
        let mut p = Piped::spawn(cmd);
        p.write(stdin.as_bytes()).await;
        p.finish(timeout).await
    }

    /// Feeds stdin. A failed write (the process already exited) is left for `finish` to
    /// report together with the process's own stderr.
    pub async fn write(&mut self, data: &[u8]) {
        let _ = self.stdin.as_mut().unwrap().write_all(data).await;
    }

    /// The stdout lines so far.
    pub fn out_lines(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    /// How many stdout lines so far.
    pub fn out_len(&self) -> usize {
        self.out.lock().unwrap().len()
    }

    /// The stderr lines so far.
    pub fn err_lines(&self) -> Vec<String> {
        self.err.lock().unwrap().clone()
    }

    /// Waits until stdout has at least `n` lines.
    pub async fn wait_out(&self, n: usize) {
        let what = format!("{n} lines of output");
        let enough = || async { self.out_len() >= n };
        wait_until(
            &what,
            Duration::from_secs(60),
            Duration::from_millis(5),
            enough,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}; stderr: {:?}", self.err_lines()));
    }

    /// Closes stdin, waits for the exit (bounded), returns `(status, stdout, stderr)`.
    pub async fn finish(mut self, timeout: Duration) -> (ExitStatus, Vec<String>, String) {
        drop(self.stdin.take());
        let Ok(status) = tokio::time::timeout(timeout, self.child.wait()).await else {
            panic!("no exit within {timeout:?}; stderr: {:?}", self.err_lines());
        };
        for r in self.readers.drain(..) {
            r.await.unwrap();
        }
        let out = std::mem::take(&mut *self.out.lock().unwrap());
        (status.unwrap(), out, self.err_lines().join("\n"))
    }

    /// SIGKILL; returns what it printed.
    pub async fn kill9(mut self) -> Vec<String> {
        self.child.kill().await.unwrap();
        for r in self.readers.drain(..) {
            r.await.unwrap();
        }
        std::mem::take(&mut *self.out.lock().unwrap())
    }
}

/// Appends the lines of `pipe` to `into` until EOF.
fn collect(pipe: impl AsyncRead + Unpin + Send + 'static, into: Lines) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            into.lock().unwrap().push(l);
        }
    })
}
