//! popsend: sends mail through servers that relay only for a short window after a POP3 login
//! ("POP before SMTP").
//!
//! The library holds everything but the entry point: `core` (protocols, message building, the
//! send path with the outbox and engine, setup, failures and the system's services; no UI, no
//! terminal output), `text` (the Fluent messages, core values in the user's words, the setup
//! guides), `cli` (the subcommands) and `app` (the egui window, its worker and the desktop).

pub mod app;
pub mod cli;
/// The UI-free core, its own crate (`src/core`, package popsend-core): Cargo, not a review,
/// keeps egui, the terminal and the text layer out of it.
pub use popsend_core as core;
pub use popsend_core::APP_ID;
pub mod text;
