//! Desktop notifications: turns the worker's `Notice` into localized text and shows it through
//! the OS (notify-rust: D-Bus on Linux), on a short-lived thread so a slow or missing
//! notification service never holds up sending. A notification that cannot be shown is dropped:
//! the window and the outbox still say what happened.

use crate::core::worker::Notice;
use crate::fl;
use crate::words::reason;

/// The title and body a notice is shown with.
pub fn text(n: &Notice) -> (String, String) {
    match n {
        Notice::Sent { count, subject } => (fl!("notify-sent-title", count = count.to_string()), subject.clone()),
        Notice::Failed { subject, reason: why } => (fl!("notify-failed-title"), format!("{subject}\n{}", reason(why))),
    }
}

/// Shows the notice (returns at once).
pub fn show(n: Notice) {
    let (title, body) = text(&n);
    std::thread::spawn(move || {
        let _ = notify_rust::Notification::new().appname("popsend").summary(&title).body(&body).show();
    });
}
