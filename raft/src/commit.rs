//! Group commit: one writer task per node and lane, shared by every Raft group of the node.
//!
//! Callers submit a write and are told when it is durable. The writer takes everything queued
//! while its previous transaction was in flight and commits it in **one** transaction of
//! multi-row statements ([`Lane::write`]). Idle, a write starts at once (no linger on the
//! latency path); busy, transactions grow by themselves, so the node's cost follows bytes and
//! rounds, not entries times groups.
//!
//! ### To ensure correctness
//! - A caller is completed only after the transaction holding its write **and every write
//!   submitted before it** committed: writes are taken in submission order and transactions
//!   run one at a time.
//! - Writes are handed to [`Lane::write`] in submission order; the lane keeps each group's
//!   writes in that order (see `levels`).
//! - A failed transaction is split: each group's writes are retried alone, so one bad group
//!   cannot stop every group of the node; a group whose own retry fails gets the error.
//! - `processed` advances only after a transaction finished (committed or failed), so shutdown
//!   can wait until everything submitted before it is written.
//! - The writer keeps one pooled connection for itself and drops it after any failed
//!   transaction: a fresh one (checked by the pool on acquire) carries the retries, so a
//!   connection broken by a Postgres restart costs one failed transaction, not one per group.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;
use uuid::Uuid;

/// What one lane writes and how (the Raft log, a state machine's applied state).
pub trait Lane: Send + Sync + 'static {
    /// One write of one group.
    type Item: Send + Sync + 'static;
    /// The group a write belongs to (for splitting a failed transaction).
    fn group(item: &Self::Item) -> Uuid;
    /// `(entries, bytes)` the write adds to a transaction (for the limits and metrics).
    fn weight(item: &Self::Item) -> (u64, u64);
    /// Writes `items` (in submission order) in one transaction on `conn`, the writer's own
    /// connection (see the module docs).
    fn write(
        &self,
        conn: &mut PgConnection,
        items: &[&Self::Item],
    ) -> impl Future<Output = io::Result<()>> + Send;
}

/// Called once with the outcome of the transaction that held the write.
pub type Done = Box<dyn FnOnce(io::Result<()>) + Send>;

/// Bounds of one transaction. A single write larger than both still goes, alone.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// At most this many entries per transaction.
    pub max_entries: u64,
    /// At most this many bytes per transaction.
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 4096,
            max_bytes: 16 << 20,
        }
    }
}

/// Counters of one lane, for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Transactions committed.
    pub transactions: AtomicU64,
    /// Transactions that failed (their groups were then retried alone).
    pub failures: AtomicU64,
    /// Entries written (a lane's unit: log entries, applied runs).
    pub entries: AtomicU64,
    /// Sum over transactions of the distinct groups each held.
    pub groups: AtomicU64,
    /// Bytes written.
    pub bytes: AtomicU64,
}

struct Submitted<I> {
    item: I,
    seq: u64,
    done: Done,
}

/// Handle to one lane's writer task; cheap to clone.
pub struct Writer<L: Lane> {
    tx: mpsc::UnboundedSender<Submitted<L::Item>>,
    /// Held while numbering and queueing a write (never across an `.await`).
    order: Arc<Mutex<()>>,
    /// Sequence numbers: the last one handed out...
    next_seq: Arc<AtomicU64>,
    /// ...and the last one whose transaction finished.
    processed: watch::Receiver<u64>,
    stats: Arc<Stats>,
}

impl<L: Lane> Clone for Writer<L> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            order: self.order.clone(),
            next_seq: self.next_seq.clone(),
            processed: self.processed.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<L: Lane> Writer<L> {
    /// Spawns the writer task `name`. It ends once every handle is dropped and the queue is
    /// drained, so shutting the groups down first lets their last writes commit.
    pub fn spawn(name: &'static str, db: PgPool, lane: L, limits: Limits) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (processed_tx, processed) = watch::channel(0);
        let stats = Arc::new(Stats::default());
        let task = Task {
            db,
            conn: None,
            lane,
            limits,
            rx,
            processed: processed_tx,
            stats: stats.clone(),
            held: None,
        };
        tokio::spawn(
            task.run()
                .instrument(tracing::info_span!("writer", lane = name)),
        );
        Self {
            tx,
            order: Arc::new(Mutex::new(())),
            next_seq: Arc::new(AtomicU64::new(0)),
            processed,
            stats,
        }
    }

    /// Queues a write; `done` is called once it is durable (or failed). Returns the write's
    /// sequence number, or an error when the writer is gone (the node is shutting down).
    pub fn submit(&self, item: L::Item, done: Done) -> io::Result<u64> {
        // Numbering and queueing under one lock, so the queue is in sequence order and
        // `processed` never passes a write still queued.
        let _order = self.order.lock().expect("writer order lock");
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.tx
            .send(Submitted { item, seq, done })
            .map_err(|_| io::Error::other("storage writer stopped"))?;
        Ok(seq)
    }

    /// Queues a write and waits until it is durable.
    pub async fn write(&self, item: L::Item) -> io::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(
            item,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )?;
        rx.await
            .map_err(|_| io::Error::other("storage writer stopped"))?
    }

    /// The sequence number of the last write submitted so far.
    pub fn submitted(&self) -> u64 {
        self.next_seq.load(Ordering::SeqCst)
    }

    /// Waits until every write up to `seq` was processed (committed or failed).
    pub async fn wait_processed(&self, seq: u64) {
        let mut rx = self.processed.clone();
        // An error means the writer is gone: nothing more will be written, stop waiting.
        let _ = rx.wait_for(|p| *p >= seq).await;
    }

    /// The lane's counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

