//! The first-run assistant (はじめての設定): (1) the address and the password, and a name to show
//! if the student likes; (2) popsend finds the servers and says what it found in one sentence,
//! with 「変更する」 to open the full 設定; (3) 接続テスト runs at once with those settings, not
//! yet saved; when it passes, 「テストメールを自分に送る」 saves, sends one message to the
//! student's own address and opens 作成. Nothing is written until the test passed or the student
//! chose 「このまま保存」. No I/O here: the worker finds, tests and saves.

use crate::app::backend::Request;
use crate::app::form::Form;
use crate::core::message::drafts::{Unsent, bad_addresses};
use crate::core::setup::account::Security;
use crate::core::setup::discover::{NotFound, Progress, Proposal, Source};
use crate::core::system::secrets::Password;
use crate::fl;

use super::{App, Tab};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Step {
    #[default]
    Account,
    Finding,
    Testing,
}

#[derive(Default)]
pub struct Assistant {
    pub step: Step,
    pub address: String,
    pub name: String,
    pub password: String,
    /// The proposal sends the POP password in the clear; the student allowed it.
    allow_cleartext: bool,
    /// The last trial: the form as tried (with the user name that got furthest) and whether it passed.
    pub(super) trial: Option<(Form, bool)>,
    /// Finished: the settings were handed to the worker.
    finished: bool,
    /// Put the cursor in メールアドレス on the next frame.
    focus_address: bool,
    /// 設定 「アカウントを追加」: the account found goes beside the ones there are.
    pub adding: bool,
}

fn security_words(s: Security) -> String {
    match s {
        Security::None => fl!("set-security-none"),
        Security::Starttls => fl!("set-security-starttls"),
        Security::Tls => fl!("set-security-tls"),
    }
}

/// The one sentence that says what was found, and where it came from.
fn found_sentence(p: &Proposal, presets: &[crate::core::setup::presets::Preset]) -> String {
    let lang = crate::text::i18n::current();
    let from = match &p.source {
        Source::Preset(id) => {
            let name = presets.iter().find(|x| &x.id == id).map_or(id.as_str(), |x| x.name_in(&lang));
            fl!("wiz-source-preset", name = name)
        }
        Source::Autoconfig(_) => fl!("wiz-source-autoconfig"),
        Source::Probe => fl!("wiz-source-probe"),
    };
    fl!(
        "wiz-found",
        pop = format!("{}:{}", p.pop_host, p.pop_port),
        pop_security = security_words(p.pop_security),
        smtp = format!("{}:{}", p.smtp_host, p.smtp_port),
        smtp_security = security_words(p.smtp_security),
        from = from
    )
}

fn progress_text(p: &Progress) -> String {
    match p {
        Progress::Presets => fl!("wiz-progress-presets"),
        Progress::Autoconfig(url) => fl!("wiz-progress-autoconfig", url = url.as_str()),
        Progress::Probing { host, port } => fl!("wiz-progress-probe", server = format!("{host}:{port}")),
    }
}

fn not_found_text(e: &NotFound) -> String {
    match e {
        NotFound::NotAnAddress(_) => fl!("set-err-address"),
        NotFound::NoPop { domain, tried } => fl!("wiz-no-pop", domain = domain.as_str(), tried = tried.as_str()),
        NotFound::NoSmtp { domain, tried } => fl!("wiz-no-smtp", domain = domain.as_str(), tried = tried.as_str()),
    }
}

impl App {
    /// Opens the assistant from the start (first run, or 設定 「設定をやり直す」).
    pub fn start_assistant(&mut self) {
        // The first account's address (設定 may be showing another).
        self.assistant =
            Assistant { address: self.view.settings.address.clone(), focus_address: true, ..Assistant::default() };
        self.tab = Tab::Assistant;
    }

    /// The assistant's single-account `form` among the accounts there are: added after them
    /// (「アカウントを追加」), or in the first account's place (the first run, 「設定をやり直す」),
    /// the others kept.
    fn placed(&self, form: &Form) -> Form {
        let k = if self.assistant.adding { self.view.settings.accounts.len() } else { 0 };
        Form::at(&self.view.settings, form, k)
    }

    /// 設定 「アカウントを追加」: the assistant for one more account.
    pub fn add_account(&mut self) {
        self.assistant = Assistant { focus_address: true, adding: true, ..Assistant::default() };
        self.tab = Tab::Assistant;
    }

