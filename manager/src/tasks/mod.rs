//! Background loops of a manager. Each is named, runs on an interval, stops on its
//! cancellation token and logs inside its own span. They act only on the write manager.

pub mod balance;
pub mod expire;
pub mod fence;
pub mod heal;
pub mod reap;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::node::Manager;

/// Spawns the loop `name`: every `every`, while this manager is the write manager, runs one
/// `step` (to its end: a step is never cut short by cancellation) until `cancel` fires.
pub fn spawn_on_leader<F, Fut>(
    m: Arc<Manager>,
    name: &'static str,
    every: Duration,
    cancel: CancellationToken,
    step: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(Arc<Manager>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let span = tracing::info_span!("task", name, node = m.id);
    let leader = m.clone();
    raftbus_node::tasks::spawn_periodic(
        span,
        every,
        cancel,
        move || leader.is_leader(),
        move || step(m.clone()),
    )
}
