//! Named periodic tasks: each runs on an interval, stops on its cancellation token and logs
//! inside its own span.

use std::future::Future;
use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// A periodic task's clock: a tick every `every` (a late tick delays the next, never bursts)
/// until the token is cancelled.
pub struct Ticker {
    interval: Interval,
    cancel: CancellationToken,
}

impl Ticker {
    /// Ticks at once, then every `every`.
    pub fn new(every: Duration, cancel: CancellationToken) -> Self {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self { interval, cancel }
    }

    /// Waits for the next tick; `false` once cancelled (the task ends).
    pub async fn tick(&mut self) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = self.interval.tick() => true,
        }
    }

    /// True once cancelled (for steps that loop over many items).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// Spawns a named periodic task in `span`: every `every` until `cancel` fires, runs `step`
/// when `active()` holds (e.g. only on a leader), to its end (a step is never cut short by
/// cancellation).
pub fn spawn_periodic<A, F, Fut>(
    span: tracing::Span,
    every: Duration,
    cancel: CancellationToken,
    active: A,
    mut step: F,
) -> tokio::task::JoinHandle<()>
where
    A: Fn() -> bool + Send + 'static,
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(
        async move {
            let mut tick = Ticker::new(every, cancel);
            while tick.tick().await {
                if active() {
                    step().await;
                }
            }
        }
        .instrument(span),
    )
}
