//! Background loops of a manager. Each is named, runs on an interval, stops on its
//! cancellation token and logs inside its own span. They act only on the write manager.

pub mod fence;
pub mod reap;
