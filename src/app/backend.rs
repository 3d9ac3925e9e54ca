//! The window's backend, a worker thread: owns a tokio runtime, the outbox and the engine, takes
//! `Request`s from the window over a channel, publishes a `View` (the engine's snapshot, the rows
//! to list, the saved settings) that the window reads without blocking, and hands one-time
//! results over as `Handed` events; after every change it calls the repaint hook. It also does
//! the window's other I/O: saving settings (config file and keyring), the draft file, attachment
//! sizes, the file dialog, and handing the outbox (and the submission port) to a background
//! `popsend watch` or `serve` when the window closes. The window knows it only as a `Backend`; it
//! knows egui only as the repaint hook. It may block (the keyring off its runtime); it never draws.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::mpsc;

use crate::app::form::{FieldError, Form};
use crate::core::account::{Config, ConfigProblem, Paths};
use crate::core::clock::{Clock, SystemClock};
use crate::core::compose::Outgoing;
use crate::core::compose::{self, Charset};
use crate::core::deliver::Deliverer;
use crate::core::diagnose::{self, StepResult};
use crate::core::discover;
use crate::core::drafts::{self, Unsent};
use crate::core::engine::{Command, Event, Snapshot};
use crate::core::host::{Host, SubmissionProblem};
use crate::core::kind::{Described, Kind};
use crate::core::net::TrustAnchors;
use crate::core::outbox::{Outbox, Row, State};
use crate::core::presets::{self, Preset};
use crate::core::secrets::{self, Password, Source};
use crate::core::window;

/// What the UI asks for.
#[derive(Debug)]
pub enum Request {
    /// Build and store the message; with `now`, send at once.
    Send { draft: Box<Unsent>, now: bool, charset: Option<Charset> },
    /// Keep the draft on disk (an empty one removes the file).
    SaveDraft(Box<Unsent>),
    /// Look up the sizes of attached files (shown beside their names).
    Inspect(Vec<PathBuf>),
    /// Open the system's file dialog; the chosen files are handed over (`Handed::Picked`).
    PickFiles,
    /// A button of the engine's, passed on as it is: 「今すぐ送信」, 「POP 認証」, 「再送」, 「削除」,
    /// 「編集」 (its draft is handed over, `Handed::ForCompose`).
    Engine(Command),
    /// Show a message read-only (`View::opened`).
    Open(i64),
    /// 接続テスト with the saved settings; steps arrive in `View::diagnosis` as they end.
    Diagnose,
    /// 「保存」: validate, write the config, keep the password (if typed) in the keyring, restart.
    SaveSettings { form: Box<Form>, password: Option<Password> },
    /// Stop; with `background`, a `popsend watch --until-empty` process goes on sending (or the
    /// login's `popsend serve --at-login`, see `successor`).
    Shutdown { background: bool },
    /// Remember where the window is (it opens there next time).
    SaveGeometry(Geometry),
    /// First-run assistant: find the servers of this address (`View::discovery`).
    Discover(String),
    /// First-run assistant: 接続テスト with these settings, not saved, trying each user name in
    /// turn while the server refuses the password; steps in `View::diagnosis`, the outcome in
    /// `View::trial`.
    TryAccount { form: Box<Form>, usernames: Vec<String>, password: Password },
    /// First-run assistant: save (as 「保存」), and queue `test_mail` (a message to the address
    /// itself, worded by the window), which the restarted engine then sends.
    FinishSetup { form: Box<Form>, password: Password, test_mail: Option<Box<Unsent>> },
    /// Tests only: an internal error in the worker.
    #[cfg(test)]
    Panic,
}

/// The window's size (logical points) and, where the desktop tells it, its position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    pub size: [f32; 2],
    pub at: Option<[f32; 2]>,
}

/// The file the window's geometry is kept in, in the data folder.
const GEOMETRY_FILE: &str = "window-geometry";

/// The geometry saved when the window last closed; `None` when there is none or it makes no
/// sense (a damaged file, a window smaller than usable or larger than any screen).
pub fn saved_geometry(data_dir: &std::path::Path) -> Option<Geometry> {
    let text = std::fs::read_to_string(data_dir.join(GEOMETRY_FILE)).ok()?;
    let n: Vec<f32> = text.split_ascii_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
    let size = [*n.first()?, *n.get(1)?];
    if !size.iter().all(|v| (320.0..=16384.0).contains(v)) {
        return None;
    }
    let at = match n.get(2..4) {
        Some([x, y]) if x.abs() <= 32768.0 && y.abs() <= 32768.0 => Some([*x, *y]),
        _ => None,
    };
    Some(Geometry { size, at })
}

fn save_geometry(data_dir: &std::path::Path, g: Geometry) -> std::io::Result<()> {
    let mut text = format!("{} {}", g.size[0].round(), g.size[1].round());
    if let Some([x, y]) = g.at {
        text += &format!(" {} {}", x.round(), y.round());
    }
    crate::core::files::write_atomic(&data_dir.join(GEOMETRY_FILE), format!("{text}\n").as_bytes())
}

/// The first-run assistant's search for the servers.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    pub address: String,
    /// The steps so far (the last one is running until `result` is set).
    pub progress: Vec<discover::Progress>,
    pub result: Option<Result<discover::Proposal, discover::NotFound>>,
}

/// A problem the window shows above its tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No config file yet: the user has to fill in 設定.
    SetupNeeded,
    /// A failure of the core (config, password, outbox, the message, a run or a login): its
    /// kind, the server's reply and the detail, worded by `words::explain` as on the command line.
    Failed(Described),
    /// The draft file could not be read or written.
    Draft(String),
    /// The file dialog could not open.
    Dialog(String),
    /// The worker stopped on internal errors again and again and is left stopped.
    WorkerStopped,
}

/// The window's submission server, as 設定 shows it.
#[derive(Debug, Clone)]
pub struct SubmissionView {
    pub port: u16,
    /// The local login (`None`: `require_auth = false`).
    pub login: Option<crate::core::smtpd::Login>,
    /// Why it is not listening.
    pub problem: Option<SubmissionProblem>,
}

