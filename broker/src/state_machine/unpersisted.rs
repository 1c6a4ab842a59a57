//! Applied batches the applied-state writer has not committed yet: readable at once, so a
//! produce is acknowledged and readable after one durable Postgres write (the Raft log's on a
//! majority), not two (log, then applied state).
//!
//! ### To ensure correctness
//! - Only batches of committed entries are pushed here: they are durable in the Raft log of a
//!   majority, and applying is deterministic, so a replica that crashes before its applied
//!   state commits re-applies them to the same offsets. A reader never sees a record that a
//!   crash could take back or move.
//! - A batch leaves only as `persisted_end` moves past it, under the same lock: a reader that
//!   takes both in one [`Unpersisted::view`] finds every offset below the high watermark in
//!   exactly one of the two places (`partition_batches` below `persisted_end`, here above).
//! - A decision made from `partition_batches` alone (retention's "no batch is young enough, so
//!   trim everything below the high watermark") must bound itself by `persisted_end`, never by
//!   the published high watermark: above it, rows are not missing, just not written yet.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;

/// `(base_offset, record_count, data)` of one stored batch.
pub type StoredBatch = (u64, u32, Bytes);

/// One partition replica's applied but not yet persisted batches.
#[derive(Debug)]
pub struct Unpersisted {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Every batch below this offset is in `partition_batches` (or trimmed).
    persisted_end: u64,
    /// Batches from `persisted_end` on, in offset order.
    batches: VecDeque<StoredBatch>,
}

impl Unpersisted {
    /// Nothing pending: everything below `persisted_end` is stored.
    pub fn new(persisted_end: u64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                persisted_end,
                batches: VecDeque::new(),
            }),
        }
    }

    /// Batches of a run that was just applied (committed entries only), in offset order.
    pub fn push(&self, batches: impl IntoIterator<Item = StoredBatch>) {
        let mut inner = self.inner.lock().expect("unpersisted lock");
        inner.batches.extend(batches);
    }

    /// Everything below `end` is now stored: those batches leave.
    pub fn persisted(&self, end: u64) {
        let mut inner = self.inner.lock().expect("unpersisted lock");
        while inner.batches.front().is_some_and(|b| b.0 < end) {
            inner.batches.pop_front();
        }
        inner.persisted_end = inner.persisted_end.max(end);
    }

    /// The replica's state was replaced (a snapshot install): all of it is stored up to `end`.
    pub fn reset(&self, end: u64) {
        let mut inner = self.inner.lock().expect("unpersisted lock");
        inner.batches.clear();
        inner.persisted_end = end;
    }

    /// Every batch below this offset is in `partition_batches` (or trimmed). Whatever decides
    /// from stored rows alone (retention) must not look above it.
    pub fn persisted_end(&self) -> u64 {
        self.inner.lock().expect("unpersisted lock").persisted_end
    }

    /// `persisted_end` and the pending batches holding offsets in `[from, below)`, taken
    /// together (see the module docs).
    pub fn view(&self, from: u64, below: u64) -> (u64, Vec<StoredBatch>) {
        let inner = self.inner.lock().expect("unpersisted lock");
        let batches = inner
            .batches
            .iter()
            .filter(|(base, count, _)| *base < below && base + u64::from(*count) > from)
            .cloned()
            .collect();
        (inner.persisted_end, batches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(base: u64, count: u32) -> StoredBatch {
        (base, count, Bytes::from(vec![base as u8]))
    }

    #[test]
    fn a_batch_is_in_exactly_one_place() {
        let u = Unpersisted::new(10);
        u.push([batch(10, 5), batch(15, 5)]);
        let (end, pending) = u.view(0, 20);
        assert_eq!(end, 10);
        assert_eq!(pending.iter().map(|b| b.0).collect::<Vec<_>>(), [10, 15]);
        u.persisted(15);
        let (end, pending) = u.view(0, 20);
        assert_eq!(end, 15);
        assert_eq!(pending.iter().map(|b| b.0).collect::<Vec<_>>(), [15]);
    }

    #[test]
    fn view_keeps_batches_that_overlap_the_range() {
        let u = Unpersisted::new(0);
        u.push([batch(0, 5), batch(5, 5), batch(10, 5)]);
        // From the middle of the first batch, below the third's base: the first two, whole.
        let (_, pending) = u.view(3, 10);
        assert_eq!(pending.iter().map(|b| b.0).collect::<Vec<_>>(), [0, 5]);
        let (_, pending) = u.view(5, 15);
        assert_eq!(pending.iter().map(|b| b.0).collect::<Vec<_>>(), [5, 10]);
    }

    #[test]
    fn reset_forgets_everything() {
        let u = Unpersisted::new(0);
        u.push([batch(0, 5)]);
        u.reset(100);
        assert_eq!(u.view(0, 200), (100, Vec::new()));
        // A late `persisted` never moves the end back.
        u.persisted(5);
        assert_eq!(u.view(0, 200).0, 100);
    }
}
