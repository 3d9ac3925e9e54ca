//! The desktop window (eframe/egui): a status bar with the relay-window countdown, and the
//! 作成 / 送信トレイ / 送信済み / 設定 views. It draws the worker's latest `View` and sends
//! `Request`s; it never does I/O, never blocks, and repaints on the worker's signal, once a
//! second while the countdown runs, and once after typing to save the draft. Every visible string
//! comes from `i18n`.

mod assistant;
pub mod backend;
mod compose;
pub mod cpu;
pub mod desktop;
mod diagnose;
mod fonts;
pub mod form;
mod guides;
mod lists;
pub mod platform;
pub mod renderer;
mod settings;
pub mod theme;

pub use fonts::install as install_fonts;

use std::sync::Arc;
use std::time::Duration;

use crate::app::backend::{Backend, Geometry, Handed, Hooks, Notice, Problem, Request, View, Worker};
use crate::core::message::drafts::Unsent;
use crate::core::message::mailto::{self, Mailto};
use crate::core::sending::engine::{Activity, Command};
use crate::core::sending::outbox::Status;
use crate::core::setup::account::Paths;
use crate::core::system::clock::{Clock, SystemClock};
use crate::core::system::instance::{Handover, Listener};
use crate::fl;

pub use settings::SettingsForm;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Compose,
    Outbox,
    Sent,
    Settings,
    Diagnose,
    Guides,
    /// The first-run assistant (not a tab of its own: first start, or 設定 「設定をやり直す」).
    Assistant,
}

pub struct App {
    worker: Box<dyn Backend>,
    /// The time the window shows (the countdown, retry times); pinned in tests.
    clock: Arc<dyn Clock>,
    view: View,
    pub tab: Tab,
    /// What the user is writing (kept across tab switches, saved to disk by the worker).
    pub compose: Unsent,
    compose_state: compose::State,
    lists: lists::State,
    pub settings: SettingsForm,
    /// A line for the user about the last action (e.g. a request the worker could not take).
    notice: Option<String>,
    /// The language last taken from the settings ("" = the OS's).
    language: Option<String>,
    /// The first-run problem was seen (设定 opened once for it).
    setup_shown: bool,
    /// Where closing the window stands.
    close: CloseFlow,
    /// The 接続テスト result was copied.
    copied: bool,
    /// 接続テスト's account (`Account::index`), where there are several, and the one tested last.
    diagnose_account: usize,
    diagnosed: usize,
    /// The other accounts' addresses the lists were last drawn for.
    accounts_seen: Vec<String>,
    /// 設定ガイド: the search text, and the guides in the language they were loaded in.
    pub guide_query: String,
    guides: Option<(String, Vec<crate::text::guides::Guide>)>,
    /// Requests from later starts of popsend (a second double-click, a `mailto:` link).
    instance: Option<Listener>,
    /// The first-run assistant's state.
    pub assistant: assistant::Assistant,
    /// The 文字サイズ last applied.
    zoom: Option<f32>,
    /// The light/dark choice last applied.
    theme: Option<egui::ThemePreference>,
    /// The desktop's light/dark answer, while it is awaited.
    dark: Option<std::sync::mpsc::Receiver<bool>>,
    /// The password typed where a refused login is shown (「保存して送信」), and whether its
    /// 保存 is awaited (its answer is then said there too).
    recovery: String,
    recovering: bool,
    /// 「パスワードを入力」 in the status bar: the field takes the cursor when next drawn.
    focus_recovery: bool,
}

impl App {
    /// Installs the Japanese font and starts the worker, which repaints `ctx` on every change and
    /// shows desktop notifications.
    pub fn new(ctx: &egui::Context, paths: Paths) -> App {
        App::with_platform(
            ctx,
            paths,
            Arc::new(crate::app::desktop::show),
            crate::core::setup::discover::Options::default(),
            Arc::new(platform::Desktop),
        )
    }

    /// For the tests: `new` with another way to announce notices (the tests record them) and a
    /// stand-in desktop (`platform::Isolated`: no keyring, login entry or process of the user's
    /// is touched).
    pub fn with_notify(ctx: &egui::Context, paths: Paths, notify: Arc<dyn Fn(Notice) + Send + Sync>) -> App {
        App::with_hooks(ctx, paths, notify, crate::core::setup::discover::Options::default())
    }

    /// `with_notify`, with the first-run assistant looking for servers where `discovery` says.
    pub fn with_hooks(
        ctx: &egui::Context,
        paths: Paths,
        notify: Arc<dyn Fn(Notice) + Send + Sync>,
        discovery: crate::core::setup::discover::Options,
    ) -> App {
        App::with_platform(ctx, paths, notify, discovery, Arc::new(platform::Isolated::without_keyring()))
    }

    /// The worker over `platform` (the real desktop, or a stand-in).
    pub fn with_platform(
        ctx: &egui::Context,
        paths: Paths,
        notify: Arc<dyn Fn(Notice) + Send + Sync>,
        discovery: crate::core::setup::discover::Options,
        platform: Arc<dyn platform::Platform>,
    ) -> App {
        let repaint_ctx = ctx.clone();
        let worker = Worker::spawn(
            paths,
            Hooks { repaint: Arc::new(move || repaint_ctx.request_repaint()), notify, discovery, platform },
        );
        App::with_backend(ctx, Box::new(worker), Arc::new(SystemClock))
    }

    /// The window over any backend and clock: the worker and the system clock in the app, a
    /// scripted backend and a pinned time in the window tests.
    pub fn with_backend(ctx: &egui::Context, backend: Box<dyn Backend>, clock: Arc<dyn Clock>) -> App {
        fonts::install(ctx);
        theme::install(ctx);
        App {
            worker: backend,
            clock,
            view: View::default(),
            tab: Tab::Compose,
            compose: Unsent::default(),
            compose_state: compose::State::default(),
            lists: lists::State::default(),
            settings: SettingsForm::default(),
            notice: None,
            language: None,
            setup_shown: false,
            close: CloseFlow::Open,
            copied: false,
            diagnose_account: 0,
            diagnosed: 0,
            accounts_seen: Vec::new(),
            guide_query: String::new(),
            guides: None,
            instance: None,
            assistant: assistant::Assistant::default(),
            zoom: None,
            theme: None,
            dark: None,
            recovery: String::new(),
            recovering: false,
            focus_recovery: false,
        }
    }

