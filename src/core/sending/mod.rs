//! The send path and its state: one run (`deliver`: POP login, then SMTP inside the relay window),
//! the durable outbox (`outbox`), the loop that sends what falls due (`engine`), the service the
//! window and `serve` both drive (`host`), backoff (`retry`), the SMTP port that works from this
//! network (`route`), the relay window's arithmetic (`relay`), what is remembered between runs
//! (`knowledge`) and the time a message is to go at (`schedule`).

pub mod deliver;
pub mod engine;
pub mod host;
pub mod knowledge;
pub mod outbox;
pub mod relay;
pub mod retry;
pub mod route;
pub mod schedule;
