//! popsend: sends mail through servers that relay only for a short window after a POP3 login
//! ("POP before SMTP").
//!
//! The library holds everything but the entry point: `core` (protocols, message building, the
//! relay window, the send path, the outbox and engine; no UI, no terminal output), `i18n` (Fluent
//! messages), `words` (core kinds in the user's words), `cli` (the subcommands) and `app` (the
//! egui window).

/// The one application id: the desktop file's and metainfo's name on Linux, the Wayland app id,
/// the macOS bundle id and the Windows ProgID's stem (`packaging/` uses the same string).
pub const APP_ID: &str = "io.github.popsend.popsend";

pub mod app;
pub mod cli;
pub mod core;
pub mod desktop;
pub mod guides;
pub mod i18n;
pub mod words;
