//! The desktop window (eframe/egui): a status bar with the relay-window countdown, and the
//! 作成 / 送信トレイ / 送信済み views. It draws the worker's latest `View` and sends `Request`s;
//! it never does I/O, never blocks, and repaints on the worker's signal or once a second while the
//! countdown runs. Every visible string comes from `i18n`.

mod fonts;

pub use fonts::install as install_fonts;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::core::account::Paths;
use crate::core::compose::Draft;
use crate::core::engine::Activity;
use crate::core::outbox::{Row, State};
use crate::core::worker::{Problem, Request, View, Worker};
use crate::fl;
use crate::words::{reason, state_name};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Compose,
    Outbox,
    Sent,
}

/// What the user is writing (kept across tab switches).
#[derive(Debug, Default, Clone)]
pub struct Compose {
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
}

impl Compose {
    fn draft(&self) -> Draft {
        let split = |s: &str| s.split([',', '、']).map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect();
        Draft { to: split(&self.to), cc: split(&self.cc), bcc: split(&self.bcc), subject: self.subject.clone(), body: self.body.clone(), ..Draft::default() }
    }
}

pub struct App {
    worker: Worker,
    view: View,
    pub tab: Tab,
    pub compose: Compose,
    /// A 削除 click waiting for confirmation.
    confirm_delete: Option<i64>,
    /// A line for the user about the last action (e.g. a request the worker could not take).
    notice: Option<String>,
}

impl App {
    /// Installs the Japanese font and starts the worker, which repaints `ctx` on every change.
    pub fn new(ctx: &egui::Context, paths: Paths) -> App {
        fonts::install(ctx);
        let repaint_ctx = ctx.clone();
        let worker = Worker::spawn(paths, Arc::new(move || repaint_ctx.request_repaint()));
        App { worker, view: View::default(), tab: Tab::Compose, compose: Compose::default(), confirm_delete: None, notice: None }
    }

    /// The worker's view as last drawn (for tests).
    pub fn view(&self) -> &View {
        &self.view
    }

    fn ask(&mut self, r: Request) {
        if self.worker.request(r).is_err() {
            self.notice = Some(fl!("gui-worker-busy"));
        }
    }

