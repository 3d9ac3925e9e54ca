//! The window's worker thread: owns a tokio runtime, the outbox and the engine, takes
//! `Request`s from the window over a channel, publishes a `View` (the engine's snapshot, the rows
//! to list, the saved settings) that the window reads without blocking, and hands one-time
//! results over as `Handed` events; after every change it calls the repaint hook. It also does
//! the window's other I/O: saving settings (config file and keyring), the draft file, attachment
//! sizes, the file dialog, and handing the outbox (and the submission port) to a background
//! `popsend watch` or `serve` when the window closes. The window knows it only as a `Backend`; it
//! knows egui only as the repaint hook. It may block (the keyring off its runtime); it never draws.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::mpsc;

use super::geometry::save_geometry;
use super::saving::{Typed, save_and_tell};
use super::setup::{assistant, finish_setup};
use super::{
    AccountView, Backend, Handed, Hooks, LIST_LIMIT, Notice, PasswordFrom, Problem, Request, SubmissionView, View,
};
use crate::app::form::Form;
use crate::core::message::compose::Outgoing;
use crate::core::message::compose::{self, Charset};
use crate::core::message::contacts;
use crate::core::message::drafts::{self, Unsent};
use crate::core::problem::kind::Described;
use crate::core::protocol::net::TrustAnchors;
use crate::core::sending::deliver::Deliverer;
use crate::core::sending::engine::{Command, Event};
use crate::core::sending::host::Host;
use crate::core::sending::knowledge;
use crate::core::sending::outbox::{Outbox, Row, Status};
use crate::core::setup::account::{Account, Config, ConfigProblem, Paths};
use crate::core::setup::diagnose::{self, StepResult};
use crate::core::setup::presets::{self};
use crate::core::system::clock::{Clock, SystemClock};
use crate::core::system::secrets::{self, Password};

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
pub(super) struct Shared {
    view: Arc<Mutex<View>>,
    handed: Arc<Mutex<Vec<Handed>>>,
    pub(super) hooks: Hooks,
}

impl Shared {
    pub(super) fn publish(&self, change: impl FnOnce(&mut View)) {
        // A panic while the view was held (see `keep_running`) leaves it usable, not lost.
        let mut v = self.view.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        v.version += 1;
        change(&mut v);
        drop(v);
        (self.hooks.repaint)();
    }

    /// A one-time result for the window.
    pub(super) fn hand(&self, h: Handed) {
        self.handed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(h);
        (self.hooks.repaint)();
    }

    pub(super) fn problem(&self, p: Problem) {
        self.publish(|v| {
            v.problem = Some(p);
            v.problem_of = 0;
        });
    }
}