    /// Takes the requests of later starts: each brings the window to the front, a `mailto:` link
    /// fills 作成. `listener` wakes the window when one arrives.
    pub fn listen(&mut self, ctx: &egui::Context, listener: Listener) {
        let c = ctx.clone();
        listener.set_wake(Arc::new(move || c.request_repaint()));
        self.instance = Some(listener);
    }

    /// An empty list: one centred line and the action that fills it.
    pub(super) fn empty_state(&mut self, ui: &mut egui::Ui, text: String) {
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.3);
            ui.label(egui::RichText::new(text).size(16.0));
            ui.add_space(8.0);
            if ui.button(fl!("gui-empty-compose")).clicked() {
                self.tab = Tab::Compose;
                self.compose_state.focus_to = true;
            }
        });
    }

    /// Fills 作成 from a `mailto:` link (asking first if that would replace a draft).
    pub fn open_mailto(&mut self, m: Mailto) {
        self.compose_state.mailto = Some(m);
    }

    /// Follows the desktop's light/dark answer when it comes (see `desktop::prefers_dark`).
    pub fn follow_theme(&mut self, answer: std::sync::mpsc::Receiver<bool>) {
        self.dark = Some(answer);
    }

    fn handovers(&mut self, ui: &egui::Ui) {
        if let Some(rx) = &self.dark
            && let Ok(dark) = rx.try_recv()
        {
            let theme = if dark { egui::Theme::Dark } else { egui::Theme::Light };
            ui.ctx().options_mut(|o| o.fallback_theme = theme);
            self.dark = None;
        }
        let Some(listener) = &self.instance else { return };
        let arrived = listener.take();
        if arrived.is_empty() {
            return;
        }
        for h in arrived {
            if let Handover::Mailto(url) = h {
                match mailto::parse(&url) {
                    Ok(m) => self.compose_state.mailto = Some(m),
                    Err(e) => self.notice = Some(fl!("err-mailto", detail = e.to_string())),
                }
            }
        }
        let ctx = ui.ctx();
        ctx.send_viewport_cmd(egui::ViewportCommand::Minimized(false));
        ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
        // Where the desktop refuses focus to a window it did not click, it flashes the task bar.
        ctx.send_viewport_cmd(egui::ViewportCommand::RequestUserAttention(egui::UserAttentionType::Informational));
    }

    /// The first-run assistant's last 接続テスト: the form as tried and whether it passed.
    pub fn trial(&self) -> Option<&(crate::app::form::Form, bool)> {
        self.assistant.trial.as_ref()
    }

    /// 設定's form as the student has it now, unsaved, and whether a password is typed into it
    /// (never the password itself). For tests.
    pub fn settings_draft(&self) -> (&crate::app::form::Form, bool) {
        (&self.settings.form, !self.settings.password.is_empty())
    }

    /// The worker's view as last drawn (for tests).
    pub fn view(&self) -> &View {
        &self.view
    }

    fn ask(&mut self, r: Request) -> bool {
        let ok = self.worker.request(r).is_ok();
        if !ok {
            self.notice = Some(fl!("gui-worker-busy"));
        }
        ok
    }

    /// Messages that still wait to go out (not the ones that failed for good): closing asks about
    /// them, timed ones too (they go only while popsend runs).
    fn pending(&self) -> usize {
        self.view.waiting.iter().filter(|r| r.state != Status::Failed).count()
    }

    /// Those of them 今すぐ送信 would send: not the ones timed for later.
    fn sendable_now(&self) -> usize {
        let now = self.clock.now();
        self.view.waiting.iter().filter(|r| r.state != Status::Failed && r.send_at.is_none_or(|at| at <= now)).count()
    }

    /// Draws one frame. The same code runs in the window and in the UI tests.
    pub fn draw(&mut self, ui: &mut egui::Ui) {
        if self.worker.version() != self.view.version {
            self.view = self.worker.view();
            self.take_view();
        }
        // After the view: a draft handed over is never older than the view that says so.
        self.take_handed();
        self.handovers(ui);
        self.take_mailto(ui);
        // 明るさ (light/dark), when the saved value changes; unset: the desktop's.
        let theme = match self.view.settings.theme.as_str() {
            "light" => egui::ThemePreference::Light,
            "dark" => egui::ThemePreference::Dark,
            _ => egui::ThemePreference::System,
        };
        if self.theme != Some(theme) {
            self.theme = Some(theme);
            ui.ctx().set_theme(theme);
        }
        // 文字サイズ, when the saved value changes (Ctrl+plus/minus still zoom in between).
        let zoom = crate::core::setup::account::usable_zoom(self.view.settings.zoom);
        if self.zoom != Some(zoom) {
            self.zoom = Some(zoom);
            ui.ctx().set_zoom_factor(zoom);
        }
        self.keys(ui);
        // The panels keep their margins but paint no background: the window is cleared to the
        // same colour (`clear_color`), and under a software renderer each full-window layer is
        // paid for every second the countdown ticks.
        let unfilled = |f: egui::Frame| f.fill(egui::Color32::TRANSPARENT);
        egui::Panel::top("status")
            .frame(unfilled(egui::Frame::side_top_panel(ui.style())))
            .show(ui, |ui| self.status_bar(ui));
        egui::CentralPanel::default().frame(unfilled(egui::Frame::central_panel(ui.style()))).show(ui, |ui| {
            // The first run shows the assistant alone: no tabs of views that have nothing yet.
            let first_run = self.view.account.is_empty() && self.tab == Tab::Assistant;
            // Wrapped: at 200 % in a small window the tabs go on two lines rather than off the edge.
            if !first_run {
                ui.horizontal_wrapped(|ui| {
                    ui.selectable_value(&mut self.tab, Tab::Compose, fl!("gui-tab-compose")).on_hover_text("Ctrl+1");
                    let waiting = self.view.waiting.len();
                    ui.selectable_value(&mut self.tab, Tab::Outbox, fl!("gui-tab-outbox", count = waiting))
                        .on_hover_text("Ctrl+2");
                    ui.selectable_value(&mut self.tab, Tab::Sent, fl!("gui-tab-sent")).on_hover_text("Ctrl+3");
                    ui.selectable_value(&mut self.tab, Tab::Settings, fl!("gui-tab-settings")).on_hover_text("Ctrl+4");
                    ui.selectable_value(&mut self.tab, Tab::Diagnose, fl!("gui-tab-diagnose")).on_hover_text("Ctrl+5");
                    ui.selectable_value(&mut self.tab, Tab::Guides, fl!("gui-tab-guides")).on_hover_text("Ctrl+6");
                });
                ui.separator();
            }
            // A copy: its buttons change the window.
            match &self.view.problem.clone() {
                // Not an error: a first start. The assistant itself says what to do.
                Some(Problem::SetupNeeded) if self.tab == Tab::Assistant => {}
                Some(p @ Problem::SetupNeeded) => {
                    ui.label(problem_text(p));
                }
                Some(p) => {
                    // With several accounts, whose failure it is.
                    if !self.view.others.is_empty() && matches!(p, Problem::Failed(_)) {
                        let whose = match self.view.problem_of {
                            0 => self.view.label.as_str(),
                            k => self.view.others.get(k - 1).map_or("", |o| o.label.as_str()),
                        };
                        ui.weak(fl!("gui-problem-account", account = whose));
                    }
                    ui.colored_label(ui.visuals().error_fg_color, problem_text(p));
                    if let Problem::Failed(d) = p {
                        technical_detail(ui, d);
                    }
                    if let Problem::Failed(d) = p
                        && let Some(page) = crate::text::guides::page_for(d.kind)
                        && ui.small_button(fl!("gui-explain")).clicked()
                    {
                        self.show_guide(page);
                    }
                    if let Problem::Failed(d) = p
                        && d.kind.refused_login()
                    {
                        self.password_prompt(ui);
                    }
                    // The hint names a field of 設定: one click opens it, with the cursor in it.
                    if let Problem::Failed(d) = p
                        && let Some(key) = settings::field_for(d.kind)
                        && ui.small_button(fl!("gui-fix-in-settings")).clicked()
                    {
                        // The problem above the tabs is the first account's.
                        if self.settings.show_account(0) {
                            self.settings.focus = Some(key);
                        }
                        self.tab = Tab::Settings;
                    }
                    // Characters ISO-2022-JP cannot carry: the message is back in 作成, and can go
                    // as UTF-8 instead, as the student chooses.
                    if matches!(p, Problem::Failed(d) if d.kind == crate::core::problem::kind::Kind::Unencodable)
                        && !self.compose.is_empty()
                        && ui.button(fl!("gui-send-utf8")).clicked()
                    {
                        self.send_compose(
                            self.compose_state.sent_now,
                            Some(crate::core::message::compose::Charset::Utf8),
                            self.compose_state.sent_at,
                        );
                    }
                }
                None => {}
            }
            if let Some(n) = &self.notice {
                ui.label(n.as_str());
            }
            match self.tab {
                Tab::Compose => self.compose_view(ui),
                Tab::Outbox => self.outbox_view(ui),
                Tab::Sent => self.sent_view(ui),
                Tab::Settings => self.settings_view(ui),
                Tab::Diagnose => self.diagnose_view(ui),
                Tab::Guides => self.guides_view(ui),
                Tab::Assistant => self.assistant_view(ui),
            }
        });
        self.keep_draft(ui);
        self.close_question(ui);
    }

    /// Takes what the worker hands over once: settings, a draft, picked files, the language.
    /// The one-time results, in the order the worker handed them over.
    fn take_handed(&mut self) {
        for h in self.worker.take_handed() {
            match h {
                Handed::ForCompose(d) => {
                    // A message that could not be built comes back: no toast follows it.
                    if self.compose_state.toast.as_ref().is_some_and(|t| t.message_id.is_none()) {
                        self.compose_state.toast = None;
                    }
                    self.take_draft(d)
                }
                Handed::Queued { ticket, message_id } => self.take_queued(ticket, message_id),
                Handed::Picked(files) => self.take_picked(files),
                // The answer to 「保存して送信」 is said where it was pressed; 設定's unsaved edits
                // stay as they are.
                Handed::Saved(saved) if std::mem::take(&mut self.recovering) => {
                    self.notice = Some(match &saved {
                        crate::app::backend::Saved::Done => fl!("gui-recover-saved"),
                        other => settings::saved_text(other).1,
                    });
                }
                Handed::Saved(saved) => self.settings.take_saved(&saved),
                Handed::KeptDraft => self.notice = Some(fl!("gui-kept-done")),
                Handed::OpenedKept(d) => self.take_opened(d),
                Handed::EditedAt(at) => self.take_edited_at(at),
                Handed::ContactFiles(files) => {
                    self.ask(Request::ImportContacts(Some(files)));
                }
                // Not stored: no toast follows it (its draft is back in 作成, the problem says why).
                Handed::NotQueued { message_id } => {
                    if self.compose_state.toast.as_ref().is_some_and(|t| t.message_id.as_deref() == Some(&message_id)) {
                        self.compose_state.toast = None;
                    }
                }
                Handed::ContactsImported { added, skipped, unreadable } => {
                    let mut text = fl!("set-contacts-imported", added = added, skipped = skipped);
                    for f in &unreadable {
                        text += &format!("\n{}", fl!("set-contacts-unreadable", file = f.as_str()));
                    }
                    self.settings.contacts.message = Some((unreadable.is_empty(), text));
                }
                Handed::ContactsExported(done) => {
                    self.settings.contacts.message = Some(match done {
                        Ok(path) => (true, fl!("set-contacts-exported", file = path.display().to_string())),
                        Err(why) => (false, fl!("set-contacts-export-failed", detail = why)),
                    });
                }
                Handed::PasswordFile(kept) => {
                    self.settings.file_message = Some(match kept {
                        Ok(()) => (true, fl!("set-password-file-kept")),
                        Err(why) => (false, fl!("set-password-file-failed", detail = why)),
                    });
                }
                Handed::Trial(form, passed) => self.assistant.trial = Some((*form, passed)),
                Handed::Restarted => self.notice = Some(fl!("gui-worker-restarted")),
                Handed::RouteLearned(learned) => self.notice = Some(crate::text::words::route_learned(&learned)),
            }
        }
    }

    fn take_view(&mut self) {
        if !self.view.others.iter().map(|o| &o.address).eq(self.accounts_seen.iter()) {
            self.lists.forget_selection();
            self.accounts_seen = self.view.others.iter().map(|o| o.address.clone()).collect();
        }
        if matches!(self.view.problem, Some(Problem::SetupNeeded)) && !self.setup_shown {
            self.setup_shown = true;
            self.start_assistant();
        }
        self.settings.take(&self.view);
        let lang = self.view.settings.language.clone();
        if self.language.as_deref() != Some(&lang) {
            // At start an unset language leaves the one chosen at launch (POPSEND_LANG or the OS).
            if self.language.is_some() || !lang.is_empty() {
                let env = std::env::var("POPSEND_LANG").ok();
                crate::text::i18n::init(if lang.is_empty() { env.as_deref() } else { Some(&lang) });
            }
            self.language = Some(lang);
        }
    }

    /// Ctrl+1…6 switch views, Ctrl+N starts a new message (in 作成), Ctrl+S saves the settings.
    fn keys(&mut self, ui: &mut egui::Ui) {
        let cmd = egui::Modifiers::COMMAND;
        let pressed = |ui: &mut egui::Ui, key| ui.input_mut(|i| i.consume_key(cmd, key));
        for (key, tab) in [
            (egui::Key::Num1, Tab::Compose),
            (egui::Key::Num2, Tab::Outbox),
            (egui::Key::Num3, Tab::Sent),
            (egui::Key::Num4, Tab::Settings),
            (egui::Key::Num5, Tab::Diagnose),
            (egui::Key::Num6, Tab::Guides),
        ] {
            if pressed(ui, key) {
                self.tab = tab;
            }
        }
        if pressed(ui, egui::Key::N) {
            self.tab = Tab::Compose;
            self.compose_state.focus_to = true;
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        self.first_account_status(ui);
    }

    fn first_account_status(&mut self, ui: &mut egui::Ui) {
        // No account yet (the first run): nothing to count down and nothing to press. One line
        // says where the status will be, instead of a row of greyed buttons and a countdown of a
        // server the assistant has only tried.
        if self.view.account.is_empty() {
            ui.label(fl!("gui-status-no-account"));
            return;
        }
        let mut enter_password = false;
        ui.horizontal_wrapped(|ui| {
            ui.label(if self.view.others.is_empty() { self.view.account.as_str() } else { self.view.label.as_str() });
            ui.separator();
            let snap = self.view.snapshot.as_ref();
            let now = self.clock.now();
            let window = snap.and_then(|s| s.window).map(|w| (w, w.remaining(now))).filter(|(_, left)| !left.is_zero());
            let expired = snap.and_then(|s| s.window).is_some() && window.is_none();
            let left = window.map(|(_, left)| crate::text::words::mm_ss(left));
            // One sentence with a colour, the first that holds: what runs now, a stop the student
            // must lift, no network, then the sending time.
            let visuals = ui.visuals().clone();
            let (plain, good, bad, weak) =
                (visuals.text_color(), theme::good(&visuals), theme::error(&visuals), visuals.weak_text_color());
            let (colour, sentence) = match (snap.map(|s| s.activity), snap.and_then(|s| s.paused.as_ref())) {
                (Some(Activity::LoggingIn), _) => (plain, fl!("gui-logging-in")),
                (Some(Activity::Sending(n)), _) => (plain, fl!("gui-sending", count = n)),
                (_, Some(p)) if p.error.kind.refused_login() => {
                    (bad, fl!("gui-state-refused", reason = crate::text::words::reason(p.error.kind)))
                }
                (_, Some(p)) => (bad, fl!("gui-state-paused", reason = crate::text::words::reason(p.error.kind))),
                _ if snap.and_then(|s| s.online) == Some(false) => (weak, fl!("gui-offline")),
                _ => match &left {
                    Some(left) => (good, fl!("gui-window-open", remaining = left.as_str())),
                    None if expired => (plain, fl!("gui-window-expired")),
                    None => (plain, fl!("gui-window-none")),
                },
            };
            let said_left = colour == good;
            status_sentence(ui, colour, sentence, left.as_deref().filter(|_| said_left));
            // Where the password comes from POPSEND_PASSWORD or a command, typing one here would
            // change nothing: no button then (the problem's hint says where to look).
            let typed_here = !matches!(
                self.view.password,
                Some(crate::app::backend::PasswordFrom::Found(
                    crate::core::system::secrets::Source::Env | crate::core::system::secrets::Source::Command
                ))
            );
            if typed_here && snap.and_then(|s| s.paused.as_ref()).is_some_and(|p| p.error.kind.refused_login()) {
                enter_password = ui.button(fl!("gui-enter-password")).clicked();
            }
            // The countdown stays in sight whatever the sentence says.
            if let Some((w, remaining)) = window {
                if !said_left && let Some(left) = &left {
                    let said = fl!("gui-window-left", remaining = left.as_str());
                    on_its_own(ui, 1, |ui| countdown(ui, plain, said, left, |t| fl!("gui-window-left", remaining = t)));
                }
                // In whole steps of the bar's width: it changes every few seconds, not every
                // second (a change of a fifth of a pixel is redrawn as much as a visible one).
                const BAR: f32 = 120.0;
                let frac = remaining.as_secs_f32() / w.length.as_secs_f32().max(1.0);
                let frac = (frac * BAR).ceil() / BAR;
                on_its_own(ui, 2, |ui| ui.add(egui::ProgressBar::new(frac).desired_width(BAR).fill(good)));
                // One repaint when the second shown changes (a moment after it does), none while
                // the window is minimised or hidden.
                let unseen =
                    ui.ctx().input(|i| i.viewport().minimized == Some(true) || i.viewport().occluded == Some(true));
                if !unseen {
                    let to_next = match remaining.subsec_nanos() {
                        0 => Duration::from_secs(1),
                        n => Duration::from_nanos(n.into()),
                    };
                    ui.ctx().request_repaint_after(to_next + Duration::from_millis(5));
                }
            }
            // Only when something waits, with how many: a greyed button would say nothing.
            let waiting = self.sendable_now();
            if waiting > 0 && ui.button(fl!("gui-flush-now", count = waiting)).clicked() {
                self.ask(Request::Engine(None, Command::FlushNow));
            }
            if ui.button(fl!("gui-login-now")).clicked() {
                self.ask(Request::Engine(None, Command::LoginNow));
            }
        });
        // The other accounts, one short segment each: whose, and its window or what stops it.
        if !self.view.others.is_empty() {
            ui.horizontal_wrapped(|ui| {
                let now = self.clock.now();
                let mut ticking = None;
                let mut fix = None;
                // The account 作成 sends from comes first.
                let mut order: Vec<usize> = (0..self.view.others.len()).collect();
                let from = &self.compose_state.from;
                let chosen =
                    self.view.others.iter().position(|o| !from.is_empty() && o.address.eq_ignore_ascii_case(from));
                if let Some(k) = chosen {
                    order.retain(|&i| i != k);
                    order.insert(0, k);
                }
                for i in order {
                    let o = &self.view.others[i];
                    if let Some(left) = other_account_status(ui, o, now) {
                        ticking = Some(ticking.map_or(left, |t: Duration| t.min(left)));
                    }
                    // A refused or missing password: typed in 設定, on that account.
                    let refused = o
                        .snapshot
                        .as_ref()
                        .and_then(|s| s.paused.as_ref())
                        .map(|p| p.error.kind)
                        .or(o.problem.as_ref().map(|d| d.kind))
                        .is_some_and(|k| k.refused_login() || k == crate::core::problem::kind::Kind::NoPassword);
                    if refused && ui.small_button(fl!("gui-enter-password")).clicked() {
                        fix = Some(i + 1);
                    }
                }
                if let Some(k) = fix {
                    if self.settings.show_account(k) {
                        self.settings.focus = Some("pop.username");
                    }
                    self.tab = Tab::Settings;
                }
                let unseen =
                    ui.ctx().input(|i| i.viewport().minimized == Some(true) || i.viewport().occluded == Some(true));
                if let Some(left) = ticking
                    && !unseen
                {
                    let to_next = match left.subsec_nanos() {
                        0 => Duration::from_secs(1),
                        n => Duration::from_nanos(n.into()),
                    };
                    ui.ctx().request_repaint_after(to_next + Duration::from_millis(5));
                }
            });
        }
        if enter_password {
            // The prompt where the refusal is shown (or 設定's field when the password comes from
            // elsewhere and typing there would change nothing).
            if matches!(self.view.problem, Some(Problem::Failed(ref d)) if d.kind.refused_login()) {
                self.focus_recovery = true;
            } else {
                // 設定 on the first account, whose password this is.
                if self.settings.show_account(0) {
                    self.settings.focus = Some("pop.username");
                }
                self.tab = Tab::Settings;
            }
        }
    }

    /// Where the server refused the password: type the right one here, 「保存して送信」 keeps it
    /// (as 設定's 保存 does) and sends what waited for it. Not offered where the password comes
    /// from POPSEND_PASSWORD or a command: typing here would change nothing.
    fn password_prompt(&mut self, ui: &mut egui::Ui) {
        use crate::app::backend::PasswordFrom;
        use crate::core::system::secrets::{Password, Source};
        if matches!(self.view.password, Some(PasswordFrom::Found(Source::Env | Source::Command))) {
            return;
        }
        ui.horizontal_wrapped(|ui| {
            let l = ui.label(fl!("gui-recover-password"));
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.recovery)
                        .password(true)
                        .id(egui::Id::unique("recover-password"))
                        .desired_width(220.0),
                )
                .labelled_by(l.id);
            if std::mem::take(&mut self.focus_recovery) {
                field.request_focus();
            }
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let ready = !self.recovery.is_empty();
            let clicked = ui
                .add_enabled(ready, egui::Button::new(fl!("gui-recover-save-send")))
                .on_disabled_hover_text(fl!("gui-recover-type-first"))
                .clicked();
            if ready && (clicked || entered) {
                let form = Box::new(self.view.settings.clone());
                let password = Some(Password::new(std::mem::take(&mut self.recovery)));
                // No 今すぐ送信 beside it: a save that fails must not send with the old password.
                // A save that works restarts the engine with the pause lifted, and what waited is
                // due at once.
                if self.ask(Request::SaveSettings { form, password }) {
                    self.recovering = true;
                }
            }
        });
    }

    /// Asks before closing while messages wait: keep sending in the background, or quit.
    fn close_question(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let requested = ctx.input(|i| i.viewport().close_requested());
        if requested && self.close == CloseFlow::Open {
            // The draft is saved now, whatever the answer, and where the window is.
            let kept = if self.compose_blank() { Unsent::default() } else { self.with_sender(self.compose.clone()) };
            self.ask(Request::SaveDraft(Box::new(kept)));
            let (inner, outer) = ctx.input(|i| (i.viewport().inner_rect, i.viewport().outer_rect));
            if let Some(inner) = inner {
                // In the desktop's points, as the next start opens the window (before 文字サイズ
                // applies): egui's points are those divided by the zoom, and a window saved in
                // them would shrink at each start by 文字サイズ.
                let z = ctx.zoom_factor();
                let at = outer.map(|o| [o.min.x * z, o.min.y * z]);
                self.ask(Request::SaveGeometry(Geometry { size: [inner.width() * z, inner.height() * z], at }));
            }
            self.compose_state.saved = self.compose.clone();
            if self.pending() > 0 {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            }
        }
        let answer = match self.close {
            CloseFlow::Asking => {
                let mut answer = None;
                egui::Modal::new(egui::Id::unique("close-question")).show(&ctx, |ui| {
                    ui.label(fl!("gui-close-question", count = self.pending()));
                    ui.horizontal(|ui| {
                        if ui.button(fl!("gui-close-background")).clicked() {
                            answer = Some(CloseAnswer::Background);
                        }
                        if ui.button(fl!("gui-close-quit")).clicked() {
                            answer = Some(CloseAnswer::Quit);
                        }
                        if ui.button(fl!("gui-cancel")).clicked() {
                            answer = Some(CloseAnswer::Cancel);
                        }
                    });
                });
                answer
            }
            _ => None,
        };
        let next = self.close.next(requested, self.pending() > 0, answer);
        if let (CloseFlow::Asking, CloseFlow::Closing) = (self.close, next)
            && let Some(background) = answer.and_then(CloseAnswer::background)
        {
            self.ask(Request::Shutdown { background });
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        self.close = next;
    }
}