    /// Draws one frame. The same code runs in the window and in the UI tests.
    pub fn draw(&mut self, ui: &mut egui::Ui) {
        if self.worker.version() != self.view.version {
            self.view = self.worker.view();
        }
        egui::Panel::top("status").show(ui, |ui| self.status_bar(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.tab, Tab::Compose, fl!("gui-tab-compose"));
                let waiting = self.view.waiting.len();
                ui.selectable_value(&mut self.tab, Tab::Outbox, fl!("gui-tab-outbox", count = waiting));
                ui.selectable_value(&mut self.tab, Tab::Sent, fl!("gui-tab-sent"));
            });
            ui.separator();
            if let Some(p) = &self.view.problem {
                ui.colored_label(egui::Color32::from_rgb(200, 60, 40), problem_text(p));
            }
            if let Some(n) = &self.notice {
                ui.label(n.as_str());
            }
            match self.tab {
                Tab::Compose => self.compose_view(ui),
                Tab::Outbox => self.outbox_view(ui),
                Tab::Sent => self.sent_view(ui),
            }
        });
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(self.view.account.as_str());
            let snap = self.view.snapshot.as_ref();
            ui.label(match snap.and_then(|s| s.online) {
                Some(true) => fl!("gui-online"),
                Some(false) => fl!("gui-offline"),
                None => fl!("gui-online-unknown"),
            });
            let window = snap.and_then(|s| s.window).map(|w| (w, w.remaining(SystemTime::now())));
            match window {
                Some((w, left)) if !left.is_zero() => {
                    ui.label(fl!("gui-window-open", remaining = crate::cli::mm_ss(left)));
                    let frac = left.as_secs_f32() / w.length.as_secs_f32().max(1.0);
                    ui.add(egui::ProgressBar::new(frac).desired_width(120.0));
                    // The countdown: one repaint a second, no busy loop.
                    ui.ctx().request_repaint_after(Duration::from_secs(1));
                }
                Some(_) => {
                    ui.label(fl!("gui-window-expired"));
                }
                None => {
                    ui.label(fl!("gui-window-none"));
                }
            }
            match snap.map(|s| s.activity) {
                Some(Activity::LoggingIn) => {
                    ui.label(fl!("gui-logging-in"));
                }
                Some(Activity::Sending(n)) => {
                    ui.label(fl!("gui-sending", count = n));
                }
                _ => {}
            }
            if ui.button(fl!("gui-flush-now")).clicked() {
                self.ask(Request::FlushNow);
            }
            if ui.button(fl!("gui-login-now")).clicked() {
                self.ask(Request::LoginNow);
            }
        });
    }

    fn compose_view(&mut self, ui: &mut egui::Ui) {
        let c = &mut self.compose;
        egui::Grid::new("compose").num_columns(2).show(ui, |ui| {
            for (label, value) in [
                (fl!("gui-to"), &mut c.to),
                (fl!("gui-cc"), &mut c.cc),
                (fl!("gui-bcc"), &mut c.bcc),
                (fl!("gui-subject"), &mut c.subject),
            ] {
                let l = ui.label(label);
                ui.add(egui::TextEdit::singleline(value).desired_width(f32::INFINITY)).labelled_by(l.id);
                ui.end_row();
            }
        });
        let l = ui.label(fl!("gui-body"));
        ui.add(egui::TextEdit::multiline(&mut c.body).desired_rows(12).desired_width(f32::INFINITY)).labelled_by(l.id);
        let send_key = ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::Enter));
        ui.horizontal(|ui| {
            let ready = !self.compose.to.trim().is_empty();
            let send = ui.add_enabled(ready, egui::Button::new(fl!("gui-send"))).clicked() || (ready && send_key);
            let later = ui.add_enabled(ready, egui::Button::new(fl!("gui-send-later"))).clicked();
            if send || later {
                let draft = Box::new(self.compose.draft());
                self.ask(Request::Send { draft, now: send });
                if self.notice.is_none() {
                    self.compose = Compose::default();
                    self.tab = Tab::Outbox;
                }
            }
        });
    }

    fn outbox_view(&mut self, ui: &mut egui::Ui) {
        if self.view.waiting.is_empty() {
            ui.label(fl!("queue-empty"));
            return;
        }
        let mut action = None;
        egui::ScrollArea::vertical().show_rows(ui, ui.text_style_height(&egui::TextStyle::Body) * 2.2, self.view.waiting.len(), |ui, range| {
            for row in &self.view.waiting[range] {
                ui.horizontal(|ui| {
                    row_text(ui, row);
                    if row.state != State::Sending {
                        if ui.button(fl!("gui-retry")).clicked() {
                            action = Some(Request::Retry(row.id));
                        }
                        if self.confirm_delete == Some(row.id) {
                            if ui.button(fl!("gui-delete-confirm")).clicked() {
                                action = Some(Request::Delete(row.id));
                            }
                            if ui.button(fl!("gui-cancel")).clicked() {
                                self.confirm_delete = None;
                            }
                        } else if ui.button(fl!("gui-delete")).clicked() {
                            self.confirm_delete = Some(row.id);
                        }
                    }
                });
            }
        });
        if let Some(a) = action {
            self.confirm_delete = None;
            self.ask(a);
        }
    }

    fn sent_view(&mut self, ui: &mut egui::Ui) {
        if self.view.sent.is_empty() {
            ui.label(fl!("sent-empty"));
            return;
        }
        egui::ScrollArea::vertical().show_rows(ui, ui.text_style_height(&egui::TextStyle::Body) * 2.2, self.view.sent.len(), |ui, range| {
            for row in &self.view.sent[range] {
                row_text(ui, row);
            }
        });
    }
}

fn row_text(ui: &mut egui::Ui, row: &Row) {
    let mut text = format!("{}  {}  {}", state_name(row.state), row.to, row.subject);
    if row.attempts > 0 {
        text += &format!("  ({} {})", fl!("col-attempts"), row.attempts);
    }
    ui.label(text);
    if let Some(e) = &row.last_error {
        let why = ui.label(reason(e));
        // The server's own reply on hover.
        if let Some(reply) = &e.reply {
            why.on_hover_text(reply.as_str());
        }
    }
}

fn problem_text(p: &Problem) -> String {
    match p {
        Problem::Config(d) => fl!("err-config", detail = d.as_str()),
        Problem::Compose(d) => fl!("err-compose", detail = d.as_str()),
        Problem::Password(d) => fl!("err-password", detail = d.as_str()),
        Problem::Outbox(d) => fl!("err-outbox", detail = d.as_str()),
        Problem::Run { detail, reply } => match reply {
            Some(r) => format!("{detail} — {}", fl!("server-reply", reply = r.as_str())),
            None => detail.clone(),
        },
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.draw(ui);
    }
}

/// Opens the window; returns when it is closed.
pub fn run(paths: Paths) -> Result<(), String> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_title(fl!("app-name")).with_inner_size([860.0, 620.0]),
        ..Default::default()
    };
    eframe::run_native(&fl!("app-name"), options, Box::new(move |cc| Ok(Box::new(App::new(&cc.egui_ctx, paths)))))
        .map_err(|e| e.to_string())
}
