//! What runs in the background: `watch` (the engine until Ctrl-C, or until nothing waits) and
//! `serve` (the submission server beside the engine, stepping aside when a window opens).

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::core::sending::engine;
use crate::core::sending::host::Host;
use crate::core::setup::account::Paths;
use crate::fl;

use explain::Failed;
pub use explain::{EXIT_FAILED, EXIT_OK};

use super::*;

pub(super) type Commands = (tokio::sync::mpsc::Sender<engine::Command>, tokio::sync::mpsc::Receiver<engine::Command>);

/// The engine until Ctrl-C or SIGTERM (or, with `until_empty`, until nothing waits), with
/// `alongside` running beside it (the submission server for `serve`).
pub(super) async fn watch(
    host: &Host<'_>,
    stop: &AtomicBool,
    until_empty: bool,
    (tx, rx): Commands,
    alongside: impl std::future::Future<Output = ()>,
) -> Result<u8, Failed> {
    let (ob, d) = (host.outbox, host.deliverer);
    let done = tx.clone();
    // With --until-empty (the window's "keep sending in the background"): leave once nothing is
    // queued or being sent; messages that failed for good stay for the user to see.
    let nothing_waits = || ob.counts().is_ok_and(|c| c.queued == 0 && c.sending == 0);
    if until_empty && nothing_waits() {
        return Ok(EXIT_OK);
    }
    // A queue paused under these settings sends nothing until the user acts: waiting for it to
    // empty would never end (this is the process the window leaves running on close).
    if until_empty
        && let Ok(Some(p)) = ob.paused()
        && p.config == d.config.fingerprint
    {
        tell!("{}", fl!("paused", reason = crate::text::words::reason(p.error.kind)));
        tell!("  {}", fl!("paused-hint"));
        return Ok(EXIT_FAILED);
    }
    // An account whose password could not be found (said when it was looked for) sends nothing:
    // waiting for its queue to empty would never end.
    if until_empty && d.password.is_none() {
        return Ok(EXIT_FAILED);
    }
    let exit = std::cell::Cell::new(EXIT_OK);
    // Ctrl-C (or SIGTERM): finish the message in flight, then leave.
    let signals = async {
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} },
            // No SIGTERM handler to be had: Ctrl-C still works.
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        stop.store(true, Ordering::SeqCst);
        let _ = tx.send(engine::Command::Shutdown).await;
        std::future::pending::<()>().await
    };
    say!("{}", fl!("watch-start"));
    let _ = std::io::stdout().flush();
    let work = host.engine(rx, |event| {
        match event {
            engine::Event::Flushed(f) => {
                outbox_view::report_flush(&f, d.clock);
                if until_empty && f.paused.is_some() {
                    exit.set(EXIT_FAILED);
                    let _ = done.try_send(engine::Command::Shutdown);
                }
                if until_empty && nothing_waits() {
                    let _ = done.try_send(engine::Command::Shutdown);
                }
            }
            engine::Event::Woken(n) => say!("{}", fl!("watch-woken", count = n)),
            engine::Event::Error(e) | engine::Event::NotQueued { error: e, .. } => {
                tell_raw!("{}", explain::failure(&e).render())
            }
            // Nothing sends these without a command, and the window's state is in each flush.
            engine::Event::LoggedIn(_)
            | engine::Event::LoginFailed(_)
            | engine::Event::Snapshot(_)
            | engine::Event::Edited(..) => {}
        }
        let _ = std::io::stdout().flush();
    });
    tokio::select! { _ = work => {}, _ = signals => {}, _ = alongside => {} }
    say!("{}", fl!("watch-stop"));
    Ok(exit.get())
}