/// Where the password in use comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordFrom {
    Found(Source),
    /// Typed in 設定 and kept in memory only (no keyring on this machine).
    ThisSession,
    Missing,
}

/// What one 「保存」 did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// Written; the password (if one was typed) went to the keyring.
    Done,
    /// Written, but the keyring refused the password: it is kept for this session only.
    PasswordNotKept(String),
    Invalid(Vec<FieldError>),
    WriteFailed(String),
    /// Written, but the login entry (「ログイン時に起動する」) could not be changed: why.
    AutostartFailed(String),
}

/// Something the desktop should announce (when the user allows notifications).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Sent { count: usize, subject: String },
    Failed { subject: String, reason: Described },
}

/// A result the window takes once, in order (`Backend::take_handed`): an answer to a request, or
/// what the worker found. Never a field of the view, so nothing is taken twice or missed.
#[derive(Debug, Clone, PartialEq)]
pub enum Handed {
    /// A flush found that another SMTP port than the configured one takes the mail from this
    /// network (OP25B): the window says so once.
    RouteLearned(crate::core::deliver::Learned),
    /// A draft for 作成: the saved one at start, one taken back by 「編集」, or one that could not
    /// be built (with the reason in the view's problem).
    ForCompose(Unsent),
    /// Files chosen in the file dialog.
    Picked(Vec<PathBuf>),
    /// What 「保存」 did.
    Saved(Saved),
    /// The assistant's `TryAccount`: the form as tried last (with the user name that got
    /// furthest) and whether every step passed.
    Trial(Box<Form>, bool),
    /// The worker stopped on an internal error and was started again: the last action may not
    /// have been carried out.
    Restarted,
}

/// What the UI draws. Replaced as a whole; `version` grows with every change.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub version: u64,
    pub account: String,
    pub snapshot: Option<Snapshot>,
    /// Shared, so taking a new view never copies thousands of rows.
    pub waiting: Arc<Vec<Row>>,
    pub sent: Arc<Vec<Row>>,
    pub problem: Option<Problem>,
    /// The settings as saved (the defaults before the first save).
    pub settings: Form,
    pub password: Option<PasswordFrom>,
    /// The saved draft has been looked for (and handed over if there was one): until then a
    /// `mailto:` link waits, so it never takes the place of a draft not yet shown.
    pub draft_checked: bool,
    /// Attachment sizes in bytes, or why the file cannot be read.
    pub sizes: HashMap<PathBuf, Result<u64, String>>,
    /// The message asked for with `Open`: its draft, or (sent from the command line) its raw text.
    pub opened: Option<(i64, Result<Unsent, String>)>,
    /// Provider presets (built-in, then the user's), and why the user's file could not be read.
    pub presets: Vec<Preset>,
    pub presets_problem: Option<String>,
    /// The local submission server the window runs (`[submission] enabled`): where it listens
    /// and the login other programs use, or why it could not open.
    pub submission: Option<SubmissionView>,
    /// The last 接続テスト: its steps so far, and whether it is still running.
    pub diagnosis: Option<(bool, Vec<StepResult>)>,
    /// The first-run assistant's search.
    pub discovery: Option<Discovery>,
    /// The SMTP port the last messages went by (another than the configured one from a network
    /// that blocks it): 設定 shows it.
    pub smtp_route: Option<crate::core::route::Route>,
}

/// How many rows of each list the UI receives (the newest). The UI lays out only the visible
/// ones, so this bounds memory, not drawing time.
pub const LIST_LIMIT: usize = 10_000;

/// How the worker reaches the outside: a repaint of the window after every change, and desktop
/// notifications.
#[derive(Clone)]
pub struct Hooks {
    pub repaint: Arc<dyn Fn() + Send + Sync>,
    pub notify: Arc<dyn Fn(Notice) + Send + Sync>,
    /// Where the first-run assistant looks for servers (the tests point it at their own ports).
    pub discovery: discover::Options,
    /// The keyring, the login entry, the file dialog and starting popsend again (a stand-in in
    /// the tests).
    pub platform: Arc<dyn super::platform::Platform>,
}

/// What the window talks to: the worker thread in the app, a script in the window tests. The
/// window only hands requests over and reads views; it never waits for either.
pub trait Backend {
    /// Hands a request over without waiting. `Err` gives it back (the backend is gone or
    /// swamped): the window shows that, a request is never dropped silently.
    fn request(&self, r: Request) -> Result<(), Request>;
    /// The latest view's version (grows with every change).
    fn version(&self) -> u64;
    /// The latest view.
    fn view(&self) -> View;
    /// The one-time results since the last call, oldest first.
    fn take_handed(&self) -> Vec<Handed>;
}

pub struct Worker {
    requests: mpsc::Sender<Request>,
    view: Arc<Mutex<View>>,
    handed: Arc<Mutex<Vec<Handed>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread.
    pub fn spawn(paths: Paths, hooks: Hooks) -> Worker {
        let (tx, rx) = mpsc::channel(64);
        let view = Arc::new(Mutex::new(View::default()));
        let handed = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared { view: view.clone(), handed: handed.clone(), hooks };
        let thread = std::thread::Builder::new()
            .name("popsend-worker".into())
            .spawn(move || keep_running(paths, rx, shared))
            .ok();
        if thread.is_none() {
            // No thread to be had: the window says the work stopped (requests are refused).
            view.lock().unwrap_or_else(std::sync::PoisonError::into_inner).problem = Some(Problem::WorkerStopped);
        }
        Worker { requests: tx, view, handed, thread }
    }
}

impl Backend for Worker {
    fn request(&self, r: Request) -> Result<(), Request> {
        self.requests.try_send(r).map_err(|e| match e {
            mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => r,
        })
    }