    /// A card in the middle of the window, with its step count (the tabs wait until an account
    /// exists).
    pub(super) fn assistant_view(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical().id_salt("assistant-scroll").show(ui, |ui| {
            ui.add_space(12.0);
            ui.horizontal(|ui| {
                // Centred in a wide window; never pushed further than a wide screen would.
                ui.add_space(((ui.available_width() - 640.0) / 2.0).clamp(0.0, 600.0));
                egui::Frame::group(ui.style()).inner_margin(16.0).show(ui, |ui| {
                    ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
                        ui.set_width(ui.available_width().min(606.0));
                        ui.heading(if self.assistant.adding { fl!("wiz-title-add") } else { fl!("wiz-title") });
                        let n = match self.assistant.step {
                            Step::Account => 1,
                            Step::Finding => 2,
                            Step::Testing => 3,
                        };
                        ui.weak(fl!("wiz-step", step = n, total = 3));
                        ui.add_space(6.0);
                        match self.assistant.step {
                            Step::Account => self.wiz_account(ui),
                            Step::Finding => self.wiz_finding(ui),
                            Step::Testing => self.wiz_testing(ui),
                        }
                    });
                });
            });
        });
    }

    fn wiz_account(&mut self, ui: &mut egui::Ui) {
        ui.label(fl!("wiz-intro"));
        ui.add_space(6.0);
        let a = &mut self.assistant;
        let mut submit = false;
        egui::Grid::new("wiz-account").num_columns(2).show(ui, |ui| {
            let l = ui.label(fl!("set-address"));
            ui.vertical(|ui| {
                let r = ui
                    .add(
                        egui::TextEdit::singleline(&mut a.address).hint_text("taro@example.ac.jp").desired_width(320.0),
                    )
                    .labelled_by(l.id);
                if std::mem::take(&mut a.focus_address) {
                    r.request_focus();
                }
                submit |= r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if !a.address.trim().is_empty() && !bad_addresses(&a.address).is_empty() {
                    ui.colored_label(ui.visuals().error_fg_color, fl!("set-err-address"));
                }
            });
            ui.end_row();
            let l = ui.label(fl!("set-password"));
            let r = ui
                .add(egui::TextEdit::singleline(&mut a.password).password(true).desired_width(320.0))
                .labelled_by(l.id);
            submit |= r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.end_row();
            let l = ui.label(fl!("wiz-name"));
            ui.vertical(|ui| {
                ui.add(egui::TextEdit::singleline(&mut a.name).hint_text(fl!("wiz-name-hint")).desired_width(320.0))
                    .labelled_by(l.id);
            });
            ui.end_row();
        });
        let address = a.address.trim().to_owned();
        let ready = address.contains('@') && bad_addresses(&address).is_empty() && !a.password.is_empty();
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            let next =
                ui.add_enabled(ready, egui::Button::new(fl!("wiz-next"))).on_disabled_hover_text(fl!("wiz-next-needs"));
            if next.clicked() || (ready && submit) {
                self.assistant.step = Step::Finding;
                self.assistant.trial = None;
                self.ask(Request::Discover(address.clone()));
            }
            if ui.button(fl!("wiz-manual")).clicked() {
                self.by_hand();
            }
            // Why 次へ cannot be pressed yet, beside it.
            if !ready {
                ui.weak(fl!("wiz-next-needs"));
            }
        });
    }

    /// 「自分で設定する」: 設定 with everything typed so far — the address, the sender's name, the
    /// password in the same unsaved field, the address's local part as the user name — so nothing
    /// is typed twice.
    fn by_hand(&mut self) {
        let a = &self.assistant;
        let address = a.address.trim().to_owned();
        // Another account: a form of its own beside the others; else the first account's, as
        // saved (設定 may have been showing another).
        self.settings.form = match a.adding {
            true => Form::adding(&self.view.settings, &Form::default()),
            false => self.view.settings.clone(),
        };
        self.settings.mark_edited();
        // Only the password typed here: never one typed in 設定 for another account.
        self.settings.password = a.password.clone();
        let f = &mut self.settings.form;
        f.address = address.clone();
        if !a.name.trim().is_empty() {
            f.display_name = a.name.trim().to_owned();
        }
        if f.pop_username.trim().is_empty() {
            f.pop_username = address.split('@').next().unwrap_or_default().to_owned();
        }
        self.tab = Tab::Settings;
    }

    fn wiz_finding(&mut self, ui: &mut egui::Ui) {
        let discovery = self.view.discovery.clone().filter(|d| d.address.trim() == self.assistant.address.trim());
        let Some(d) = discovery else {
            ui.spinner();
            return;
        };
        match &d.result {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(fl!("wiz-finding"));
                });
                if let Some(p) = d.progress.last() {
                    ui.weak(progress_text(p));
                }
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, not_found_text(e));
                ui.label(fl!("wiz-not-found-next"));
                ui.horizontal(|ui| {
                    if ui.button(fl!("wiz-manual")).clicked() {
                        self.by_hand();
                    }
                    if ui.button(fl!("wiz-back")).clicked() {
                        self.assistant.step = Step::Account;
                    }
                });
            }
            Some(Ok(p)) => {
                let p = p.clone();
                ui.label(found_sentence(&p, &self.view.presets));
                if p.window_minutes.is_none() {
                    ui.weak(fl!("wiz-window-note"));
                }
                if p.pop_cleartext_only {
                    ui.colored_label(ui.visuals().error_fg_color, fl!("wiz-cleartext-only"));
                    ui.checkbox(&mut self.assistant.allow_cleartext, fl!("set-allow-plaintext"));
                }
                let mut test = false;
                ui.horizontal(|ui| {
                    test = ui
                        .add_enabled(
                            !p.pop_cleartext_only || self.assistant.allow_cleartext,
                            egui::Button::new(fl!("wiz-test")),
                        )
                        .on_disabled_hover_text(fl!("wiz-test-needs-cleartext"))
                        .clicked();
                    if ui.button(fl!("wiz-change")).clicked() {
                        let form = self.wiz_form(&p);
                        self.settings.form = self.placed(&form);
                        self.settings.mark_edited();
                        self.settings.password = self.assistant.password.clone();
                        self.tab = Tab::Settings;
                    }
                    if ui.button(fl!("wiz-back")).clicked() {
                        self.assistant.step = Step::Account;
                    }
                });
                // 接続テスト runs at once unless the student has a choice to make first.
                if test || !p.pop_cleartext_only {
                    self.wiz_try(&p);
                }
            }
        }
    }

    /// The settings to try: the defaults, the student's address and name, the proposal.
    fn wiz_form(&self, p: &Proposal) -> Form {
        let a = &self.assistant;
        let mut f = Form {
            address: a.address.trim().to_owned(),
            display_name: a.name.trim().to_owned(),
            language: self.settings.form.language.clone(),
            ..Form::default()
        };
        f.apply_proposal(p);
        f.allow_plaintext_password = p.pop_cleartext_only && a.allow_cleartext;
        f
    }

    fn wiz_try(&mut self, p: &Proposal) {
        let form = self.wiz_form(p);
        self.assistant.trial = None;
        let request = Request::TryAccount {
            form: Box::new(form),
            usernames: p.usernames.clone(),
            password: Password::new(self.assistant.password.clone()),
        };
        if self.ask(request) {
            self.assistant.step = Step::Testing;
        }
    }

    fn wiz_testing(&mut self, ui: &mut egui::Ui) {
        if let Some(Some(Ok(p))) = self.view.discovery.as_ref().map(|d| d.result.as_ref()) {
            ui.label(found_sentence(p, &self.view.presets));
        }
        let running =
            self.view.diagnosis.as_ref().is_none_or(|(running, _)| *running) || self.assistant.trial.is_none();
        if running {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(fl!("gui-diagnose-running"));
            });
        }
        let finish = |app: &mut App, test_mail: bool| {
            let Some((form, _)) = app.assistant.trial.clone() else { return };
            let form = app.placed(&form);
            let mail = test_mail.then(|| {
                Box::new(Unsent {
                    to: form.address.clone(),
                    subject: fl!("wiz-test-subject"),
                    body: fl!("wiz-test-body"),
                    ..Unsent::default()
                })
            });
            let password = Password::new(app.assistant.password.clone());
            if app.ask(Request::FinishSetup { form: Box::new(form.clone()), password, test_mail: mail }) {
                app.assistant.finished = true;
                app.assistant.password.clear();
                app.settings.form = form;
                app.tab = if test_mail { Tab::Outbox } else { Tab::Compose };
            }
        };
        if !running && !self.assistant.finished {
            let passed = self.assistant.trial.as_ref().is_some_and(|(_, ok)| *ok);
            ui.horizontal(|ui| {
                if passed {
                    if ui.button(fl!("wiz-send-test")).clicked() {
                        finish(self, true);
                    }
                    if ui.button(fl!("wiz-save-only")).clicked() {
                        finish(self, false);
                    }
                } else if ui.button(fl!("wiz-save-anyway")).clicked() {
                    finish(self, false);
                }
                if ui.button(fl!("wiz-change")).clicked() {
                    if let Some((form, _)) = &self.assistant.trial {
                        self.settings.form = self.placed(form);
                        self.settings.mark_edited();
                    }
                    self.settings.password = self.assistant.password.clone();
                    self.tab = Tab::Settings;
                }
                if ui.button(fl!("wiz-back")).clicked() {
                    self.assistant.step = Step::Account;
                }
            });
            if !passed {
                ui.label(fl!("wiz-failed-next"));
                let offer = self.view.diagnosis.as_ref().and_then(|(_, steps)| super::diagnose::switch_offer(steps));
                if let Some(port) = offer
                    && super::diagnose::switch_row(ui, port)
                    && let Some((mut form, _)) = self.assistant.trial.clone()
                {
                    super::diagnose::switch_to(&mut form, port);
                    let usernames = vec![form.pop_username.clone()];
                    let password = Password::new(self.assistant.password.clone());
                    if self.ask(Request::TryAccount { form: Box::new(form), usernames, password }) {
                        self.assistant.trial = None;
                    }
                }
            }
        }
        if let Some((_, steps)) = &self.view.diagnosis {
            ui.separator();
            if let Some(page) =
                egui::ScrollArea::vertical().show(ui, |ui| super::diagnose::steps_list(ui, steps, running)).inner
            {
                self.show_guide(page);
            }
        }
    }
}
