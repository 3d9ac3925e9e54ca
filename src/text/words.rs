//! Core states and error kinds in the user's words (shared by the command line and the window).
//! Only wording: no logic beyond choosing the message.

use crate::core::problem::kind::{Described, Kind};
use crate::core::sending::outbox::Status;
use crate::core::setup::diagnose::{Finding, Skip, StepId, StepResult};
use crate::fl;

/// Why the submission server cannot open `port`, naming who holds it (`smtpd::listen`).
pub fn port_taken(port: u16, taken: &crate::core::protocol::smtpd::PortTaken) -> String {
    use crate::core::protocol::smtpd::Holder;
    let detail = taken.detail.as_str();
    if let Some(uid) = taken.other_user {
        return fl!("err-serve-port-other-user", port = port, uid = uid);
    }
    match &taken.holder {
        Holder::Popsend => fl!("err-serve-port-popsend", port = port),
        Holder::Other(greeting) => fl!("err-serve-port-other", port = port, greeting = greeting.as_str()),
        Holder::Silent => fl!("err-serve-port", port = port, detail = detail),
    }
}

/// The one sentence said when another SMTP port than the configured one took the mail from
/// this network for the first time (the window's notice line, the command line).
pub fn route_learned(l: &crate::core::sending::deliver::Learned) -> String {
    if l.auth {
        fl!("route-learned-auth", port = l.port, configured = l.configured)
    } else {
        fl!("route-learned", port = l.port, configured = l.configured)
    }
}

pub fn state_name(s: Status) -> String {
    match s {
        Status::Queued => fl!("state-queued"),
        Status::Sending => fl!("state-sending"),
        Status::Sent => fl!("state-sent"),
        Status::Failed => fl!("state-failed"),
    }
}

/// A failure's kind in a few words (a list column, a notification).
pub fn reason(kind: Kind) -> String {
    match kind {
        Kind::NameNotFound => fl!("kind-name-not-found"),
        Kind::ConnectionRefused => fl!("kind-connection-refused"),
        Kind::Offline => fl!("kind-offline"),
        Kind::Port25Blocked => fl!("kind-port25"),
        Kind::FamilyMismatch => fl!("kind-family-mismatch"),
        Kind::Certificate => fl!("kind-certificate"),
        Kind::TlsHandshake => fl!("kind-tls-handshake"),
        Kind::Timeout => fl!("kind-timeout"),
        Kind::Protocol => fl!("kind-protocol"),
        Kind::Dropped => fl!("kind-dropped"),
        Kind::WrongPassword => fl!("kind-wrong-password"),
        Kind::MailboxBusy => fl!("kind-mailbox-busy"),
        Kind::LoginDelay => fl!("kind-login-delay"),
        Kind::PopTemporary | Kind::SmtpTemporary | Kind::Temporary => fl!("kind-temporary"),
        Kind::PopRefused => fl!("kind-pop-refused"),
        Kind::CredentialText => fl!("kind-credential-text"),
        Kind::StartTls => fl!("kind-stls"),
        Kind::Cleartext => fl!("kind-cleartext"),
        Kind::MethodRefused => fl!("kind-method-refused"),
        Kind::ApopRefused => fl!("kind-apop-refused"),
        Kind::ApopUnusable => fl!("kind-apop"),
        Kind::RelayDenied => fl!("kind-relay-denied"),
        Kind::SmtpAuthNotOffered => fl!("kind-smtp-auth"),
        Kind::SmtpAuthRequired => fl!("kind-smtp-auth-required"),
        Kind::SmtpStartTlsRequired => fl!("kind-smtp-starttls-required"),
        Kind::SmtpCleartext => fl!("kind-smtp-cleartext"),
        Kind::SmtpRefused => fl!("kind-smtp-refused"),
        Kind::Recipient => fl!("kind-recipient"),
        Kind::MessageRefused => fl!("kind-refused"),
        Kind::TooLarge => fl!("kind-too-large"),
        Kind::Unsendable => fl!("kind-unsendable"),
        Kind::Expired => fl!("kind-expired"),
        Kind::Damaged => fl!("kind-damaged"),
        Kind::Setup => fl!("kind-setup"),
        Kind::Outbox => fl!("kind-outbox"),
        Kind::Config => fl!("kind-config"),
        Kind::NoPassword => fl!("kind-no-password"),
        Kind::Compose => fl!("kind-compose"),
        Kind::Unencodable => fl!("kind-unencodable"),
    }
}

