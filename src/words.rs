//! Core states and error kinds in the user's words (shared by the command line and the window).
//! Only wording: no logic beyond choosing the message.

use crate::core::outbox::{LastError, State};
use crate::core::retry::Kind;
use crate::fl;

pub fn state_name(s: State) -> String {
    match s {
        State::Queued => fl!("state-queued"),
        State::Sending => fl!("state-sending"),
        State::Sent => fl!("state-sent"),
        State::Failed => fl!("state-failed"),
    }
}

/// The reason in the user's words, from the stored kind.
pub fn reason(e: &LastError) -> String {
    match Kind::from_code(&e.kind) {
        Some(Kind::Offline) => fl!("kind-offline"),
        Some(Kind::WrongPassword) => fl!("kind-wrong-password"),
        Some(Kind::MailboxBusy) => fl!("kind-mailbox-busy"),
        Some(Kind::LoginDelay) => fl!("kind-login-delay"),
        Some(Kind::Temporary) => fl!("kind-temporary"),
        Some(Kind::RelayDenied) => fl!("kind-relay-denied"),
        Some(Kind::Certificate) => fl!("kind-certificate"),
        Some(Kind::Setup) => fl!("kind-setup"),
        Some(Kind::Recipient) => fl!("kind-recipient"),
        Some(Kind::TooLarge) => fl!("kind-too-large"),
        Some(Kind::Refused) => fl!("kind-refused"),
        Some(Kind::Expired) => fl!("kind-expired"),
        None => e.kind.clone(),
    }
}