/// Where closing the window stands: open, asking (messages wait), or closing (answered, or
/// nothing waited). `next` is the one place it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseFlow {
    Open,
    Asking,
    Closing,
}

/// The answer to the closing question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseAnswer {
    /// 「バックグラウンドで送信を続ける」
    Background,
    /// 「終了する」
    Quit,
    /// 「キャンセル」
    Cancel,
}

impl CloseAnswer {
    /// For `Request::Shutdown`: keep sending in the background or not; `None` for キャンセル.
    fn background(self) -> Option<bool> {
        match self {
            CloseAnswer::Background => Some(true),
            CloseAnswer::Quit => Some(false),
            CloseAnswer::Cancel => None,
        }
    }
}

impl CloseFlow {
    /// `requested`: the desktop asked to close this frame; `waiting`: messages wait.
    fn next(self, requested: bool, waiting: bool, answer: Option<CloseAnswer>) -> CloseFlow {
        match (self, answer) {
            (CloseFlow::Open, _) if requested && waiting => CloseFlow::Asking,
            (CloseFlow::Open, _) if requested => CloseFlow::Closing,
            (CloseFlow::Asking, Some(CloseAnswer::Cancel)) => CloseFlow::Open,
            (CloseFlow::Asking, Some(_)) => CloseFlow::Closing,
            (state, _) => state,
        }
    }
}

