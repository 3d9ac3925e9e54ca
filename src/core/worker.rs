//! The window's worker thread: owns a tokio runtime, the outbox and the engine, takes `Request`s
//! from the UI over a channel, and publishes a `View` (the engine's snapshot plus the rows to
//! list) that the UI reads without blocking; after every change it calls the repaint callback.
//! It knows egui only as that callback. Everything here may block; nothing here draws.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::mpsc;

use crate::core::account::{Config, Paths};
use crate::core::clock::{Clock, SystemClock};
use crate::core::compose::{self, Draft};
use crate::core::deliver::{Deliverer, Outgoing};
use crate::core::engine::{self, Command, Event, Snapshot};
use crate::core::net::TrustAnchors;
use crate::core::outbox::{Outbox, Row, State};
use crate::core::secrets;
use crate::core::window;

/// What the UI asks for.
#[derive(Debug)]
pub enum Request {
    /// Build and store the message; with `now`, send at once.
    Send { draft: Box<Draft>, now: bool },
    FlushNow,
    LoginNow,
    Retry(i64),
    Delete(i64),
    Shutdown,
}

/// A problem the UI shows as a line of text (already in the user's language where it came from
/// `i18n`; technical detail otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No usable config: the path and why.
    Config(String),
    /// The message could not be built: which field and why.
    Compose(String),
    Password(String),
    Outbox(String),
    /// The last run or login stopped: the technical detail and the server's reply.
    Run { detail: String, reply: Option<String> },
}

/// What the UI draws. Replaced as a whole; `version` grows with every change.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub version: u64,
    pub account: String,
    pub snapshot: Option<Snapshot>,
    pub waiting: Vec<Row>,
    pub sent: Vec<Row>,
    pub problem: Option<Problem>,
}

/// How many rows of each list the UI receives (the newest).
pub const LIST_LIMIT: usize = 500;

pub struct Worker {
    requests: mpsc::Sender<Request>,
    view: Arc<Mutex<View>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread. `repaint` is called after every change of the view.
    pub fn spawn(paths: Paths, repaint: Arc<dyn Fn() + Send + Sync>) -> Worker {
        let (tx, rx) = mpsc::channel(64);
        let view = Arc::new(Mutex::new(View::default()));
        let shared = view.clone();
        let thread = std::thread::Builder::new()
            .name("popsend-worker".into())
            .spawn(move || run(paths, rx, shared, repaint))
            .expect("a thread");
        Worker { requests: tx, view, thread: Some(thread) }
    }

    /// Hands a request over without waiting. `Err` (the worker is gone or swamped) is for the
    /// UI to show; a request is never dropped silently.
    pub fn request(&self, r: Request) -> Result<(), Request> {
        self.requests.try_send(r).map_err(|e| match e {
            mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => r,
        })
    }

