//! 作成: recipients checked as they are typed, subject, body, attachments (file dialog or files
//! dropped on the window, with their sizes), 「送信」 (Ctrl+Enter) and 「後で送信」, and a
//! `mailto:` link filling it (asking first when it would replace a draft). The draft is handed to
//! the worker to be saved a second after the last change. No I/O here: sizes and the dialog come
//! from the worker.

use std::time::{Duration, Instant};

use crate::app::backend::Request;
use crate::core::message::compose::Charset;
use crate::core::message::contacts::Contact;
use crate::core::message::drafts::{AddressFault, Unsent, address_fault, bad_addresses, split_addresses};
use crate::core::message::mailto::Mailto;
use crate::core::sending::outbox::{Row, Status};
use crate::fl;
use crate::text::words::{local_time, reason};

use super::{App, Tab, size_text};

/// How long after the last keystroke the draft is saved.
const SAVE_AFTER: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(super) struct State {
    /// The draft as last handed to the worker for saving.
    pub saved: Unsent,
    /// When the draft first differed from `saved`.
    changed_at: Option<Instant>,
    /// The last message handed over was to go at once (送信), not later: a resend in UTF-8 does
    /// the same.
    pub sent_now: bool,
    /// Ctrl+N: put the cursor in 宛先 on the next frame.
    pub focus_to: bool,
    /// A `mailto:` link waiting to fill 作成, and whether the replace question is showing.
    pub mailto: Option<Mailto>,
    asking_mailto: bool,
    /// The last message sent from here, followed until the student dismisses it.
    pub toast: Option<Toast>,
    /// The number of the last `Request::Send`.
    tickets: u64,
    /// 「Cc/Bcc を追加」 was pressed (they also show while either has text).
    show_cc: bool,
    /// Addresses already written to (送信済み, then 送信トレイ), most used first, and the view
    /// version they were gathered from.
    known: (u64, Vec<Contact>),
    /// A draft of the list whose 削除 waits for confirmation.
    confirm_delete_kept: Option<String>,
    /// 「日時を指定して送信」 is open: the date and the time as typed.
    schedule: Option<(String, String)>,
    /// The last message handed over was timed (a resend in UTF-8 keeps the time).
    pub sent_at: Option<std::time::SystemTime>,
    /// Which 署名 this message has (0: 設定's 署名, then the others in order).
    signature: usize,
    /// 差出人: the address of the account it goes from, where that is not the first account
    /// (empty: the first). By address, not by place: a change to the settings cannot move it to
    /// another account.
    pub from: String,
    /// 差出人 when the draft was last handed to the worker for saving.
    saved_from: String,
    /// The address field whose completions show (the last one typed in: a click on one of them
    /// takes the keyboard away from the field first).
    completing: Option<usize>,
}

/// What became of the last message handed over from 作成: said above the emptied form, so a
/// message never seems lost, until the student closes it or sends the next.
pub(super) struct Toast {
    /// The number its `Request::Send` carried: only the answer to that request is taken.
    pub ticket: u64,
    /// Known once the worker has built it (`Handed::Queued`).
    pub message_id: Option<String>,
    pub to: String,
    pub subject: String,
    /// Its row was seen: a row gone afterwards was deleted or taken back to 作成.
    pub seen: bool,
}

/// What the toast says of its message, from the rows the window has.
#[derive(Debug, PartialEq)]
enum Fate<'a> {
    /// Not built yet, or not yet in the outbox.
    Handing,
    /// In the outbox once, and no more (deleted, or taken back by 編集).
    Gone,
    Waiting(&'a Row),
    Sent(&'a Row),
}

/// The addresses completion offers: アドレス帳 first (with names), then every address already
/// written to that 作成 would take, most used first; each address once.
fn known<'a>(book: &[Contact], rows: impl Iterator<Item = &'a Row>) -> Vec<Contact> {
    let mut out: Vec<Contact> = book.iter().filter(|c| address_fault(&c.address).is_none()).cloned().collect();
    for a in known_addresses(rows) {
        if !out.iter().any(|c| c.address.eq_ignore_ascii_case(&a)) {
            out.push(Contact { name: String::new(), address: a });
        }
    }
    out
}

/// Every address of `rows`' recipients that 作成 would take (not a display name, not a typo that
/// bounced in a form 作成 refuses), most used first (ties: the more recent).
fn known_addresses<'a>(rows: impl Iterator<Item = &'a Row>) -> Vec<String> {
    let mut seen: Vec<(String, usize, usize)> = Vec::new();
    for (order, row) in rows.enumerate() {
        for a in split_addresses(&row.to).into_iter().filter(|a| address_fault(a).is_none()) {
            match seen.iter_mut().find(|(s, _, _)| s.eq_ignore_ascii_case(&a)) {
                Some(entry) => entry.1 += 1,
                None => seen.push((a, 1, order)),
            }
        }
    }
    seen.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    seen.into_iter().map(|(a, _, _)| a).collect()
}

/// Up to five known addresses whose address begins with the entry being typed (the text after
/// the last separator; any case), or whose name holds it, leaving out those already in the
/// field. An address by its beginning, not anywhere in it: "ai@example.jp" typed must never be
/// completed to "mai@example.jp".
fn completions<'a>(field: &str, known: &'a [Contact]) -> Vec<&'a Contact> {
    let typed = field.rsplit([',', '、', ';']).next().unwrap_or("").trim().to_lowercase();
    if typed.is_empty() {
        return Vec::new();
    }
    let present = split_addresses(field);
    known
        .iter()
        .filter(|k| {
            let a = k.address.to_lowercase();
            let by_name = !k.name.is_empty() && k.name.to_lowercase().contains(&typed);
            (a.starts_with(&typed) || by_name)
                && a != typed
                && !present.iter().any(|p| p.eq_ignore_ascii_case(&k.address))
        })
        .take(5)
        .collect()
}

