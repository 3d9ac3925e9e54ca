//! Core states and error kinds in the user's words (shared by the command line and the window).
//! Only wording: no logic beyond choosing the message.

use crate::core::diagnose::{Finding, Skip, StepId, StepResult};
use crate::core::outbox::{LastError, State};
use crate::core::retry::Kind;
use crate::fl;

pub fn state_name(s: State) -> String {
    match s {
        State::Queued => fl!("state-queued"),
        State::Sending => fl!("state-sending"),
        State::Sent => fl!("state-sent"),
        State::Failed => fl!("state-failed"),
    }
}

/// The reason in the user's words, from the stored kind.
pub fn reason(e: &LastError) -> String {
    match Kind::from_code(&e.kind) {
        Some(Kind::Offline) => fl!("kind-offline"),
        Some(Kind::WrongPassword) => fl!("kind-wrong-password"),
        Some(Kind::MailboxBusy) => fl!("kind-mailbox-busy"),
        Some(Kind::LoginDelay) => fl!("kind-login-delay"),
        Some(Kind::Temporary) => fl!("kind-temporary"),
        Some(Kind::RelayDenied) => fl!("kind-relay-denied"),
        Some(Kind::Certificate) => fl!("kind-certificate"),
        Some(Kind::Setup) => fl!("kind-setup"),
        Some(Kind::Recipient) => fl!("kind-recipient"),
        Some(Kind::TooLarge) => fl!("kind-too-large"),
        Some(Kind::Refused) => fl!("kind-refused"),
        Some(Kind::Expired) => fl!("kind-expired"),
        Some(Kind::Unsendable) => fl!("kind-unsendable"),
        Some(Kind::ApopRefused) => fl!("kind-apop-refused"),
        None => e.kind.clone(),
    }
}


/// A time in the user's zone, in `format`. Never panics: a time chrono cannot place (far past or
/// future, from a damaged file) is shown as seconds since 1970.
pub fn local_time(t: std::time::SystemTime, format: &str) -> String {
    use chrono::TimeZone as _;
    let secs = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    };
    // Years 1 to 9999 only: chrono's local-time arithmetic is not made for the edges of its range.
    let sane = (-62_135_596_800..=253_402_300_799).contains(&secs);
    match chrono::DateTime::from_timestamp(secs, 0).filter(|_| sane).map(|utc| chrono::Local.from_utc_datetime(&utc.naive_utc())) {
        Some(local) => local.format(format).to_string(),
        None => format!("@{secs}"),
    }
}

/// 接続テスト: a step's name.
pub fn step_name(id: StepId) -> String {
    match id {
        StepId::Resolve => fl!("diag-step-resolve"),
        StepId::PopPort => fl!("diag-step-pop-port"),
        StepId::Tls => fl!("diag-step-tls"),
        StepId::PopLogin => fl!("diag-step-pop-login"),
        StepId::SmtpPort => fl!("diag-step-smtp-port"),
        StepId::Smtp => fl!("diag-step-smtp"),
        StepId::Relay => fl!("diag-step-relay"),
        StepId::Window => fl!("diag-step-window"),
    }
}

