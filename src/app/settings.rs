//! 設定: every key of the config file, the password (handed to the worker for the OS keyring),
//! the language and notifications. 「保存」 (Ctrl+S) sends the form to the worker, which validates,
//! writes and restarts the engine; each wrong field is named beside it. No I/O here.

use crate::app::backend::{PasswordFrom, Request, Saved, View};
use crate::app::form::{FieldError, Form, Problem};
use crate::core::message::compose::Charset;
use crate::core::setup::account::{Fault, PopAuth, Security};
use crate::core::system::secrets::{Password, Source};
use crate::fl;

use super::App;
use crate::core::message::contacts::Contact;

/// The form as the user edits it.
#[derive(Default)]
pub struct SettingsForm {
    pub form: Form,
    /// Typed here; sent once with 「保存」 and then forgotten.
    pub password: String,
    errors: Vec<FieldError>,
    /// A line about the last 保存.
    message: Option<(bool, String)>,
    /// The system's own words behind it (folded under 技術的な詳細).
    message_detail: Option<String>,
    /// 「ファイルに保存する…」 was pressed: its consequences are shown, waiting for the choice.
    file_asking: bool,
    /// What keeping the password in the file did (true: it went well).
    pub(super) file_message: Option<(bool, String)>,
    /// アドレス帳's part of the form.
    pub(super) contacts: ContactsForm,
    /// The form was edited since it was last filled from the saved settings.
    edited: bool,
    /// The preset chosen last (its note shows under the list).
    preset: Option<usize>,
    /// The widest label of the last frame: every section's label column is this wide, so all
    /// fields line up in one column whatever the language.
    label_width: f32,
    /// The field (by its config key) a failure's 「設定で直す」 asked for: opened (詳細設定
    /// unfolded) and given the cursor once.
    pub(super) focus: Option<&'static str>,
    /// 「このアカウントを削除」 was pressed: what happens is shown, waiting for the choice.
    confirm_remove: bool,
}

/// What the account part of 設定 asked for.
#[derive(Default)]
struct AccountAsk {
    add: bool,
    /// Remove the account shown (the student has confirmed): saved at once.
    remove: Option<Form>,
}

/// 設定's account part: which account the fields below are (where there are several), 「アカウント
/// を追加」, and 「このアカウントを削除」 for any but the first (asks first, saying what becomes of
/// its waiting messages).
fn accounts_section(ui: &mut egui::Ui, s: &mut SettingsForm, waiting_of: &dyn Fn(usize) -> usize) -> AccountAsk {
    let mut ask = AccountAsk::default();
    let labels = s.form.labels();
    ui.horizontal_wrapped(|ui| {
        if labels.len() > 1 {
            let l = ui.label(fl!("set-account-choose"));
            let now = s.form.editing;
            let mut chosen = now;
            egui::ComboBox::from_id_salt("account-choice")
                .selected_text(labels.get(now).cloned().unwrap_or_default())
                .show_ui(ui, |ui| {
                    for (i, label) in labels.iter().enumerate() {
                        let shown =
                            if i == 0 { fl!("set-account-default", account = label.as_str()) } else { label.clone() };
                        ui.selectable_value(&mut chosen, i, shown);
                    }
                })
                .response
                .labelled_by(l.id);
            if chosen != now {
                // The fields typed so far go with their account; a wrong one keeps them here.
                s.show_account(chosen);
            }
        }
        ask.add = ui.button(fl!("set-account-add")).clicked();
        if s.form.editing > 0 && !s.confirm_remove && ui.button(fl!("set-account-remove")).clicked() {
            s.confirm_remove = true;
        }
    });
    if s.confirm_remove && s.form.editing > 0 {
        let k = s.form.editing;
        let label = labels.get(k).cloned().unwrap_or_default();
        let waiting = waiting_of(k);
        ui.label(if waiting == 0 {
            fl!("set-account-remove-empty", account = label.as_str())
        } else {
            fl!("set-account-remove-waiting", account = label.as_str(), count = waiting)
        });
        ui.horizontal(|ui| {
            if ui.button(fl!("set-account-remove-yes")).clicked() {
                ask.remove = Some(s.form.without(k));
                s.confirm_remove = false;
            }
            if ui.button(fl!("gui-cancel")).clicked() {
                s.confirm_remove = false;
            }
        });
    }
    ask
}