/// An address field as chips: the entries already ended by a separator (`,` `、` `;`), and the
/// one being typed after the last separator, as typed.
fn split_field(field: &str) -> (Vec<String>, String) {
    match field.rfind([',', '、', ';']) {
        Some(at) => {
            let sep = field[at..].chars().next().map_or(1, char::len_utf8);
            (split_addresses(&field[..at]), field[at + sep..].trim_start().to_owned())
        }
        None => (Vec::new(), field.to_owned()),
    }
}

/// The field's text for `done` chips and the entry being typed (the inverse of `split_field`).
fn join_field(done: &[String], typing: &str) -> String {
    if done.is_empty() { typing.to_owned() } else { format!("{}, {typing}", done.join(", ")) }
}

enum ChipAction {
    Edit,
    Remove,
}

/// One finished address as a chip: a click on it takes it back to be edited, × removes it. An
/// address that cannot be sent is drawn in the error colour and says why when pointed at.
fn chip(ui: &mut egui::Ui, address: &str) -> Option<ChipAction> {
    let fault = address_fault(address);
    let visuals = ui.visuals();
    let (fill, text) = match fault {
        Some(_) => (visuals.error_fg_color.gamma_multiply(0.15), visuals.error_fg_color),
        None => (visuals.widgets.inactive.weak_bg_fill, visuals.text_color()),
    };
    let stroke = visuals.widgets.inactive.bg_stroke;
    let mut action = None;
    egui::Frame::new()
        .fill(fill)
        .stroke(stroke)
        .corner_radius(egui::CornerRadius::same(10))
        .inner_margin(egui::Margin::symmetric(6, 1))
        .show(ui, |ui| {
            ui.spacing_mut().item_spacing.x = 2.0;
            let mut label = ui
                .add(egui::Label::new(egui::RichText::new(address).color(text)).sense(egui::Sense::click()))
                .on_hover_cursor(egui::CursorIcon::Text);
            label = match fault {
                Some(f) => {
                    label.on_hover_text(format!("{}\n{}", crate::text::words::address_fault(f), fl!("gui-chip-edit")))
                }
                None => label.on_hover_text(fl!("gui-chip-edit")),
            };
            if label.clicked() {
                action = Some(ChipAction::Edit);
            }
            let remove_label = fl!("gui-chip-remove", address = address);
            let remove = ui.add(egui::Button::new("×").frame(false).small()).on_hover_text(remove_label.as_str());
            remove.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, remove_label.as_str()));
            if remove.clicked() {
                action = Some(ChipAction::Remove);
            }
        });
    action
}

/// `field` with the entry being typed replaced by `address`, ready for the next.
fn complete(field: &str, address: &str) -> String {
    let kept = match field.rfind([',', '、', ';']) {
        Some(at) => format!("{}, ", field[..at].trim_end()),
        None => String::new(),
    };
    format!("{kept}{address}, ")
}

/// What a `mailto:` link asks to write, as 作成's fields.
fn unsent(m: &Mailto) -> Unsent {
    Unsent {
        to: m.to.join(", "),
        cc: m.cc.join(", "),
        bcc: m.bcc.join(", "),
        subject: m.subject.clone(),
        body: m.body.clone(),
        attachments: Vec::new(),
        from: String::new(),
    }
}

impl App {
    /// `d` with 差出人's address, when it is not the first account (kept with the draft, so the
    /// draft comes back from the same account).
    pub(super) fn with_sender(&self, mut d: Unsent) -> Unsent {
        d.from = self.compose_state.from.clone();
        d
    }

    /// 差出人 of a draft handed back, its address taken out of it: empty (the first account)
    /// when it names the first account or none.
    fn sender_of(&self, d: &mut Unsent) -> String {
        let from = std::mem::take(&mut d.from).trim().to_owned();
        match self.sender_index(&from) {
            Some(0) => String::new(),
            _ => from,
        }
    }

    /// Where the account with this address is among the accounts (empty: the first); `None`
    /// when there is none with it any more.
    fn sender_index(&self, address: &str) -> Option<usize> {
        let s = &self.view.settings;
        match address.is_empty() {
            true => Some(0),
            false => {
                (0..s.accounts.len()).find(|&k| s.identity(k).is_some_and(|(a, _)| a.eq_ignore_ascii_case(address)))
            }
        }
    }

    /// The sender's account (差出人) as 設定 has it, when it is not the first.
    fn sender(&self) -> Option<&crate::core::setup::account::OtherAccount> {
        let k = self.sender_index(&self.compose_state.from)?;
        self.view.settings.accounts.get(k).filter(|_| k > 0)
    }

    /// How many 署名 the sender has besides the first.
    fn other_signature_count(&self) -> usize {
        match self.sender() {
            Some(a) => a.account.other_signatures.len(),
            None => self.view.settings.other_signatures.len(),
        }
    }

    /// The 署名 chosen for this message: the sender's first unless another was picked.
    fn signature_text(&self, which: usize) -> &str {
        let s = &self.view.settings;
        let text = match (self.sender(), which.checked_sub(1)) {
            (Some(a), None) => a.account.signature.as_deref().unwrap_or(""),
            (Some(a), Some(i)) => a.account.other_signatures.get(i).map_or("", |n| n.text.as_str()),
            (None, None) => s.signature.as_str(),
            (None, Some(i)) => s.other_signatures.get(i).map_or("", |(_, t)| t.as_str()),
        };
        text.trim_end()
    }

    /// The 署名 `which` as the body holds it: two empty lines, then the text (`None`: empty).
    fn signature_block(&self, which: usize) -> Option<String> {
        let text = self.signature_text(which);
        (!text.is_empty()).then(|| format!("\n\n{text}\n"))
    }

