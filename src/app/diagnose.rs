//! 接続テスト: starts the test with the saved settings, shows each step as it ends (✓/✗/–, the
//! finding, the server's reply and the next thing to try), and copies the whole result as text
//! for a help desk (the password is never in it). No I/O here.

use crate::app::backend::Request;
use crate::core::setup::diagnose::{Finding, OtherPortFound};
use crate::fl;
use crate::text::words::{diagnose_report, diagnose_verdict, step_text};

use super::App;

impl App {
    pub(super) fn diagnose_view(&mut self, ui: &mut egui::Ui) {
        ui.label(fl!("gui-diagnose-intro"));
        let running = self.view.diagnosis.as_ref().is_some_and(|(running, _)| *running);
        // With several accounts: which one is tested.
        let labels = self.view.settings.labels();
        if labels.len() > 1 {
            ui.horizontal(|ui| {
                let l = ui.label(fl!("set-account-choose"));
                let now = self.diagnose_account.min(labels.len() - 1);
                egui::ComboBox::from_id_salt("diagnose-account")
                    .selected_text(labels[now].as_str())
                    .show_ui(ui, |ui| {
                        for (i, label) in labels.iter().enumerate() {
                            ui.selectable_value(&mut self.diagnose_account, i, label.as_str());
                        }
                    })
                    .response
                    .labelled_by(l.id);
            });
        }
        let k = self.diagnose_account.min(labels.len().saturating_sub(1));
        // The report names the account tested, whichever is chosen now.
        let address = self.view.settings.showing(self.diagnosed.min(labels.len().saturating_sub(1))).address;
        ui.horizontal(|ui| {
            let ready = !self.view.account.is_empty() && !running;
            let run = ui.add_enabled(ready, egui::Button::new(fl!("gui-diagnose-run")));
            if self.view.account.is_empty() {
                ui.weak(fl!("gui-diagnose-needs-account"));
            }
            if run.clicked() {
                self.copied = false;
                self.diagnosed = k;
                self.ask(Request::Diagnose(k));
            }
            if running {
                ui.spinner();
                ui.label(fl!("gui-diagnose-running"));
            }
            if let Some((false, steps)) = &self.view.diagnosis {
                if ui.button(fl!("gui-diagnose-copy")).clicked() {
                    ui.ctx().copy_text(diagnose_report(&address, steps));
                    self.copied = true;
                }
                if self.copied {
                    ui.label(fl!("gui-diagnose-copied"));
                }
            }
        });
        let offer =
            self.view.diagnosis.as_ref().filter(|(running, _)| !running).and_then(|(_, steps)| switch_offer(steps));
        if let Some(port) = offer
            && switch_row(ui, port)
        {
            // Saved, then tested again with the new settings (the worker takes them in order).
            // The account tested, whichever is chosen now.
            let tested = self.diagnosed;
            let mut form = self.view.settings.showing(tested);
            switch_to(&mut form, port);
            self.settings.password.clear();
            self.settings.form = form.clone();
            if self.ask(Request::SaveSettings { form: Box::new(form), password: None }) {
                self.ask(Request::Diagnose(tested));
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
pub(super) fn steps_list(
    ui: &mut egui::Ui,
    steps: &[crate::core::setup::diagnose::StepResult],
    running: bool,
) -> Option<&'static str> {
    let mut asked = None;
    for (i, r) in steps.iter().enumerate() {
        // ✓ and ×: the bundled fonts have these (not ✗, which the copied text uses).
        let (mark, color) = match r.finding {
            Finding::Ok | Finding::RelayAllowed => ("✓", super::theme::good(ui.visuals())),
            Finding::Skipped(_) => ("–", ui.visuals().weak_text_color()),
            _ => ("×", ui.visuals().error_fg_color),
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
                && let Some(page) = crate::text::guides::page_for(kind)
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

/// What 「この設定に切り替える」 offers when the SMTP port does not answer: first a port of the
/// server that relays after the POP login (POP before SMTP goes on, no password on it), else
/// one that offers SMTP AUTH over TLS (the account's password, encrypted).
pub(super) fn switch_offer(steps: &[crate::core::setup::diagnose::StepResult]) -> Option<OtherPortFound> {
    steps.iter().find_map(|s| match &s.finding {
        Finding::SmtpPortSilent { alternatives, .. } => alternatives
            .iter()
            .find(|a| a.relays == Some(true))
            .or_else(|| alternatives.iter().find(|a| a.auth && a.encrypted))
            .copied(),
        _ => None,
    })
}

/// 「この設定に切り替える」 with what it offers; true when clicked.
pub(super) fn switch_row(ui: &mut egui::Ui, offer: OtherPortFound) -> bool {
    let text = if offer.relays == Some(true) {
        fl!("gui-switch-offer-relay", port = offer.port)
    } else {
        fl!("gui-switch-offer", port = offer.port)
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(text);
        ui.button(fl!("gui-switch")).clicked()
    })
    .inner
}

/// The settings switched to `offer`: its port; TLS from the first byte, STARTTLS where it was
/// done, or none; the POP user name for SMTP AUTH (the same password) only where the port needs
/// AUTH to relay.
pub(super) fn switch_to(f: &mut crate::app::form::Form, offer: OtherPortFound) {
    use crate::core::setup::account::Security;
    f.smtp_port = offer.port.to_string();
    f.smtp_security = match (offer.implicit_tls, offer.encrypted) {
        (true, _) => Security::Tls,
        (false, true) => Security::Starttls,
        (false, false) => Security::None,
    };
    f.smtp_username = if offer.relays == Some(true) { String::new() } else { f.pop_username.clone() };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::setup::account::Security;
    use crate::core::setup::diagnose::{StepId, StepResult};

    #[test]
    fn a_silent_port_25_offers_the_port_that_relays_first_then_smtp_auth() {
        let step = |finding| StepResult { id: StepId::SmtpPort, finding, detail: String::new(), reply: None };
        let found = |port, implicit_tls, encrypted, auth, relays| OtherPortFound {
            port,
            implicit_tls,
            encrypted,
            auth,
            relays,
        };
        assert_eq!(switch_offer(&[step(Finding::Ok)]), None);
        let silent = |alternatives| [step(Finding::SmtpPortSilent { port: 25, alternatives, automatic: true })];
        assert_eq!(
            switch_offer(&silent(vec![found(587, false, true, false, Some(false))])),
            None,
            "no AUTH and no relaying there: nothing to switch to"
        );
        assert_eq!(
            switch_offer(&silent(vec![found(587, false, false, true, Some(false))])),
            None,
            "AUTH in the clear only: never offered"
        );
        let auth = found(465, true, true, true, Some(false));
        assert_eq!(switch_offer(&silent(vec![found(587, false, true, false, Some(false)), auth])), Some(auth));
        // Issue 24: POP before SMTP on 587 is offered too, before SMTP AUTH.
        let relays = found(587, false, true, false, Some(true));
        assert_eq!(switch_offer(&silent(vec![auth, relays])), Some(relays));
        let mut f = crate::app::form::Form { pop_username: "taro".into(), ..Default::default() };
        switch_to(&mut f, auth);
        assert_eq!((f.smtp_port.as_str(), f.smtp_security, f.smtp_username.as_str()), ("465", Security::Tls, "taro"));
        switch_to(&mut f, relays);
        assert_eq!((f.smtp_port.as_str(), f.smtp_security, f.smtp_username.as_str()), ("587", Security::Starttls, ""));
        switch_to(&mut f, found(587, false, false, false, Some(true)));
        assert_eq!(f.smtp_security, Security::None, "no STARTTLS offered: none asked for");
    }
}
