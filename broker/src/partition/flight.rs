//! Single flight: concurrent callers that need the same slow round trip share one.
//!
//! Built for lease renewal. A quiet partition's leader has let its lease lapse (it sends no
//! heartbeats, `tasks::quiesce`), so the first read or write after a pause needs one heartbeat
//! round. Thousands of long polls arriving together would otherwise each trigger a heartbeat
//! and each watch the Raft metrics until it came back, and Raft wakes every watcher on every
//! metrics report: work quadratic in the number of callers, on the API's thread, enough to
//! starve the very round they wait for (a flood of 5,000 long polls saw no renewal at all).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One round at a time; callers that queued while a round ran take its outcome.
#[derive(Default)]
pub(crate) struct SingleFlight {
    /// Held by the caller running a round.
    running: tokio::sync::Mutex<()>,
    /// Rounds finished so far: a caller that sees it move while queued was served by a round
    /// that ended after it arrived.
    rounds: AtomicU64,
}

impl SingleFlight {
    /// Runs `round`, unless a round finished while this caller waited for its turn; waits at
    /// most `patience` for the turn. A round cut short (its caller dropped) does not count, so
    /// the next caller in line runs its own.
    ///
    /// Callers must judge the outcome themselves afterwards (here: from the Raft metrics), as
    /// a shared round may have failed or ended before what they need held.
    pub async fn run<F: Future<Output = ()>>(&self, patience: Duration, round: impl FnOnce() -> F) {
        let seen = self.rounds.load(Ordering::Acquire);
        let Ok(_turn) = tokio::time::timeout(patience, self.running.lock()).await else {
            return;
        };
        if self.rounds.load(Ordering::Acquire) != seen {
            return;
        }
        round().await;
        self.rounds.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[tokio::test]
    async fn callers_queued_behind_a_round_share_it() {
        let flight = Arc::new(SingleFlight::default());
        let ran = Arc::new(AtomicUsize::new(0));
        let (release, hold) = tokio::sync::watch::channel(false);
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let (flight, ran, mut hold) = (flight.clone(), ran.clone(), hold.clone());
                tokio::spawn(async move {
                    flight
                        .run(Duration::from_secs(10), || async move {
                            ran.fetch_add(1, Ordering::SeqCst);
                            let _ = hold.wait_for(|go| *go).await;
                        })
                        .await
                })
            })
            .collect();
        // Every caller has queued once the first round is running and the rest are parked.
        while ran.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        release.send(true).unwrap();
        for c in callers {
            c.await.unwrap();
        }
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        // A caller arriving after the round ended runs its own.
        flight.run(Duration::from_secs(1), || async {}).await;
        assert_eq!(flight.rounds.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_dropped_round_does_not_count() {
        let flight = SingleFlight::default();
        let cut = tokio::time::timeout(
            Duration::from_millis(20),
            flight.run(Duration::from_secs(1), std::future::pending::<()>),
        )
        .await;
        assert!(cut.is_err());
        let ran = AtomicUsize::new(0);
        flight
            .run(Duration::from_secs(1), || async {
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .await;
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }
}