/// アドレス帳's part of 設定: the entry being added, the one whose 削除 waits for confirmation,
/// and what the last import or export did.
#[derive(Default)]
pub(super) struct ContactsForm {
    new_name: String,
    new_address: String,
    confirm_delete: Option<usize>,
    pub(super) message: Option<(bool, String)>,
}

/// 設定's アドレス帳: how many, import (vCard/CSV) and export, and the list folded, with 削除
/// (asks first) and an entry to add (its address checked as typed). Returns the request to hand
/// over, if any.
fn contacts_section(ui: &mut egui::Ui, s: &mut ContactsForm, book: &[Contact]) -> Option<Request> {
    let mut request = None;
    ui.heading(fl!("set-section-contacts"));
    ui.horizontal_wrapped(|ui| {
        ui.label(fl!("set-contacts-count", count = book.len()));
        if ui.button(fl!("set-contacts-import")).on_hover_text(fl!("set-contacts-import-hint")).clicked() {
            request = Some(Request::ImportContacts(None));
        }
        if ui.add_enabled(!book.is_empty(), egui::Button::new(fl!("set-contacts-export"))).clicked() {
            request = Some(Request::ExportContacts(None));
        }
    });
    if let Some((ok, m)) = &s.message {
        if *ok {
            ui.label(m.as_str());
        } else {
            ui.colored_label(ui.visuals().error_fg_color, m.as_str());
        }
    }
    egui::CollapsingHeader::new(fl!("set-contacts-list")).id_salt("contacts-list").show(ui, |ui| {
        egui::Grid::new("contacts").num_columns(3).striped(true).show(ui, |ui| {
            for (i, c) in book.iter().enumerate() {
                ui.label(c.name.as_str());
                ui.label(c.address.as_str());
                if s.confirm_delete == Some(i) {
                    ui.horizontal(|ui| {
                        if ui.small_button(fl!("gui-delete-confirm")).clicked() {
                            request = Some(Request::DeleteContact(c.address.clone()));
                            s.confirm_delete = None;
                        }
                        if ui.small_button(fl!("gui-cancel")).clicked() {
                            s.confirm_delete = None;
                        }
                    });
                } else if ui.small_button(fl!("gui-delete")).clicked() {
                    s.confirm_delete = Some(i);
                }
                ui.end_row();
            }
        });
        ui.horizontal_wrapped(|ui| {
            let l = ui.label(fl!("set-contacts-name"));
            ui.add(egui::TextEdit::singleline(&mut s.new_name).desired_width(140.0)).labelled_by(l.id);
            let l = ui.label(fl!("set-contacts-address"));
            ui.add(egui::TextEdit::singleline(&mut s.new_address).desired_width(220.0)).labelled_by(l.id);
            let fault = crate::core::message::drafts::address_fault(s.new_address.trim());
            let ready = !s.new_address.trim().is_empty() && fault.is_none();
            if ui.add_enabled(ready, egui::Button::new(fl!("set-contacts-add"))).clicked() {
                let added = Contact { name: s.new_name.trim().to_owned(), address: s.new_address.trim().to_owned() };
                request = Some(Request::AddContact(added));
                s.new_name.clear();
                s.new_address.clear();
            }
            if let Some(f) = fault.filter(|_| !s.new_address.trim().is_empty()) {
                ui.colored_label(ui.visuals().error_fg_color, crate::text::words::address_fault(f));
            }
        });
    });
    request
}

/// What one 保存 did, in a line (true: it went well).
pub(super) fn saved_text(saved: &Saved) -> (bool, String) {
    match saved {
        Saved::Done => (true, fl!("gui-saved")),
        // One sentence a student can act on; the keyring's own error (English, about D-Bus) is
        // folded below it.
        Saved::PasswordNotKept(_) => (false, fl!("gui-saved-password-session")),
        Saved::Invalid(errors) => (false, fl!("gui-save-invalid", count = errors.len())),
        Saved::WriteFailed(why) => (false, fl!("gui-save-failed", detail = why.as_str())),
        Saved::AutostartFailed(why) => (false, fl!("gui-saved-autostart-failed", detail = why.as_str())),
    }
}

