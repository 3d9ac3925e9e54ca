//! 接続テスト: starts the test with the saved settings, shows each step as it ends (✓/✗/–, the
//! finding, the server's reply and the next thing to try), and copies the whole result as text
//! for a help desk (the password is never in it). No I/O here.

use crate::core::diagnose::Finding;
use crate::app::backend::Request;
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
        let offer = self.view.diagnosis.as_ref().filter(|(running, _)| !running).and_then(|(_, steps)| switch_offer(steps));
        if let Some(port) = offer
            && switch_row(ui, port) {
                // Saved, then tested again with the new settings (the worker takes them in order).
                let mut form = self.view.settings.clone();
                switch_to(&mut form, port);
                self.settings.form = form.clone();
                if self.ask(Request::SaveSettings { form: Box::new(form), password: None }) {
                    self.ask(Request::Diagnose);
                }
            }
        let Some((running, steps)) = &self.view.diagnosis else { return };
        ui.separator();
        if let Some(page) = egui::ScrollArea::vertical().show(ui, |ui| steps_list(ui, steps, *running)).inner {
            self.show_guide(page);
        }
    }
}

/// Each step as it ended (✓/×/–, the finding, the server's reply, the next thing to try, and
/// 「説明を見る」 where a page explains the failure), and the verdict once the test is over. Also
/// the first-run assistant's third step. Returns the page asked for.
pub(super) fn steps_list(ui: &mut egui::Ui, steps: &[crate::core::diagnose::StepResult], running: bool) -> Option<&'static str> {
    let mut asked = None;
    for (i, r) in steps.iter().enumerate() {
        // ✓ and ×: the bundled fonts have these (not ✗, which the copied text uses).
        let (mark, color) = match r.finding {
            Finding::Ok | Finding::RelayAllowed => ("✓", GOOD),
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
            if let Finding::Failed(kind) = r.finding
                && let Some(page) = crate::guides::page_for(kind)
                && ui.small_button(fl!("gui-explain")).clicked()
            {
                asked = Some(page);
            }
        });
    }
    if !running {
        ui.separator();
        ui.strong(diagnose_verdict(steps));
    }
    asked
}

/// When port 25 did not answer and another port offered SMTP AUTH: that port (587 or 465).
pub(super) fn switch_offer(steps: &[crate::core::diagnose::StepResult]) -> Option<u16> {
    steps.iter().find_map(|s| match &s.finding {
        Finding::SmtpPortSilent { alternatives, .. } => alternatives.iter().find(|(_, auth)| *auth).map(|(port, _)| *port),
        _ => None,
    })
}

/// 「この設定に切り替える」 with what it offers; true when clicked.
pub(super) fn switch_row(ui: &mut egui::Ui, port: u16) -> bool {
    ui.horizontal_wrapped(|ui| {
        ui.label(fl!("gui-switch-offer", port = port));
        ui.button(fl!("gui-switch")).clicked()
    })
    .inner
}

/// The settings switched to SMTP AUTH on `port`: implicit TLS on 465, STARTTLS otherwise, the
/// POP user name for SMTP AUTH (the same password).
pub(super) fn switch_to(f: &mut crate::app::form::Form, port: u16) {
    use crate::core::account::Security;
    f.smtp_port = port.to_string();
    f.smtp_security = if port == 465 { Security::Tls } else { Security::Starttls };
    f.smtp_username = f.pop_username.clone();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::account::Security;
    use crate::core::diagnose::{StepId, StepResult};

    #[test]
    fn a_silent_port_25_offers_the_port_with_smtp_auth() {
        let step = |finding| StepResult { id: StepId::SmtpPort, finding, detail: String::new(), reply: None };
        assert_eq!(switch_offer(&[step(Finding::Ok)]), None);
        assert_eq!(switch_offer(&[step(Finding::SmtpPortSilent { port: 25, alternatives: vec![(587, false)] })]), None, "no AUTH there: nothing to switch to");
        let steps = [step(Finding::SmtpPortSilent { port: 25, alternatives: vec![(587, false), (465, true)] })];
        assert_eq!(switch_offer(&steps), Some(465));
        let mut f = crate::app::form::Form { pop_username: "taro".into(), ..Default::default() };
        switch_to(&mut f, 465);
        assert_eq!((f.smtp_port.as_str(), f.smtp_security, f.smtp_username.as_str()), ("465", Security::Tls, "taro"));
        switch_to(&mut f, 587);
        assert_eq!(f.smtp_security, Security::Starttls);
    }
}