    /// A clone; cheap enough at LIST_LIMIT rows (the lists are shared), and only taken on change.
    fn view(&self) -> View {
        self.view.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn version(&self) -> u64 {
        self.view.lock().unwrap_or_else(std::sync::PoisonError::into_inner).version
    }

    fn take_handed(&self) -> Vec<Handed> {
        std::mem::take(&mut *self.handed.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // With the channel full, Shutdown cannot be queued: closing the channel ends the worker
        // once it has taken what is queued (a message handed over is still stored).
        let _ = self.requests.try_send(Request::Shutdown { background: false });
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.requests, closed));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The view and hooks, shareable with blocking tasks.
#[derive(Clone)]
struct Shared {
    view: Arc<Mutex<View>>,
    handed: Arc<Mutex<Vec<Handed>>>,
    hooks: Hooks,
}

impl Shared {
    fn publish(&self, change: impl FnOnce(&mut View)) {
        // A panic while the view was held (see `keep_running`) leaves it usable, not lost.
        let mut v = self.view.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        v.version += 1;
        change(&mut v);
        drop(v);
        (self.hooks.repaint)();
    }

    /// A one-time result for the window.
    fn hand(&self, h: Handed) {
        self.handed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(h);
        (self.hooks.repaint)();
    }

    fn problem(&self, p: Problem) {
        self.publish(|v| v.problem = Some(p));
    }
}

fn lists(outbox: &Outbox) -> (Arc<Vec<Row>>, Arc<Vec<Row>>) {
    let waiting = outbox.list(&[State::Queued, State::Sending, State::Failed], LIST_LIMIT).unwrap_or_default();
    let sent = outbox.list(&[State::Sent], LIST_LIMIT).unwrap_or_default();
    (Arc::new(waiting), Arc::new(sent))
}

/// How a session of the engine ended.
enum End {
    /// The settings changed: start again with the new config.
    Reload,
    Quit {
        background: bool,
    },
}

/// How often the worker is started again after an internal error (a panic) before it is left
/// stopped, and the window says so.
const RESTARTS: u32 = 3;

/// Runs the worker; after a panic, starts it again (everything it keeps is on disk), at most
/// `RESTARTS` times. Never silent: the window is told each time.
fn keep_running(paths: Paths, mut rx: mpsc::Receiver<Request>, shared: Shared) {
    for restarts in 0.. {
        let ran =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&paths, &mut rx, &shared, restarts == 0)));
        if ran.is_ok() {
            return;
        }
        if restarts >= RESTARTS {
            shared.problem(Problem::WorkerStopped);
            return;
        }
        shared.hand(Handed::Restarted);
    }
}

fn run(paths: &Paths, rx: &mut mpsc::Receiver<Request>, shared: &Shared, first: bool) {
    let Ok(runtime) = crate::core::runtime() else {
        shared.problem(Problem::WorkerStopped);
        return;
    };
    // The saved draft, once: after a restart the window holds what is being written.
    if first {
        match drafts::load(&paths.data_dir) {
            Ok(Some(d)) => {
                inspect(shared, d.attachments.clone());
                shared.hand(Handed::ForCompose(d));
            }
            Ok(None) => {}
            Err(e) => shared.problem(Problem::Draft(e.to_string())),
        }
        shared.publish(|v| v.draft_checked = true);
    }
    // A password typed in 設定 that the keyring would not keep.
    let mut typed: Option<Password> = None;
    loop {
        let (list, problem) = presets::load(&paths.config_file);
        shared.publish(|v| {
            v.presets = list;
            v.presets_problem = problem;
        });
        match runtime.block_on(session(paths, rx, shared, &mut typed)) {
            End::Reload => continue,
            End::Quit { background } => {
                if let Some(args) = successor(paths, background)
                    && let Err(e) = shared.hooks.platform.start(paths, typed.as_ref(), args)
                {
                    // The window is gone: standard error is the only place left to say it.
                    eprintln!("popsend: cannot start sending in the background: {e}");
                }
                return;
            }
        }
    }
}

/// The first-run assistant's requests that need no session: finding the servers and trying
/// unsaved settings. Returns the other requests.
async fn assistant(r: Request, paths: &Paths, shared: &Shared) -> Option<Request> {
    match r {
        Request::Discover(address) => {
            shared.publish(|v| {
                v.discovery = Some(Discovery { address: address.clone(), progress: Vec::new(), result: None })
            });
            let (presets, _) = presets::load(&paths.config_file);
            let result = discover::find(&address, &presets, &shared.hooks.discovery, &mut |p| {
                shared.publish(|v| {
                    if let Some(d) = v.discovery.as_mut() {
                        d.progress.push(p);
                    }
                })
            })
            .await;
            shared.publish(|v| {
                if let Some(d) = v.discovery.as_mut() {
                    d.result = Some(result);
                }
            });
        }
        Request::TryAccount { form, usernames, password } => {
            try_account(*form, usernames, &password, &window::Store::new(&paths.data_dir), shared).await
        }
        other => return Some(other),
    }
    None
}

