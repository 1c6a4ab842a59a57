//! What a broker and a manager share as processes, so that neither carries its own copy.

pub mod metrics;