/// "12.3 KB" style sizes.
/// Another account's part of the status bar: its name, then one short sentence (what runs, what
/// stops it, or its relay window). Returns the window's time left while it counts down.
fn other_account_status(
    ui: &mut egui::Ui,
    o: &crate::app::backend::AccountView,
    now: std::time::SystemTime,
) -> Option<Duration> {
    let snap = o.snapshot.as_ref();
    let window = snap.and_then(|s| s.window).map(|w| w.remaining(now)).filter(|left| !left.is_zero());
    let visuals = ui.visuals().clone();
    let (plain, good, bad, weak) =
        (visuals.text_color(), theme::good(&visuals), theme::error(&visuals), visuals.weak_text_color());
    let counting = window.map(crate::text::words::mm_ss);
    let (colour, sentence) = match (snap.map(|s| s.activity), snap.and_then(|s| s.paused.as_ref()), &o.problem) {
        (Some(Activity::LoggingIn), ..) => (plain, fl!("gui-logging-in")),
        (Some(Activity::Sending(n)), ..) => (plain, fl!("gui-sending", count = n)),
        (_, Some(p), _) => (bad, fl!("gui-state-paused", reason = crate::text::words::reason(p.error.kind))),
        (_, _, Some(d)) if window.is_none() => (bad, crate::text::words::reason(d.kind)),
        _ if snap.and_then(|s| s.online) == Some(false) => (weak, fl!("gui-offline")),
        _ => match &counting {
            Some(left) => (good, fl!("gui-window-open", remaining = left.as_str())),
            None => (weak, fl!("gui-window-none")),
        },
    };
    ui.separator();
    ui.label(egui::RichText::new(o.label.as_str()).strong());
    status_sentence(ui, colour, sentence, counting.as_deref().filter(|_| colour == good));
    window
}

