//! popsend: sends mail through servers that relay only for a short window after a POP3 login
//! ("POP before SMTP").
//!
//! The library holds everything but the entry point: `core` (protocols, message building, the
//! relay window, the send path; no UI, no terminal output), `i18n` (Fluent messages) and `cli`
//! (the subcommands, which turn core results into localized text and exit codes).

pub mod cli;
pub mod core;
pub mod i18n;
