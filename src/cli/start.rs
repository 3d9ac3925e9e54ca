//! Starting the window: from a console on Windows, with the display checked first (no display:
//! the request goes to a window that is open, never to a second claim on the data folder).

use std::io::Write as _;
use std::process::ExitCode;

use crate::core::setup::account::{Config, Paths};
use crate::fl;

pub use explain::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

use super::*;

/// popsend.exe is a GUI program on Windows (no console window behind the app); typed in a
/// console, it writes to that console as a console program would.
#[cfg(windows)]
pub(super) fn attach_console() {
    unsafe extern "system" {
        fn AttachConsole(process_id: u32) -> i32;
    }
    const ATTACH_PARENT_PROCESS: u32 = u32::MAX;
    // SAFETY: a plain Win32 call; failing (no parent console, e.g. a double-click) changes nothing.
    unsafe { AttachConsole(ATTACH_PARENT_PROCESS) };
}

/// No command: the window, with 作成 filled when a `mailto:` URL was given. If a window already
/// has this data folder, the request goes to it (it comes to the front) and this process ends.
pub(super) fn window(url: Option<&str>, paths: Paths) -> ExitCode {
    use crate::core::system::instance::{self, Claim, ClaimError, Handover};
    let mailto = match url.map(crate::core::message::mailto::parse).transpose() {
        Ok(m) => m,
        Err(crate::core::message::mailto::MailtoError::NotMailto) => {
            tell!("{}", fl!("err-unknown-word", word = crate::core::display_safe(url.unwrap_or_default())));
            return ExitCode::from(EXIT_USAGE);
        }
        Err(e) => {
            tell!("{}", fl!("err-mailto", detail = e.to_string()));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // Whether a window can be made is known before the folder is claimed: a claim asks a running
    // `popsend serve` to step aside, and with no window to take over its port would just close.
    let request = url.map_or(Handover::Show, |u| Handover::Mailto(u.to_owned()));
    if !has_display() {
        // A window of this folder (on the desktop, started before) still takes the request.
        #[cfg(unix)]
        if instance::hand_over_to_window(&paths.data_dir, &request).unwrap_or(false) {
            return ExitCode::from(EXIT_OK);
        }
        say!("{}\n", fl!("cli-gui-later"));
        let _ = command().print_help();
        return ExitCode::from(if mailto.is_some() { EXIT_FAILED } else { EXIT_OK });
    }
    let listener = match instance::claim(&paths.data_dir, &request) {
        Ok(Claim::HandedOver | Claim::Held) => return ExitCode::from(EXIT_OK),
        Ok(Claim::First(l)) => Some(l),
        Err(e @ (ClaimError::NoAnswer(_) | ClaimError::NotYielded)) => {
            tell!("{}", fl!("err-instance-no-answer", detail = e.to_string()));
            return ExitCode::from(EXIT_FAILED);
        }
        // The folder cannot be claimed (unwritable, …): the window opens and says what is wrong.
        Err(ClaimError::Io(_)) => None,
    };
    match crate::app::run(paths.clone(), listener, mailto) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            // Said where the student looks: the terminal, and (a double-click has none) a message
            // box on Windows or a desktop notification elsewhere.
            let text = fl!("gui-cannot-open", detail = e);
            tell!("{text}");
            alert(&fl!("gui-cannot-open-title"), &text);
            // The claim may have asked a background server to step aside (it is let go now):
            // where one belongs (the login entry's kind), it is started again so the port does
            // not stay closed.
            if Config::load(&paths.config_file).is_ok_and(|c| c.submission.enabled && c.app.autostart)
                && let Ok(exe) = std::env::current_exe()
            {
                let _ = std::process::Command::new(exe)
                    .args(crate::core::system::autostart::arguments(&paths))
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn();
            }
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Tells the student something went wrong when no window can say it: a message box on Windows
/// (waits for OK), a desktop notification elsewhere (nothing where the desktop has none; the
/// terminal has it too).
fn alert(title: &str, text: &str) {
    #[cfg(windows)]
    {
        #[link(name = "user32")]
        unsafe extern "system" {
            fn MessageBoxW(hwnd: *mut core::ffi::c_void, text: *const u16, caption: *const u16, kind: u32) -> i32;
        }
        const MB_OK_ICONERROR: u32 = 0x0000_0010;
        let wide = |s: &str| s.encode_utf16().chain(std::iter::once(0)).collect::<Vec<u16>>();
        let (text, title) = (wide(text), wide(title));
        // SAFETY: two NUL-terminated UTF-16 strings that outlive the call; no owner window.
        unsafe { MessageBoxW(std::ptr::null_mut(), text.as_ptr(), title.as_ptr(), MB_OK_ICONERROR) };
    }
    #[cfg(not(windows))]
    {
        let _ = notify_rust::Notification::new().appname("popsend").summary(title).body(text).show();
    }
}

/// Whether a window can be opened (on Linux: an X11 or Wayland display is set).
pub(super) fn has_display() -> bool {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}
