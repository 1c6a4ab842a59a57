//! Bounded polling helpers.
//!
//! Tests must never sleep a fixed time and hope a condition became true: that is both slow and
//! flaky. Instead they poll a condition at an interval until a deadline, and on timeout report
//! *what* was awaited and the last reason it was not ready.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::bail;

/// The result of one poll: ready with a value, or not ready (optionally with a reason that is
/// quoted in the timeout error).
pub trait Poll {
    /// Value produced once the condition holds.
    type Output;
    /// `Ok(value)` when ready, `Err(reason)` when the caller should poll again.
    fn ready(self) -> Result<Self::Output, Option<String>>;
}

impl Poll for bool {
    type Output = ();
    fn ready(self) -> Result<(), Option<String>> {
        if self { Ok(()) } else { Err(None) }
    }
}

impl<T> Poll for Option<T> {
    type Output = T;
    fn ready(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

/// An `Err` means "not yet"; its message is kept so a timeout says why (e.g. connection refused).
impl<T, E: Display> Poll for Result<T, E> {
    type Output = T;
    fn ready(self) -> Result<T, Option<String>> {
        self.map_err(|e| Some(format!("{e:#}")))
    }
}

fn timeout_error<T>(what: &str, timeout: Duration, last: Option<String>) -> anyhow::Result<T> {
    match last {
        Some(reason) => bail!("timed out after {timeout:?} waiting for {what} (last: {reason})"),
        None => bail!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Polls `check` every `interval` until it is ready or `timeout` elapsed.
///
/// `check` returns `bool`, `Option<T>` or `Result<T, E>`. Each single poll is also bounded by
/// the remaining time, so a hanging request cannot stretch the wait. `what` names the condition
/// in the error, e.g. `"broker 1 to report healthy"`.
pub async fn wait_until<F, Fut, R>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: F,
) -> anyhow::Result<R::Output>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = R>,
    R: Poll,
{
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, check()).await {
            Ok(r) => match r.ready() {
                Ok(v) => return Ok(v),
                Err(reason) => last = reason.or(last),
            },
            Err(_) => last = Some("the last check itself did not finish in time".into()),
        }
        if Instant::now() + interval > deadline {
            return timeout_error(what, timeout, last);
        }
        tokio::time::sleep(interval).await;
    }
}

/// Blocking twin of [`wait_until`] for synchronous code (fixture setup, `Drop`, sync tests).
/// A single `check` call is not interrupted, so it must itself be quick.
pub fn wait_until_blocking<F, R>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: F,
) -> anyhow::Result<R::Output>
where
    F: FnMut() -> R,
    R: Poll,
{
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        match check().ready() {
            Ok(v) => return Ok(v),
            Err(reason) => last = reason.or(last),
        }
        if Instant::now() + interval > deadline {
            return timeout_error(what, timeout, last);
        }
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_value_and_names_condition_on_timeout() {
        let mut n = 0;
        let v = wait_until(
            "n to reach 3",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                n += 1;
                let n = n;
                async move { (n >= 3).then_some(n) }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 3);

        let err = wait_until(
            "the impossible",
            Duration::from_millis(30),
            Duration::from_millis(5),
            || async { Err::<(), _>("still no") },
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("the impossible") && err.contains("still no"),
            "{err}"
        );
    }
}