    /// The latest view (a clone; cheap enough at LIST_LIMIT rows, and only taken on change).
    pub fn view(&self) -> View {
        self.view.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn version(&self) -> u64 {
        self.view.lock().map(|v| v.version).unwrap_or(0)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.requests.try_send(Request::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn publish(view: &Mutex<View>, repaint: &dyn Fn(), change: impl FnOnce(&mut View)) {
    if let Ok(mut v) = view.lock() {
        change(&mut v);
        v.version += 1;
    }
    repaint();
}

fn lists(outbox: &Outbox) -> (Vec<Row>, Vec<Row>) {
    let waiting = outbox.list(&[State::Queued, State::Sending, State::Failed], LIST_LIMIT).unwrap_or_default();
    let sent = outbox.list(&[State::Sent], LIST_LIMIT).unwrap_or_default();
    (waiting, sent)
}

fn run(paths: Paths, mut rx: mpsc::Receiver<Request>, view: Arc<Mutex<View>>, repaint: Arc<dyn Fn() + Send + Sync>) {
    let repaint = &*repaint;
    let config = match Config::load(&paths.config_file) {
        Ok(c) => c,
        Err(e) => return publish(&view, repaint, |v| v.problem = Some(Problem::Config(e.to_string()))),
    };
    let outbox = match Outbox::open(&paths.data_dir) {
        Ok(o) => o,
        Err(e) => return publish(&view, repaint, |v| v.problem = Some(Problem::Outbox(e.to_string()))),
    };
    let (waiting, sent) = lists(&outbox);
    publish(&view, repaint, |v| {
        v.account = config.account.address.clone();
        v.waiting = waiting;
        v.sent = sent;
    });
    let trust = match TrustAnchors::load(config.tls.ca_file.as_deref()) {
        Ok(t) => t,
        Err(e) => return publish(&view, repaint, |v| v.problem = Some(Problem::Config(e.to_string()))),
    };
    // The password is looked up once per start; a missing one is shown, and sending waits.
    let password = match secrets::resolve(config.pop.password_command.as_deref(), &config.pop.username, &config.pop.host) {
        Ok((p, _)) => p,
        Err(e) => {
            publish(&view, repaint, |v| v.problem = Some(Problem::Password(e.to_string())));
            secrets::Password::new(String::new())
        }
    };
    let store = window::Store::new(&paths.data_dir);
    let clock = SystemClock;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async {
        let stop = AtomicBool::new(false);
        let mut d = Deliverer::new(&config, &password, &trust, &store, &clock);
        d.stop = Some(&stop);
        let (etx, erx) = mpsc::channel(64);
        let on_event = |event: Event| {
            let (waiting, sent) = lists(&outbox);
            publish(&view, repaint, |v| {
                v.waiting = waiting;
                v.sent = sent;
                match event {
                    Event::Snapshot(s) => v.snapshot = Some(s),
                    Event::Flushed(f) => {
                        if let Some(e) = f.stopped {
                            v.problem = Some(Problem::Run { detail: e.to_string(), reply: e.server_reply().map(str::to_owned) });
                        } else if !f.sent.is_empty() {
                            v.problem = None;
                        }
                    }
                    Event::LoginFailed(e) => {
                        v.problem = Some(Problem::Run { detail: e.to_string(), reply: e.server_reply().map(str::to_owned) })
                    }
                    Event::LoggedIn(_) => v.problem = None,
                    Event::Error(e) => v.problem = Some(Problem::Outbox(e.to_string())),
                    Event::Woken(_) => {}
                }
            });
        };
        // UI requests become engine commands; building a message (it reads attachment files)
        // happens here, never on the UI thread.
        let forward = async {
            while let Some(r) = rx.recv().await {
                let cmd = match r {
                    Request::Send { mut draft, now } => match {
                        draft.from_address = config.account.address.clone();
                        draft.from_name = config.account.display_name.clone();
                        build(&draft, clock.now())
                    } {
                        Ok((outgoing, subject, to)) => {
                            let sent = etx.send(Command::Enqueue { outgoing: Box::new(outgoing), subject, to }).await;
                            if sent.is_ok() && now {
                                let _ = etx.send(Command::FlushNow).await;
                            }
                            continue;
                        }
                        Err(e) => {
                            publish(&view, repaint, |v| v.problem = Some(Problem::Compose(e)));
                            continue;
                        }
                    },
                    Request::FlushNow => Command::FlushNow,
                    Request::LoginNow => Command::LoginNow,
                    Request::Retry(id) => Command::Retry(id),
                    Request::Delete(id) => Command::Delete(id),
                    Request::Shutdown => {
                        stop.store(true, std::sync::atomic::Ordering::SeqCst);
                        Command::Shutdown
                    }
                };
                let shutdown = matches!(cmd, Command::Shutdown);
                if etx.send(cmd).await.is_err() || shutdown {
                    break;
                }
            }
            let _ = etx.send(Command::Shutdown).await;
        };
        tokio::join!(engine::watch(&outbox, &d, erx, on_event), forward);
    });
}

fn build(d: &Draft, now: SystemTime) -> Result<(Outgoing, String, String), String> {
    let built = compose::build(d, now).map_err(|e| e.to_string())?;
    let to = d.to.iter().chain(&d.cc).cloned().collect::<Vec<_>>().join(", ");
    Ok((Outgoing { envelope: built.envelope, raw: built.raw, message_id: built.message_id }, d.subject.clone(), to))
}