/// A failure's kind as a sentence, and the next thing to do: the same for the command line,
/// the window's 詳細 and status bar, notifications and 接続テスト.
pub fn headline_and_next(kind: Kind) -> (String, String) {
    match kind {
        Kind::NameNotFound => (fl!("err-name-not-found"), fl!("err-name-not-found-hint")),
        Kind::ConnectionRefused => (fl!("err-connection-refused"), fl!("err-connection-refused-hint")),
        Kind::Offline => (fl!("err-offline"), fl!("err-offline-hint")),
        Kind::Port25Blocked => (fl!("err-port25"), fl!("err-port25-hint")),
        Kind::FamilyMismatch => (fl!("err-family-mismatch"), fl!("err-family-mismatch-hint")),
        Kind::Certificate => (fl!("err-tls"), fl!("err-tls-hint")),
        Kind::TlsHandshake => (fl!("err-tls-handshake"), fl!("err-tls-handshake-hint")),
        Kind::Timeout => (fl!("err-timeout"), fl!("err-timeout-hint")),
        Kind::Protocol => (fl!("err-protocol"), fl!("err-protocol-hint")),
        Kind::Dropped => (fl!("err-dropped"), fl!("err-dropped-hint")),
        Kind::WrongPassword => (fl!("err-wrong-password"), fl!("err-wrong-password-hint")),
        Kind::MailboxBusy => (fl!("err-in-use"), fl!("err-in-use-hint")),
        Kind::LoginDelay => (fl!("err-login-delay"), fl!("err-login-delay-hint")),
        Kind::PopTemporary => (fl!("err-pop-temporary"), fl!("err-pop-temporary-hint")),
        Kind::PopRefused => (fl!("err-pop-refused"), fl!("err-pop-refused-hint")),
        Kind::CredentialText => (fl!("err-credential-text"), fl!("err-credential-text-hint")),
        Kind::StartTls => (fl!("err-stls"), fl!("err-stls-hint")),
        Kind::Cleartext => (fl!("err-cleartext"), fl!("err-cleartext-hint")),
        Kind::MethodRefused => (fl!("err-method-refused"), fl!("err-method-refused-hint")),
        Kind::ApopRefused => (fl!("err-apop-refused"), fl!("err-apop-refused-hint")),
        Kind::ApopUnusable => (fl!("err-apop"), fl!("err-apop-hint")),
        Kind::RelayDenied => (fl!("err-relay-denied"), fl!("err-relay-denied-hint")),
        Kind::SmtpAuthNotOffered => (fl!("err-smtp-auth"), fl!("err-smtp-auth-hint")),
        Kind::SmtpAuthRequired => (fl!("err-smtp-auth-required"), fl!("err-smtp-auth-required-hint")),
        Kind::SmtpStartTlsRequired => (fl!("err-smtp-starttls-required"), fl!("err-smtp-starttls-required-hint")),
        Kind::SmtpCleartext => (fl!("err-smtp-cleartext"), fl!("err-smtp-cleartext-hint")),
        Kind::SmtpTemporary => (fl!("err-smtp-temporary"), fl!("err-smtp-temporary-hint")),
        Kind::SmtpRefused => (fl!("err-smtp-refused"), fl!("err-smtp-refused-hint")),
        Kind::Recipient => (fl!("err-recipient"), fl!("err-recipient-hint")),
        Kind::MessageRefused => (fl!("err-message-refused"), fl!("err-message-refused-hint")),
        Kind::TooLarge => (fl!("err-too-large"), fl!("err-too-large-hint")),
        Kind::Unsendable => (fl!("err-unsendable"), fl!("err-unsendable-hint")),
        Kind::Expired => (fl!("err-expired"), fl!("err-expired-hint")),
        Kind::Damaged => (fl!("err-damaged"), fl!("err-damaged-hint")),
        Kind::Temporary => (fl!("err-temporary"), fl!("err-temporary-hint")),
        Kind::Setup => (fl!("err-setup"), fl!("err-setup-hint")),
        Kind::Outbox => (fl!("err-outbox-write"), fl!("err-outbox-write-hint")),
        Kind::Config => (fl!("err-config-unusable"), fl!("err-config-hint")),
        Kind::NoPassword => (fl!("err-no-password"), fl!("err-password-hint")),
        Kind::Compose => (fl!("err-compose-failed"), fl!("err-compose-hint")),
        Kind::Unencodable => (fl!("err-unencodable"), fl!("err-unencodable-hint")),
    }
}

