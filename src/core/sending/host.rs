//! The service both front ends drive: the engine over the outbox and, with `[submission]
//! enabled`, the local submission server beside it, wired together. The server's messages wake
//! the engine, and the server hears each flush's fates, so it can answer the program that handed
//! a message over. The window's backend and `popsend serve` each run one `Host`, and differ only
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
    /// A connection of the server's own: SQLite keeps it apart from the engine's.
    outbox: Arc<Mutex<Outbox>>,
}

impl<'a> Host<'a> {
    pub fn new(data_dir: &'a Path, outbox: &'a Outbox, deliverer: &'a Deliverer<'a>) -> Host<'a> {
        Host { data_dir, outbox, deliverer, fates: broadcast::channel(16).0 }
    }

    /// Binds the configured port, and finds (or makes) the local login when one is required.
    pub async fn open_submission(&self) -> Result<Submission, SubmissionProblem> {
        let s = &self.deliverer.config.submission;
        let listeners = smtpd::listen(s.port).await.map_err(SubmissionProblem::Port)?;
        let login = match s.require_auth {
            true => Some(smtpd::local_login(self.data_dir).map_err(|e| SubmissionProblem::Login(e.to_string()))?),
            false => None,
        };
        let outbox = Outbox::open(self.data_dir).map_err(|e| SubmissionProblem::Outbox(e.to_string()))?;
        Ok(Submission { port: s.port, login, listeners, outbox: Arc::new(Mutex::new(outbox)) })
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

    /// Takes mail on `server` until `until` ends: each message is stored in the outbox, then
    /// `nudge` wakes the engine and the session waits (at most `[submission] try_seconds`) for
    /// its fate. The sessions in progress are answered before this returns.
    pub async fn serve(&self, server: Submission, nudge: mpsc::Sender<Command>, until: impl Future<Output = ()>) {
        let config = self.deliverer.config;
        // The engine is nudged by `try_now`, once it listens for the flush.
        let store = smtpd::outbox_store(server.outbox.clone(), config.account.address.clone(), || {});
        let nudge: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            let _ = nudge.try_send(Command::Refresh);
        });
        let after = smtpd::try_now(server.outbox, self.fates.clone(), nudge, config.submission.try_seconds());
        let limits = smtpd::Limits::for_account(self.data_dir, config);
        smtpd::accept(server.listeners, limits, server.login, store, Some(after), until).await
    }
}