/// The field of 設定 that a failure's hint names (its config key), for 「設定で直す」.
pub(super) fn field_for(kind: crate::core::problem::kind::Kind) -> Option<&'static str> {
    use crate::core::problem::kind::Kind;
    Some(match kind {
        Kind::Cleartext | Kind::StartTls => "pop.security",
        Kind::ApopUnusable | Kind::MethodRefused | Kind::ApopRefused => "pop.auth",
        Kind::WrongPassword | Kind::CredentialText => "pop.username",
        Kind::Certificate => "tls.ca_file",
        Kind::SmtpRefused => "smtp.host",
        Kind::SmtpAuthNotOffered => "smtp.username",
        Kind::SmtpCleartext | Kind::SmtpStartTlsRequired => "smtp.security",
        Kind::SmtpAuthRequired => "smtp.port",
        _ => return None,
    })
}

impl SettingsForm {
    /// The line about the last 保存 (true: it went well).
    pub fn message(&self) -> Option<&(bool, String)> {
        self.message.as_ref()
    }

    /// What 「保存」 did, once.
    pub(super) fn take_saved(&mut self, saved: &Saved) {
        self.errors.clear();
        self.message_detail = match saved {
            Saved::PasswordNotKept(why) => Some(why.clone()),
            _ => None,
        };
        if let Saved::Invalid(errors) = saved {
            self.errors = errors.clone();
        }
        self.message = Some(saved_text(saved));
        if matches!(saved, Saved::Done | Saved::PasswordNotKept(_) | Saved::AutostartFailed(_)) {
            self.edited = false;
            self.password.clear();
        }
    }

    /// The form was filled by the window (the assistant's findings), not from the saved settings:
    /// it stays until saved or reverted.
    pub(super) fn mark_edited(&mut self) {
        self.edited = true;
    }

    /// Moves to account `k`: the password typed (for the account shown until now) is dropped, so
    /// it never goes to another account's server. False when the fields shown cannot be kept
    /// (a wrong one is named).
    pub(super) fn show_account(&mut self, k: usize) -> bool {
        self.password.clear();
        self.file_asking = false;
        self.confirm_remove = false;
        match self.form.switch(k) {
            Ok(()) => true,
            Err(errors) => {
                self.errors = errors;
                false
            }
        }
    }

    /// Refills the form from the saved settings unless the user is editing (the account shown
    /// stays the one chosen).
    pub(super) fn take(&mut self, view: &View) {
        if !self.edited {
            let k = self.form.editing;
            self.form = if k < view.settings.accounts.len() { view.settings.showing(k) } else { view.settings.clone() };
        }
    }
}

fn problem_text(p: &Problem) -> String {
    match p {
        Problem::Required => fl!("set-err-required"),
        Problem::NotPort => fl!("set-err-port"),
        Problem::NotNumber => fl!("set-err-number"),
        Problem::Fault(f) => match f {
            Fault::Address => fl!("set-err-address"),
            Fault::Host => fl!("set-err-host"),
            Fault::Port => fl!("set-err-port"),
            Fault::OneWord => fl!("set-err-one-word"),
            Fault::LineBreak => fl!("set-err-line-break"),
            Fault::Empty => fl!("set-err-required"),
            Fault::Zero => fl!("set-err-number"),
            Fault::MarginTooLong => fl!("set-err-margin"),
            Fault::NoFile => fl!("set-err-no-file"),
            Fault::Language => fl!("set-err-language"),
            Fault::Theme => fl!("set-err-theme"),
            Fault::Renderer => fl!("set-err-renderer"),
            Fault::Duplicate => fl!("set-err-duplicate"),
        },
    }
}