/// A failure, ready to show: the headline, the server's own reply, the technical detail and
/// the next step, each a line of its own (labelled when rendered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    pub headline: String,
    pub reply: Option<String>,
    pub detail: Option<String>,
    pub next: Option<String>,
    /// The 設定ガイド page that explains it (its codes, the servers' words).
    pub page: Option<&'static str>,
}

impl Explained {
    /// The labelled lines under the headline: サーバーの応答, 詳細, 次にすること.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(reply) = &self.reply {
            out.push(fl!("server-reply", reply = crate::core::display_safe(reply)));
        }
        if let Some(detail) = &self.detail {
            out.push(fl!("detail", detail = crate::core::display_safe(detail)));
        }
        if let Some(next) = &self.next {
            out.push(fl!("next-step", hint = next.as_str()));
        }
        out
    }

    /// As the command line prints it: "エラー: headline" and the indented lines.
    pub fn render(&self) -> String {
        let mut out = format!("{}: {}\n", fl!("err-prefix"), self.headline);
        for line in self.lines() {
            out += &format!("  {line}\n");
        }
        if let Some(id) = self.page {
            out += &format!("  {}\n", fl!("see-guide", id = id));
        }
        out
    }
}

/// Whether a failure's detail names the student's own input (a setting, a character, a file, the
/// message) and belongs beside the headline; otherwise it is a system's trace, often English,
/// that the window folds away.
pub fn detail_is_the_students(kind: Kind) -> bool {
    matches!(kind, Kind::Config | Kind::Compose | Kind::Unencodable | Kind::Unsendable | Kind::TooLarge)
}

pub fn explain(d: &Described) -> Explained {
    let (headline, next) = headline_and_next(d.kind);
    Explained {
        headline,
        reply: d.reply.clone(),
        detail: (!d.detail.is_empty()).then(|| d.detail.clone()),
        next: Some(next),
        page: crate::text::guides::page_for(d.kind),
    }
}

/// A duration as the countdown shows it: "mm:ss".
pub fn mm_ss(d: std::time::Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}", s / 60, s % 60)
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
    match chrono::DateTime::from_timestamp(secs, 0)
        .filter(|_| sane)
        .map(|utc| chrono::Local.from_utc_datetime(&utc.naive_utc()))
    {
        Some(local) => local.format(format).to_string(),
        None => format!("@{secs}"),
    }
}

/// Why an entry of an address field is not a mail address.
pub fn address_fault(f: crate::core::message::drafts::AddressFault) -> String {
    use crate::core::message::drafts::AddressFault::*;
    match f {
        FullWidth => fl!("addr-full-width"),
        Space => fl!("addr-space"),
        NoAt => fl!("addr-no-at"),
        TwoAts => fl!("addr-two-ats"),
        NothingBeforeAt => fl!("addr-nothing-before-at"),
        NothingAfterAt => fl!("addr-nothing-after-at"),
        Other => fl!("addr-other"),
    }
}