/// 接続テスト with unsaved settings, once per user name until one is not refused.
async fn try_account(
    mut form: Form,
    usernames: Vec<String>,
    password: &Password,
    store: &window::Store,
    shared: &Shared,
) {
    let clock = SystemClock;
    let mut candidates = usernames.into_iter().filter(|u| !u.trim().is_empty()).peekable();
    // The settings were switched to what works from this network: the same user name again.
    let (mut switched, mut again) = (false, false);
    loop {
        if !std::mem::take(&mut again)
            && let Some(u) = candidates.next()
        {
            form.smtp_username = if form.smtp_username.is_empty() { String::new() } else { u.clone() };
            form.pop_username = u;
        }
        shared.publish(|v| v.diagnosis = Some((true, Vec::new())));
        let steps = match form.to_config() {
            Ok(config) => match TrustAnchors::load(config.tls.ca_file.as_deref()) {
                Ok(trust) => {
                    diagnose::run(
                        &config,
                        Some(password),
                        &trust,
                        &clock,
                        store,
                        &diagnose::Options::default(),
                        &mut |r: &StepResult| {
                            let r = r.clone();
                            shared.publish(|v| {
                                if let Some((_, steps)) = v.diagnosis.as_mut() {
                                    steps.push(r);
                                }
                            });
                        },
                    )
                    .await
                }
                Err(e) => {
                    shared.problem(Problem::Failed(Described::of(&e)));
                    Vec::new()
                }
            },
            Err(errors) => {
                shared.hand(Handed::Saved(Saved::Invalid(errors)));
                Vec::new()
            }
        };
        let refused = steps
            .iter()
            .any(|s| s.id == diagnose::StepId::PopLogin && s.finding == diagnose::Finding::Failed(Kind::WrongPassword));
        if refused && candidates.peek().is_some() {
            continue;
        }
        // Issue 24: the SMTP port does not answer from this network (OP25B at home) but another
        // port of the server takes mail after the POP login: the assistant proposes what works
        // from here, and tests it, once.
        if !switched && let Some(offer) = super::diagnose::switch_offer(&steps).filter(|o| o.relays == Some(true)) {
            super::diagnose::switch_to(&mut form, offer);
            (switched, again) = (true, true);
            continue;
        }
        let passed =
            !steps.is_empty() && steps.iter().all(|s| s.passed() || matches!(s.finding, diagnose::Finding::Skipped(_)));
        let form = Box::new(form);
        shared.publish(|v| v.diagnosis = Some((false, steps)));
        shared.hand(Handed::Trial(form, passed));
        return;
    }
}

/// The assistant's last step: save as 「保存」 does, and put `test_mail` in the outbox (the
/// restarted engine sends it). True when saved.
async fn finish_setup(
    paths: &Paths,
    form: &Form,
    password: Password,
    test_mail: Option<Box<Unsent>>,
    typed: &mut Option<Password>,
    shared: &Shared,
) -> bool {
    if !save_and_tell(paths, form, Some(password), typed, shared, || {}).await {
        return false;
    }
    if let Some(draft) = test_mail {
        let queued = Config::load(&paths.config_file).map_err(|e| Described::of(&e)).and_then(|config| {
            let (out, subject, to) = build(&config, &draft, None, SystemClock.now()).map_err(|e| Described::of(&e))?;
            let outbox = Outbox::open(&paths.data_dir).map_err(|e| Described::of(&e))?;
            outbox.enqueue(&out, &subject, &to, SystemClock.now()).map(|_| ()).map_err(|e| Described::of(&e))
        });
        if let Err(e) = queued {
            shared.problem(Problem::Failed(e));
        }
    }
    true
}

/// Requests any session handles the same way. Returns the ones it did not.
fn common(r: Request, paths: &Paths, shared: &Shared) -> Option<Request> {
    match r {
        #[cfg(test)]
        Request::Panic => panic!("a test asked the worker to fail"),
        Request::SaveDraft(d) => {
            if let Err(e) = drafts::save(&paths.data_dir, &d) {
                shared.problem(Problem::Draft(e.to_string()));
            }
        }
        Request::Inspect(files) => inspect(shared, files),
        // Losing it only means the window opens at the default size next time.
        Request::SaveGeometry(g) => {
            let _ = save_geometry(&paths.data_dir, g);
        }
        Request::PickFiles => {
            // The dialog is modal for the user, not for the engine: it runs on its own thread.
            let shared = shared.clone();
            std::thread::spawn(move || match shared.hooks.platform.pick_files() {
                Ok(Some(files)) => {
                    inspect(&shared, files.clone());
                    shared.hand(Handed::Picked(files));
                }
                Ok(None) => {}
                Err(why) => shared.problem(Problem::Dialog(why)),
            });
        }
        other => return Some(other),
    }
    None
}

fn inspect(shared: &Shared, files: Vec<PathBuf>) {
    let sizes: Vec<_> = files
        .into_iter()
        .map(|p| {
            let size = std::fs::metadata(&p)
                .map_err(|e| e.to_string())
                .and_then(|m| if m.is_file() { Ok(m.len()) } else { Err("not a file".to_owned()) });
            (p, size)
        })
        .collect();
    shared.publish(|v| v.sizes.extend(sizes));
}

/// 「保存」: validates the form, writes the file, keeps the password. The config is written first,
/// so a keyring failure never loses the settings.
async fn save(
    paths: &Paths,
    form: &Form,
    password: Option<Password>,
    typed: &mut Option<Password>,
    platform: Arc<dyn super::platform::Platform>,
) -> Saved {
    let text = match form.to_toml() {
        Ok(t) => t,
        Err(errors) => return Saved::Invalid(errors),
    };
    if let Err(e) = crate::core::files::write_atomic(&paths.config_file, text.as_bytes()) {
        return Saved::WriteFailed(format!("{}: {e}", paths.config_file.display()));
    }
    // Changed only when asked: a test or a second data folder leaves the user's login alone.
    if form.autostart != platform.login_entry(paths)
        && let Err(e) = platform.set_login_entry(form.autostart, paths)
    {
        return Saved::AutostartFailed(e.to_string());
    }
    let Some(password) = password else { return Saved::Done };
    let (host, user) = (form.pop_host.trim().to_owned(), form.pop_username.trim().to_owned());
    // The keyring may wait on the desktop (an unlock prompt): off the runtime, so the engine
    // and the other buttons go on meanwhile.
    let kept = password.clone();
    let stored = tokio::task::spawn_blocking(move || platform.keep_password(&user, &host, &kept))
        .await
        .unwrap_or_else(|e| Err(secrets::SecretError::KeyringUnavailable { detail: e.to_string() }));
    match stored {
        Ok(()) => {
            *typed = None;
            Saved::Done
        }
        Err(e) => {
            *typed = Some(password);
            Saved::PasswordNotKept(e.to_string())
        }
    }
}