fn security_name(s: Security) -> String {
    match s {
        Security::None => fl!("set-security-none"),
        Security::Starttls => fl!("set-security-starttls"),
        Security::Tls => fl!("set-security-tls"),
    }
}

fn auth_name(a: PopAuth) -> String {
    match a {
        PopAuth::Auto => fl!("set-auth-auto"),
        PopAuth::Plain => "SASL PLAIN".into(),
        PopAuth::User => "USER/PASS".into(),
        PopAuth::Apop => "APOP".into(),
    }
}

fn language_name(l: &str) -> String {
    match l {
        "ja" => "日本語".into(),
        "en" => "English".into(),
        _ => fl!("set-language-auto"),
    }
}

/// The keys of the fields under 「詳細設定」 (it opens by itself when one of them is wrong).
const ADVANCED_KEYS: [&str; 10] = [
    "pop.port",
    "pop.security",
    "pop.auth",
    "pop.password_command",
    "smtp.port",
    "smtp.security",
    "smtp.username",
    "relay.margin_seconds",
    "tls.ca_file",
    "app.renderer",
];

impl App {
    pub(super) fn settings_view(&mut self, ui: &mut egui::Ui) {
        let save_key = ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::S));
        // Where the password of the account shown comes from.
        let password_from = match self.settings.form.editing {
            0 => self.view.password,
            k => self.view.others.get(k - 1).and_then(|o| o.password),
        };
        let presets = &self.view.presets;
        let presets_problem = &self.view.presets_problem;
        let submission = &self.view.submission;
        // The port the first account's mail went by (the others' are not followed here).
        let smtp_route = self.view.smtp_route.filter(|_| self.settings.form.editing == 0);
        let book = self.view.contacts.clone();
        let mut keep_in_file = false;
        let mut contacts_request = None;
        let waiting = self.view.waiting.clone();
        let waiting_of = move |k: usize| waiting.iter().filter(|r| r.account == k).count();
        let account_ask = accounts_section(ui, &mut self.settings, &waiting_of);
        let s = &mut self.settings;
        let mut chosen = s.preset;
        let before = s.form.clone();
        let errors: Vec<(&str, String)> = s.errors.iter().map(|e| (e.key, problem_text(&e.problem))).collect();
        let error_for = |key: &str| errors.iter().find(|(k, _)| *k == key).map(|(_, m)| m.clone());
        let label_col = s.label_width;
        let focus = s.focus.take();
        let widest = std::cell::Cell::new(0.0f32);
        let label = |ui: &mut egui::Ui, text: String| {
            let l = ui.label(text);
            widest.set(widest.get().max(l.rect.width()));
            l
        };
        let f = &mut s.form;
        let mut password_typed = false;
        // Leave room below for 保存, which must always be in view.
        let list_height = (ui.available_height() - 2.5 * ui.spacing().interact_size.y).max(80.0);
        egui::ScrollArea::vertical().max_height(list_height).show(ui, |ui| {
            let text_row = |ui: &mut egui::Ui, text: String, key: &str, value: &mut String, hint: Option<String>| {
                let l = label(ui, text);
                ui.horizontal(|ui| {
                    let mut edit = egui::TextEdit::singleline(value).desired_width(320.0);
                    if let Some(h) = hint {
                        edit = edit.hint_text(h);
                    }
                    let r = ui.add(edit).labelled_by(l.id);
                    if focus == Some(key) {
                        r.request_focus();
                        r.scroll_to_me(None);
                    }
                    if let Some(e) = error_for(key) {
                        ui.colored_label(ui.visuals().error_fg_color, e);
                    }
                });
                ui.end_row();
            };
            let security_row = |ui: &mut egui::Ui, text: String, id: &str, value: &mut Security| {
                let l = label(ui, text);
                let r = egui::ComboBox::from_id_salt(id)
                    .selected_text(security_name(*value))
                    .show_ui(ui, |ui| {
                        for s in [Security::None, Security::Starttls, Security::Tls] {
                            ui.selectable_value(value, s, security_name(s));
                        }
                    })
                    .response
                    .labelled_by(l.id);
                // The combo's salt is its key with a dash ("pop-security" for pop.security).
                if focus.is_some_and(|k| k.replace('.', "-") == id) {
                    r.request_focus();
                    r.scroll_to_me(None);
                }
                ui.end_row();
            };
            let l = ui.label(fl!("set-preset"));
            let lang = crate::text::i18n::current();
            egui::ComboBox::from_id_salt("preset")
                .selected_text(
                    chosen
                        .and_then(|i| presets.get(i))
                        .map_or_else(|| fl!("set-preset-choose"), |p| p.name_in(&lang).to_owned()),
                )
                .width(420.0)
                .show_ui(ui, |ui| {
                    for (i, p) in presets.iter().enumerate() {
                        if ui.selectable_label(chosen == Some(i), p.name_in(&lang)).clicked() {
                            f.apply_preset(p);
                            chosen = Some(i);
                        }
                    }
                })
                .response
                .labelled_by(l.id);
            if let Some(note) = chosen.and_then(|i| presets.get(i)).and_then(|p| p.note_in(&lang)) {
                ui.weak(note);
            }
            if let Some(p) = presets_problem {
                ui.colored_label(ui.visuals().error_fg_color, fl!("set-presets-unreadable", detail = p.as_str()));
            }
            ui.heading(fl!("set-section-account"));
            egui::Grid::new("set-account").num_columns(2).min_col_width(label_col).show(ui, |ui| {
                text_row(ui, fl!("set-address"), "account.address", &mut f.address, Some("taro@example.ac.jp".into()));
                text_row(ui, fl!("set-account-name"), "account.name", &mut f.name, Some(fl!("set-account-name-hint")));
                text_row(ui, fl!("set-display-name"), "account.display_name", &mut f.display_name, None);
                let l = label(ui, fl!("set-signature"));
                ui.vertical(|ui| {
                    ui.add(
                        egui::TextEdit::multiline(&mut f.signature)
                            .desired_rows(3)
                            .desired_width(320.0)
                            .hint_text(fl!("set-signature-example")),
                    )
                    .labelled_by(l.id);
                    ui.weak(fl!("set-signature-note"));
                });
                ui.end_row();
                // Other 署名, switched to in 作成: a name and the text each.
                let mut remove = None;
                for (i, (name, text)) in f.other_signatures.iter_mut().enumerate() {
                    let l = label(ui, fl!("set-signature-other", number = (i + 2).to_string()));
                    ui.vertical(|ui| {
                        ui.horizontal(|ui| {
                            let n = ui.label(fl!("set-signature-name"));
                            ui.add(egui::TextEdit::singleline(name).desired_width(160.0)).labelled_by(n.id);
                            if ui.small_button(fl!("gui-delete")).clicked() {
                                remove = Some(i);
                            }
                        });
                        ui.add(egui::TextEdit::multiline(text).desired_rows(3).desired_width(320.0)).labelled_by(l.id);
                    });
                    ui.end_row();
                }
                if let Some(i) = remove {
                    f.other_signatures.remove(i);
                }
                ui.label("");
                if ui.small_button(fl!("set-signature-add")).clicked() {
                    f.other_signatures.push((String::new(), String::new()));
                }
                ui.end_row();
            });
            ui.heading(fl!("set-section-pop"));
            egui::Grid::new("set-pop").num_columns(2).min_col_width(label_col).show(ui, |ui| {
                text_row(ui, fl!("set-pop-host"), "pop.host", &mut f.pop_host, Some("mail.example.ac.jp".into()));
                text_row(ui, fl!("set-pop-username"), "pop.username", &mut f.pop_username, None);
                let l = label(ui, fl!("set-password"));
                ui.vertical(|ui| {
                    password_typed = ui
                        .add(egui::TextEdit::singleline(&mut s.password).password(true).desired_width(320.0))
                        .labelled_by(l.id)
                        .changed();
                    ui.weak(match password_from {
                        Some(PasswordFrom::Found(Source::Keyring)) => fl!("set-password-keyring"),
                        Some(PasswordFrom::Found(Source::Env)) => fl!("set-password-env"),
                        Some(PasswordFrom::Found(Source::Command)) => fl!("set-password-command"),
                        Some(PasswordFrom::Found(Source::File)) => fl!("set-password-file"),
                        Some(PasswordFrom::ThisSession) => fl!("set-password-session"),
                        Some(PasswordFrom::Missing) | None => fl!("set-password-missing"),
                    });
                    // No keyring: the password can go in a file, only if the student chooses
                    // it once told what that means.
                    if password_from == Some(PasswordFrom::ThisSession) {
                        if s.file_asking {
                            ui.label(fl!("set-password-file-consequence"));
                            ui.horizontal(|ui| {
                                if ui.button(fl!("set-password-file-yes")).clicked() {
                                    keep_in_file = true;
                                    s.file_asking = false;
                                }
                                if ui.button(fl!("gui-cancel")).clicked() {
                                    s.file_asking = false;
                                }
                            });
                        } else if ui.small_button(fl!("set-password-file-ask")).clicked() {
                            s.file_asking = true;
                        }
                    }
                    if let Some((ok, m)) = &s.file_message {
                        if *ok {
                            ui.label(m.as_str());
                        } else {
                            ui.colored_label(ui.visuals().error_fg_color, m.as_str());
                        }
                    }
                });
                ui.end_row();
            });
            ui.heading(fl!("set-section-smtp"));
            egui::Grid::new("set-smtp").num_columns(2).min_col_width(label_col).show(ui, |ui| {
                text_row(ui, fl!("set-smtp-host"), "smtp.host", &mut f.smtp_host, Some(fl!("set-smtp-host-hint")));
                // Where the mail goes from this network, when it is not the port set here (OP25B).
                if let Some(route) = smtp_route.filter(|r| !r.is_configured()) {
                    label(ui, fl!("set-smtp-route-label"));
                    let how = if matches!(route.via, crate::core::sending::route::Via::Other { auth: true, .. }) {
                        fl!("set-smtp-route-auth", port = route.port)
                    } else {
                        fl!("set-smtp-route", port = route.port)
                    };
                    ui.label(how).on_hover_text(fl!("set-smtp-route-hint"));
                    ui.end_row();
                }
                text_row(ui, fl!("set-window-minutes"), "relay.window_seconds", &mut f.window_minutes, None);
            });
            // The technical fields, folded unless one of them is wrong.
            let advanced_wrong = ADVANCED_KEYS.iter().any(|k| error_for(k).is_some());
            egui::CollapsingHeader::new(fl!("set-advanced"))
                .id_salt("set-advanced")
                .default_open(false)
                .open((advanced_wrong || focus.is_some_and(|k| ADVANCED_KEYS.contains(&k))).then_some(true))
                .show(ui, |ui| {
                    egui::Grid::new("set-advanced-grid").num_columns(2).min_col_width(label_col).show(ui, |ui| {
                        security_row(ui, fl!("set-pop-security"), "pop-security", &mut f.pop_security);
                        text_row(
                            ui,
                            fl!("set-pop-port"),
                            "pop.port",
                            &mut f.pop_port,
                            Some(if f.pop_security == Security::Tls { "995" } else { "110" }.into()),
                        );
                        let l = label(ui, fl!("set-pop-auth"));
                        let auth = egui::ComboBox::from_id_salt("pop-auth")
                            .selected_text(auth_name(f.pop_auth))
                            .show_ui(ui, |ui| {
                                for a in [PopAuth::Auto, PopAuth::Plain, PopAuth::User, PopAuth::Apop] {
                                    ui.selectable_value(&mut f.pop_auth, a, auth_name(a));
                                }
                            })
                            .response
                            .labelled_by(l.id);
                        if focus == Some("pop.auth") {
                            auth.request_focus();
                        }
                        ui.end_row();
                        ui.label("");
                        ui.checkbox(&mut f.allow_plaintext_password, fl!("set-allow-plaintext"));
                        ui.end_row();
                        text_row(
                            ui,
                            fl!("set-password-command-label"),
                            "pop.password_command",
                            &mut f.password_command,
                            None,
                        );
                        security_row(ui, fl!("set-smtp-security"), "smtp-security", &mut f.smtp_security);
                        text_row(
                            ui,
                            fl!("set-smtp-port"),
                            "smtp.port",
                            &mut f.smtp_port,
                            Some(if f.smtp_security == Security::Tls { "465" } else { "25" }.into()),
                        );
                        text_row(
                            ui,
                            fl!("set-smtp-username"),
                            "smtp.username",
                            &mut f.smtp_username,
                            Some(fl!("set-smtp-username-hint")),
                        );
                        ui.label("");
                        ui.checkbox(&mut f.smtp_allow_plaintext_password, fl!("set-smtp-allow-plaintext"));
                        ui.end_row();
                        ui.label("");
                        ui.checkbox(&mut f.only_configured_port, fl!("set-only-configured-port"))
                            .on_hover_text(fl!("set-only-configured-port-hint"));
                        ui.end_row();
                        ui.label("");
                        ui.checkbox(&mut f.reuse_window, fl!("set-reuse-window"));
                        ui.end_row();
                        text_row(
                            ui,
                            fl!("set-margin"),
                            "relay.margin_seconds",
                            &mut f.margin_seconds,
                            Some(fl!("set-margin-hint")),
                        );
                        text_row(ui, fl!("set-ca-file"), "tls.ca_file", &mut f.ca_file, None);
                        label(ui, fl!("set-charset"));
                        ui.vertical(|ui| {
                            ui.radio_value(&mut f.charset, Charset::Utf8, fl!("set-charset-utf8"));
                            ui.radio_value(&mut f.charset, Charset::Iso2022Jp, fl!("set-charset-jis"));
                        });
                        ui.end_row();
                        // How the window is drawn: for a PC whose graphics the automatic choice
                        // misjudges (taken at the next start).
                        label(ui, fl!("set-renderer"));
                        ui.vertical(|ui| {
                            ui.horizontal_wrapped(|ui| {
                                ui.radio_value(&mut f.renderer, String::new(), fl!("set-renderer-auto"));
                                ui.radio_value(&mut f.renderer, "gl".to_owned(), fl!("set-renderer-gl"));
                                ui.radio_value(&mut f.renderer, "cpu".to_owned(), fl!("set-renderer-cpu"));
                            });
                            ui.weak(fl!("set-renderer-hint"));
                            if let Some(e) = error_for("app.renderer") {
                                ui.colored_label(ui.visuals().error_fg_color, e);
                            }
                        });
                        ui.end_row();
                    });
                });
            contacts_request = contacts_section(ui, &mut s.contacts, &book);
            ui.heading(fl!("set-section-app"));
            egui::Grid::new("set-app").num_columns(2).min_col_width(label_col).show(ui, |ui| {
                label(ui, fl!("set-language"));
                ui.horizontal(|ui| {
                    for l in ["", "ja", "en"] {
                        ui.radio_value(&mut f.language, l.to_owned(), language_name(l));
                    }
                });
                ui.end_row();
                label(ui, fl!("set-theme"));
                ui.horizontal(|ui| {
                    ui.radio_value(&mut f.theme, String::new(), fl!("set-theme-auto"));
                    ui.radio_value(&mut f.theme, "light".to_owned(), fl!("set-theme-light"));
                    ui.radio_value(&mut f.theme, "dark".to_owned(), fl!("set-theme-dark"));
                    if let Some(e) = error_for("app.theme") {
                        ui.colored_label(ui.visuals().error_fg_color, e);
                    }
                });
                ui.end_row();
                let l = label(ui, fl!("set-zoom"));
                egui::ComboBox::from_id_salt("zoom")
                    .selected_text(format!("{:.0} %", f.zoom * 100.0))
                    .show_ui(ui, |ui| {
                        for z in [1.0, 1.25, 1.5, 1.75, 2.0] {
                            ui.selectable_value(&mut f.zoom, z, format!("{:.0} %", z * 100.0));
                        }
                    })
                    .response
                    .labelled_by(l.id);
                ui.end_row();
                ui.label("");
                ui.checkbox(&mut f.notifications, fl!("set-notifications"));
                ui.end_row();
                ui.label("");
                ui.checkbox(&mut f.autostart, fl!("set-autostart")).on_hover_text(fl!("set-autostart-hint"));
                ui.end_row();
                ui.label("");
                ui.checkbox(&mut f.submission.enabled, fl!("set-submission")).on_hover_text(fl!("set-submission-hint"));
                ui.end_row();
            });
            // Where other programs send to, and the login they use (copied, never typed out).
            match submission {
                Some(info) if info.problem.is_none() => {
                    ui.label(fl!("set-submission-where", port = info.port));
                    if let Some(login) = &info.login {
                        if login.renewed {
                            ui.colored_label(
                                ui.visuals().error_fg_color,
                                fl!("serve-login-renewed", file = crate::core::protocol::smtpd::LOGIN_FILE),
                            );
                        }
                        ui.horizontal(|ui| {
                            ui.label(fl!("set-submission-user", user = login.user.as_str()));
                            if ui.small_button(fl!("set-copy-user")).clicked() {
                                ui.ctx().copy_text(login.user.clone());
                            }
                            if ui.small_button(fl!("set-copy-password")).clicked() {
                                ui.ctx().copy_text(login.password.expose().to_owned());
                            }
                        });
                    } else {
                        ui.colored_label(ui.visuals().error_fg_color, fl!("set-submission-open"));
                    }
                }
                Some(info) => {
                    use crate::core::sending::host::SubmissionProblem;
                    let said = match &info.problem {
                        Some(SubmissionProblem::Port(taken)) => crate::text::words::port_taken(info.port, taken),
                        Some(SubmissionProblem::Login(detail)) => fl!("err-serve-login", detail = detail.as_str()),
                        Some(SubmissionProblem::Outbox(detail)) => format!("{} ({detail})", fl!("err-outbox-write")),
                        None => String::new(),
                    };
                    ui.colored_label(ui.visuals().error_fg_color, said);
                }
                None => {}
            }
            ui.add_space(8.0);
        });
        s.preset = chosen;
        if widest.get() != s.label_width {
            s.label_width = widest.get();
            ui.ctx().request_repaint();
        }
        if s.form != before || password_typed {
            s.edited = true;
            s.message = None;
            s.message_detail = None;
        }
        let mut save = save_key;
        let mut restart = false;
        ui.horizontal(|ui| {
            save |= ui.button(fl!("set-save")).on_hover_text("Ctrl+S").clicked();
            restart = ui.button(fl!("set-restart-assistant")).clicked();
            if ui
                .add_enabled(s.edited, egui::Button::new(fl!("set-revert")))
                .on_disabled_hover_text(fl!("set-revert-nothing"))
                .clicked()
            {
                s.edited = false;
                s.password.clear();
                s.errors.clear();
            }
            if let Some((ok, m)) = &s.message {
                if *ok {
                    ui.label(m.as_str());
                } else {
                    ui.colored_label(ui.visuals().error_fg_color, m.as_str());
                }
            }
        });
        if let Some(detail) = &s.message_detail {
            egui::CollapsingHeader::new(fl!("gui-technical-detail")).id_salt("saved-detail").show(ui, |ui| {
                ui.label(crate::core::display_safe(detail));
            });
        }
        if save {
            // The worker validates (a CA file is looked up on disk) and names each wrong field.
            let password = (!s.password.is_empty()).then(|| Password::new(s.password.clone()));
            let form = Box::new(s.form.clone());
            self.ask(Request::SaveSettings { form, password });
        }
        if keep_in_file {
            self.ask(Request::KeepPasswordInFile(self.settings.form.editing));
        }
        if let Some(r) = contacts_request {
            self.ask(r);
        }
        if restart {
            self.start_assistant();
        }
        if account_ask.add {
            self.add_account();
        }
        if let Some(form) = account_ask.remove {
            self.settings.password.clear();
            self.settings.form = form.clone();
            self.ask(Request::SaveSettings { form: Box::new(form), password: None });
        }
    }
}