/// Why a typed 送信予約 time cannot be used.
pub fn schedule_error(e: crate::core::sending::schedule::ScheduleError) -> String {
    use crate::core::sending::schedule::ScheduleError::*;
    match e {
        Date => fl!("schedule-date"),
        Time => fl!("schedule-time"),
        NoSuchTime => fl!("schedule-no-such-time"),
        Past => fl!("schedule-past"),
    }
}

/// A time in a list, as mail programs show it: the time alone today (「今日 14:05」), the day and
/// time this year, the whole date before.
pub fn list_time(t: std::time::SystemTime, now: std::time::SystemTime) -> String {
    let (day, this_day) = (local_time(t, "%Y-%m-%d"), local_time(now, "%Y-%m-%d"));
    if day == this_day {
        fl!("time-today", time = local_time(t, "%H:%M"))
    } else if day.get(..4) == this_day.get(..4) {
        fl!("time-this-year", month = local_time(t, "%-m"), day = local_time(t, "%-d"), time = local_time(t, "%H:%M"))
    } else {
        local_time(t, "%Y-%m-%d %H:%M")
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
        Finding::RelayAllowed => (fl!("diag-relay-allowed"), None),
        Finding::Failed(kind) => {
            let (what, next) = headline_and_next(*kind);
            (what, Some(next))
        }
        Finding::SmtpPortSilent { port: p, alternatives, automatic } => {
            let mut what = if *p == 25 { fl!("err-port25") } else { fl!("diag-smtp-port-silent", port = port(*p)) };
            // What each other port of the server offers, as the send path would use it.
            for a in alternatives {
                let mut found = vec![if a.implicit_tls {
                    fl!("diag-other-tls")
                } else if a.encrypted {
                    fl!("diag-other-starttls")
                } else {
                    fl!("diag-other-clear")
                }];
                if a.auth {
                    found.push(fl!("diag-other-auth"));
                }
                match a.relays {
                    Some(true) => found.push(fl!("diag-other-relays")),
                    Some(false) => found.push(fl!("diag-other-no-relay")),
                    None => {}
                }
                what += &format!(
                    "\n{}",
                    fl!("diag-other-port", port = port(a.port), found = found.join(fl!("list-separator").as_str()))
                );
            }
            let relays = alternatives.iter().find(|a| a.relays == Some(true));
            let auth = alternatives.iter().find(|a| a.auth && a.encrypted);
            let next = match (relays, auth, alternatives.first()) {
                (Some(a), _, _) if *automatic => fl!("diag-next-alternative-relays", port = port(a.port)),
                (Some(a), _, _) => fl!("diag-next-alternative-relays-off", port = port(a.port)),
                (None, Some(a), _) => fl!("diag-next-alternative-auth", port = port(a.port)),
                (None, None, Some(a)) => fl!("diag-next-alternative", port = port(a.port)),
                (None, None, None) if *p == 25 => fl!("err-port25-hint"),
                (None, None, None) => fl!("err-connection-refused-hint"),
            };
            (what, Some(next))
        }
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
    let detail = (!(r.detail.is_empty() || r.passed() && r.id == StepId::Window))
        .then(|| fl!("detail", detail = r.detail.as_str()));
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
        Finding::Ok | Finding::RelayAllowed => "✓",
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

#[cfg(test)]
mod kind_words {
    use std::collections::HashSet;

    use crate::core::problem::kind::Kind;

    /// Every kind has its own headline and a next step, and a short reason (in the reference
    /// language; `fl!` checks each ID exists in ja at compile time, and `i18n`'s parity test that
    /// en has every ID ja has).
    #[test]
    fn every_kind_has_a_headline_and_a_next_step() {
        crate::text::i18n::init(Some("ja"));
        let mut headlines = HashSet::new();
        for k in Kind::ALL {
            let (headline, next) = super::headline_and_next(*k);
            assert!(!headline.is_empty() && !next.is_empty() && !super::reason(*k).is_empty(), "{k:?}");
            assert!(headlines.insert(headline.clone()), "{k:?} shares its headline: {headline}");
        }
    }
}