/// An account's status sentence, under a clip of its own; `open_left`: it is
/// 「送信できます あと mm:ss」 with this time, drawn by `countdown`.
fn status_sentence(ui: &mut egui::Ui, colour: egui::Color32, sentence: String, open_left: Option<&str>) {
    on_its_own(ui, 1, |ui| match open_left {
        Some(left) => countdown(ui, colour, sentence, left, |t| fl!("gui-window-open", remaining = t)),
        None => ui.colored_label(colour, sentence),
    });
}

/// `sentence`, which holds the countdown `left` (`say` words it with any time given), drawn from
/// pieces egui keeps laid out: the words around the time, and each digit and the colon. A label
/// would lay the whole sentence out again every second, and laying text out (shaping) was the
/// largest part of the frame the countdown costs. Read as one label, the sentence (accesskit,
/// tests). Falls back to a label when the words do not hold the time once.
fn countdown(
    ui: &mut egui::Ui,
    colour: egui::Color32,
    sentence: String,
    left: &str,
    say: impl Fn(&str) -> String,
) -> egui::Response {
    const MARK: &str = "\u{E000}";
    let marked = say(MARK);
    let Some((before, after)) = marked.split_once(MARK).filter(|(_, after)| !after.contains(MARK)) else {
        return ui.colored_label(colour, sentence);
    };
    let font = egui::TextStyle::Body.resolve(ui.style());
    let painter = ui.painter();
    let lay = |text: &str| painter.layout_no_wrap(text.to_owned(), font.clone(), colour);
    // Every digit is laid out each frame, so none falls out of egui's cache between seconds.
    let digits: Vec<(char, std::sync::Arc<egui::Galley>)> =
        "0123456789:".chars().map(|c| (c, lay(c.encode_utf8(&mut [0; 4])))).collect();
    let mut pieces = vec![lay(before)];
    for c in left.chars() {
        match digits.iter().find(|(d, _)| *d == c) {
            Some((_, g)) => pieces.push(g.clone()),
            None => pieces.push(lay(c.encode_utf8(&mut [0; 4]))),
        }
    }
    pieces.push(lay(after));
    let size =
        egui::vec2(pieces.iter().map(|g| g.size().x).sum(), pieces.iter().map(|g| g.size().y).fold(0.0, f32::max));
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
    if ui.is_rect_visible(rect) {
        let mut x = rect.min.x;
        for g in pieces {
            let w = g.size().x;
            ui.painter().galley(egui::pos2(x, rect.min.y), g, colour);
            x += w;
        }
    }
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, ui.is_enabled(), &sentence));
    response
}