/// `save`, and the result to the UI. True when the config was written (the engine restarts).
async fn save_and_tell(
    paths: &Paths,
    form: &Form,
    password: Option<Password>,
    typed: &mut Option<Password>,
    shared: &Shared,
    then: impl FnOnce(),
) -> bool {
    let saved = save(paths, form, password, typed, shared.hooks.platform.clone()).await;
    let written = !matches!(saved, Saved::Invalid(_) | Saved::WriteFailed(_));
    if written {
        then();
    }
    // Said last: once the window hears 保存's answer, everything saving does has been done.
    shared.hand(Handed::Saved(saved));
    written
}

/// Waits for settings when there is no usable config; the rest of the window still works.
async fn without_config(
    paths: &Paths,
    rx: &mut mpsc::Receiver<Request>,
    shared: &Shared,
    typed: &mut Option<Password>,
) -> End {
    while let Some(r) = rx.recv().await {
        let Some(r) = assistant(r, paths, shared).await else { continue };
        if let Request::FinishSetup { form, password, test_mail } = r {
            if finish_setup(paths, &form, password, test_mail, typed, shared).await {
                return End::Reload;
            }
            continue;
        }
        match common(r, paths, shared) {
            Some(Request::SaveSettings { form, password }) => {
                let written = save_and_tell(paths, &form, password, typed, shared, || {}).await;
                if written {
                    return End::Reload;
                }
            }
            Some(Request::Shutdown { .. }) => return End::Quit { background: false },
            // Nothing to send with yet: said, not dropped.
            Some(Request::Send { .. } | Request::Diagnose | Request::Engine(_)) => shared.problem(Problem::SetupNeeded),
            _ => {}
        }
    }
    End::Quit { background: false }
}