struct Task<L: Lane> {
    db: PgPool,
    /// The writer's own connection, taken from `db` once and kept: every transaction on a
    /// fresh pool checkout would pay the pool's liveness ping, a round trip to Postgres per
    /// transaction (a tenth of a broker's CPU under load, `scripts/profile.sh`). `None` after
    /// a failed transaction, until the next one acquires a new connection.
    conn: Option<PoolConnection<Postgres>>,
    lane: L,
    limits: Limits,
    rx: mpsc::UnboundedReceiver<Submitted<L::Item>>,
    processed: watch::Sender<u64>,
    stats: Arc<Stats>,
    /// A write taken from the queue that did not fit the previous transaction.
    held: Option<Submitted<L::Item>>,
}

impl<L: Lane> Task<L> {
    async fn run(mut self) {
        tracing::debug!("started");
        let mut high = 0u64;
        loop {
            let first = match self.held.take() {
                Some(s) => s,
                None => match self.rx.recv().await {
                    Some(s) => s,
                    None => break,
                },
            };
            let batch = self.take_more(first);
            high = batch.iter().map(|s| s.seq).fold(high, u64::max);
            let mut ctx = Ctx {
                db: &self.db,
                conn: &mut self.conn,
                lane: &self.lane,
                stats: &self.stats,
            };
            ctx.commit(batch).await;
            self.processed.send_replace(high);
        }
        tracing::debug!("stopped: every handle dropped and the queue drained");
    }

    /// Everything queued behind `first`, within the limits.
    fn take_more(&mut self, first: Submitted<L::Item>) -> Vec<Submitted<L::Item>> {
        let (mut entries, mut bytes) = L::weight(&first.item);
        let mut batch = vec![first];
        while let Ok(next) = self.rx.try_recv() {
            let (e, b) = L::weight(&next.item);
            if entries + e > self.limits.max_entries || bytes + b > self.limits.max_bytes {
                self.held = Some(next);
                break;
            }
            entries += e;
            bytes += b;
            batch.push(next);
        }
        batch
    }
}

/// What a transaction needs of the task (not its queue: a borrow of that would have to be
/// `Sync` across the commit's `.await`).
struct Ctx<'a, L: Lane> {
    db: &'a PgPool,
    conn: &'a mut Option<PoolConnection<Postgres>>,
    lane: &'a L,
    stats: &'a Stats,
}

