//! The skeleton a broker and a manager share as processes, so that neither carries its own
//! copy: settings layering (`settings`), process errors and their mapping to a client's
//! error (`error`), the durable database connection and the shutdown signal (`runtime`),
//! transport security and the two listeners with their ordered shutdown (`server`), named
//! periodic tasks (`tasks`) and `/metrics` (`metrics`).

pub mod error;
pub mod metrics;
pub mod runtime;
pub mod server;
pub mod settings;
pub mod tasks;
