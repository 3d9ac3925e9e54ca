//! 送信トレイ and 送信済み: one fixed-height row per message, laid out only while visible (smooth
//! at thousands of rows), with state, recipients, subject, attempts and the next retry as a
//! countdown. 「詳細」 opens the selected message below the list: the reason in the user's words
//! with the server's own reply, or (送信済み) the message read-only. No I/O here.

use std::time::{Duration, SystemTime};

use crate::app::backend::Request;
use crate::core::sending::engine::Command;
use crate::core::sending::outbox::{Row, Status};
use crate::fl;
use crate::text::words::{reason, state_name};

use super::{App, ERROR};

#[derive(Default)]
pub(super) struct State {
    /// A 削除 click waiting for confirmation.
    confirm_delete: Option<i64>,
    /// The row whose details show below the list.
    selected: Option<i64>,
}

fn row_line(row: &Row, now: SystemTime) -> String {
    let mut text = format!("{}  {}  {}", state_name(row.state), row.to, row.subject);
    if let Some(via) = &row.via {
        text += &format!("  {}", fl!("gui-via", program = crate::core::display_safe(via)));
    }
    if row.attempts > 0 {
        text += &format!("  ({})", fl!("gui-attempts", count = row.attempts));
    }
    if row.state == Status::Queued
        && row.attempts > 0
        && let Ok(left) = row.next_attempt.duration_since(now)
    {
        text += &format!(
            "  {}",
            fl!("gui-next-retry", remaining = crate::text::words::mm_ss(left + Duration::from_millis(999)))
        );
    }
    text
}

impl App {
    fn list_rows(&mut self, ui: &mut egui::Ui, sent: bool) -> Option<Request> {
        let rows = if sent { &self.view.sent } else { &self.view.waiting };
        let now = self.clock.now();
        let mut action = None;
        let st = &mut self.lists;
        let compose_empty = self.compose.is_empty();
        let mut counting = false;
        let height = ui.spacing().interact_size.y.max(ui.text_style_height(&egui::TextStyle::Body)) * 2.0 + 6.0;
        egui::ScrollArea::vertical().max_height(ui.available_height() * 0.6).auto_shrink([false, true]).show_rows(
            ui,
            height,
            rows.len(),
            |ui, range| {
                for row in &rows[range] {
                    ui.push_id(row.id, |ui| {
                        ui.set_min_height(height);
                        ui.vertical(|ui| {
                            ui.label(row_line(row, now));
                            ui.horizontal(|ui| {
                                if let Some(e) = &row.last_error {
                                    ui.colored_label(ERROR, reason(e.kind));
                                }
                                counting |= row.state == Status::Queued && row.attempts > 0;
                                if ui.small_button(fl!("gui-details")).clicked() {
                                    st.selected = if st.selected == Some(row.id) { None } else { Some(row.id) };
                                    if sent && st.selected.is_some() {
                                        action = Some(Request::Open(row.id));
                                    }
                                }
                                if sent || row.state == Status::Sending {
                                    return;
                                }
                                if ui.small_button(fl!("gui-retry")).clicked() {
                                    action = Some(Request::Engine(Command::Retry(row.id)));
                                }
                                let edit = ui.add_enabled(
                                    row.editable && compose_empty,
                                    egui::Button::new(fl!("gui-edit")).small(),
                                );
                                let edit = if !row.editable {
                                    edit.on_disabled_hover_text(fl!("gui-edit-no-draft"))
                                } else {
                                    edit.on_disabled_hover_text(fl!("gui-edit-busy"))
                                };
                                if edit.clicked() {
                                    action = Some(Request::Engine(Command::Edit(row.id)));
                                }
                                if st.confirm_delete == Some(row.id) {
                                    if ui.small_button(fl!("gui-delete-confirm")).clicked() {
                                        action = Some(Request::Engine(Command::Delete(row.id)));
                                        st.confirm_delete = None;
                                    }
                                    if ui.small_button(fl!("gui-cancel")).clicked() {
                                        st.confirm_delete = None;
                                    }
                                } else if ui.small_button(fl!("gui-delete")).clicked() {
                                    st.confirm_delete = Some(row.id);
                                }
                            });
                        });
                    });
                    ui.separator();
                }
            },
        );
        if counting {
            // The retry countdowns tick once a second.
            ui.ctx().request_repaint_after(Duration::from_secs(1));
        }
        action
    }

    pub(super) fn outbox_view(&mut self, ui: &mut egui::Ui) {
        if self.view.waiting.is_empty() {
            ui.label(fl!("queue-empty"));
            return;
        }
        if let Some(a) = self.list_rows(ui, false) {
            self.ask(a);
        }
        let Some(row) = self.lists.selected.and_then(|id| self.view.waiting.iter().find(|r| r.id == id)) else {
            return;
        };
        ui.separator();
        ui.label(row_line(row, self.clock.now()));
        match &row.last_error {
            Some(e) => {
                let page = crate::text::guides::page_for(e.kind);
                let e = crate::text::words::explain(e);
                ui.colored_label(ERROR, e.headline.as_str());
                for line in e.lines() {
                    ui.label(line);
                }
                if let Some(page) = page
                    && ui.small_button(fl!("gui-explain")).clicked()
                {
                    self.show_guide(page);
                }
            }
            None => {
                ui.label(fl!("gui-no-error"));
            }
        }
    }

    pub(super) fn sent_view(&mut self, ui: &mut egui::Ui) {
        if self.view.sent.is_empty() {
            ui.label(fl!("sent-empty"));
            return;
        }
        if let Some(a) = self.list_rows(ui, true) {
            self.ask(a);
        }
        let Some(id) = self.lists.selected else { return };
        let Some(row) = self.view.sent.iter().find(|r| r.id == id) else { return };
        ui.separator();
        if let Some(at) = row.sent_at {
            ui.label(fl!("gui-sent-at", at = crate::text::words::local_time(at, "%Y-%m-%d %H:%M")));
        }
        match self.view.opened.as_ref().filter(|(o, _)| *o == id) {
            Some((_, Ok(d))) => {
                egui::ScrollArea::vertical().id_salt("opened").show(ui, |ui| {
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
                            let names: Vec<_> = d
                                .attachments
                                .iter()
                                .filter_map(|p| p.file_name())
                                .map(|n| n.to_string_lossy())
                                .collect();
                            ui.label(names.join(", "));
                            ui.end_row();
                        }
                    });
                    ui.separator();
                    ui.label(d.body.as_str());
                });
            }
            Some((_, Err(raw))) => {
                egui::ScrollArea::vertical().id_salt("opened").show(ui, |ui| {
                    ui.monospace(raw.as_str());
                });
            }
            None => {
                ui.spinner();
            }
        }
    }
}