    /// 差出人, where there are several accounts: the choice of account. Another account's 署名
    /// takes the place of the one at the end of the body.
    fn sender_choice(&mut self, ui: &mut egui::Ui, label: egui::Id) {
        let s = &self.view.settings;
        let choices: Vec<String> = s
            .labels()
            .iter()
            .enumerate()
            .map(|(k, l)| match s.identity(k).unwrap_or_default() {
                (address, "") => format!("{l} — {address}"),
                (address, name) => format!("{l} — {name} <{address}>"),
            })
            .collect();
        // An address no longer among the accounts is shown as it is (sending it says so).
        let now = self.sender_index(&self.compose_state.from);
        let mut chosen = now.unwrap_or(usize::MAX);
        egui::ComboBox::from_id_salt("sender-choice")
            .selected_text(now.and_then(|k| choices.get(k).cloned()).unwrap_or_else(|| self.compose_state.from.clone()))
            .width(ui.available_width().min(420.0))
            .truncate()
            .show_ui(ui, |ui| {
                for (i, c) in choices.iter().enumerate() {
                    ui.selectable_value(&mut chosen, i, c.as_str());
                }
            })
            .response
            .labelled_by(label);
        if Some(chosen) == now || chosen == usize::MAX {
            return;
        }
        let old = self.signature_block(self.compose_state.signature);
        self.compose_state.from = match chosen {
            0 => String::new(),
            k => s.identity(k).map(|(a, _)| a.to_owned()).unwrap_or_default(),
        };
        self.compose_state.signature = 0;
        let new = self.signature_block(0).unwrap_or_default();
        let body = &mut self.compose.body;
        match old.filter(|o| body.ends_with(o.as_str())) {
            Some(o) => {
                body.truncate(body.len() - o.len());
                body.push_str(&new);
            }
            None if body.trim().is_empty() => *body = new,
            None => {}
        }
    }

    /// The body a new message starts with: two empty lines, then the 署名 (`None`: no 署名).
    fn signed_body(&self) -> Option<String> {
        self.signature_block(self.compose_state.signature)
    }

    /// 「署名」 in 作成, where more than one is set: the block at the end of the body is replaced
    /// by the chosen one (a 署名 edited in the body is left as it is, and the chosen one added).
    fn signature_choice(&mut self, ui: &mut egui::Ui) {
        let others: Vec<String> = match self.sender() {
            Some(a) => a.account.other_signatures.iter().map(|n| n.name.clone()).collect(),
            None => self.view.settings.other_signatures.iter().map(|(n, _)| n.clone()).collect(),
        };
        if others.is_empty() {
            return;
        }
        let now = self.compose_state.signature;
        let name = |i: usize| if i == 0 { fl!("gui-signature-default") } else { others[i - 1].clone() };
        let mut chosen = now;
        ui.horizontal(|ui| {
            let l = ui.label(fl!("set-signature"));
            egui::ComboBox::from_id_salt("signature-choice")
                .selected_text(name(now))
                .show_ui(ui, |ui| {
                    for i in 0..=others.len() {
                        ui.selectable_value(&mut chosen, i, name(i));
                    }
                })
                .response
                .labelled_by(l.id);
        });
        if chosen == now {
            return;
        }
        let old = self.signature_block(now);
        let new = self.signature_block(chosen).unwrap_or_default();
        let body = &mut self.compose.body;
        match old.filter(|o| body.ends_with(o.as_str())) {
            Some(o) => {
                body.truncate(body.len() - o.len());
                body.push_str(&new);
            }
            None => body.push_str(&new),
        }
        self.compose_state.signature = chosen;
    }

    /// Nothing is being written: 作成 is empty, or holds only what a new message starts with.
    pub(super) fn compose_blank(&self) -> bool {
        let mut c = self.compose.clone();
        if self.signed_body().is_some_and(|b| b == c.body) {
            c.body.clear();
        }
        c.is_empty()
    }

    /// A new message starts with the 署名 (once the saved draft has been looked for).
    fn sign_new_message(&mut self) {
        if self.compose.is_empty() {
            // A new message starts with 設定's 署名, whichever the last one had.
            self.compose_state.signature = 0;
        }
        if self.view.draft_checked
            && self.compose.is_empty()
            && let Some(body) = self.signed_body()
        {
            self.compose.body = body;
            // Not a change to save: a message of its own starts so.
            if self.compose_state.saved.is_empty() {
                self.compose_state.saved = self.compose.clone();
            }
        }
    }

    /// A draft handed back (the saved one, 編集, or one that could not be built): it fills 作成
    /// unless something is being written there.
    pub(super) fn take_draft(&mut self, mut d: Unsent) {
        if self.compose_blank() {
            self.compose_state.from = self.sender_of(&mut d);
            self.compose_state.saved_from = self.compose_state.from.clone();
            self.compose_state.saved = d.clone();
            self.compose_state.signature = self.signature_of(&d.body);
            self.compose = d;
            self.tab = Tab::Compose;
        }
    }

    /// The message 編集 just handed back was timed: its 送信予約 row opens with that time (unless
    /// it has passed).
    pub(super) fn take_edited_at(&mut self, at: std::time::SystemTime) {
        if at > self.clock.now() {
            self.compose_state.schedule = Some((local_time(at, "%Y-%m-%d"), local_time(at, "%H:%M")));
        }
    }

    /// Files chosen in the file dialog join the attachments (each once).
    pub(super) fn take_picked(&mut self, files: Vec<std::path::PathBuf>) {
        for f in files {
            if !self.compose.attachments.contains(&f) {
                self.compose.attachments.push(f);
            }
        }
    }