impl<L: Lane> Ctx<'_, L> {
    /// Writes `items` in one transaction on the writer's connection (acquired if there is
    /// none); a failure drops the connection, which may be what failed.
    async fn write(&mut self, items: &[&L::Item]) -> io::Result<()> {
        if self.conn.is_none() {
            *self.conn = Some(self.db.acquire().await.map_err(crate::codec::db_err)?);
        }
        let conn = self.conn.as_mut().expect("acquired above");
        let r = self.lane.write(conn, items).await;
        if r.is_err()
            && let Some(mut c) = self.conn.take()
        {
            // Never back into the pool: it may be mid-transaction or broken.
            c.close_on_drop();
        }
        r
    }

    async fn commit(&mut self, batch: Vec<Submitted<L::Item>>) {
        // Completions apart from the writes: only the writes are borrowed across the commit.
        let (owned, dones): (Vec<L::Item>, Vec<Done>) =
            batch.into_iter().map(|s| (s.item, s.done)).unzip();
        let items: Vec<&L::Item> = owned.iter().collect();
        let result = self.write(&items).await;
        let mut groups: HashMap<Uuid, Vec<usize>> = HashMap::new();
        for (i, item) in owned.iter().enumerate() {
            groups.entry(L::group(item)).or_default().push(i);
        }
        let results: Vec<io::Result<()>> = match result {
            Ok(()) => {
                self.count(&items, groups.len());
                dones.iter().map(|_| Ok(())).collect()
            }
            Err(e) if groups.len() == 1 => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "storage transaction failed");
                dones.iter().map(|_| Err(copy(&e))).collect()
            }
            Err(e) => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, groups = groups.len(), "shared storage transaction failed; retrying each group alone");
                self.retry_alone(&owned, groups).await
            }
        };
        drop(items);
        for (done, r) in dones.into_iter().zip(results) {
            done(r);
        }
    }

    /// Retries each group's writes in their own transaction, in the original order.
    async fn retry_alone(
        &mut self,
        owned: &[L::Item],
        groups: HashMap<Uuid, Vec<usize>>,
    ) -> Vec<io::Result<()>> {
        let mut results: Vec<io::Result<()>> = owned.iter().map(|_| Ok(())).collect();
        for idx in groups.values() {
            let items: Vec<&L::Item> = idx.iter().map(|&i| &owned[i]).collect();
            match self.write(&items).await {
                Ok(()) => self.count(&items, 1),
                Err(e) => {
                    for &i in idx {
                        results[i] = Err(copy(&e));
                    }
                }
            }
        }
        results
    }

    fn count(&self, items: &[&L::Item], groups: usize) {
        let (mut entries, mut bytes) = (0, 0);
        for i in items {
            let (e, b) = L::weight(i);
            entries += e;
            bytes += b;
        }
        self.stats.transactions.fetch_add(1, Ordering::Relaxed);
        self.stats.entries.fetch_add(entries, Ordering::Relaxed);
        self.stats.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.stats
            .groups
            .fetch_add(groups as u64, Ordering::Relaxed);
    }
}

/// Writes a lane's `items` as one statement per level (see [`levels`]): a single level is one
/// statement, one implicit transaction and one round trip; several run in order in one
/// transaction. `$level` is the lane's statement builder (`Default`, `add(&item)`,
/// `execute(executor)`). A macro, not a function: the builders borrow the writes, and a generic
/// async function over such borrows trips rustc's limits on higher-ranked lifetimes.
#[macro_export]
macro_rules! write_levels {
    ($db:expr, $items:expr, $group:expr, $merges:expr, $level:ident) => {{
        let items = $items;
        let lv = $crate::commit::levels(items, $group, $merges);
        let depth = lv.iter().copied().max().unwrap_or(0) + 1;
        let mut stmts: Vec<$level<'_>> = (0..depth).map(|_| $level::default()).collect();
        for (item, l) in items.iter().zip(&lv) {
            stmts[*l].add(item);
        }
        if depth == 1 {
            stmts.pop().unwrap_or_default().execute($db).await
        } else {
            async {
                let mut tx = ::sqlx::Connection::begin(&mut *$db)
                    .await
                    .map_err($crate::codec::db_err)?;
                for s in stmts {
                    s.execute(&mut *tx).await?;
                }
                tx.commit().await.map_err($crate::codec::db_err)
            }
            .await
        }
    }};
}

/// An `io::Error` for each caller of a failed transaction.
fn copy(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

/// Splits writes into levels so that no group has two writes of conflicting kinds in one
/// statement: a group's write goes one level above its previous write unless
/// `merges(previous, next)` says both may share a statement. Returns the level of each write.
pub fn levels<T>(
    items: &[&T],
    group: impl Fn(&T) -> Uuid,
    merges: impl Fn(&T, &T) -> bool,
) -> Vec<usize> {
    let mut last: HashMap<Uuid, (usize, usize)> = HashMap::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let level = match last.get(&group(item)) {
            None => 0,
            Some(&(prev, level)) if merges(items[prev], item) => level,
            Some(&(_, level)) => level + 1,
        };
        last.insert(group(item), (i, level));
        out.push(level);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_keep_each_groups_order() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        // (group, kind): kind 0 merges with kind 0 only.
        let items = [(a, 0), (b, 1), (a, 0), (a, 1), (b, 0), (a, 0), (b, 0)];
        let refs: Vec<&(Uuid, u8)> = items.iter().collect();
        let l = levels(&refs, |x| x.0, |p, n| p.1 == 0 && n.1 == 0);
        assert_eq!(l, vec![0, 0, 0, 1, 1, 2, 1]);
    }
}
