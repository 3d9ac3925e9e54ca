//! 送信トレイ and 送信済み as tables: 日時, 宛先, 件名, 状態 and (送信トレイ) 次の送信 — newest
//! first, any column sorted by a click on its heading, a filter over 宛先 and 件名, ↑/↓ to move,
//! Delete to delete (after asking). The selected message shows in a panel beside the table: the
//! reason in the user's words with the server's own reply once (copyable) and its actions (再送,
//! 編集, 削除), or (送信済み) the message read-only. Rows are laid out only while visible, and
//! the order is worked out once per view, sort and filter, not every frame. No I/O here.

use std::time::{Duration, SystemTime};

use egui_extras::{Column, TableBuilder};

use crate::app::backend::Request;
use crate::core::sending::engine::Command;
use crate::core::sending::outbox::{Row, Status};
use crate::fl;
use crate::text::words::{list_time, reason, state_name};

use super::App;

/// A message across accounts: its account and its number in that account's outbox.
type RowKey = (usize, i64);

fn key(r: &Row) -> RowKey {
    (r.account, r.id)
}

/// A column the rows can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum SortBy {
    /// 作成日時 (送信トレイ) or 送信日時 (送信済み).
    #[default]
    When,
    To,
    Subject,
    State,
    Next,
    Account,
}

/// The rows' order and what it was worked out for.
#[derive(PartialEq)]
struct Key {
    sent: bool,
    version: u64,
    by: SortBy,
    ascending: bool,
    filter: String,
}

#[derive(Default)]
pub(super) struct State {
    /// A 削除 waiting for confirmation.
    confirm_delete: Option<RowKey>,
    /// The row shown beside the table.
    selected: Option<RowKey>,
    /// Shown rows contain this in 宛先 or 件名 (any case).
    pub filter: String,
    /// Each list's sort (送信トレイ, 送信済み): the column, and whether oldest (or A) comes first.
    /// Newest first by default.
    sort: [(SortBy, bool); 2],
    /// The message whose text was asked for (`Request::Open`), so it is asked once.
    asked_open: Option<RowKey>,
    /// Indices into the list, in the order shown.
    order: Option<(Key, std::sync::Arc<Vec<usize>>)>,
    /// The selection moved by the keyboard: its row is scrolled into view.
    scroll_to_selected: bool,
}

/// When a row's 日時 column says it happened.
fn when(row: &Row) -> SystemTime {
    row.sent_at.unwrap_or(row.created)
}

/// The order of `rows` sorted `by` (newest first unless `ascending`), keeping those that match
/// `filter`.
fn order(rows: &[Row], by: SortBy, ascending: bool, filter: &str) -> Vec<usize> {
    let filter = filter.trim().to_lowercase();
    let mut order: Vec<usize> = (0..rows.len())
        .filter(|&i| {
            filter.is_empty()
                || rows[i].to.to_lowercase().contains(&filter)
                || rows[i].subject.to_lowercase().contains(&filter)
        })
        .collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&rows[a], &rows[b]);
        let o = match by {
            SortBy::When => when(a).cmp(&when(b)),
            SortBy::To => a.to.to_lowercase().cmp(&b.to.to_lowercase()),
            SortBy::Subject => a.subject.cmp(&b.subject),
            SortBy::State => (a.state as u8, a.last_error.is_some()).cmp(&(b.state as u8, b.last_error.is_some())),
            SortBy::Next => a.next_attempt.cmp(&b.next_attempt),
            SortBy::Account => a.account.cmp(&b.account),
        };
        let o = if ascending { o } else { o.reverse() };
        // Ties: newest first, then the later id, whichever way the column goes, so the order
        // never jumps.
        o.then_with(|| when(b).cmp(&when(a))).then_with(|| b.id.cmp(&a.id))
    });
    order
}

/// What 次の送信 says of a waiting message: its 送信予約 time, a countdown to its retry, or nothing.
fn next_text(row: &Row, now: SystemTime) -> Option<String> {
    if row.state != Status::Queued {
        return None;
    }
    if let Some(at) = row.send_at.filter(|at| *at > now) {
        return Some(list_time(at, now));
    }
    if row.attempts == 0 {
        return None;
    }
    let left = row.next_attempt.duration_since(now).ok()?;
    Some(crate::text::words::mm_ss(left + Duration::from_millis(999)))
}