    /// Fills 作成 from a waiting `mailto:` link, once the saved draft (if any) has come in: at
    /// once when 作成 is empty, after asking when it would replace what the student is writing.
    pub(super) fn take_mailto(&mut self, ui: &egui::Ui) {
        if !self.view.draft_checked {
            return;
        }
        let Some(m) = &self.compose_state.mailto else { return };
        self.tab = Tab::Compose;
        if self.compose_blank() {
            // A link's message goes from the default account.
            self.compose_state.from.clear();
            self.compose = unsent(m);
            if let Some(signed) = self.signed_body() {
                self.compose.body += &signed;
            }
            self.compose_state.mailto = None;
            self.compose_state.asking_mailto = false;
            return;
        }
        self.compose_state.asking_mailto = true;
        let mut answer = None;
        egui::Modal::new(egui::Id::unique("mailto-question")).show(ui.ctx(), |ui| {
            ui.label(fl!("gui-mailto-replace", subject = self.compose.subject.as_str()));
            ui.horizontal(|ui| {
                if ui.button(fl!("gui-mailto-replace-yes")).clicked() {
                    answer = Some(true);
                }
                if ui.button(fl!("gui-mailto-replace-no")).clicked() {
                    answer = Some(false);
                }
            });
        });
        match answer {
            Some(true) => self.compose = Unsent::default(),
            Some(false) => self.compose_state.mailto = None,
            None => return,
        }
        self.compose_state.asking_mailto = false;
    }

    /// Hands the draft to the worker a second after it last changed.
    pub(super) fn keep_draft(&mut self, ui: &egui::Ui) {
        if self.compose == self.compose_state.saved && self.compose_state.from == self.compose_state.saved_from {
            self.compose_state.changed_at = None;
            return;
        }
        let since = *self.compose_state.changed_at.get_or_insert_with(Instant::now);
        if since.elapsed() >= SAVE_AFTER {
            // Only the 署名 is nothing written: no draft is kept of it (a changed 署名 then
            // takes its place next time).
            let kept = if self.compose_blank() { Unsent::default() } else { self.with_sender(self.compose.clone()) };
            if self.ask(Request::SaveDraft(Box::new(kept))) {
                self.compose_state.saved = self.compose.clone();
                self.compose_state.saved_from = self.compose_state.from.clone();
            }
            self.compose_state.changed_at = None;
        } else {
            ui.ctx().request_repaint_after(SAVE_AFTER);
        }
    }

    /// The worker built the message of request `ticket`: the toast of that request follows it.
    pub(super) fn take_queued(&mut self, ticket: u64, message_id: String) {
        if let Some(t) = self.compose_state.toast.as_mut().filter(|t| t.ticket == ticket) {
            t.message_id = Some(message_id);
        }
    }