/// Adds what changes every second (a countdown) under a clip rectangle of its own. egui makes one
/// mesh of the shapes that follow each other under one clip, so the CPU renderer, which redraws
/// the meshes that changed, would otherwise redraw the whole status bar every second; this way
/// only the countdown. The clip is the bar's own, wider by a hair (`n` quarters of a point: parts
/// side by side that change at different times take different `n`): nothing is cut.
fn on_its_own<R>(ui: &mut egui::Ui, n: u8, add: impl FnOnce(&mut egui::Ui) -> R) -> R {
    ui.scope(|ui| {
        ui.set_clip_rect(ui.clip_rect().expand(0.25 * f32::from(n)));
        add(ui)
    })
    .inner
}

fn size_text(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// The problem line: for a core failure, its headline and next step as the command line says
/// them (the server's reply and the detail are in 送信トレイ's 詳細 and the 接続テスト report).
/// A failure's technical detail, folded: a student need not read it, the administrator may ask
/// for it (copied with the rest).
fn technical_detail(ui: &mut egui::Ui, d: &crate::core::problem::kind::Described) {
    if d.detail.is_empty() || crate::text::words::detail_is_the_students(d.kind) {
        return;
    }
    egui::CollapsingHeader::new(fl!("gui-technical-detail")).id_salt("problem-detail").show(ui, |ui| {
        let e = crate::text::words::explain(d);
        ui.label(fl!("detail", detail = crate::core::display_safe(&d.detail)));
        if ui.small_button(fl!("gui-copy")).clicked() {
            ui.ctx().copy_text(std::iter::once(e.headline.clone()).chain(e.lines()).collect::<Vec<_>>().join("\n"));
        }
    });
}

fn problem_text(p: &Problem) -> String {
    match p {
        Problem::SetupNeeded => fl!("gui-setup-needed"),
        Problem::Draft(d) => fl!("gui-err-draft", detail = d.as_str()),
        Problem::StoredDraftUnreadable => fl!("gui-err-stored-draft"),
        Problem::SenderGone(address) => fl!("gui-err-sender-gone", address = address.as_str()),
        Problem::Contacts(d) => fl!("gui-err-contacts", detail = d.as_str()),
        Problem::Dialog(d) => fl!("gui-err-dialog", detail = d.as_str()),
        Problem::WorkerStopped => fl!("gui-worker-stopped"),
        // The headline, the server's own words and the next step; the technical detail (often
        // English, from the system) is folded below (`technical_detail`).
        Problem::Failed(d) => {
            let e = crate::text::words::explain(d);
            let folded = !crate::text::words::detail_is_the_students(d.kind);
            let e = crate::text::words::Explained { detail: e.detail.filter(|_| !folded), ..e };
            let mut text = e.headline.clone();
            for line in e.lines() {
                text += &format!("\n{line}");
            }
            text
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.draw(ui);
    }

    /// The panels' own colour: they paint no background of their own (see `draw`).
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        visuals.panel_fill.to_normalized_gamma_f32()
    }

    /// egui makes its font atlas as wide as the GPU allows (16,384 px under Mesa) and doubles its
    /// height as glyphs come: every growth re-uploads the whole atlas. A narrower one holds the
    /// same glyphs in fewer bytes at each step.
    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        raw_input.max_texture_side = Some(raw_input.max_texture_side.unwrap_or(ATLAS_SIDE).min(ATLAS_SIDE));
    }
}

