//! The desktop around the window: notifications (the worker's `Notice` in the user's words, shown
//! through the OS by notify-rust, D-Bus on Linux) and the desktop's light/dark choice. Each call
//! returns at once and does its work on a short-lived thread, so a slow or missing desktop service
//! never holds up the window or sending; what cannot be had is dropped (the window and the outbox
//! still say what happened). No outbox, no network, no egui.

use std::sync::mpsc;

use crate::app::backend::Notice;
use crate::fl;
use crate::text::words::reason;

/// The title and body a notice is shown with.
pub fn text(n: &Notice) -> (String, String) {
    // With several accounts, the title says whose mail it was.
    let whose = |title: String, account: &Option<String>| match account {
        Some(a) => fl!("notify-account", title = title, account = a.as_str()),
        None => title,
    };
    match n {
        Notice::Sent { count, subject, account } => {
            (whose(fl!("notify-sent-title", count = count.to_string()), account), subject.clone())
        }
        Notice::Failed { subject, reason: why, account } => {
            (whose(fl!("notify-failed-title"), account), format!("{subject}\n{}", reason(why.kind)))
        }
    }
}

/// Shows the notice (returns at once).
pub fn show(n: Notice) {
    let (title, body) = text(&n);
    std::thread::spawn(move || {
        let _ = notify_rust::Notification::new().appname("popsend").summary(&title).body(&body).show();
    });
}

/// Asks whether the desktop prefers a dark look; the answer (`Some(true)` dark, `Some(false)`
/// light) arrives on the receiver, or nothing when the desktop does not say. Windows and macOS tell
/// the window themselves; on Linux winit does not, so this asks the XDG settings portal, which
/// GNOME, KDE and others answer.
pub fn prefers_dark() -> mpsc::Receiver<bool> {
    let (tx, rx) = mpsc::channel();
    #[cfg(target_os = "linux")]
    std::thread::spawn(move || {
        if let Some(dark) = zbus::block_on(portal_color_scheme()) {
            let _ = tx.send(dark);
        }
    });
    #[cfg(not(target_os = "linux"))]
    drop(tx);
    rx
}

/// `org.freedesktop.appearance color-scheme`: 1 prefers dark, 2 prefers light, 0 no preference.
#[cfg(target_os = "linux")]
async fn portal_color_scheme() -> Option<bool> {
    let conn = zbus::Connection::session().await.ok()?;
    let reply = conn
        .call_method(
            Some("org.freedesktop.portal.Desktop"),
            "/org/freedesktop/portal/desktop",
            Some("org.freedesktop.portal.Settings"),
            "ReadOne",
            &("org.freedesktop.appearance", "color-scheme"),
        )
        .await
        .ok()?;
    let value: zbus::OwnedVariant = reply.body().deserialize().ok()?;
    match u32::try_from(&value).ok()? {
        1 => Some(true),
        2 => Some(false),
        _ => None,
    }
}