impl State {
    /// The accounts changed: a selected row (or one waiting for 削除's confirmation) may now be
    /// another account's.
    pub(super) fn forget_selection(&mut self) {
        self.selected = None;
        self.confirm_delete = None;
        self.asked_open = None;
    }
}

impl App {
    /// The table of one list; returns a request its keys asked for.
    fn table(&mut self, ui: &mut egui::Ui, sent: bool) {
        let rows = if sent { self.view.sent.clone() } else { self.view.waiting.clone() };
        let now = self.clock.now();
        // With several accounts, each row says whose it is.
        let labels: Option<Vec<String>> = (!self.view.others.is_empty()).then(|| {
            std::iter::once(self.view.label.clone()).chain(self.view.others.iter().map(|o| o.label.clone())).collect()
        });
        let st = &mut self.lists;
        let wanted = Key {
            sent,
            version: self.view.version,
            by: st.sort[sent as usize].0,
            ascending: st.sort[sent as usize].1,
            filter: st.filter.clone(),
        };
        // A new sort or filter (not a new view) starts at the top of what it shows.
        let mut to_top = false;
        if st.order.as_ref().is_none_or(|(k, _)| *k != wanted) {
            to_top = st.order.as_ref().is_some_and(|(k, _)| {
                k.sent == wanted.sent
                    && (k.by != wanted.by || k.ascending != wanted.ascending || k.filter != wanted.filter)
            });
            let o = order(&rows, wanted.by, wanted.ascending, &st.filter);
            st.order = Some((wanted, std::sync::Arc::new(o)));
        }
        let Some((_, order)) = &st.order else { return };
        // Shared, not copied: the table reads it every frame.
        let order = std::sync::Arc::clone(order);
        self.list_keys(ui, &rows, &order);
        let st = &mut self.lists;
        let selected_at = st.selected.and_then(|id| order.iter().position(|&i| key(&rows[i]) == id));
        let row_height = ui.spacing().interact_size.y.max(ui.text_style_height(&egui::TextStyle::Body)) + 6.0;
        let mut table = TableBuilder::new(ui)
            .id_salt(if sent { "sent-table" } else { "outbox-table" })
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .auto_shrink([false, false])
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::auto().at_least(90.0))
            .column(Column::initial(180.0).at_least(80.0).clip(true))
            .column(Column::remainder().at_least(120.0).clip(true));
        if !sent {
            table =
                table.column(Column::initial(200.0).at_least(80.0).clip(true)).column(Column::auto().at_least(70.0));
        }
        if labels.is_some() {
            table = table.column(Column::initial(110.0).at_least(60.0).clip(true));
        }
        if std::mem::take(&mut st.scroll_to_selected)
            && let Some(at) = selected_at
        {
            table = table.scroll_to_row(at, None);
        } else if to_top {
            table = table.vertical_scroll_offset(0.0);
        }
        let mut headings = vec![
            (SortBy::When, if sent { fl!("gui-col-sent-at") } else { fl!("gui-col-created") }),
            (SortBy::To, fl!("gui-col-to")),
            (SortBy::Subject, fl!("gui-col-subject")),
        ];
        if !sent {
            headings.push((SortBy::State, fl!("gui-col-state")));
            headings.push((SortBy::Next, fl!("gui-col-next")));
        }
        if labels.is_some() {
            headings.push((SortBy::Account, fl!("gui-col-account")));
        }
        let mut counting = false;
        let mut clicked = None;
        table
            .header(row_height, |mut header| {
                for (by, title) in headings {
                    header.col(|ui| {
                        let (now_by, now_ascending) = st.sort[sent as usize];
                        let arrow = match (now_by == by, now_ascending) {
                            (false, _) => "",
                            (true, true) => " ▲",
                            (true, false) => " ▼",
                        };
                        let r = ui.add(
                            egui::Button::new(egui::RichText::new(format!("{title}{arrow}")).strong()).frame(false),
                        );
                        if r.on_hover_text(fl!("gui-col-sort")).clicked() {
                            // A second click turns the order round.
                            // Times newest first, words from A, at the first click.
                            let ascending = if now_by == by {
                                !now_ascending
                            } else {
                                matches!(by, SortBy::To | SortBy::Subject | SortBy::State | SortBy::Account)
                            };
                            st.sort[sent as usize] = (by, ascending);
                        }
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, order.len(), |mut table_row| {
                    let row = &rows[order[table_row.index()]];
                    table_row.set_selected(st.selected == Some(key(row)));
                    // Long addresses and subjects end in "…"; times and states are never cut.
                    let text = |ui: &mut egui::Ui, t: String| {
                        ui.add(egui::Label::new(t).selectable(false).truncate());
                    };
                    let whole = |ui: &mut egui::Ui, t: egui::RichText| {
                        ui.add(egui::Label::new(t).selectable(false).extend());
                    };
                    table_row.col(|ui| whole(ui, list_time(when(row), now).into()));
                    table_row.col(|ui| text(ui, row.to.clone()));
                    table_row.col(|ui| {
                        let subject = match &row.via {
                            Some(via) => {
                                format!("{}  {}", row.subject, fl!("gui-via", program = crate::core::display_safe(via)))
                            }
                            None => row.subject.clone(),
                        };
                        text(ui, subject);
                    });
                    if !sent {
                        table_row.col(|ui| match &row.last_error {
                            Some(e) => {
                                let why = reason(e.kind);
                                let label = egui::Label::new(
                                    egui::RichText::new(why.as_str()).color(ui.visuals().error_fg_color),
                                );
                                ui.add(label.selectable(false).truncate()).on_hover_text(why);
                            }
                            None if row.send_at.is_some_and(|at| at > now) => whole(ui, fl!("state-scheduled").into()),
                            None => whole(ui, state_name(row.state).into()),
                        });
                        table_row.col(|ui| {
                            let next = next_text(row, now);
                            counting |= next.is_some();
                            whole(ui, next.unwrap_or_default().into());
                        });
                    }
                    if let Some(labels) = &labels {
                        table_row.col(|ui| text(ui, labels.get(row.account).cloned().unwrap_or_default()));
                    }
                    if table_row.response().clicked() {
                        clicked = Some(key(row));
                    }
                });
            });
        if let Some(id) = clicked {
            self.select(id, sent);
        }
        if counting {
            // The retry countdowns tick once a second.
            ui.ctx().request_repaint_after(Duration::from_secs(1));
        }
    }

    fn select(&mut self, id: RowKey, sent: bool) {
        self.lists.selected = Some(id);
        self.lists.confirm_delete = None;
        if sent {
            self.open_once(id);
        }
    }

    /// Asks for a sent message's text unless it is here or already asked for (a row selected in
    /// 送信トレイ that went meanwhile is asked for when 送信済み shows it).
    fn open_once(&mut self, id: RowKey) {
        if self.view.opened.as_ref().is_none_or(|(o, _)| *o != id) && self.lists.asked_open != Some(id) {
            self.lists.asked_open = Some(id);
            self.ask(Request::Open(id.0, id.1));
        }
    }

    /// ↑/↓ move the selection, Delete asks to delete it (送信トレイ), Escape closes the panel —
    /// unless a text field has the keyboard.
    fn list_keys(&mut self, ui: &mut egui::Ui, rows: &[Row], order: &[usize]) {
        if ui.ctx().memory(|m| m.focused().is_some()) {
            return;
        }
        let sent = self.tab == super::Tab::Sent;
        let at = self.lists.selected.and_then(|id| order.iter().position(|&i| key(&rows[i]) == id));
        let (up, down, delete, escape) = ui.input_mut(|i| {
            (
                i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowUp),
                i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowDown),
                i.consume_key(egui::Modifiers::NONE, egui::Key::Delete),
                i.consume_key(egui::Modifiers::NONE, egui::Key::Escape),
            )
        });
        let to = match (at, up, down) {
            (None, true, _) | (None, _, true) => (!order.is_empty()).then_some(0),
            (Some(a), true, _) => Some(a.saturating_sub(1)),
            (Some(a), _, true) => Some((a + 1).min(order.len().saturating_sub(1))),
            _ => None,
        };
        if let Some(to) = to
            && let Some(&i) = order.get(to)
        {
            self.select(key(&rows[i]), sent);
            self.lists.scroll_to_selected = true;
        }
        if delete
            && !sent
            && let Some(id) = self.lists.selected
        {
            self.lists.confirm_delete = Some(id);
        }
        if escape {
            self.lists.selected = None;
        }
    }

    /// The filter box and the count it leaves.
    fn filter_bar(&mut self, ui: &mut egui::Ui, total: usize) {
        ui.horizontal(|ui| {
            let l = ui.label(fl!("gui-filter"));
            ui.add(
                egui::TextEdit::singleline(&mut self.lists.filter)
                    .hint_text(fl!("gui-filter-hint"))
                    .desired_width(260.0),
            )
            .labelled_by(l.id);
            let shown = self.lists.order.as_ref().map_or(total, |(_, o)| o.len());
            if !self.lists.filter.trim().is_empty() {
                ui.label(fl!("gui-filter-count", shown = shown, total = total));
                if ui.small_button(fl!("gui-filter-clear")).clicked() {
                    self.lists.filter.clear();
                }
            }
        });
    }

    pub(super) fn outbox_view(&mut self, ui: &mut egui::Ui) {
        if self.view.waiting.is_empty() {
            self.empty_state(ui, fl!("queue-empty"));
            return;
        }
        self.filter_bar(ui, self.view.waiting.len());
        let selected = self.lists.selected.and_then(|id| self.view.waiting.iter().find(|r| key(r) == id)).cloned();
        if let Some(row) = selected {
            egui::Panel::right("outbox-details").resizable(true).default_size(320.0).show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("outbox-details-scroll")
                    .show(ui, |ui| self.outbox_details(ui, &row));
            });
        }
        self.table(ui, false);
    }

    /// The selected waiting message: what it is, why it waits (the server's words once), and
    /// its actions.
    fn outbox_details(&mut self, ui: &mut egui::Ui, row: &Row) {
        ui.heading(row.subject.as_str());
        ui.label(fl!("gui-details-to", to = row.to.as_str()));
        ui.label(fl!("gui-details-created", at = crate::text::words::local_time(row.created, "%Y-%m-%d %H:%M")));
        let now = self.clock.now();
        match row.send_at.filter(|at| *at > now && row.state == Status::Queued) {
            Some(at) => {
                ui.label(fl!("gui-details-scheduled", at = crate::text::words::local_time(at, "%Y-%m-%d %H:%M")));
            }
            None => {
                ui.label(state_name(row.state));
                if let Some(next) = next_text(row, now) {
                    ui.label(fl!("gui-next-retry", remaining = next));
                }
            }
        }
        if row.attempts > 0 {
            ui.label(fl!("gui-attempts", count = row.attempts));
        }
        ui.separator();
        match &row.last_error {
            Some(e) => {
                let page = crate::text::guides::page_for(e.kind);
                let e = crate::text::words::explain(e);
                ui.colored_label(ui.visuals().error_fg_color, e.headline.as_str());
                let lines = e.lines();
                for line in &lines {
                    ui.label(line.as_str());
                }
                ui.horizontal_wrapped(|ui| {
                    if ui.small_button(fl!("gui-copy")).clicked() {
                        ui.ctx()
                            .copy_text(std::iter::once(e.headline.clone()).chain(lines).collect::<Vec<_>>().join("\n"));
                    }
                    if let Some(page) = page
                        && ui.small_button(fl!("gui-explain")).clicked()
                    {
                        self.show_guide(page);
                    }
                });
            }
            None => {
                ui.label(fl!("gui-no-error"));
            }
        }
        if row.state == Status::Sending {
            return;
        }
        ui.separator();
        let mut action = None;
        ui.horizontal_wrapped(|ui| {
            if ui.button(fl!("gui-retry")).clicked() {
                action = Some(Request::Engine(Some(row.account), Command::Retry(row.id)));
            }
            let edit = ui.add_enabled(row.editable && self.compose_blank(), egui::Button::new(fl!("gui-edit")));
            let edit = if row.editable {
                edit.on_disabled_hover_text(fl!("gui-edit-busy"))
            } else {
                edit.on_disabled_hover_text(fl!("gui-edit-no-draft"))
            };
            if edit.clicked() {
                action = Some(Request::Engine(Some(row.account), Command::Edit(row.id)));
            }
            if self.lists.confirm_delete == Some(key(row)) {
                if ui.button(fl!("gui-delete-confirm")).clicked() {
                    action = Some(Request::Engine(Some(row.account), Command::Delete(row.id)));
                    self.lists.confirm_delete = None;
                    self.lists.selected = None;
                }
                if ui.button(fl!("gui-cancel")).clicked() {
                    self.lists.confirm_delete = None;
                }
            } else if ui.button(fl!("gui-delete")).on_hover_text(fl!("gui-delete-key")).clicked() {
                self.lists.confirm_delete = Some(key(row));
            }
        });
        if !row.editable {
            ui.weak(fl!("gui-edit-no-draft"));
        } else if !self.compose_blank() {
            ui.weak(fl!("gui-edit-busy"));
        }
        if let Some(a) = action {
            self.ask(a);
        }
    }

    pub(super) fn sent_view(&mut self, ui: &mut egui::Ui) {
        if self.view.sent.is_empty() {
            self.empty_state(ui, fl!("sent-empty"));
            return;
        }
        self.filter_bar(ui, self.view.sent.len());
        let selected = self.lists.selected.and_then(|id| self.view.sent.iter().find(|r| key(r) == id)).cloned();
        if let Some(row) = &selected {
            self.open_once(key(row));
        }
        if let Some(row) = selected {
            egui::Panel::right("sent-details").resizable(true).default_size(360.0).show(ui, |ui| {
                egui::ScrollArea::vertical().id_salt("sent-details-scroll").show(ui, |ui| self.sent_details(ui, &row));
            });
        }
        self.table(ui, true);
    }

    /// The selected sent message, read-only.
    fn sent_details(&mut self, ui: &mut egui::Ui, row: &Row) {
        ui.heading(row.subject.as_str());
        if let Some(at) = row.sent_at {
            ui.label(fl!("gui-sent-at", at = crate::text::words::local_time(at, "%Y-%m-%d %H:%M")));
        }
        match self.view.opened.as_ref().filter(|(o, _)| *o == key(row)) {
            Some((_, Ok(d))) => {
                egui::Grid::new("opened-grid").num_columns(2).show(ui, |ui| {
                    for (label, value) in
                        [(fl!("gui-to"), &d.to), (fl!("gui-cc"), &d.cc), (fl!("gui-subject"), &d.subject)]
                    {
                        if !value.is_empty() {
                            ui.label(label);
                            ui.label(value.as_str());
                            ui.end_row();
                        }
                    }
                    if !d.attachments.is_empty() {
                        ui.label(fl!("gui-attachments"));
                        let names: Vec<_> =
                            d.attachments.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy()).collect();
                        ui.label(names.join(", "));
                        ui.end_row();
                    }
                });
                ui.separator();
                ui.label(d.body.as_str());
            }
            Some((_, Err(raw))) => {
                ui.monospace(raw.as_str());
            }
            None => {
                ui.spinner();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, to: &str, subject: &str, created: u64) -> Row {
        Row {
            id,
            message_id: format!("<{id}@t>"),
            subject: subject.into(),
            to: to.into(),
            state: Status::Queued,
            created: SystemTime::UNIX_EPOCH + Duration::from_secs(created),
            attempts: 0,
            next_attempt: SystemTime::UNIX_EPOCH + Duration::from_secs(created),
            last_error: None,
            sent_at: None,
            editable: true,
            via: None,
            send_at: None,
            account: 0,
        }
    }

    #[test]
    fn newest_first_a_heading_sorts_and_the_filter_keeps_matches() {
        let rows = vec![
            row(1, "b@example.net", "レポート", 100),
            row(2, "a@example.net", "資料", 300),
            row(3, "C@example.net", "レポート再提出", 200),
        ];
        assert_eq!(order(&rows, SortBy::When, false, ""), [1, 2, 0], "newest first");
        assert_eq!(order(&rows, SortBy::When, true, ""), [0, 2, 1]);
        assert_eq!(order(&rows, SortBy::To, true, ""), [1, 0, 2], "addresses in any case");
        assert_eq!(order(&rows, SortBy::When, false, "レポート"), [2, 0]);
        assert_eq!(order(&rows, SortBy::When, false, " c@EXAMPLE "), [2], "the filter ignores case and spaces");
        assert!(order(&rows, SortBy::When, false, "なし").is_empty());
    }
}