/// `popsend serve`: the submission server on loopback beside the engine. Each message a program
/// hands over is in the outbox before it hears 250, and the engine is nudged to send it. It runs
/// only while no window has the data folder, and steps aside (the message in flight finished,
/// the sessions in progress answered) when a window opens. `at_login` (the login entry): without
/// `[submission] enabled`, it sends what waits and ends, as `watch --until-empty`.
/// `any_sender`: the file has this one account only (a message from any sender is its own).
/// `root`: the data folder itself, where the local login is, whichever accounts are served.
pub(super) async fn serve(
    hosts: &[Host<'_>],
    root: &Paths,
    folder: crate::core::system::instance::Listener,
    stop: &AtomicBool,
    at_login: bool,
    any_sender: bool,
) -> Result<u8, Failed> {
    use crate::core::protocol::smtpd;
    use crate::core::sending::host::SubmissionProblem;
    let Some(first) = hosts.first() else { return Ok(EXIT_OK) };
    let s = &first.deliverer.config.submission;
    let cue = std::sync::Arc::new(tokio::sync::Notify::new());
    let heard = cue.clone();
    folder.set_wake(std::sync::Arc::new(move || heard.notify_one()));
    let channels: Vec<Commands> = hosts.iter().map(|_| tokio::sync::mpsc::channel(16)).collect();
    let senders: Vec<_> = channels.iter().map(|(tx, _)| tx.clone()).collect();
    if at_login && !s.enabled {
        return watch_all(hosts, stop, true, channels, step_aside(cue.notified(), stop, senders)).await;
    }
    let server =
        crate::core::sending::host::open_submission(hosts, &root.data_dir).await.map_err(|problem| match problem {
            SubmissionProblem::Port(taken) => {
                explain::simple(crate::text::words::port_taken(s.port, &taken), EXIT_FAILED)
            }
            SubmissionProblem::Login(detail) => explain::simple(fl!("err-serve-login", detail = detail), EXIT_FAILED),
            SubmissionProblem::Outbox(detail) => {
                explain::simple(format!("{} ({detail})", fl!("err-outbox-write")), EXIT_FAILED)
            }
        })?;
    let login_file = root.data_dir.join(smtpd::LOGIN_FILE).display().to_string();
    if server.login.as_ref().is_some_and(|l| l.renewed) {
        tell!("{}", fl!("serve-login-renewed", file = login_file.as_str()));
    }
    match server.login {
        Some(_) => say!("{}", fl!("serve-start", port = s.port, login = login_file.as_str())),
        // `require_auth = false`: no password file to point to.
        None => say!("{}", fl!("serve-start-open", port = s.port)),
    }
    // The sessions in progress are answered before the engines stop: they may wait on them.
    let served = crate::core::sending::host::serve(hosts, server, senders.clone(), any_sender, cue.notified());
    let exit = watch_all(hosts, stop, false, channels, step_aside(served, stop, senders)).await;
    drop(folder);
    exit
}

/// `watch` for every account's host at once, with `alongside` beside them all (the submission
/// server, or the window's cue to step aside); ends when every engine has stopped.
pub(super) async fn watch_all(
    hosts: &[Host<'_>],
    stop: &AtomicBool,
    until_empty: bool,
    channels: Vec<Commands>,
    alongside: impl std::future::Future<Output = ()>,
) -> Result<u8, Failed> {
    let watches = futures_util::future::join_all(
        hosts.iter().zip(channels).map(|(h, c)| watch(h, stop, until_empty, c, std::future::pending())),
    );
    tokio::select! {
        codes = watches => {
            let mut code = EXIT_OK;
            for c in codes {
                code = code.max(c?);
            }
            Ok(code)
        }
        () = alongside => Ok(EXIT_OK),
    }
}

/// The data folder for `popsend serve`, or `None` (said) when a window or another server has it.
pub(super) fn claim_for_server(paths: &Paths) -> Result<Option<crate::core::system::instance::Listener>, Failed> {
    use crate::core::system::instance::{self, Claim};
    match instance::claim_for_server(&paths.data_dir, std::time::Duration::from_secs(5)) {
        Ok(Claim::First(folder)) => Ok(Some(folder)),
        Ok(Claim::Held | Claim::HandedOver) => {
            tell!("{}", fl!("serve-held", folder = paths.data_dir.display().to_string()));
            Ok(None)
        }
        Err(e) => Err(explain::simple(fl!("err-instance-no-answer", detail = e.to_string()), EXIT_FAILED)),
    }
}

/// After `before` (the window's cue, or the submission server closed on it): the message in
/// flight is finished and the engine stops, so the window can have the folder and the port.
pub(super) async fn step_aside(
    before: impl std::future::Future<Output = ()>,
    stop: &AtomicBool,
    shutdown: Vec<tokio::sync::mpsc::Sender<engine::Command>>,
) {
    before.await;
    say!("{}", fl!("serve-yield"));
    stop.store(true, Ordering::SeqCst);
    for s in shutdown {
        let _ = s.send(engine::Command::Shutdown).await;
    }
    std::future::pending::<()>().await
}