/// The rows of every account's outbox (each with its account), newest first.
fn lists(outboxes: &[Outbox]) -> (Arc<Vec<Row>>, Arc<Vec<Row>>) {
    let of = |states: &[Status]| {
        let mut rows: Vec<Row> = outboxes
            .iter()
            .enumerate()
            .flat_map(|(i, ob)| {
                ob.list(states, LIST_LIMIT).unwrap_or_default().into_iter().map(move |r| Row { account: i, ..r })
            })
            .collect();
        if outboxes.len() > 1 {
            rows.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
            rows.truncate(LIST_LIMIT);
        }
        Arc::new(rows)
    };
    (of(&[Status::Queued, Status::Sending, Status::Failed]), of(&[Status::Sent]))
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
            Ok(Some(d)) => to_compose(shared, d),
            Ok(None) => {}
            Err(e) => shared.problem(Problem::Draft(e.to_string())),
        }
        publish_kept(paths, shared);
        match contacts::load(&paths.data_dir) {
            Ok(book) => shared.publish(|v| v.contacts = Arc::new(book)),
            Err(e) => shared.problem(Problem::Contacts(e.to_string())),
        }
        shared.publish(|v| v.draft_checked = true);
    }
    // A password typed in 設定 that the keyring would not keep.
    let mut typed = Typed::default();
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
                    && let Err(e) = shared.hooks.platform.start(paths, typed.first.as_ref(), args)
                {
                    // The window is gone: standard error is the only place left to say it.
                    eprintln!("popsend: cannot start sending in the background: {e}");
                }
                return;
            }
        }
    }
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
        Request::KeepDraft(d) => {
            match drafts::keep(&paths.data_dir, &d, std::time::SystemTime::now()) {
                Ok(_) => shared.hand(Handed::KeptDraft),
                // Not kept: the message goes back to 作成, with why.
                Err(e) => {
                    shared.problem(Problem::Draft(e.to_string()));
                    shared.hand(Handed::ForCompose(*d));
                }
            }
            publish_kept(paths, shared);
        }
        Request::OpenKept { id, put_aside } => {
            // What 作成 holds is put aside first; if it cannot be, nothing moves (it stays in
            // 作成, and the draft stays in the list).
            let aside = put_aside
                .map_or(Ok(String::new()), |d| drafts::keep(&paths.data_dir, &d, std::time::SystemTime::now()));
            match aside.and_then(|_| drafts::open_kept(&paths.data_dir, &id)) {
                Ok(Some(d)) => {
                    inspect(shared, d.attachments.clone());
                    shared.hand(Handed::OpenedKept(d));
                }
                Ok(None) => {}
                Err(e) => shared.problem(Problem::Draft(e.to_string())),
            }
            publish_kept(paths, shared);
        }
        Request::DeleteKept(id) => {
            if let Err(e) = drafts::remove_kept(&paths.data_dir, &id) {
                shared.problem(Problem::Draft(e.to_string()));
            }
            publish_kept(paths, shared);
        }
        Request::ImportContacts(Some(files)) => import_contacts(paths, shared, &files),
        Request::ImportContacts(None) => {
            // The dialog is modal for the user, not for the engine: on its own thread. The
            // choice comes back through the window, so the import runs here, one at a time.
            let shared = shared.clone();
            std::thread::spawn(move || match shared.hooks.platform.pick_files() {
                Ok(Some(files)) => shared.hand(Handed::ContactFiles(files)),
                Ok(None) => {}
                Err(why) => shared.problem(Problem::Dialog(why)),
            });
        }
        // Each change to the file as it is on disk (never the window's copy over it): a book
        // that cannot be read is not overwritten.
        Request::AddContact(c) => change_contacts(paths, shared, |book| {
            contacts::merge(book, vec![c]);
        }),
        Request::DeleteContact(address) => change_contacts(paths, shared, |book| {
            book.retain(|c| !c.address.eq_ignore_ascii_case(&address));
        }),
        Request::ExportContacts(to) => {
            let (shared, paths) = (shared.clone(), paths.clone());
            std::thread::spawn(move || {
                let to = match to {
                    Some(p) => Ok(Some(p)),
                    None => shared.hooks.platform.pick_save("popsend-contacts.vcf"),
                };
                let done = match to {
                    Ok(Some(path)) => contacts::load(&paths.data_dir)
                        .and_then(|book| std::fs::write(&path, contacts::export_vcard(&book)))
                        .map(|()| path.clone())
                        .map_err(|e| format!("{}: {e}", path.display())),
                    Ok(None) => return,
                    Err(why) => Err(why),
                };
                shared.hand(Handed::ContactsExported(done));
            });
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

/// A draft for 作成, with its attachments' sizes looked up.
fn to_compose(shared: &Shared, d: Unsent) {
    inspect(shared, d.attachments.clone());
    shared.hand(Handed::ForCompose(d));
}

/// アドレス帳 as on disk, changed by `change`, written back and shown; a book that cannot be read
/// is left as it is and the problem said.
fn change_contacts(paths: &Paths, shared: &Shared, change: impl FnOnce(&mut Vec<contacts::Contact>)) {
    let mut book = match contacts::load(&paths.data_dir) {
        Ok(b) => b,
        Err(e) => return shared.problem(Problem::Contacts(e.to_string())),
    };
    change(&mut book);
    match contacts::save(&paths.data_dir, &book) {
        Ok(()) => shared.publish(|v| v.contacts = Arc::new(book)),
        Err(e) => shared.problem(Problem::Contacts(e.to_string())),
    }
}

/// The most an exported address book may be: a file larger than this was picked by mistake (a
/// mailbox, an archive) and is not read into memory.
const CONTACTS_FILE_MAX: u64 = 16 * 1024 * 1024;

/// Exported address books into アドレス帳 (each address once), and what was found, to the window.
fn import_contacts(paths: &Paths, shared: &Shared, files: &[PathBuf]) {
    let mut book = match contacts::load(&paths.data_dir) {
        Ok(b) => b,
        Err(e) => return shared.problem(Problem::Contacts(e.to_string())),
    };
    let (mut added, mut skipped, mut unreadable) = (0, 0, Vec::new());
    for f in files {
        if std::fs::metadata(f).is_ok_and(|m| m.len() > CONTACTS_FILE_MAX) {
            unreadable.push(format!("{}: > 16 MB", f.display()));
            continue;
        }
        match std::fs::read(f) {
            Ok(bytes) => {
                let found = contacts::import(&bytes);
                skipped += found.skipped;
                added += contacts::merge(&mut book, found.contacts);
            }
            Err(e) => unreadable.push(format!("{}: {e}", f.display())),
        }
    }
    if let Err(e) = contacts::save(&paths.data_dir, &book) {
        return shared.problem(Problem::Contacts(e.to_string()));
    }
    shared.publish(|v| v.contacts = Arc::new(book));
    shared.hand(Handed::ContactsImported { added, skipped, unreadable });
}

/// The drafts put aside into the view; one that cannot be read is named as the window's problem.
fn publish_kept(paths: &Paths, shared: &Shared) {
    let (kept, damaged) = drafts::kept(&paths.data_dir);
    shared.publish(|v| {
        v.kept = Arc::new(kept);
        v.kept_damaged = Arc::new(damaged);
    });
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

/// Waits for settings when there is no usable config; the rest of the window still works.
async fn without_config(paths: &Paths, rx: &mut mpsc::Receiver<Request>, shared: &Shared, typed: &mut Typed) -> End {
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
            // No account the file could be for: said, not dropped.
            Some(Request::KeepPasswordInFile(_)) => {
                shared.hand(Handed::PasswordFile(Err(crate::fl!("set-password-file-nothing"))));
                shared.publish(|v| v.password = Some(PasswordFrom::Missing));
            }
            // Nothing to send with yet: said, not dropped.
            Some(Request::Send { .. } | Request::Diagnose(_) | Request::Engine(..)) => {
                shared.problem(Problem::SetupNeeded)
            }
            _ => {}
        }
    }
    End::Quit { background: false }
}

