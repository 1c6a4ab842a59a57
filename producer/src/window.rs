//! The in-order window of outstanding deliveries.
//!
//! Awaiting each delivery before sending the next record would serialize the producer on
//! round trips; awaiting none would let delivery handles pile up without bound. The window
//! keeps handles in input order and releases results from the front only, so results (and
//! `--print-offsets` lines) come out in input order while memory stays bounded by `capacity`.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use raftbus_sdk::{Delivery, SdkError};

/// One record's outcome, pending or known.
enum Slot<F> {
    Pending(F),
    /// Failed before it was queued (e.g. too large): reported in its place in the order.
    Done(Result<Delivery, SdkError>),
}

/// Outstanding deliveries in input order.
pub struct Window<F> {
    slots: VecDeque<Slot<F>>,
    capacity: usize,
}

impl<F> Window<F>
where
    F: Future<Output = Result<Delivery, SdkError>> + Unpin,
{
    /// An empty window holding at most `capacity` records (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records still unreported.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when nothing is outstanding.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// True when the caller must drain before pushing more.
    pub fn is_full(&self) -> bool {
        self.slots.len() >= self.capacity
    }

    /// Adds a delivery handle at the back.
    pub fn push(&mut self, delivery: F) {
        self.slots.push_back(Slot::Pending(delivery));
    }

    /// Adds an already known outcome at the back.
    pub fn push_done(&mut self, outcome: Result<Delivery, SdkError>) {
        self.slots.push_back(Slot::Done(outcome));
    }

    /// The front outcome if it is already known, without waiting.
    pub fn pop_ready(&mut self) -> Option<Result<Delivery, SdkError>> {
        if let Slot::Pending(f) = self.slots.front_mut()? {
            let mut cx = Context::from_waker(Waker::noop());
            let Poll::Ready(outcome) = Pin::new(f).poll(&mut cx) else {
                return None;
            };
            self.slots.pop_front();
            return Some(outcome);
        }
        self.pop_done()
    }

    /// Waits for the front outcome; `None` when the window is empty. Cancel-safe: if the
    /// future is dropped before it completes, the front stays in place.
    pub async fn next(&mut self) -> Option<Result<Delivery, SdkError>> {
        if let Slot::Pending(f) = self.slots.front_mut()? {
            let outcome = f.await;
            self.slots.pop_front();
            return Some(outcome);
        }
        self.pop_done()
    }

    /// Pops a front slot that is known to be `Done`.
    fn pop_done(&mut self) -> Option<Result<Delivery, SdkError>> {
        match self.slots.pop_front()? {
            Slot::Done(outcome) => Some(outcome),
            Slot::Pending(f) => {
                // Not reached (callers check the front first); put it back rather than lose it.
                self.slots.push_front(Slot::Pending(f));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::{Ready, ready};

    fn ok(p: u32, o: u64) -> Result<Delivery, SdkError> {
        Ok(Delivery {
            partition: p,
            offset: Some(o),
        })
    }

    #[test]
    fn releases_in_input_order() {
        let mut w: Window<Ready<Result<Delivery, SdkError>>> = Window::new(2);
        w.push(ready(ok(0, 1)));
        w.push_done(Err(SdkError::Closed));
        assert!(w.is_full());
        assert_eq!(w.pop_ready().unwrap().unwrap().offset, Some(1));
        assert!(matches!(w.pop_ready(), Some(Err(SdkError::Closed))));
        assert!(w.pop_ready().is_none() && w.is_empty());
    }

    #[tokio::test]
    async fn pending_front_blocks_later_results() {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<Delivery, SdkError>>();
        let front = Box::pin(async move { rx.await.unwrap() });
        let mut w: Window<Pin<Box<dyn Future<Output = _> + Send>>> = Window::new(8);
        w.push(front);
        w.push(Box::pin(ready(ok(1, 7))));
        assert!(w.pop_ready().is_none(), "front not done yet");
        tx.send(ok(0, 3)).unwrap();
        assert_eq!(w.next().await.unwrap().unwrap().offset, Some(3));
        assert_eq!(w.next().await.unwrap().unwrap().offset, Some(7));
        assert!(w.next().await.is_none());
    }
}
