//! The service both front ends drive: the engine over the outbox and, with `[submission]
//! enabled`, the local submission server beside it, wired together. The server's messages wake
//! the engine, and the server hears each flush's fates, so it can answer the program that handed
//! a message over. The window's backend and `popsend serve` each run one `Host` per account (one
//! submission server for them all, `serve`, routing each message by its sender), and differ only
//! in what they say about its events. It must not print, draw, read the keyring or decide when
//! to stop: its callers say what happened and end it with `Command::Shutdown`.

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc};

use crate::protocol::smtpd::{self, Fates, LocalLogin, PortTaken};
use crate::sending::deliver::Deliverer;
use crate::sending::engine::{self, Command, Event};
use crate::sending::outbox::Outbox;

/// The engine and, optionally, the submission server of one account and data folder.
pub struct Host<'a> {
    pub data_dir: &'a Path,
    pub outbox: &'a Outbox,
    pub deliverer: &'a Deliverer<'a>,
    /// Each flush's fates, for the submission sessions waiting on them.
    fates: broadcast::Sender<Fates>,
}

/// Why the submission server is not listening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmissionProblem {
    /// The port is taken: by whom, as its greeting tells, and the system's words.
    Port(PortTaken),
    /// The local login file cannot be made.
    Login(String),
    /// The outbox cannot be opened for it.
    Outbox(String),
}

/// A submission server with its port bound, not yet taking mail.
pub struct Submission {
    pub port: u16,
    /// The local login (`None`: `require_auth = false`).
    pub login: Option<LocalLogin>,
    listeners: Vec<tokio::net::TcpListener>,
    /// Each account's outbox, by a connection of the server's own: SQLite keeps it apart from
    /// the engine's.
    outboxes: Vec<Arc<Mutex<Outbox>>>,
}

impl<'a> Host<'a> {
    pub fn new(data_dir: &'a Path, outbox: &'a Outbox, deliverer: &'a Deliverer<'a>) -> Host<'a> {
        Host { data_dir, outbox, deliverer, fates: broadcast::channel(16).0 }
    }

    /// The engine (`engine::watch`) until `Command::Shutdown` or the commands end. `on_event`
    /// sees every event; the submission server hears each flush first.
    pub async fn engine(&self, commands: mpsc::Receiver<Command>, mut on_event: impl FnMut(Event)) {
        engine::watch(self.outbox, self.deliverer, commands, |event| {
            if let Event::Flushed(f) = &event {
                let _ = self.fates.send(Fates::of(f));
            }
            on_event(event)
        })
        .await
    }
}

/// Binds the configured port (every account's config has the file's `[submission]`), finds (or
/// makes) the local login in `login_dir` (the data folder itself, whichever accounts are served)
/// when one is required, and opens each account's outbox for the server.
pub async fn open_submission(hosts: &[Host<'_>], login_dir: &Path) -> Result<Submission, SubmissionProblem> {
    let first = hosts.first().ok_or_else(|| SubmissionProblem::Outbox("no account".into()))?;
    let s = &first.deliverer.config.submission;
    let listeners = smtpd::listen(s.port).await.map_err(SubmissionProblem::Port)?;
    let login = match s.require_auth {
        true => Some(smtpd::local_login(login_dir).map_err(|e| SubmissionProblem::Login(e.to_string()))?),
        false => None,
    };
    let mut outboxes = Vec::new();
    for h in hosts {
        let outbox = Outbox::open(h.data_dir).map_err(|e| SubmissionProblem::Outbox(e.to_string()))?;
        outboxes.push(Arc::new(Mutex::new(outbox)));
    }
    Ok(Submission { port: s.port, login, listeners, outboxes })
}

/// Takes mail on `server` for every account (`hosts`, with `nudges` waking each one's engine)
/// until `until` ends: a message goes to the account its sender is (`smtpd::routed_store`;
/// `any_sender`: the file has this one account only, whose every message is), is
/// stored in that account's outbox, and waits (at most `[submission] try_seconds`) for its fate
/// in that account's next flush. The sessions in progress are answered before this returns.
pub async fn serve(
    hosts: &[Host<'_>],
    server: Submission,
    nudges: Vec<mpsc::Sender<Command>>,
    any_sender: bool,
    until: impl Future<Output = ()>,
) {
    let Some(first) = hosts.first() else { return };
    let config = first.deliverer.config;
    let mut stores = Vec::new();
    let mut afters = Vec::new();
    for (i, ((h, outbox), nudge)) in hosts.iter().zip(&server.outboxes).zip(nudges).enumerate() {
        // The engine is nudged by `try_now`, once it listens for the flush.
        stores.push(smtpd::outbox_store(outbox.clone(), h.deliverer.config.account.address.clone(), i, || {}));
        let nudge: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            let _ = nudge.try_send(Command::Refresh);
        });
        afters.push(smtpd::try_now(outbox.clone(), h.fates.clone(), nudge, config.submission.try_seconds()));
    }
    let addresses = hosts.iter().map(|h| h.deliverer.config.account.address.clone()).collect();
    let store = smtpd::routed_store(addresses, stores, any_sender);
    let after = smtpd::routed_after(afters);
    // The size the first account's server announced bounds what is taken.
    let limits = smtpd::Limits::for_account(first.data_dir, config);
    smtpd::accept(server.listeners, limits, server.login, store, Some(after), until).await
}