async fn session(paths: &Paths, rx: &mut mpsc::Receiver<Request>, shared: &Shared, typed: &mut Typed) -> End {
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
                v.others.clear();
            });
            return without_config(paths, rx, shared, typed).await;
        }
    };
    let every = config.every(paths);
    let mut outboxes = Vec::new();
    let mut trusts = Vec::new();
    for a in &every {
        let opened = Outbox::open(&a.data_dir).map_err(|e| Described::of(&e)).and_then(|ob| {
            TrustAnchors::load(a.config.tls.ca_file.as_deref()).map(|t| (ob, t)).map_err(|e| Described::of(&e))
        });
        match opened {
            Ok((ob, trust)) => {
                outboxes.push(ob);
                trusts.push(trust);
            }
            Err(d) => {
                shared.problem(Problem::Failed(d));
                return without_config(paths, rx, shared, typed).await;
            }
        }
    }
    let (waiting, sent) = lists(&outboxes);
    shared.publish(|v| {
        v.account = config.account.address.clone();
        v.label = config.label();
        v.others = every[1..]
            .iter()
            .map(|a| AccountView {
                label: a.label(),
                address: a.config.account.address.clone(),
                ..AccountView::default()
            })
            .collect();
        v.settings = Form::from_config(&config);
        v.waiting = waiting;
        v.sent = sent;
        v.problem = None;
    });
    // The passwords are looked up once per session; a missing one is shown, and that account's
    // sending waits (the others' does not).
    let mut passwords = Vec::new();
    for a in &every {
        let (password, from) = session_password(a, typed.of(a), shared).await;
        shared.publish(|v| match a.index {
            0 => v.password = Some(from),
            i => {
                if let Some(o) = v.others.get_mut(i - 1) {
                    o.password = Some(from);
                }
            }
        });
        passwords.push(password);
    }
    let stores: Vec<knowledge::Store> = every.iter().map(|a| knowledge::Store::new(&a.data_dir)).collect();
    let clock = SystemClock;
    let stop = AtomicBool::new(false);
    let deliverers: Vec<Deliverer> = (0..every.len())
        .map(|i| {
            let mut d = Deliverer::new(&every[i].config, passwords[i].as_ref(), &trusts[i], &stores[i], &clock);
            d.stop = Some(&stop);
            d
        })
        .collect();
    let hosts: Vec<Host> =
        (0..every.len()).map(|i| Host::new(&every[i].data_dir, &outboxes[i], &deliverers[i])).collect();
    let (etxs, erxs): (Vec<_>, Vec<_>) = every.iter().map(|_| mpsc::channel::<Command>(64)).unzip();
    let several = every.len() > 1;
    // UI requests become engine commands; building a message (it reads attachment files)
    // happens here, never on the UI thread.
    // 接続テスト, beside the request loop; stopped when the session ends.
    let (dtx, drx) = mpsc::channel::<usize>(1);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let refresh = etxs.clone();
    let nudges = etxs.clone();
    let diagnoser = diagnoser(&deliverers, drx, stop_rx, refresh, shared);
    let forward = async {
        let mut end = End::Quit { background: false };
        while let Some(r) = rx.recv().await {
            let (k, cmd) = match common(r, paths, shared) {
                None => continue,
                Some(Request::Send { draft, now, charset, at, ticket }) => {
                    // By the address 差出人 names (an index may have moved with a change to the
                    // settings); one no longer there sends nothing and comes back.
                    let from = draft.from.trim();
                    let k = match from.is_empty() {
                        true => Some(0),
                        false => every.iter().position(|a| a.config.account.address.eq_ignore_ascii_case(from)),
                    };
                    let Some(k) = k else {
                        shared.problem(Problem::SenderGone(from.to_owned()));
                        shared.hand(Handed::ForCompose(*draft));
                        continue;
                    };
                    match build(&every[k].config, &draft, charset, clock.now()) {
                        Ok((outgoing, subject, to)) => {
                            let message_id = outgoing.message_id.clone();
                            let queued = Command::Enqueue {
                                outgoing: Box::new(outgoing),
                                subject,
                                to,
                                draft: draft.to_text().ok(),
                                send_at: at,
                            };
                            if etxs[k].send(queued).await.is_ok() {
                                shared.hand(Handed::Queued { ticket, message_id });
                                if now {
                                    let _ = etxs[k].send(Command::FlushNow).await;
                                }
                            }
                            continue;
                        }
                        Err(e) => {
                            // Nothing is lost: the draft goes back to 作成 with the reason.
                            shared.problem(Problem::Failed(Described::of(&e)));
                            shared.hand(Handed::ForCompose(*draft));
                            continue;
                        }
                    }
                }
                Some(Request::SaveSettings { form, password }) => {
                    let new_password = password.is_some();
                    let edited = outboxes.get(form.editing);
                    // A queue paused because the server refused the password waits for a new
                    // one; the settings file may not change with it (the password is not in it).
                    let resume = || {
                        if new_password
                            && let Some(outbox) = edited
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
                Some(Request::Engine(Some(k), command)) if k < every.len() => (Some(k), command),
                Some(Request::Engine(None, command)) => (None, command),
                // An account no longer there (the settings changed meanwhile): nothing to act on.
                Some(Request::Engine(Some(_), _)) => continue,
                Some(Request::Diagnose(k)) => {
                    // Runs beside this loop: the other buttons keep working meanwhile. One at a
                    // time; asked again while one runs, the next follows it.
                    let _ = dtx.try_send(if k < every.len() { k } else { 0 });
                    continue;
                }
                // The student's explicit choice where there is no keyring: the password of this
                // session into the password file, readable by them alone; sessions after this
                // one find it there.
                Some(Request::KeepPasswordInFile(k)) => {
                    let Some(a) = every.get(k) else { continue };
                    let file = &a.password_file;
                    let kept = match typed.of(a) {
                        Some(p) => secrets::keep_in_file(file, &a.config.pop.username, &a.config.pop.host, &p)
                            .map_err(|e| format!("{}: {e}", file.display())),
                        None => Err(crate::fl!("set-password-file-nothing")),
                    };
                    if kept.is_ok() {
                        typed.forget(a);
                        let from = Some(PasswordFrom::Found(secrets::Source::File));
                        shared.publish(|v| match k {
                            0 => v.password = from,
                            k => {
                                if let Some(o) = v.others.get_mut(k - 1) {
                                    o.password = from;
                                }
                            }
                        });
                    }
                    shared.hand(Handed::PasswordFile(kept));
                    continue;
                }
                Some(Request::Open(k, id)) => {
                    let Some(outbox) = outboxes.get(k) else { continue };
                    let opened = match (outbox.draft_of(id), outbox.get(id)) {
                        (Ok(Some(text)), _) if Unsent::from_text(&text).is_some() => {
                            Ok(Unsent::from_text(&text).unwrap_or_default())
                        }
                        (_, Ok(Some((_, raw)))) => Err(String::from_utf8_lossy(&raw).into_owned()),
                        _ => continue,
                    };
                    shared.publish(|v| v.opened = Some(((k, id), opened)));
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
                Some(
                    Request::SaveDraft(_)
                    | Request::KeepDraft(_)
                    | Request::OpenKept { .. }
                    | Request::DeleteKept(_)
                    | Request::ImportContacts(_)
                    | Request::AddContact(_)
                    | Request::DeleteContact(_)
                    | Request::ExportContacts(_)
                    | Request::Inspect(_)
                    | Request::PickFiles
                    | Request::SaveGeometry(_),
                ) => {
                    continue;
                }
                #[cfg(test)]
                Some(Request::Panic) => continue,
            };
            // A button for every account (今すぐ送信, POP 認証) goes to each engine; one about a
            // message to the engine of its account.
            let every_engine = |c: &Command| match c {
                Command::FlushNow => Some(Command::FlushNow),
                Command::LoginNow => Some(Command::LoginNow),
                Command::NetworkChanged => Some(Command::NetworkChanged),
                Command::Refresh => Some(Command::Refresh),
                _ => None,
            };
            let sent = match k {
                None if every_engine(&cmd).is_some() => {
                    let mut sent = true;
                    for etx in &etxs {
                        if let Some(c) = every_engine(&cmd) {
                            sent &= etx.send(c).await.is_ok();
                        }
                    }
                    sent
                }
                // A message's command (編集, 再送, 削除) without an account is the first's.
                _ => etxs[k.unwrap_or(0)].send(cmd).await.is_ok(),
            };
            if !sent {
                break;
            }
        }
        // A message in flight is finished, then the engines stop; a 接続テスト is dropped.
        stop.store(true, Ordering::SeqCst);
        let _ = stop_tx.send(true);
        drop(dtx);
        for etx in &etxs {
            let _ = etx.send(Command::Shutdown).await;
        }
        end
    };
    // Every account's engine, each on its own: one account's wrong password or dead server
    // never holds another's messages.
    let engines = futures_util::future::join_all(hosts.iter().zip(erxs).enumerate().map(|(i, (h, erx))| {
        let (outboxes, every) = (&outboxes, &every);
        h.engine(erx, move |event| publish_event(i, event, outboxes, every, several, shared))
    }));
    // The submission server, while `[submission] enabled`: beside the rest, ended with it.
    let server = submission_server(&hosts, &paths.data_dir, nudges, shared);
    tokio::select! {
        (_, end, ()) = async { tokio::join!(engines, forward, diagnoser) } => end,
        () = server => End::Quit { background: false },
    }
}

/// Notices for a flush: what was sent (named by the first subject) and each message that failed
/// for good. The flush names messages by id; the subjects come from the lists just read.
fn announce(event: &Event, k: usize, account: Option<String>, waiting: &[Row], sent: &[Row], hooks: &Hooks) {
    let Event::Flushed(f) = event else { return };
    let subject = |id: i64| {
        waiting.iter().chain(sent).find(|r| r.id == id && r.account == k).map(|r| r.subject.clone()).unwrap_or_default()
    };
    if let Some((id, _)) = f.sent.first() {
        (hooks.notify)(Notice::Sent { count: f.sent.len(), subject: subject(*id), account: account.clone() });
    }
    for (id, _, reason) in &f.failed {
        (hooks.notify)(Notice::Failed { subject: subject(*id), reason: reason.clone(), account: account.clone() });
    }
}

/// The message from a draft, in `charset` (`None`: the account's).
pub(super) fn build(
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
    let config = Config::load(&paths.config_file).ok();
    let resident = config.as_ref().is_some_and(|c| c.submission.enabled && c.app.autostart);
    let dirs: Vec<PathBuf> = match &config {
        Some(c) => c.every(paths).into_iter().map(|a| a.data_dir).collect(),
        None => vec![paths.data_dir.clone()],
    };
    let nothing_waits = || {
        dirs.iter().all(|dir| Outbox::open(dir).and_then(|o| o.counts()).is_ok_and(|c| c.queued == 0 && c.sending == 0))
    };
    if resident && (background || nothing_waits()) {
        Some(&["serve", "--at-login"])
    } else if background {
        Some(&["watch", "--until-empty"])
    } else {
        None
    }
}

/// 接続テスト, each time one is asked for (one at a time), until `stop`: its steps go into the
/// view as they finish, and the relay window its login opened into the engine's next snapshot.
async fn diagnoser(
    deliverers: &[Deliverer<'_>],
    mut asked: mpsc::Receiver<usize>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    refresh: Vec<mpsc::Sender<Command>>,
    shared: &Shared,
) {
    while let Some(k) = asked.recv().await {
        let Some(d) = deliverers.get(k) else { continue };
        shared.publish(|v| v.diagnosis = Some((true, Vec::new())));
        let options = diagnose::Options::default();
        let mut on_step = |r: &StepResult| {
            let r = r.clone();
            shared.publish(|v| {
                if let Some((_, steps)) = v.diagnosis.as_mut() {
                    steps.push(r);
                }
            });
        };
        let run = diagnose::run(d.config, d.password, d.trust, d.clock, d.store, &options, &mut on_step);
        tokio::select! {
            steps = run => {
                shared.publish(|v| v.diagnosis = Some((false, steps)));
                // Its login opened the relay window: the countdown shows it.
                if let Some(r) = refresh.get(k) {
                    let _ = r.send(Command::Refresh).await;
                }
            }
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// The window's submission server while `[submission] enabled`, for every account: where it
/// listens (or why it cannot) goes into the view, and it takes mail until the session ends.
/// Never returns.
async fn submission_server(
    hosts: &[Host<'_>],
    login_dir: &std::path::Path,
    nudges: Vec<mpsc::Sender<Command>>,
    shared: &Shared,
) {
    let Some(first) = hosts.first() else { return std::future::pending().await };
    let s = &first.deliverer.config.submission;
    if !s.enabled {
        shared.publish(|v| v.submission = None);
    } else {
        match crate::core::sending::host::open_submission(hosts, login_dir).await {
            Ok(server) => {
                let login = server.login.clone();
                shared.publish(|v| v.submission = Some(SubmissionView { port: s.port, login, problem: None }));
                let any_sender = hosts.len() == 1;
                crate::core::sending::host::serve(hosts, server, nudges, any_sender, std::future::pending()).await;
            }
            Err(problem) => shared
                .publish(|v| v.submission = Some(SubmissionView { port: s.port, login: None, problem: Some(problem) })),
        }
    }
    std::future::pending::<()>().await
}

/// An account's password this session: the one typed in this session (`typed`), or
/// the platform's (keyring, `password_command`, the password file, and for the first account the
/// environment). A missing one is shown: the first account's as the window's problem, another's
/// beside its name in the status bar.
async fn session_password(a: &Account, typed: Option<Password>, shared: &Shared) -> (Option<Password>, PasswordFrom) {
    match typed {
        Some(p) => (Some(p), PasswordFrom::ThisSession),
        // The keyring or `password_command` may take a while: off the runtime.
        None => match tokio::task::spawn_blocking({
            let pop = a.config.pop.clone();
            let platform = shared.hooks.platform.clone();
            let file = a.password_file.clone();
            let env = a.index == 0;
            move || platform.password(&pop, &file, env)
        })
        .await
        .unwrap_or_else(|e| Err(secrets::SecretError::KeyringUnavailable { detail: e.to_string() }))
        {
            Ok((p, source)) => (Some(p), PasswordFrom::Found(source)),
            Err(e) if a.index == 0 => {
                shared.problem(Problem::Failed(Described::of(&e)));
                (None, PasswordFrom::Missing)
            }
            Err(e) => {
                shared.publish(|v| {
                    if let Some(o) = v.others.get_mut(a.index - 1) {
                        o.problem = Some(Described::of(&e));
                    }
                });
                (None, PasswordFrom::Missing)
            }
        },
    }
}

/// An engine event into the view (the lists read again, the problem set or cleared), a notice
/// for the desktop (when allowed), and what the window takes once (a message taken back for
/// editing, a port found to work).
/// Account `k`'s engine event into the view (the lists of every account read again).
fn publish_event(k: usize, event: Event, outboxes: &[Outbox], every: &[Account], several: bool, shared: &Shared) {
    let config = &every[k].config;
    if let Event::Flushed(f) = &event {
        if let Some(learned) = f.learned {
            shared.hand(Handed::RouteLearned(learned));
        }
        if let Some(route) = f.route
            && k == 0
        {
            shared.publish(|v| v.smtp_route = Some(route));
        }
    }
    let (waiting, sent) = lists(outboxes);
    if config.app.notifications {
        announce(&event, k, several.then(|| every[k].label()), &waiting, &sent, &shared.hooks);
    }
    let edited_at = match &event {
        Event::Edited(_, Some((_, at))) => *at,
        _ => None,
    };
    let edited = match &event {
        Event::Edited(_, Some((text, _))) | Event::NotQueued { draft: Some(text), .. } => Unsent::from_text(text),
        _ => None,
    };
    if let Event::NotQueued { message_id, .. } = &event {
        shared.hand(Handed::NotQueued { message_id: message_id.clone() });
    }
    shared.publish(|v| {
        v.waiting = waiting;
        v.sent = sent;
        if k > 0 {
            // Another account's state and failures stay with it (the status bar names it).
            let Some(o) = v.others.get_mut(k - 1) else { return };
            match event {
                Event::Snapshot(s) => o.snapshot = Some(s),
                Event::Flushed(f) => {
                    if let Some(e) = f.stopped {
                        o.problem = Some(Described::of(&e));
                    } else if !f.sent.is_empty() {
                        o.problem = None;
                    }
                }
                Event::LoginFailed(e) => o.problem = Some(Described::of(&e)),
                Event::LoggedIn(_) => o.problem = None,
                Event::Error(e) | Event::NotQueued { error: e, .. } => {
                    v.problem = Some(Problem::Failed(Described::of(&e)));
                    v.problem_of = k;
                }
                Event::Edited(_, Some(_)) if edited.is_none() => v.problem = Some(Problem::StoredDraftUnreadable),
                Event::Edited(..) | Event::Woken(_) => {}
            }
            return;
        }
        let before = v.problem.clone();
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
            Event::Error(e) | Event::NotQueued { error: e, .. } => v.problem = Some(Problem::Failed(Described::of(&e))),
            Event::Edited(_, Some(_)) if edited.is_none() => v.problem = Some(Problem::StoredDraftUnreadable),
            Event::Edited(..) | Event::Woken(_) => {}
        }
        // A problem set (or cleared) here is the first account's.
        if v.problem != before {
            v.problem_of = 0;
        }
    });
    if let Some(d) = edited {
        shared.hand(Handed::ForCompose(d));
        if let Some(at) = edited_at {
            shared.hand(Handed::EditedAt(at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::problem::kind::Kind;
    use crate::core::sending::host::SubmissionProblem;
    use crate::core::setup::discover;
    use crate::core::system::secrets::Source;

    fn wait_for(worker: &Worker, what: &str, done: impl Fn(&View) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done(&worker.view()) {
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}: {:?}", worker.view().problem);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// A worker over `paths` on the stand-in desktop (no keyring, nothing of the user's touched).
    fn isolated(paths: Paths) -> Worker {
        Worker::spawn(
            paths,
            Hooks {
                repaint: Arc::new(|| {}),
                notify: Arc::new(|_| {}),
                discovery: discover::Options::default(),
                platform: Arc::new(crate::app::platform::Isolated::without_keyring()),
            },
        )
    }

    /// An account whose servers do not answer (ports 1 and 2), written to `config_file`.
    fn write_config(config_file: &std::path::Path) {
        let text = "[account]\naddress = \"taro@example.ac.jp\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"taro\"\n[smtp]\nport = 2\n";
        crate::core::system::files::write_atomic(config_file, text.as_bytes()).unwrap();
    }

    /// Issue 11, defect 2: a worker that dies is started again and the window is told; after
    /// `RESTARTS` deaths it stays stopped and says so — never a silent 「直前の操作をまだ処理しています」.
    #[test]
    fn a_worker_that_dies_is_restarted_and_then_reported() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths { config_file: dir.path().join("none.toml"), data_dir: dir.path().join("data") };
        let worker = isolated(paths);
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

    /// アドレス帳: exported books (vCard and CSV) are read in, each address once, with the entries
    /// left out counted and an unreadable file named; the book is kept and can be written out as
    /// vCard again.
    #[test]
    fn address_books_are_imported_kept_and_exported() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths { config_file: dir.path().join("config.toml"), data_dir: dir.path().join("data") };
        let worker = isolated(paths);
        wait_for(&worker, "the first start", |v| v.draft_checked);
        let vcf = dir.path().join("thunderbird.vcf");
        std::fs::write(&vcf, "BEGIN:VCARD\r\nFN:山田 太郎\r\nEMAIL:yamada@example.ac.jp\r\nEND:VCARD\r\n").unwrap();
        let csv = dir.path().join("gmail.csv");
        std::fs::write(
            &csv,
            "Name,E-mail 1 - Value\n山田 太郎,YAMADA@example.ac.jp\n佐藤 花子,hanako@example.org\n名無し,\n",
        )
        .unwrap();
        let missing = dir.path().join("missing.vcf");
        worker.request(Request::ImportContacts(Some(vec![vcf, csv, missing.clone()]))).unwrap();
        wait_for(&worker, "the book", |v| v.contacts.len() == 2);
        let handed = worker.take_handed();
        assert!(
            handed.iter().any(|h| matches!(h, Handed::ContactsImported { added: 2, skipped: 1, unreadable }
                if unreadable.len() == 1 && unreadable[0].contains("missing.vcf"))),
            "{handed:?}"
        );
        assert_eq!(contacts::load(&dir.path().join("data")).unwrap().len(), 2, "the book was not kept");
        let out = dir.path().join("out.vcf");
        worker.request(Request::ExportContacts(Some(out.clone()))).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !worker.take_handed().iter().any(|h| matches!(h, Handed::ContactsExported(Ok(_)))) {
            assert!(std::time::Instant::now() < deadline, "no export");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let back = contacts::import(&std::fs::read(&out).unwrap());
        assert_eq!(back.contacts, *worker.view().contacts);
        // A book that cannot be read is not overwritten by a change.
        let file = dir.path().join("data/contacts.toml");
        std::fs::write(&file, "contact = [").unwrap();
        worker
            .request(Request::AddContact(contacts::Contact { name: String::new(), address: "x@example.net".into() }))
            .unwrap();
        wait_for(&worker, "the problem", |v| matches!(v.problem, Some(Problem::Contacts(_))));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "contact = [");
    }

    /// A draft put aside is a file in drafts/ and in the view; opened, it comes back to 作成 and
    /// leaves the list.
    #[test]
    fn a_draft_put_aside_is_listed_and_comes_back_once() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths { config_file: dir.path().join("config.toml"), data_dir: dir.path().join("data") };
        let worker = isolated(paths);
        wait_for(&worker, "the first start", |v| v.draft_checked);
        let d = Unsent { to: "a@example.net".into(), subject: "ゼミの連絡".into(), ..Unsent::default() };
        worker.request(Request::KeepDraft(Box::new(d.clone()))).unwrap();
        wait_for(&worker, "the kept draft", |v| v.kept.len() == 1);
        let id = worker.view().kept[0].id.clone();
        assert_eq!(worker.view().kept[0].draft, d);
        let writing = Unsent { to: "b@example.net".into(), subject: "書きかけ".into(), ..Unsent::default() };
        worker.request(Request::OpenKept { id, put_aside: Some(Box::new(writing.clone())) }).unwrap();
        wait_for(&worker, "what was written put aside", |v| v.kept.len() == 1 && v.kept[0].draft == writing);
        let handed = worker.take_handed();
        assert!(handed.iter().any(|h| matches!(h, Handed::OpenedKept(x) if *x == d)), "{handed:?}");
        assert_eq!(drafts::load(&dir.path().join("data")).unwrap(), Some(d), "not the draft being written");
        assert_eq!(std::fs::read_dir(dir.path().join("data/drafts")).unwrap().count(), 1);
    }

    /// No keyring: the password typed in 設定 lives for the session; kept in the password file
    /// only when asked (readable by the user alone), it is found there by the next session.
    #[test]
    fn the_password_goes_in_the_file_only_when_asked_and_is_found_there() {
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("config.toml");
        write_config(&config_file);
        let config = Config::load(&config_file).unwrap();
        let paths = Paths { config_file: config_file.clone(), data_dir: dir.path().join("data") };
        let worker = isolated(paths);
        wait_for(&worker, "the session", |v| v.account == "taro@example.ac.jp");
        let file = secrets::password_file(&config_file);
        let form = Box::new(Form::from_config(&config));
        worker.request(Request::SaveSettings { form, password: Some(Password::new("Hunter2pw".into())) }).unwrap();
        wait_for(&worker, "the session password", |v| v.password == Some(PasswordFrom::ThisSession));
        assert!(!file.exists(), "the password went into a file nobody asked for");
        worker.request(Request::KeepPasswordInFile(0)).unwrap();
        wait_for(&worker, "the password file", |v| v.password == Some(PasswordFrom::Found(secrets::Source::File)));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "taro@127.0.0.1\nHunter2pw\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // The next session finds it there, as this platform (no keyring) looks for it.
        use crate::app::platform::Platform as _;
        let (p, source) = crate::app::platform::Isolated::without_keyring().password(&config.pop, &file, true).unwrap();
        assert_eq!((p.expose(), source), ("Hunter2pw", secrets::Source::File));
    }

    /// A queue paused because the server refused the password goes on once a new password is
    /// saved, even though the settings file stays the same (the password is not in it).
    /// Issue 28: in the real worker, a second account's message waits in its own outbox, and
    /// when 設定 changes that account's address the message is still there, still its own (the
    /// file names its folder), and goes from the new address.
    #[test]
    fn a_second_account_keeps_its_waiting_message_when_its_address_changes() {
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("config.toml");
        let text = "[account]\naddress = \"taro@example.ac.jp\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"taro\"\n[smtp]\nport = 2\n\
                    [[accounts]]\n[accounts.account]\naddress = \"lab@example.ne.jp\"\nname = \"研究室\"\n[accounts.pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"lab\"\npassword_command = \"echo x\"\n[accounts.smtp]\nport = 2\n";
        crate::core::system::files::write_atomic(&config_file, text.as_bytes()).unwrap();
        let data = dir.path().join("data");
        let paths = Paths { config_file: config_file.clone(), data_dir: data.clone() };
        let worker = isolated(paths);
        wait_for(&worker, "both accounts", |v| v.others.len() == 1 && v.draft_checked);
        let draft = Unsent {
            to: "a@example.net".into(),
            subject: "研究室から".into(),
            from: "LAB@example.ne.jp".into(),
            ..Unsent::default()
        };
        let later = SystemTime::now() + std::time::Duration::from_secs(3600);
        worker
            .request(Request::Send { draft: Box::new(draft), now: false, charset: None, at: Some(later), ticket: 1 })
            .unwrap();
        wait_for(&worker, "the message in the second outbox", |v| v.waiting.iter().any(|r| r.account == 1));
        assert!(data.join("accounts/lab@example.ne.jp/outbox.sqlite3").exists());
        let mut form = worker.view().settings.showing(1);
        form.address = "lab2@example.ne.jp".into();
        worker.request(Request::SaveSettings { form: Box::new(form), password: None }).unwrap();
        wait_for(&worker, "the new address", |v| v.others.first().is_some_and(|o| o.address == "lab2@example.ne.jp"));
        wait_for(&worker, "the message still there", |v| {
            v.waiting.iter().any(|r| r.account == 1 && r.subject == "研究室から")
        });
        let saved = Config::load(&config_file).unwrap();
        assert_eq!(saved.accounts[0].folder.as_deref(), Some("lab@example.ne.jp"));
        assert!(!data.join("accounts/lab2@example.ne.jp").exists(), "a second folder was made");
    }

    #[test]
    fn a_new_password_lifts_a_wrong_password_pause() {
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("config.toml");
        write_config(&config_file);
        let config = Config::load(&config_file).unwrap();
        let data = dir.path().join("data");
        let pause = |kind| crate::core::sending::outbox::Pause {
            error: Described::local(kind, "-ERR"),
            config: config.fingerprint.clone(),
        };
        Outbox::open(&data).unwrap().pause(&pause(Kind::WrongPassword)).unwrap();
        let paths = Paths { config_file: config_file.clone(), data_dir: data.clone() };
        let worker = isolated(paths);
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
            crate::core::system::files::write_atomic(&paths.config_file, text.as_bytes()).unwrap();
        };
        let serve: Option<&[&str]> = Some(&["serve", "--at-login"]);
        let watch: Option<&[&str]> = Some(&["watch", "--until-empty"]);
        write(true, true);
        assert_eq!(successor(&paths, false), serve, "nothing waits: the server comes back");
        assert_eq!(successor(&paths, true), serve);
        let ob = Outbox::open(&paths.data_dir).unwrap();
        let d = crate::core::message::compose::Draft {
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
        crate::core::system::files::write_atomic(&config_file, text.as_bytes()).unwrap();
        let data = dir.path().join("data");
        let worker = isolated(Paths { config_file: config_file.clone(), data_dir: data.clone() });
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
            let mode =
                std::fs::metadata(data.join(crate::core::protocol::smtpd::LOGIN_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the local login is readable by others");
        }
        drop(worker);
        // Taken by someone else: said, not silent.
        let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let worker = isolated(Paths { config_file, data_dir: data });
        wait_for(&worker, "the problem", |v| {
            v.submission.as_ref().is_some_and(|s| {
                matches!(
                    &s.problem,
                    Some(SubmissionProblem::Port(crate::core::protocol::smtpd::PortTaken {
                        holder: crate::core::protocol::smtpd::Holder::Silent,
                        ..
                    }))
                )
            })
        });
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