/// The widest font atlas popsend asks egui for (see `raw_input_hook`).
pub(crate) const ATLAS_SIDE: usize = 2048;

/// popsend's icon (made from `packaging/icons/popsend.svg` by `packaging/icons/make.sh`).
const ICON_PNG: &[u8] = include_bytes!("../../packaging/icons/png/popsend-128.png");

/// Opens the window; returns when it is closed. `listener` carries later starts' requests to it,
/// `mailto` fills 作成 at once. The window is drawn by the GPU through OpenGL where it is a real
/// one, else on the CPU path (`renderer` decides; the choice and why go to stderr).
pub fn run(paths: Paths, listener: Option<Listener>, mailto: Option<Mailto>) -> Result<(), String> {
    use renderer::{Asked, Found, Path};
    let started = std::time::Instant::now();
    // Where and how large the window was when it last closed.
    let last = crate::app::backend::saved_geometry(&paths.data_dir);
    let mut viewport = egui::ViewportBuilder::default()
        .with_title(fl!("app-name"))
        .with_app_id(crate::APP_ID)
        .with_inner_size(last.map_or([960.0, 700.0], |g| g.size))
        .with_min_inner_size([560.0, 420.0])
        .with_drag_and_drop(true);
    if let Some(at) = last.and_then(|g| g.at) {
        viewport = viewport.with_position(at);
    }
    match eframe::icon_data::from_png_bytes(ICON_PNG) {
        Ok(icon) => viewport = viewport.with_icon(Arc::new(icon)),
        Err(e) => tell_icon_problem(&e.to_string()),
    }
    let configured = crate::app::backend::configured_renderer(&paths.config_file);
    let asked = renderer::asked(std::env::var("POPSEND_RENDERER").ok().as_deref(), configured.as_deref());
    let remembered = crate::app::backend::remembered_renderer(&paths.data_dir);
    let data_dir = paths.data_dir.clone();
    let trace = std::env::var_os("POPSEND_TRACE_START").map(|_| started);
    // What the window is made from, taken by whichever path opens it.
    let parts = std::cell::RefCell::new(Some((paths, listener, mailto)));
    let make = |ctx: &egui::Context| {
        let (paths, listener, mailto) = parts.borrow_mut().take().expect("the window is made once");
        // Light unless the desktop says dark: egui's own fallback is dark, which on a light
        // desktop reads as a developer's tool.
        ctx.options_mut(|o| o.fallback_theme = egui::Theme::Light);
        let mut app = App::new(ctx, paths);
        app.follow_theme(crate::app::desktop::prefers_dark());
        if let Some(l) = listener {
            app.listen(ctx, l);
        }
        if let Some(m) = mailto {
            app.open_mailto(m);
        }
        FirstFrame { app, started: trace }
    };
    // eframe reports what goes wrong on its path through `log` only: its errors reach stderr.
    if log::set_logger(&STDERR_LOG).is_ok() {
        log::set_max_level(log::LevelFilter::Error);
    }
    let mut event_loop =
        winit::event_loop::EventLoop::<eframe::UserEvent>::with_user_event().build().map_err(|e| e.to_string())?;
    let why = match renderer::first(asked, remembered) {
        Path::Cpu if asked == Asked::Cpu => "asked by POPSEND_RENDERER or [app] renderer".to_owned(),
        Path::Cpu => "found at an earlier start".to_owned(),
        Path::Gl => {
            let found = std::cell::RefCell::new(Found::NoContext);
            let options = eframe::NativeOptions {
                viewport: viewport.clone(),
                #[cfg(feature = "wgpu")]
                renderer: eframe::Renderer::Wgpu,
                ..Default::default()
            };
            let mut gl = eframe::create_native(
                &fl!("app-name"),
                options,
                Box::new(|cc| {
                    let name = cc.gl.as_ref().map(|gl| {
                        use eframe::glow::HasContext as _;
                        // SAFETY: a query of the context eframe has just made current.
                        unsafe { gl.get_parameter_string(eframe::glow::RENDERER) }
                    });
                    let name = name.unwrap_or_else(|| "wgpu".into());
                    *found.borrow_mut() =
                        if renderer::is_software(&name) { Found::Software(name) } else { Found::Gpu(name) };
                    if renderer::after_gl(asked, &found.borrow()).is_some() {
                        // Nothing is shown yet (eframe shows the window after its first frame), and
                        // eframe's report of this answer is no error of the student's.
                        log::set_max_level(log::LevelFilter::Off);
                        return Err("the CPU path draws this window".into());
                    }
                    eprintln!("popsend: renderer: gl ({:?})", found.borrow());
                    Ok(Box::new(make(&cc.egui_ctx)))
                }),
                &event_loop,
            );
            use winit::platform::run_on_demand::EventLoopExtRunOnDemand as _;
            let ran = event_loop.run_app_on_demand(&mut gl);
            drop(gl);
            log::set_max_level(log::LevelFilter::Error);
            let found = found.into_inner();
            match renderer::after_gl(asked, &found) {
                None => {
                    if asked == Asked::Auto && ran.is_ok() {
                        let _ = crate::app::backend::remember_renderer(&data_dir, Path::Gl, &format!("{found:?}"));
                    }
                    return ran.map_err(|e| e.to_string());
                }
                Some(why) => {
                    // Only a finding is remembered: software OpenGL. A context that could not be
                    // made is tried again next time (it costs little, and may have been passing).
                    if asked == Asked::Auto && ran.is_ok() && matches!(found, Found::Software(_)) {
                        let _ = crate::app::backend::remember_renderer(&data_dir, Path::Cpu, &why);
                    }
                    why
                }
            }
        }
    };
    eprintln!("popsend: renderer: cpu ({why})");
    cpu::run(&mut event_loop, viewport, make)
}

