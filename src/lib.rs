//! popsend: sends mail through servers that relay only for a short window after a POP3 login
//! ("POP before SMTP").
//!
//! The library holds everything but the entry point: `core` (protocols, message building, the
//! send path with the outbox and engine, setup, failures and the system's services; no UI, no
//! terminal output), `text` (the Fluent messages, core values in the user's words, the setup
//! guides), `cli` (the subcommands) and `app` (the egui window, its worker and the desktop).

/// The one application id: the desktop file's and metainfo's name on Linux, the Wayland app id,
/// the macOS bundle id and the Windows ProgID's stem (`packaging/` uses the same string).
pub const APP_ID: &str = "io.github.popsend.popsend";

pub mod app;
pub mod cli;
pub mod core;
pub mod text;
