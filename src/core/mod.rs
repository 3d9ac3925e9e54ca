//! The UI-free core: configuration, networking, the POP3 client, SMTP, message building, the relay
//! window and the send path. Nothing here prints, reads the terminal or knows about egui; results
//! and errors are typed values that the CLI (and later the GUI) turn into localized text.

pub mod account;
pub mod clock;
pub mod compose;
pub mod deliver;
pub mod diagnose;
pub mod drafts;
pub mod engine;
pub mod files;
pub mod net;
pub mod outbox;
pub mod pop3;
pub mod presets;
pub mod retry;
pub mod secrets;
pub mod settings;
pub mod smtp;
pub mod window;
pub mod worker;

/// How a failure should be treated by whoever asked for the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Try again later by itself: offline, 4xx, mailbox in use, relay still refused.
    Temporary,
    /// Will not get better without the user: wrong password, untrusted certificate, bad setup.
    NeedsUser,
    /// This message can never be delivered as it is: unknown recipient, too large.
    Permanent,
}