/// Errors of the libraries under the window (eframe, winit), as `popsend: …` lines on stderr.
struct StderrLog;

static STDERR_LOG: StderrLog = StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Error
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("popsend: {}: {}", record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

impl cpu::Drawn for FirstFrame {
    fn draw(&mut self, ui: &mut egui::Ui) {
        self.app.draw(ui);
        if let Some(t) = self.started.take() {
            eprintln!("popsend: first frame after {} ms", t.elapsed().as_millis());
        }
    }

    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        eframe::App::clear_color(&self.app, visuals)
    }

    fn raw_input_hook(&mut self, ctx: &egui::Context, raw: &mut egui::RawInput) {
        eframe::App::raw_input_hook(&mut self.app, ctx, raw);
    }
}

/// The embedded icon is checked by a test; should it ever not decode, the window still opens.
fn tell_icon_problem(detail: &str) {
    eprintln!("popsend: icon: {detail}");
}

/// The app, plus (with `POPSEND_TRACE_START` set) one line on stderr when the first frame is
/// drawn: how cold start is measured.
struct FirstFrame {
    app: App,
    started: Option<std::time::Instant>,
}

impl eframe::App for FirstFrame {
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        self.app.clear_color(visuals)
    }

    fn raw_input_hook(&mut self, ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        self.app.raw_input_hook(ctx, raw_input);
    }

    /// The same frame as on the CPU path (`cpu::Drawn::draw`).
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        cpu::Drawn::draw(self, ui);
    }
}

#[cfg(test)]
mod tests {
    use super::{CloseAnswer, CloseFlow};

    /// The close flow's one transition function: a close with nothing waiting closes; with mail
    /// waiting it asks, and only an answer moves it on (キャンセル back to open).
    #[test]
    fn closing_asks_only_while_mail_waits() {
        use CloseFlow::*;
        assert_eq!(Open.next(false, true, None), Open);
        assert_eq!(Open.next(true, false, None), Closing);
        assert_eq!(Open.next(true, true, None), Asking);
        assert_eq!(Asking.next(false, true, None), Asking);
        assert_eq!(Asking.next(true, true, None), Asking, "a second close request while asking changes nothing");
        assert_eq!(Asking.next(false, true, Some(CloseAnswer::Cancel)), Open);
        assert_eq!(Asking.next(false, true, Some(CloseAnswer::Background)), Closing);
        assert_eq!(Asking.next(false, true, Some(CloseAnswer::Quit)), Closing);
        assert_eq!(Closing.next(true, true, None), Closing);
        assert_eq!(CloseAnswer::Background.background(), Some(true));
        assert_eq!(CloseAnswer::Quit.background(), Some(false));
        assert_eq!(CloseAnswer::Cancel.background(), None);
    }
}
