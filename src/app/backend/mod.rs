//! What the window and its worker say to each other: the requests the window hands over, the
//! `View` it draws, the one-time `Handed` results, and the `Backend` trait the window knows the
//! worker by (a script in the window tests). The worker itself is in `worker`, the first-run
//! assistant's requests in `setup`, 「保存」 in `saving` and the window's size and place in
//! `geometry`. Nothing here does I/O or draws.

mod geometry;
mod saving;
mod setup;
mod worker;

pub use geometry::{Geometry, configured_renderer, remember_renderer, remembered_renderer, saved_geometry};
pub use worker::Worker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::app::form::{FieldError, Form};
use crate::core::message::compose::Charset;
use crate::core::message::drafts::Unsent;
use crate::core::problem::kind::Described;
use crate::core::sending::engine::{Command, Snapshot};
use crate::core::sending::host::SubmissionProblem;
use crate::core::sending::outbox::Row;
use crate::core::setup::diagnose::StepResult;
use crate::core::setup::discover;
use crate::core::setup::presets::Preset;
use crate::core::system::secrets::{Password, Source};

/// What the UI asks for.
#[derive(Debug)]
pub enum Request {
    /// Build and store the message; with `now`, send at once; with `at`, not before then (送信予約).
    /// `ticket` comes back with `Handed::Queued`, so the window follows the right message. It
    /// goes from the account `draft.from` names by its address (empty: the first), through that
    /// account's servers alone.
    Send { draft: Box<Unsent>, now: bool, charset: Option<Charset>, at: Option<std::time::SystemTime>, ticket: u64 },
    /// Keep the draft on disk (an empty one removes the file).
    SaveDraft(Box<Unsent>),
    /// 「下書きに保存」: put the message aside in the list of drafts (`View::kept`).
    KeepDraft(Box<Unsent>),
    /// A draft of the list into 作成 (`Handed::OpenedKept`), out of the list; what 作成 holds
    /// (`put_aside`) is put aside first, and if that fails nothing else happens.
    OpenKept { id: String, put_aside: Option<Box<Unsent>> },
    /// A draft of the list deleted (the window has asked first).
    DeleteKept(String),
    /// アドレス帳: read these exported address books (vCard or CSV) into the book
    /// (`Handed::ContactsImported`), or open the file dialog (`None`), whose choice comes back as
    /// `Handed::ContactFiles` (so imports and edits are applied one at a time, on the worker).
    ImportContacts(Option<Vec<PathBuf>>),
    /// アドレス帳: one entry added (its address once), applied to the file on the worker.
    AddContact(crate::core::message::contacts::Contact),
    /// アドレス帳: the entry with this address deleted (the window has asked first).
    DeleteContact(String),
    /// アドレス帳 written as vCard to this file, or one chosen in the save dialog (`None`).
    ExportContacts(Option<PathBuf>),
    /// Look up the sizes of attached files (shown beside their names).
    Inspect(Vec<PathBuf>),
    /// Open the system's file dialog; the chosen files are handed over (`Handed::Picked`).
    PickFiles,
    /// A button of the engine's, passed on as it is: 「今すぐ送信」, 「POP 認証」, 「再送」, 「削除」,
    /// 「編集」 (its draft is handed over, `Handed::ForCompose`). To the engine of the account given
    /// (the row's), or with `None` to every account's.
    Engine(Option<usize>, Command),
    /// Show a message of an account read-only (`View::opened`).
    Open(usize, i64),
    /// 接続テスト of an account (`Account::index`) with the saved settings; steps arrive in
    /// `View::diagnosis` as they end.
    Diagnose(usize),
    /// 「保存」: validate, write the config, keep the password (if typed) in the keyring, restart.
    SaveSettings { form: Box<Form>, password: Option<Password> },
    /// Stop; with `background`, a `popsend watch --until-empty` process goes on sending (or the
    /// login's `popsend serve --at-login`, see `successor`).
    Shutdown { background: bool },
    /// Where there is no keyring, and only when the student chooses it: keep this session's
    /// password of the account (`Account::index`) in its password file (readable by the user
    /// alone).
    KeepPasswordInFile(usize),
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
    /// The draft kept with a message taken back by 編集 could not be read.
    StoredDraftUnreadable,
    /// 差出人 names an account (this address) that is no longer in the settings: the message
    /// came back to 作成, unsent.
    SenderGone(String),
    /// アドレス帳 (contacts.toml) could not be read or written: why.
    Contacts(String),
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
    pub login: Option<crate::core::protocol::smtpd::LocalLogin>,
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

/// Something the desktop should announce (when the user allows notifications). `account`: its
/// name, when there are several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Sent { count: usize, subject: String, account: Option<String> },
    Failed { subject: String, reason: Described, account: Option<String> },
}