/// 接続テスト: what a step found, and the next thing to try (none when it passed).
pub fn step_explanation(r: &StepResult) -> (String, Option<String>) {
    let port = |p: u16| p.to_string();
    match &r.finding {
        Finding::Ok => (
            match r.id {
                StepId::Window => fl!("diag-ok-window", detail = r.detail.as_str()),
                _ => fl!("diag-ok"),
            },
            None,
        ),
        Finding::Skipped(Skip::NoTls) => (fl!("diag-skip-no-tls"), Some(fl!("diag-next-no-tls"))),
        Finding::Skipped(Skip::LoginSkipped) => (fl!("diag-skip-login"), None),
        Finding::Skipped(Skip::EarlierStepFailed) => (fl!("diag-skip-earlier"), None),
        Finding::NameNotFound => (fl!("diag-name"), Some(fl!("diag-next-name"))),
        Finding::Refused => (fl!("diag-refused"), Some(fl!("diag-next-refused"))),
        Finding::Timeout => (fl!("diag-timeout"), Some(fl!("diag-next-timeout"))),
        Finding::Certificate => (fl!("diag-certificate"), Some(fl!("diag-next-certificate"))),
        Finding::WrongPassword => (fl!("err-wrong-password"), Some(fl!("diag-next-password"))),
        Finding::NoPassword => (fl!("diag-no-password"), Some(fl!("err-password-hint"))),
        Finding::ApopRefused => (fl!("err-apop-refused"), Some(fl!("err-apop-refused-hint"))),
        Finding::LoginMethod => (fl!("diag-login-method"), Some(fl!("diag-next-login-method"))),
        Finding::Other => (fl!("diag-other"), Some(fl!("diag-next-other"))),
        Finding::SmtpPortSilent { port: p, alternatives } => {
            let what = if *p == 25 { fl!("err-port25") } else { fl!("diag-smtp-port-silent", port = port(*p)) };
            let next = match alternatives.iter().find(|(_, auth)| *auth).or(alternatives.first()) {
                Some((alt, true)) => fl!("diag-next-alternative-auth", port = port(*alt)),
                Some((alt, false)) => fl!("diag-next-alternative", port = port(*alt)),
                None if *p == 25 => fl!("err-port25-hint"),
                None => fl!("diag-next-refused"),
            };
            (what, Some(next))
        }
        Finding::RelayDenied => (fl!("diag-relay-denied"), Some(fl!("diag-next-relay"))),
    }
}

/// 接続テスト as text for a help desk: a title, one block per step (✓/✗/–) with details and the
/// server's replies, and a verdict. Holds no password: no step records one.
pub fn diagnose_report(account: &str, steps: &[StepResult]) -> String {
    let mut out = fl!("diag-title", account = account) + "\n";
    for (i, r) in steps.iter().enumerate() {
        out += &diagnose_step(i, r);
    }
    out + &diagnose_verdict(steps) + "\n"
}

/// One step in words, as the report and the window show it: "1. name", the finding, and the
/// lines under it (each already labelled: 詳細, サーバーの応答, 次にすること).
pub struct StepText {
    pub title: String,
    pub what: String,
    pub detail: Option<String>,
    pub reply: Option<String>,
    pub next: Option<String>,
}

/// `i` counts from 0.
pub fn step_text(i: usize, r: &StepResult) -> StepText {
    let (what, next) = step_explanation(r);
    // A passed window step says its detail in `what` already.
    let detail = (!(r.detail.is_empty() || r.passed() && r.id == StepId::Window)).then(|| fl!("detail", detail = r.detail.as_str()));
    StepText {
        title: format!("{}. {}", i + 1, step_name(r.id)),
        what,
        detail,
        reply: r.reply.as_ref().map(|reply| fl!("server-reply", reply = reply.as_str())),
        next: next.map(|hint| fl!("next-step", hint = hint.as_str())),
    }
}

/// One step's block of the report text.
pub fn diagnose_step(i: usize, r: &StepResult) -> String {
    let mark = match r.finding {
        Finding::Ok => "✓",
        Finding::Skipped(_) => "–",
        _ => "✗",
    };
    let t = step_text(i, r);
    let mut out = format!("{mark} {}: {}\n", t.title, t.what);
    for line in [t.detail, t.reply, t.next].into_iter().flatten() {
        out += &format!("     {line}\n");
    }
    out
}

/// Whether the test passed as a whole: every step ✓ (a connection configured without TLS counts).
pub fn diagnose_passed(steps: &[StepResult]) -> bool {
    steps.iter().all(|r| r.passed() || r.finding == Finding::Skipped(Skip::NoTls))
}

pub fn diagnose_verdict(steps: &[StepResult]) -> String {
    if diagnose_passed(steps) { fl!("diag-all-passed") } else { fl!("diag-some-failed") }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    /// Issue 9, case 6: a time from a damaged file is shown, never a panic.
    #[test]
    fn local_time_never_panics() {
        let far = UNIX_EPOCH + Duration::from_millis(u64::MAX);
        assert!(super::local_time(far, "%Y").starts_with('@'));
        assert!(super::local_time(UNIX_EPOCH - Duration::from_secs(u32::MAX as u64 * 100), "%Y").starts_with('@'));
        assert_eq!(super::local_time(UNIX_EPOCH + Duration::from_secs(1_800_000_000), "%Y").len(), 4);
    }
}
