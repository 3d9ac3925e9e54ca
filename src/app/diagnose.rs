//! 接続テスト: starts the test with the saved settings, shows each step as it ends (✓/✗/–, the
//! finding, the server's reply and the next thing to try), and copies the whole result as text
//! for a help desk (the password is never in it). No I/O here.

use crate::core::diagnose::Finding;
use crate::core::worker::Request;
use crate::fl;
use crate::words::{diagnose_report, diagnose_verdict, step_text};

use super::{App, ERROR};

const GOOD: egui::Color32 = egui::Color32::from_rgb(40, 150, 70);

impl App {
    pub(super) fn diagnose_view(&mut self, ui: &mut egui::Ui) {
        ui.label(fl!("gui-diagnose-intro"));
        let running = self.view.diagnosis.as_ref().is_some_and(|(running, _)| *running);
        ui.horizontal(|ui| {
            let ready = !self.view.account.is_empty() && !running;
            if ui.add_enabled(ready, egui::Button::new(fl!("gui-diagnose-run"))).clicked() {
                self.copied = false;
                self.ask(Request::Diagnose);
            }
            if running {
                ui.spinner();
                ui.label(fl!("gui-diagnose-running"));
            }
            if let Some((false, steps)) = &self.view.diagnosis {
                if ui.button(fl!("gui-diagnose-copy")).clicked() {
                    ui.ctx().copy_text(diagnose_report(&self.view.account, steps));
                    self.copied = true;
                }
                if self.copied {
                    ui.label(fl!("gui-diagnose-copied"));
                }
            }
        });
        let Some((running, steps)) = &self.view.diagnosis else { return };
        ui.separator();
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (i, r) in steps.iter().enumerate() {
                // ✓ and ×: the bundled fonts have these (not ✗, which the copied text uses).
                let (mark, color) = match r.finding {
                    Finding::Ok => ("✓", GOOD),
                    Finding::Skipped(_) => ("–", ui.visuals().weak_text_color()),
                    _ => ("×", ERROR),
                };
                let t = step_text(i, r);
                ui.horizontal_wrapped(|ui| {
                    ui.colored_label(color, format!("{mark} {}", t.title));
                    ui.label(t.what);
                });
                ui.indent(("step", i), |ui| {
                    if let Some(detail) = t.detail {
                        ui.weak(detail);
                    }
                    for line in [t.reply, t.next].into_iter().flatten() {
                        ui.label(line);
                    }
                });
            }
            if !running {
                ui.separator();
                ui.strong(diagnose_verdict(steps));
            }
        });
    }
}