/// An account besides the first, as the status bar and 作成's 差出人 show it.
#[derive(Debug, Clone, Default)]
pub struct AccountView {
    pub label: String,
    pub address: String,
    pub snapshot: Option<Snapshot>,
    /// Its last failure (a refused login, a stopped run), until a message of it goes.
    pub problem: Option<Described>,
    pub password: Option<PasswordFrom>,
}

/// A result the window takes once, in order (`Backend::take_handed`): an answer to a request, or
/// what the worker found. Never a field of the view, so nothing is taken twice or missed.
#[derive(Debug, Clone, PartialEq)]
pub enum Handed {
    /// A flush found that another SMTP port than the configured one takes the mail from this
    /// network (OP25B): the window says so once.
    RouteLearned(crate::core::sending::deliver::Learned),
    /// A draft for 作成: the saved one at start, one taken back by 「編集」, or one that could not
    /// be built (with the reason in the view's problem).
    ForCompose(Unsent),
    /// A message of 作成 was built and handed to the outbox: the
    /// window follows it by its Message-ID and says what became of it.
    Queued { ticket: u64, message_id: String },
    /// Files chosen in the file dialog.
    Picked(Vec<PathBuf>),
    /// What 「保存」 did.
    Saved(Saved),
    /// The message of 作成 was put aside as a draft.
    KeptDraft,
    /// A draft of the list opened: it takes 作成's place (what was there is put aside).
    OpenedKept(Unsent),
    /// The message just handed back by 編集 (`ForCompose`) was timed for this time.
    EditedAt(std::time::SystemTime),
    /// The message with this Message-ID could not be stored in the outbox: its draft comes back
    /// to 作成 (`ForCompose`), and the problem says why.
    NotQueued { message_id: String },
    /// Files chosen in the file dialog to import into アドレス帳.
    ContactFiles(Vec<PathBuf>),
    /// An import into アドレス帳: how many contacts were new, how many entries had no usable
    /// address, and files that could not be read.
    ContactsImported { added: usize, skipped: usize, unreadable: Vec<String> },
    /// Where アドレス帳 was exported, or why it could not be.
    ContactsExported(Result<PathBuf, String>),
    /// Whether the password went into the password file (or why not).
    PasswordFile(Result<(), String>),
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
    /// The first account's address (empty: no account yet), its name and its engine's state.
    pub account: String,
    pub label: String,
    pub snapshot: Option<Snapshot>,
    /// The other accounts, in the file's order (`Account::index` 1, 2, …).
    pub others: Vec<AccountView>,
    /// Shared, so taking a new view never copies thousands of rows.
    pub waiting: Arc<Vec<Row>>,
    pub sent: Arc<Vec<Row>>,
    pub problem: Option<Problem>,
    /// Whose failure `problem` is (`Account::index`; 0 also for what is no account's).
    pub problem_of: usize,
    /// The settings as saved (the defaults before the first save).
    pub settings: Form,
    pub password: Option<PasswordFrom>,
    /// The saved draft has been looked for (and handed over if there was one): until then a
    /// `mailto:` link waits, so it never takes the place of a draft not yet shown.
    pub draft_checked: bool,
    /// アドレス帳.
    pub contacts: Arc<Vec<crate::core::message::contacts::Contact>>,
    /// The drafts put aside, newest first.
    pub kept: Arc<Vec<crate::core::message::drafts::Kept>>,
    /// The ids of drafts put aside that cannot be read (they can be deleted).
    pub kept_damaged: Arc<Vec<String>>,
    /// Attachment sizes in bytes, or why the file cannot be read.
    pub sizes: HashMap<PathBuf, Result<u64, String>>,
    /// The message asked for with `Open`: its draft, or (sent from the command line) its raw text.
    pub opened: Option<((usize, i64), Result<Unsent, String>)>,
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
    pub smtp_route: Option<crate::core::sending::route::Route>,
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
    pub platform: Arc<dyn crate::app::platform::Platform>,
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