async fn session(
    paths: &Paths,
    rx: &mut mpsc::Receiver<Request>,
    shared: &Shared,
    typed: &mut Option<Password>,
) -> End {
    let config = match Config::load(&paths.config_file) {
        Ok(c) => c,
        Err(e) => {
            let problem = if e.problem == ConfigProblem::Missing {
                Problem::SetupNeeded
            } else {
                Problem::Failed(Described::of(&e))
            };
            shared.publish(|v| {
                v.problem = Some(problem);
                v.account.clear();
            });
            return without_config(paths, rx, shared, typed).await;
        }
    };
    let outbox = match Outbox::open(&paths.data_dir) {
        Ok(o) => o,
        Err(e) => {
            shared.problem(Problem::Failed(Described::of(&e)));
            return without_config(paths, rx, shared, typed).await;
        }
    };
    let (waiting, sent) = lists(&outbox);
    shared.publish(|v| {
        v.account = config.account.address.clone();
        v.settings = Form::from_config(&config);
        v.waiting = waiting;
        v.sent = sent;
        v.problem = None;
    });
    let trust = match TrustAnchors::load(config.tls.ca_file.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            shared.problem(Problem::Failed(Described::of(&e)));
            return without_config(paths, rx, shared, typed).await;
        }
    };
    // The password is looked up once per session; a missing one is shown, and sending waits.
    let (password, from) = match typed.clone() {
        Some(p) => (Some(p), PasswordFrom::ThisSession),
        // The keyring or `password_command` may take a while: off the runtime.
        None => match tokio::task::spawn_blocking({
            let pop = config.pop.clone();
            let platform = shared.hooks.platform.clone();
            move || platform.password(&pop)
        })
        .await
        .unwrap_or_else(|e| Err(secrets::SecretError::KeyringUnavailable { detail: e.to_string() }))
        {
            Ok((p, source)) => (Some(p), PasswordFrom::Found(source)),
            Err(e) => {
                shared.problem(Problem::Failed(Described::of(&e)));
                (None, PasswordFrom::Missing)
            }
        },
    };
    shared.publish(|v| v.password = Some(from));
    let store = window::Store::new(&paths.data_dir);
    let clock = SystemClock;
    let stop = AtomicBool::new(false);
    let mut d = Deliverer::new(&config, password.as_ref(), &trust, &store, &clock);
    d.stop = Some(&stop);
    let (etx, erx) = mpsc::channel(64);
    let host = Host::new(&paths.data_dir, &outbox, &d);
    let on_event = |event: Event| {
        if let Event::Flushed(f) = &event {
            // Another port took the mail, found now: said once, where the student looks.
            if let Some(learned) = f.learned {
                shared.hand(Handed::RouteLearned(learned));
            }
            if let Some(route) = f.route {
                shared.publish(|v| v.smtp_route = Some(route));
            }
        }
        let (waiting, sent) = lists(&outbox);
        if config.app.notifications {
            announce(&event, &waiting, &sent, &shared.hooks);
        }
        let edited = match &event {
            Event::Edited(_, Some(text)) => Unsent::from_text(text),
            _ => None,
        };
        shared.publish(|v| {
            v.waiting = waiting;
            v.sent = sent;
            match event {
                Event::Snapshot(s) => v.snapshot = Some(s),
                Event::Flushed(f) => {
                    if let Some(e) = f.stopped {
                        v.problem = Some(Problem::Failed(Described::of(&e)));
                    } else if !f.sent.is_empty() {
                        v.problem = None;
                    }
                }
                Event::LoginFailed(e) => v.problem = Some(Problem::Failed(Described::of(&e))),
                Event::LoggedIn(_) => v.problem = None,
                Event::Error(e) => v.problem = Some(Problem::Failed(Described::of(&e))),
                Event::Edited(_, Some(_)) if edited.is_none() => {
                    v.problem = Some(Problem::Draft("the stored draft cannot be read".into()));
                }
                Event::Edited(..) | Event::Woken(_) => {}
            }
        });
        if let Some(d) = edited {
            shared.hand(Handed::ForCompose(d));
        }
    };
    // UI requests become engine commands; building a message (it reads attachment files)
    // happens here, never on the UI thread.
    // 接続テスト, beside the request loop; stopped when the session ends.
    let (dtx, mut drx) = mpsc::channel::<()>(1);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let refresh = etx.clone();
    let refresh_for_server = etx.clone();
    let diagnoser = async {
        while drx.recv().await.is_some() {
            shared.publish(|v| v.diagnosis = Some((true, Vec::new())));
            let known = password.as_ref();
            let options = diagnose::Options::default();
            let mut on_step = |r: &StepResult| {
                let r = r.clone();
                shared.publish(|v| {
                    if let Some((_, steps)) = v.diagnosis.as_mut() {
                        steps.push(r);
                    }
                });
            };
            let run = diagnose::run(&config, known, &trust, &clock, &store, &options, &mut on_step);
            tokio::select! {
                steps = run => {
                    shared.publish(|v| v.diagnosis = Some((false, steps)));
                    // Its login opened the relay window: the countdown shows it.
                    let _ = refresh.send(Command::Refresh).await;
                }
                _ = stop_rx.wait_for(|stop| *stop) => return,
            }
        }
    };
    let forward = async {
        let mut end = End::Quit { background: false };
        while let Some(r) = rx.recv().await {
            let cmd = match common(r, paths, shared) {
                None => continue,
                Some(Request::Send { draft, now, charset }) => match build(&config, &draft, charset, clock.now()) {
                    Ok((outgoing, subject, to)) => {
                        let queued =
                            Command::Enqueue { outgoing: Box::new(outgoing), subject, to, draft: draft.to_text().ok() };
                        if etx.send(queued).await.is_ok() && now {
                            let _ = etx.send(Command::FlushNow).await;
                        }
                        continue;
                    }
                    Err(e) => {
                        // Nothing is lost: the draft goes back to 作成 with the reason.
                        shared.problem(Problem::Failed(Described::of(&e)));
                        shared.hand(Handed::ForCompose(*draft));
                        continue;
                    }
                },
                Some(Request::SaveSettings { form, password }) => {
                    let new_password = password.is_some();
                    // A queue paused because the server refused the password waits for a new
                    // one; the settings file may not change with it (the password is not in it).
                    let resume = || {
                        if new_password
                            && let Ok(Some(p)) = outbox.paused()
                            && p.error.kind.refused_login()
                            && let Err(e) = outbox.resume()
                        {
                            shared.problem(Problem::Failed(Described::of(&e)));
                        }
                    };
                    if !save_and_tell(paths, &form, password, typed, shared, resume).await {
                        continue;
                    }
                    end = End::Reload;
                    break;
                }
                Some(Request::Engine(command)) => command,
                Some(Request::Diagnose) => {
                    // Runs beside this loop: the other buttons keep working meanwhile. One at a
                    // time; asked again while one runs, the next follows it.
                    let _ = dtx.try_send(());
                    continue;
                }
                Some(Request::Open(id)) => {
                    let opened = match (outbox.draft_of(id), outbox.get(id)) {
                        (Ok(Some(text)), _) if Unsent::from_text(&text).is_some() => {
                            Ok(Unsent::from_text(&text).unwrap_or_default())
                        }
                        (_, Ok(Some((_, raw)))) => Err(String::from_utf8_lossy(&raw).into_owned()),
                        _ => continue,
                    };
                    shared.publish(|v| v.opened = Some((id, opened)));
                    continue;
                }
                Some(Request::Shutdown { background }) => {
                    end = End::Quit { background };
                    break;
                }
                Some(r @ (Request::Discover(_) | Request::TryAccount { .. })) => {
                    assistant(r, paths, shared).await;
                    continue;
                }
                Some(Request::FinishSetup { form, password, test_mail }) => {
                    if !finish_setup(paths, &form, password, test_mail, typed, shared).await {
                        continue;
                    }
                    end = End::Reload;
                    break;
                }
                Some(Request::SaveDraft(_) | Request::Inspect(_) | Request::PickFiles | Request::SaveGeometry(_)) => {
                    continue;
                }
                #[cfg(test)]
                Some(Request::Panic) => continue,
            };
            if etx.send(cmd).await.is_err() {
                break;
            }
        }
        // A message in flight is finished, then the engine stops; a 接続テスト is dropped.
        stop.store(true, Ordering::SeqCst);
        let _ = stop_tx.send(true);
        drop(dtx);
        let _ = etx.send(Command::Shutdown).await;
        end
    };
    // The submission server, while `[submission] enabled`: beside the rest, ended with it.
    let nudge = refresh_for_server;
    let server = async {
        let s = &config.submission;
        if !s.enabled {
            shared.publish(|v| v.submission = None);
        } else {
            match host.open_submission().await {
                Ok(server) => {
                    let login = server.login.clone();
                    shared.publish(|v| v.submission = Some(SubmissionView { port: s.port, login, problem: None }));
                    host.serve(server, nudge, std::future::pending()).await;
                }
                Err(problem) => shared.publish(|v| {
                    v.submission = Some(SubmissionView { port: s.port, login: None, problem: Some(problem) })
                }),
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        ((), end, ()) = async { tokio::join!(host.engine(erx, on_event), forward, diagnoser) } => end,
        () = server => End::Quit { background: false },
    }
}

/// Notices for a flush: what was sent (named by the first subject) and each message that failed
/// for good. The flush names messages by id; the subjects come from the lists just read.
fn announce(event: &Event, waiting: &[Row], sent: &[Row], hooks: &Hooks) {
    let Event::Flushed(f) = event else { return };
    let subject =
        |id: i64| waiting.iter().chain(sent).find(|r| r.id == id).map(|r| r.subject.clone()).unwrap_or_default();
    if let Some((id, _)) = f.sent.first() {
        (hooks.notify)(Notice::Sent { count: f.sent.len(), subject: subject(*id) });
    }
    for (id, _, reason) in &f.failed {
        (hooks.notify)(Notice::Failed { subject: subject(*id), reason: reason.clone() });
    }
}

/// The message from a draft, in `charset` (`None`: the account's).
fn build(
    config: &Config,
    u: &Unsent,
    charset: Option<Charset>,
    now: SystemTime,
) -> Result<(Outgoing, String, String), compose::ComposeError> {
    let mut d = u.draft();
    d.from_address = config.account.address.clone();
    d.from_name = config.account.display_name.clone();
    d.charset = charset.unwrap_or(config.account.charset);
    let built = compose::build(&d, now)?;
    Ok((built, d.subject.clone(), d.listed_recipients()))
}

/// What goes on once the window closes (the command's words), if anything. With the submission
/// server kept at login (`[submission] enabled` and 「ログイン時に起動する」), `serve --at-login`
/// takes the port back (and sends what waits), unless mail waits and the user chose 「終了する」.
/// Otherwise 「バックグラウンドで送信を続ける」 leaves `watch --until-empty`.
fn successor(paths: &Paths, background: bool) -> Option<&'static [&'static str]> {
    let resident = Config::load(&paths.config_file).is_ok_and(|c| c.submission.enabled && c.app.autostart);
    let nothing_waits =
        || Outbox::open(&paths.data_dir).and_then(|o| o.counts()).is_ok_and(|c| c.queued == 0 && c.sending == 0);
    if resident && (background || nothing_waits()) {
        Some(&["serve", "--at-login"])
    } else if background {
        Some(&["watch", "--until-empty"])
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_for(worker: &Worker, what: &str, done: impl Fn(&View) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done(&worker.view()) {
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}: {:?}", worker.view().problem);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Issue 11, defect 2: a worker that dies is started again and the window is told; after
    /// `RESTARTS` deaths it stays stopped and says so — never a silent 「直前の操作をまだ処理しています」.
    #[test]
    fn a_worker_that_dies_is_restarted_and_then_reported() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths { config_file: dir.path().join("none.toml"), data_dir: dir.path().join("data") };
        let hooks = Hooks {
            repaint: Arc::new(|| {}),
            notify: Arc::new(|_| {}),
            discovery: discover::Options::default(),
            platform: Arc::new(crate::app::platform::Isolated::without_keyring()),
        };
        let worker = Worker::spawn(paths, hooks);
        wait_for(&worker, "the first start", |v| v.problem == Some(Problem::SetupNeeded));
        worker.request(Request::Panic).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !worker.take_handed().contains(&Handed::Restarted) {
            assert!(std::time::Instant::now() < deadline, "the restart was not told");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // It works again: a file's size is looked up.
        let file = dir.path().join("a.txt");
        std::fs::write(&file, b"12345").unwrap();
        worker.request(Request::Inspect(vec![file.clone()])).unwrap();
        wait_for(&worker, "the restarted worker's answer", |v| v.sizes.get(&file) == Some(&Ok(5)));
        for _ in 0..RESTARTS {
            worker.request(Request::Panic).unwrap();
        }
        wait_for(&worker, "the report", |v| v.problem == Some(Problem::WorkerStopped));
    }

    /// A queue paused because the server refused the password goes on once a new password is
    /// saved, even though the settings file stays the same (the password is not in it).
    #[test]
    fn a_new_password_lifts_a_wrong_password_pause() {
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("config.toml");
        let text = "[account]\naddress = \"taro@example.ac.jp\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"taro\"\n[smtp]\nport = 2\n";
        crate::core::files::write_atomic(&config_file, text.as_bytes()).unwrap();
        let config = Config::load(&config_file).unwrap();
        let data = dir.path().join("data");
        let pause = |kind| crate::core::outbox::Pause {
            error: Described::local(kind, "-ERR"),
            config: config.fingerprint.clone(),
        };
        Outbox::open(&data).unwrap().pause(&pause(Kind::WrongPassword)).unwrap();
        let paths = Paths { config_file: config_file.clone(), data_dir: data.clone() };
        let hooks = Hooks {
            repaint: Arc::new(|| {}),
            notify: Arc::new(|_| {}),
            discovery: discover::Options::default(),
            platform: Arc::new(crate::app::platform::Isolated::without_keyring()),
        };
        let worker = Worker::spawn(paths, hooks);
        wait_for(&worker, "the session", |v| v.account == "taro@example.ac.jp");
        // 保存 without a new password: the pause stays.
        let form = Box::new(Form::from_config(&config));
        worker.request(Request::SaveSettings { form: form.clone(), password: None }).unwrap();
        let saved = |w: &Worker| w.take_handed().into_iter().any(|h| matches!(h, Handed::Saved(_)));
        let answered = |w: &Worker| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !saved(w) {
                assert!(std::time::Instant::now() < deadline, "保存 got no answer");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        };
        answered(&worker);
        assert!(Outbox::open(&data).unwrap().paused().unwrap().is_some(), "保存 without a password lifted the pause");
        // With one (kept for this session where there is no keyring): it lifts.
        worker.request(Request::SaveSettings { form, password: Some(Password::new("new-secret".into())) }).unwrap();
        answered(&worker);
        assert!(Outbox::open(&data).unwrap().paused().unwrap().is_none(), "a new password did not lift the pause");
        // An untrusted certificate is not cured by a password.
        Outbox::open(&data).unwrap().pause(&pause(Kind::Certificate)).unwrap();
        worker
            .request(Request::SaveSettings {
                form: Box::new(Form::from_config(&config)),
                password: Some(Password::new("again".into())),
            })
            .unwrap();
        // 保存's answer comes after the pause was looked at: waited for, not a fixed sleep that
        // passes when the worker has not acted yet.
        answered(&worker);
        assert!(Outbox::open(&data).unwrap().paused().unwrap().is_some(), "a password lifted a certificate pause");
    }

    /// Issue 13: what carries on once the window closes. With the submission server kept at
    /// login, `serve --at-login` takes the port back, unless mail waits and the user chose
    /// 「終了する」; otherwise only 「バックグラウンドで送信を続ける」 leaves a process behind.
    #[test]
    fn a_closing_window_hands_the_port_back_to_the_login_server() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths { config_file: dir.path().join("config.toml"), data_dir: dir.path().join("data") };
        let write = |submission: bool, autostart: bool| {
            let text = format!(
                "[account]\naddress = \"taro@example.ac.jp\"\n[pop]\nhost = \"127.0.0.1\"\nusername = \"taro\"\n[smtp]\n[submission]\nenabled = {submission}\n[app]\nautostart = {autostart}\n"
            );
            crate::core::files::write_atomic(&paths.config_file, text.as_bytes()).unwrap();
        };
        let serve: Option<&[&str]> = Some(&["serve", "--at-login"]);
        let watch: Option<&[&str]> = Some(&["watch", "--until-empty"]);
        write(true, true);
        assert_eq!(successor(&paths, false), serve, "nothing waits: the server comes back");
        assert_eq!(successor(&paths, true), serve);
        let ob = Outbox::open(&paths.data_dir).unwrap();
        let d = crate::core::compose::Draft {
            from_address: "taro@example.ac.jp".into(),
            to: vec!["a@example.jp".into()],
            subject: "x".into(),
            ..Default::default()
        };
        ob.enqueue(&compose::build(&d, SystemTime::now()).unwrap(), "x", "a@example.jp", SystemTime::now()).unwrap();
        assert_eq!(successor(&paths, false), None, "「終了する」 with mail waiting sends nothing now");
        assert_eq!(successor(&paths, true), serve);
        write(true, false);
        assert_eq!(successor(&paths, true), watch);
        assert_eq!(successor(&paths, false), None);
        write(false, true);
        assert_eq!(successor(&paths, true), watch);
    }

    /// Issue 13: with `[submission] enabled` the window's worker opens the submission server on
    /// loopback, publishes where it listens and the local login (kept 0600), and a program can
    /// connect; a taken port is reported instead.
    #[test]
    fn the_window_runs_the_submission_server_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config_file = dir.path().join("config.toml");
        let text = format!(
            "[account]\naddress = \"taro@example.ac.jp\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"taro\"\n[smtp]\nport = 2\n[submission]\nenabled = true\nport = {port}\n"
        );
        crate::core::files::write_atomic(&config_file, text.as_bytes()).unwrap();
        let data = dir.path().join("data");
        let hooks = Hooks {
            repaint: Arc::new(|| {}),
            notify: Arc::new(|_| {}),
            discovery: discover::Options::default(),
            platform: Arc::new(crate::app::platform::Isolated::without_keyring()),
        };
        let worker = Worker::spawn(Paths { config_file: config_file.clone(), data_dir: data.clone() }, hooks);
        wait_for(&worker, "the server", |v| {
            v.submission.as_ref().is_some_and(|s| s.problem.is_none() && s.login.is_some())
        });
        let mut greeting = String::new();
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut greeting).unwrap();
        assert!(greeting.starts_with("220 "), "{greeting}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(data.join(crate::core::smtpd::LOGIN_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the local login is readable by others");
        }
        drop(worker);
        // Taken by someone else: said, not silent.
        let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let hooks = Hooks {
            repaint: Arc::new(|| {}),
            notify: Arc::new(|_| {}),
            discovery: discover::Options::default(),
            platform: Arc::new(crate::app::platform::Isolated::without_keyring()),
        };
        let worker = Worker::spawn(Paths { config_file, data_dir: data }, hooks);
        wait_for(&worker, "the problem", |v| {
            v.submission.as_ref().is_some_and(|s| {
                matches!(
                    &s.problem,
                    Some(SubmissionProblem::Port(crate::core::smtpd::PortTaken {
                        holder: crate::core::smtpd::Holder::Silent,
                        ..
                    }))
                )
            })
        });
    }

    #[test]
    fn the_window_geometry_round_trips_and_nonsense_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(saved_geometry(dir.path()), None);
        let g = Geometry { size: [960.0, 700.0], at: Some([-1200.0, 40.0]) };
        save_geometry(dir.path(), g).unwrap();
        assert_eq!(saved_geometry(dir.path()), Some(g));
        // Wayland tells no position: the size alone.
        save_geometry(dir.path(), Geometry { size: [800.0, 600.0], at: None }).unwrap();
        assert_eq!(saved_geometry(dir.path()), Some(Geometry { size: [800.0, 600.0], at: None }));
        for bad in ["", "abc", "10 10", "800", "1e9 600", "800 600 99999 0", "NaN 600"] {
            std::fs::write(dir.path().join(GEOMETRY_FILE), bad).unwrap();
            let g = saved_geometry(dir.path());
            assert!(g.is_none() || g.is_some_and(|g| g.at.is_none() && g.size == [800.0, 600.0]), "{bad:?} gave {g:?}");
        }
    }

    /// Issue 26: the worker reaches the keyring and the login entry through its platform only:
    /// with a stand-in, a saved password is kept there and found there by the next session, and
    /// the login entry is set there; nothing of the user's is touched.
    #[test]
    fn the_keyring_and_the_login_entry_are_the_platforms() {
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("config.toml");
        let paths = Paths { config_file: config_file.clone(), data_dir: dir.path().join("data") };
        let platform = Arc::new(crate::app::platform::Isolated::new());
        let hooks = Hooks {
            repaint: Arc::new(|| {}),
            notify: Arc::new(|_| {}),
            discovery: discover::Options::default(),
            platform: platform.clone(),
        };
        let worker = Worker::spawn(paths.clone(), hooks);
        wait_for(&worker, "the first start", |v| v.problem == Some(Problem::SetupNeeded));
        let text = "[account]\naddress = \"taro@example.ac.jp\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"taro\"\n[smtp]\nport = 2\n";
        let mut form = Form::from_config(&Config::parse(text, &config_file).unwrap());
        form.autostart = true;
        worker
            .request(Request::SaveSettings {
                form: Box::new(form),
                password: Some(Password::new("kept-in-the-stand-in".into())),
            })
            .unwrap();
        wait_for(&worker, "the password from the stand-in keyring", |v| {
            v.password == Some(PasswordFrom::Found(Source::Keyring))
        });
        use crate::app::platform::Platform as _;
        assert!(platform.login_entry(&paths), "the login entry went elsewhere");
        assert!(platform.started().is_empty());
    }
}