    fn fate(&self) -> Option<Fate<'_>> {
        let t = self.compose_state.toast.as_ref()?;
        let Some(id) = &t.message_id else { return Some(Fate::Handing) };
        let find = |rows: &[Row]| rows.iter().position(|r| &r.message_id == id);
        Some(if let Some(i) = find(&self.view.sent) {
            Fate::Sent(&self.view.sent[i])
        } else if let Some(i) = find(&self.view.waiting) {
            Fate::Waiting(&self.view.waiting[i])
        } else if t.seen {
            Fate::Gone
        } else {
            Fate::Handing
        })
    }

    /// The toast: sent (when, and a way to 送信済み), sending, or waiting and why (and a way to
    /// 送信トレイ).
    fn toast(&mut self, ui: &mut egui::Ui) {
        let Some(fate) = self.fate() else { return };
        let found = matches!(fate, Fate::Sent(_) | Fate::Waiting(_));
        // Its own account's queue (another account's pause is not this message's).
        let snapshot = match &fate {
            Fate::Waiting(r) if r.account > 0 => self.view.others.get(r.account - 1).and_then(|o| o.snapshot.as_ref()),
            _ => self.view.snapshot.as_ref(),
        };
        let paused = snapshot.is_some_and(|s| s.paused.is_some());
        let now = self.clock.now();
        let Some(t) = &self.compose_state.toast else { return };
        let (to, subject) = (t.to.as_str(), t.subject.as_str());
        let plain = ui.visuals().text_color();
        let good = super::theme::good(ui.visuals());
        let (colour, text, go) = match fate {
            Fate::Sent(r) => {
                let at = r.sent_at.map(|t| local_time(t, "%H:%M")).unwrap_or_default();
                (good, fl!("gui-toast-sent", to = to, subject = subject, at = at), Some(Tab::Sent))
            }
            Fate::Waiting(r) if r.state == Status::Failed => {
                let why = r.last_error.as_ref().map(|e| reason(e.kind)).unwrap_or_default();
                (
                    ui.visuals().error_fg_color,
                    fl!("gui-toast-failed", to = to, subject = subject, reason = why),
                    Some(Tab::Outbox),
                )
            }
            // A stopped queue is not retried by itself: the toast says so, not a time.
            Fate::Waiting(Row { last_error: Some(e), .. }) if paused => {
                let text = fl!("gui-toast-paused", to = to, subject = subject, reason = reason(e.kind));
                (ui.visuals().error_fg_color, text, Some(Tab::Outbox))
            }
            Fate::Waiting(Row { last_error: Some(e), next_attempt, .. }) => {
                let (why, next) = (reason(e.kind), crate::text::words::list_time(*next_attempt, now));
                let text = fl!("gui-toast-waits", to = to, subject = subject, reason = why, next = next);
                (ui.visuals().error_fg_color, text, Some(Tab::Outbox))
            }
            Fate::Waiting(Row { send_at: Some(at), attempts: 0, state: Status::Queued, .. }) => {
                let text =
                    fl!("gui-toast-scheduled", to = to, subject = subject, at = local_time(*at, "%Y-%m-%d %H:%M"));
                (plain, text, Some(Tab::Outbox))
            }
            Fate::Waiting(r) if r.state == Status::Sending => {
                (plain, fl!("gui-toast-sending", to = to, subject = subject), None)
            }
            Fate::Waiting(_) => (plain, fl!("gui-toast-queued", to = to, subject = subject), Some(Tab::Outbox)),
            Fate::Handing => (plain, fl!("gui-toast-handing", to = to, subject = subject), None),
            Fate::Gone => (plain, fl!("gui-toast-gone", to = to, subject = subject), None),
        };
        if let Some(t) = self.compose_state.toast.as_mut() {
            t.seen |= found;
        }
        let mut close = false;
        egui::Frame::group(ui.style()).stroke(egui::Stroke::new(1.5, colour)).show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(colour, text);
                match go {
                    Some(Tab::Sent) if ui.button(fl!("gui-toast-see-sent")).clicked() => self.tab = Tab::Sent,
                    Some(Tab::Outbox) if ui.button(fl!("gui-toast-see-outbox")).clicked() => self.tab = Tab::Outbox,
                    _ => {}
                }
                close = ui.small_button(fl!("gui-toast-close")).clicked();
            });
        });
        if close {
            self.compose_state.toast = None;
        }
    }

    pub(super) fn compose_view(&mut self, ui: &mut egui::Ui) {
        self.toast(ui);
        // Scrolls as a whole: at 200 % in a small window 送信 stays reachable.
        egui::ScrollArea::vertical().id_salt("compose-scroll").show(ui, |ui| self.compose_fields(ui));
    }

    fn compose_fields(&mut self, ui: &mut egui::Ui) {
        self.sign_new_message();
        self.dropped_files(ui);
        let focus_to = std::mem::take(&mut self.compose_state.focus_to);
        let show_cc = self.compose_state.show_cc || !self.compose.cc.is_empty() || !self.compose.bcc.is_empty();
        let mut add_cc = false;
        let from = match (self.view.settings.display_name.trim(), self.view.settings.address.trim()) {
            (_, "") => None,
            ("", address) => Some(address.to_owned()),
            (name, address) => Some(format!("{name} <{address}>")),
        };
        let several = self.view.settings.accounts.len() > 1;
        if self.compose_state.known.0 != self.view.version {
            // Read where the rows are: no copy of thousands of rows on the UI thread.
            let rows = self.view.sent.iter().chain(self.view.waiting.iter());
            self.compose_state.known = (self.view.version, known(&self.view.contacts, rows));
        }
        if several {
            ui.horizontal(|ui| {
                let l = ui.label(fl!("gui-from"));
                self.sender_choice(ui, l.id);
            });
        }
        let (known, completing) = (&self.compose_state.known.1, &mut self.compose_state.completing);
        let c = &mut self.compose;
        // Checked once a frame: shown under each field, and deciding whether 送信 is enabled.
        let mut all_good = true;
        // An address is shown in red (not only the one being typed is unfinished).
        let mut red = false;
        egui::Grid::new("compose").num_columns(2).show(ui, |ui| {
            // With several accounts, 差出人 is chosen above the grid (the choice swaps the 署名).
            if !several && let Some(from) = from {
                ui.label(fl!("gui-from"));
                ui.weak(from);
                ui.end_row();
            }
            for (i, (label, value, check)) in [
                (fl!("gui-to"), &mut c.to, true),
                (fl!("gui-cc"), &mut c.cc, true),
                (fl!("gui-bcc"), &mut c.bcc, true),
                (fl!("gui-subject"), &mut c.subject, false),
            ]
            .into_iter()
            .enumerate()
            {
                // Cc and Bcc wait behind 「Cc/Bcc を追加」, as in the mail programs students know.
                if (i == 1 || i == 2) && !show_cc {
                    if i == 1 {
                        ui.label("");
                        add_cc = ui.small_button(fl!("gui-add-cc")).clicked();
                        ui.end_row();
                    }
                    continue;
                }
                let l = ui.label(label);
                ui.vertical(|ui| {
                    // An address field shows the addresses already ended by a separator as
                    // chips (removed whole with ×, or taken back to be edited with a click or
                    // Backspace); the text box holds the one being typed. The field's text stays
                    // the one list of addresses the draft and the message are made from.
                    let (mut done, mut typing) = if check { split_field(value) } else { (Vec::new(), value.clone()) };
                    let was_empty = typing.is_empty();
                    let mut edit_chip = None;
                    let mut remove_chip = None;
                    let field_id = egui::Id::unique(("compose-field", i));
                    let r = ui
                        .horizontal_wrapped(|ui| {
                            for (n, a) in done.iter().enumerate() {
                                match chip(ui, a) {
                                    Some(ChipAction::Edit) => edit_chip = Some(n),
                                    Some(ChipAction::Remove) => remove_chip = Some(n),
                                    None => {}
                                }
                            }
                            // The box takes the rest of the row, or a row of its own when little is left.
                            // (A wrapping row's available width is the whole row's: what is left
                            // is measured from the cursor.)
                            let mut left = ui.max_rect().max.x - ui.cursor().min.x;
                            if left < 160.0 {
                                ui.end_row();
                                left = ui.max_rect().width();
                            }
                            // Less the box's own margins, so that it fits where it is put.
                            let width = left - 2.0 * ui.spacing().button_padding.x - ui.spacing().item_spacing.x;
                            // Ids of their own: a notice or an error appearing above while the
                            // student types moves the fields, and must not take the cursor out.
                            ui.add(egui::TextEdit::singleline(&mut typing).id(field_id).desired_width(width))
                                .labelled_by(l.id)
                        })
                        .inner;
                    if i == 0 && focus_to {
                        r.request_focus();
                    }
                    let mut cursor_at_end = false;
                    if check {
                        let backspace = was_empty && r.has_focus() && ui.input(|i| i.key_pressed(egui::Key::Backspace));
                        if let Some(n) = remove_chip {
                            done.remove(n);
                        } else if let Some(n) = edit_chip.or(backspace.then(|| done.len().checked_sub(1)).flatten()) {
                            // What was being typed becomes a chip; the chip is typed again.
                            let taken = done.remove(n);
                            if !typing.trim().is_empty() {
                                done.push(std::mem::take(&mut typing));
                            }
                            typing = taken;
                            r.request_focus();
                            cursor_at_end = true;
                        }
                        // Enter on a finished address makes it a chip, ready for the next.
                        if r.lost_focus()
                            && ui.input(|i| i.key_pressed(egui::Key::Enter))
                            && address_fault(&typing).is_none()
                        {
                            done.push(std::mem::take(&mut typing));
                            r.request_focus();
                        }
                        let joined = join_field(&done, &typing);
                        if joined != *value {
                            *value = joined;
                        }
                    } else if typing != *value {
                        *value = typing;
                    }
                    // Addresses already written to, while the field is being typed in: a click
                    // (or Enter, for the first) puts one in.
                    if r.has_focus() {
                        *completing = check.then_some(i);
                    }
                    if *completing == Some(i) {
                        let offered = completions(value, known);
                        // Enter takes the first offer only while the entry is not an address yet:
                        // leaving a finished address with Enter keeps it as typed.
                        let typed = value.rsplit([',', '、', ';']).next().unwrap_or("").trim();
                        let entered = r.lost_focus()
                            && ui.input(|i| i.key_pressed(egui::Key::Enter))
                            && address_fault(typed).is_some();
                        let mut chosen = entered.then(|| offered.first().map(|c| c.address.as_str())).flatten();
                        if !offered.is_empty() {
                            ui.horizontal_wrapped(|ui| {
                                ui.weak(fl!("gui-complete"));
                                for c in &offered {
                                    let label = if c.name.is_empty() {
                                        c.address.clone()
                                    } else {
                                        format!("{} <{}>", c.name, c.address)
                                    };
                                    if ui.small_button(label).clicked() {
                                        chosen = Some(c.address.as_str());
                                    }
                                }
                            });
                        }
                        if let Some(a) = chosen {
                            *value = complete(value, a);
                            r.request_focus();
                            cursor_at_end = true;
                        }
                    }
                    if cursor_at_end {
                        // The cursor at the end of what the box now holds.
                        let end = egui::text::CCursor::new(split_field(value).1.chars().count());
                        let mut state = egui::text_edit::TextEditState::load(ui.ctx(), r.id).unwrap_or_default();
                        state.cursor.set_char_range(Some(egui::text::CCursorRange::one(end)));
                        state.store(ui.ctx(), r.id);
                    }
                    let bad = if check { bad_addresses(value) } else { Vec::new() };
                    // The address being typed is not yet wrong for having no @ or nothing after
                    // it: it is not finished (what the IME left, a space, two @ are said at once).
                    let (_, typing) = split_field(value);
                    for entry in &bad {
                        all_good = false;
                        let fault = address_fault(entry);
                        if r.has_focus()
                            && entry.as_str() == typing.trim()
                            && matches!(fault, Some(AddressFault::NoAt | AddressFault::NothingAfterAt))
                        {
                            continue;
                        }
                        red = true;
                        let why = fault.map(crate::text::words::address_fault).unwrap_or_default();
                        let text = fl!("gui-bad-address", address = entry.as_str(), reason = why);
                        ui.colored_label(ui.visuals().error_fg_color, text);
                    }
                });
                ui.end_row();
            }
        });
        if add_cc {
            self.compose_state.show_cc = true;
        }
        self.signature_choice(ui);
        let c = &mut self.compose;
        let l = ui.label(fl!("gui-body"));
        let body_focused = ui.memory(|m| m.has_focus(egui::Id::unique("compose-body")));
        if body_focused {
            self.compose_state.completing = None;
        }
        // The body takes the height the window has left, below the fields, above the
        // attachments and the buttons (ten lines at least).
        let row = ui.spacing().interact_size.y + ui.spacing().item_spacing.y;
        let below = row * (3.0 + c.attachments.len() as f32) + ui.spacing().item_spacing.y * 4.0;
        let lines = ui.text_style_height(&egui::TextStyle::Body) * 10.0;
        let height = (ui.available_height() - below).max(lines);
        ui.add(
            egui::TextEdit::multiline(&mut c.body)
                .id(egui::Id::unique("compose-body"))
                .min_size(egui::vec2(0.0, height))
                .desired_width(f32::INFINITY),
        )
        .labelled_by(l.id);
        self.attachments(ui);
        let send_key = ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::Enter));
        // Why 送信 cannot be pressed, said beside it (a greyed button alone says nothing).
        let no_to = split_addresses(&self.compose.to).is_empty();
        let why_not = if !all_good && !red {
            Some(fl!("gui-send-finish-address"))
        } else if !all_good {
            Some(fl!("gui-send-fix-addresses"))
        } else if no_to {
            Some(fl!("gui-send-needs-to"))
        } else {
            None
        };
        ui.horizontal_wrapped(|ui| {
            let ready = why_not.is_none();
            // One primary action: 送信 in the accent colour; 後で送信 beside it, plain.
            let accent = super::theme::accent(ui.visuals());
            let primary = egui::Button::new(egui::RichText::new(fl!("gui-send")).strong().color(egui::Color32::WHITE))
                .fill(accent)
                .min_size(egui::vec2(96.0, ui.spacing().interact_size.y * 1.3));
            let mut send = ui.add_enabled(ready, primary).on_hover_text("Ctrl+Enter");
            let mut later = ui.add_enabled(ready, egui::Button::new(fl!("gui-send-later")));
            if let Some(why) = &why_not {
                send = send.on_disabled_hover_text(why.as_str());
                later = later.on_disabled_hover_text(why.as_str());
                ui.weak(why.as_str());
            } else if self.compose.subject.trim().is_empty() {
                ui.weak(fl!("gui-send-no-subject"));
            }
            let send = send.clicked() || (ready && send_key);
            if send || later.clicked() {
                self.send_compose(send, None, None);
            }
            if self.compose_state.schedule.is_none()
                && ui.add_enabled(ready, egui::Button::new(fl!("gui-schedule")).small()).clicked()
            {
                self.compose_state.schedule = Some(crate::core::sending::schedule::next_morning(self.clock.now()));
            }
            let blank = self.compose_blank();
            if ui
                .add_enabled(!blank, egui::Button::new(fl!("gui-keep-draft")).small())
                .on_disabled_hover_text(fl!("gui-keep-draft-nothing"))
                .clicked()
            {
                self.keep_draft_aside();
            }
            self.kept_menu(ui);
        });
        self.schedule_row(ui, why_not.is_none());
    }

    /// 「下書きに保存」: the message goes to the list of drafts and 作成 is free for the next (the
    /// worker hands it back if it could not be kept).
    fn keep_draft_aside(&mut self) {
        let c = self.with_sender(self.compose.clone());
        if self.ask(Request::KeepDraft(Box::new(c))) {
            self.compose = Unsent::default();
            self.compose_state.focus_to = true;
        }
    }

    /// 「下書き (n)」: the drafts put aside, newest first with the time they were kept; one opens
    /// in 作成 (what is being written there is put aside first, so nothing is lost), one can be
    /// deleted after asking.
    fn kept_menu(&mut self, ui: &mut egui::Ui) {
        let (kept, damaged) = (self.view.kept.clone(), self.view.kept_damaged.clone());
        if kept.is_empty() && damaged.is_empty() {
            return;
        }
        let now = self.clock.now();
        let mut open = None;
        let mut delete = None;
        let count = kept.len() + damaged.len();
        ui.menu_button(fl!("gui-kept", count = count), |ui| {
            // One that cannot be read is shown as such, and can be deleted.
            for id in damaged.iter() {
                ui.horizontal(|ui| {
                    ui.colored_label(
                        ui.visuals().error_fg_color,
                        fl!("gui-kept-damaged", file = format!("drafts/{id}.toml")),
                    );
                    if self.compose_state.confirm_delete_kept.as_deref() == Some(id.as_str()) {
                        if ui.small_button(fl!("gui-delete-confirm")).clicked() {
                            delete = Some(id.clone());
                        }
                    } else if ui.small_button(fl!("gui-delete")).clicked() {
                        self.compose_state.confirm_delete_kept = Some(id.clone());
                    }
                });
            }
            for k in kept.iter() {
                ui.horizontal(|ui| {
                    let subject = if k.draft.subject.trim().is_empty() {
                        fl!("gui-kept-no-subject")
                    } else {
                        k.draft.subject.clone()
                    };
                    let line = fl!(
                        "gui-kept-line",
                        subject = subject,
                        to = k.draft.to.as_str(),
                        at = crate::text::words::list_time(k.kept_at, now)
                    );
                    if ui.button(line).clicked() {
                        open = Some(k.id.clone());
                    }
                    if self.compose_state.confirm_delete_kept.as_deref() == Some(k.id.as_str()) {
                        if ui.small_button(fl!("gui-delete-confirm")).clicked() {
                            delete = Some(k.id.clone());
                        }
                    } else if ui.small_button(fl!("gui-delete")).clicked() {
                        self.compose_state.confirm_delete_kept = Some(k.id.clone());
                    }
                });
            }
        });
        if let Some(id) = delete {
            self.compose_state.confirm_delete_kept = None;
            self.ask(Request::DeleteKept(id));
        }
        // 作成 is left as it is until the worker answers: it takes the draft's place only once
        // what it held is safely put aside.
        if let Some(id) = open {
            let put_aside = (!self.compose_blank()).then(|| Box::new(self.with_sender(self.compose.clone())));
            self.ask(Request::OpenKept { id, put_aside });
        }
    }

    /// A draft of the list opened: it takes 作成's place (what was there was put aside first), and
    /// is already the draft being written on disk.
    pub(super) fn take_opened(&mut self, mut d: Unsent) {
        self.compose_state.from = self.sender_of(&mut d);
        self.compose_state.saved_from = self.compose_state.from.clone();
        self.compose_state.saved = d.clone();
        self.compose_state.signature = self.signature_of(&d.body);
        self.compose = d;
        self.tab = Tab::Compose;
    }

    /// Which 署名 a body ends with (0 when none of the others).
    fn signature_of(&self, body: &str) -> usize {
        (1..=self.other_signature_count())
            .find(|&i| self.signature_block(i).is_some_and(|b| body.ends_with(&b)))
            .unwrap_or(0)
    }

    /// 「日時を指定して送信」: a date and a time (the next morning offered), checked as typed; the
    /// message waits in 送信トレイ until then.
    fn schedule_row(&mut self, ui: &mut egui::Ui, ready: bool) {
        let now = self.clock.now();
        let Some((date, time)) = &mut self.compose_state.schedule else { return };
        let mut go = None;
        let mut close = false;
        ui.horizontal_wrapped(|ui| {
            let l = ui.label(fl!("gui-schedule-date"));
            ui.add(egui::TextEdit::singleline(date).desired_width(110.0)).labelled_by(l.id);
            let l = ui.label(fl!("gui-schedule-time"));
            ui.add(egui::TextEdit::singleline(time).desired_width(60.0)).labelled_by(l.id);
            let at = crate::core::sending::schedule::parse(date, time, now);
            if ui.add_enabled(ready && at.is_ok(), egui::Button::new(fl!("gui-schedule-send"))).clicked() {
                go = at.ok();
            }
            close = ui.small_button(fl!("gui-cancel")).clicked();
            if let Err(e) = at {
                ui.colored_label(ui.visuals().error_fg_color, crate::text::words::schedule_error(e));
            }
        });
        if close {
            self.compose_state.schedule = None;
        }
        if let Some(at) = go {
            self.send_compose(false, None, Some(at));
        }
    }

    /// Hands what is in 作成 over to be built and queued (`now`: and sent at once), in
    /// `charset` (`None`: the account's).
    pub(super) fn send_compose(&mut self, now: bool, charset: Option<Charset>, at: Option<std::time::SystemTime>) {
        self.compose_state.tickets += 1;
        let ticket = self.compose_state.tickets;
        let draft = Box::new(self.with_sender(self.compose.clone()));
        if self.ask(Request::Send { draft, now, charset, at, ticket }) {
            // The next message starts from the default account again.
            self.compose_state.from.clear();
            self.notice = None;
            self.compose_state.sent_now = now;
            self.compose_state.sent_at = at;
            self.compose_state.schedule = None;
            // The worker hands the draft back if it cannot be built; the saved copy goes once
            // the message is in the outbox (the empty draft is saved a second later). 作成 stays,
            // empty, and the toast above it follows the message.
            let c = std::mem::take(&mut self.compose);
            let to = split_addresses(&c.to).into_iter().chain(split_addresses(&c.cc)).collect::<Vec<_>>().join(", ");
            self.compose_state.toast = Some(Toast { ticket, message_id: None, to, subject: c.subject, seen: false });
            self.compose_state.focus_to = true;
        }
    }

    fn attachments(&mut self, ui: &mut egui::Ui) {
        let hovering = ui.ctx().input(|i| !i.raw.hovered_files.is_empty());
        ui.horizontal_wrapped(|ui| {
            ui.label(fl!("gui-attachments"));
            if ui.button(fl!("gui-attach")).clicked() {
                self.ask(Request::PickFiles);
            }
            ui.weak(if hovering { fl!("gui-drop-now") } else { fl!("gui-drop-hint") });
        });
        let mut remove = None;
        for (i, path) in self.compose.attachments.iter().enumerate() {
            ui.horizontal(|ui| {
                let name =
                    crate::core::message::compose::attachment_name(path).unwrap_or_else(|| path.display().to_string());
                ui.label(name).on_hover_text(path.display().to_string());
                match self.view.sizes.get(path) {
                    Some(Ok(size)) => {
                        ui.weak(size_text(*size));
                    }
                    Some(Err(e)) => {
                        ui.colored_label(
                            ui.visuals().error_fg_color,
                            fl!("gui-attach-unreadable", detail = e.as_str()),
                        );
                    }
                    None => {}
                }
                if ui.small_button(fl!("gui-attach-remove")).clicked() {
                    remove = Some(i);
                }
            });
        }
        if let Some(i) = remove {
            self.compose.attachments.remove(i);
        }
    }

    /// Files dropped anywhere on the window while 作成 is open become attachments.
    fn dropped_files(&mut self, ui: &mut egui::Ui) {
        let dropped: Vec<_> = ui.ctx().input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_owned()).collect());
        if dropped.is_empty() {
            return;
        }
        let new: Vec<_> = dropped.into_iter().filter(|p| !self.compose.attachments.contains(p)).collect();
        self.compose.attachments.extend(new.iter().cloned());
        self.ask(Request::Inspect(new));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(to: &str) -> Row {
        Row {
            id: 0,
            message_id: String::new(),
            subject: String::new(),
            to: to.into(),
            state: Status::Sent,
            created: std::time::SystemTime::UNIX_EPOCH,
            attempts: 0,
            next_attempt: std::time::SystemTime::UNIX_EPOCH,
            last_error: None,
            sent_at: None,
            editable: false,
            via: None,
            send_at: None,
            account: 0,
        }
    }

    #[test]
    fn an_address_field_splits_into_chips_and_the_entry_being_typed() {
        assert_eq!(split_field(""), (vec![], String::new()));
        assert_eq!(split_field("hana"), (vec![], "hana".to_owned()));
        let two = split_field("a@x.jp、 b@y.jp; c@z");
        assert_eq!(two, (vec!["a@x.jp".to_owned(), "b@y.jp".to_owned()], "c@z".to_owned()));
        assert_eq!(join_field(&two.0, &two.1), "a@x.jp, b@y.jp, c@z");
        assert_eq!(split_field("a@x.jp, "), (vec!["a@x.jp".to_owned()], String::new()));
        // Round trip: what completion writes comes back as the same chips.
        for field in ["", "a@x.jp, ", "a@x.jp, b", "a@x.jp, b@y.jp, "] {
            let (done, typing) = split_field(field);
            assert_eq!(join_field(&done, &typing), field);
        }
    }

    #[test]
    fn completion_offers_addresses_already_written_to_most_used_first() {
        let rows = [
            row("hanako@example.net, jiro@example.org"),
            row("Hanako@example.net"),
            row("hana@example.com, \"山田\" <yamada@example.com>, hana＠example.com"),
        ];
        assert_eq!(known_addresses(rows.iter()), ["hanako@example.net", "jiro@example.org", "hana@example.com"]);
        let book = [Contact { name: "山田 太郎".into(), address: "yamada@example.ac.jp".into() }];
        let known = known(&book, rows.iter());
        let addresses = |c: Vec<&Contact>| c.into_iter().map(|c| c.address.clone()).collect::<Vec<_>>();
        assert_eq!(
            addresses(known.iter().collect()),
            ["yamada@example.ac.jp", "hanako@example.net", "jiro@example.org", "hana@example.com"],
            "the address book first"
        );
        assert_eq!(addresses(completions("han", &known)), ["hanako@example.net", "hana@example.com"]);
        assert_eq!(addresses(completions("jiro@example.org, HAN", &known)), ["hanako@example.net", "hana@example.com"]);
        assert!(completions("ako", &known).is_empty(), "the middle of an address is not its beginning");
        assert_eq!(addresses(completions("山田", &known)), ["yamada@example.ac.jp"], "by name");
        assert_eq!(addresses(completions("hanako@example.net, han", &known)), ["hana@example.com"], "one already in");
        assert!(completions("hanako@example.net", &known).is_empty(), "the entry is complete");
        assert!(completions("jiro@example.org, ", &known).is_empty(), "nothing typed yet");
        assert_eq!(complete("jiro@example.org、han", "hanako@example.net"), "jiro@example.org, hanako@example.net, ");
        assert_eq!(complete("han", "hanako@example.net"), "hanako@example.net, ");
    }
}
