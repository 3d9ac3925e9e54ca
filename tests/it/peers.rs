//! Scripted POP3 and SMTP peers for what real servers cannot be made to show on cue: the order of
//! events on the wire (no MAIL FROM before the login's +OK), relay refusal that a reconnect cures,
//! relay refusal that nothing cures, per-message refusals, and POP response codes.

use std::path::Path;
use std::time::{Duration, SystemTime};

use popsend::core::Severity;
use popsend::core::message::compose::Outgoing;
use popsend::core::message::compose::{self, Draft};
use popsend::core::problem::run_error::RunError;
use popsend::core::protocol::net::TrustAnchors;
use popsend::core::protocol::pop3::{Pop3Error, RespCode};
use popsend::core::sending::deliver::{Deliverer, Outcome};
use popsend::core::sending::knowledge;
use popsend::core::setup::account::Config;
use popsend::core::system::clock::SystemClock;
use popsend::core::system::secrets::Password;

use crate::scripted::{Answer, Fault, Peer, Pop, Smtp, always, pop, rcpt, smtp};

fn config(pop: u16, smtp: u16) -> Config {
    let text = format!(
        "[account]\naddress = \"student@example.ac.jp\"\n\
         [pop]\nhost = \"127.0.0.1\"\nport = {pop}\nusername = \"student\"\nauth = \"user\"\nallow_plaintext_password = true\n\
         [smtp]\nport = {smtp}\n"
    );
    Config::parse(&text, Path::new("scripted.toml")).unwrap()
}

fn message(to: &str) -> Outgoing {
    let d = Draft {
        from_address: "student@example.ac.jp".into(),
        to: vec![to.into()],
        subject: "テスト".into(),
        body: "本文".into(),
        ..Draft::default()
    };
    compose::build(&d, SystemTime::now()).unwrap()
}

struct Rig {
    config: Config,
    dir: tempfile::TempDir,
    pop: Peer,
    smtp: Peer,
}

impl Rig {
    async fn deliver(&self, msgs: &[Outgoing]) -> popsend::core::sending::deliver::Report {
        self.deliver_with(msgs, &mut popsend::core::sending::deliver::NoProgress).await
    }

    async fn deliver_with(
        &self,
        msgs: &[Outgoing],
        progress: &mut dyn popsend::core::sending::deliver::Progress,
    ) -> popsend::core::sending::deliver::Report {
        let password = Password::new("pw".into());
        let trust = TrustAnchors::default();
        let store = knowledge::Store::new(self.dir.path());
        let mut d = Deliverer::new(&self.config, &password, &trust, &store, &SystemClock);
        d.step_timeout = Duration::from_secs(5);
        d.relay_retry_delay = Duration::from_millis(50);
        d.deliver(msgs, progress).await
    }

    fn state(&self) -> knowledge::Knowledge {
        knowledge::Store::new(self.dir.path()).load()
    }
}

fn rig(pop_delay: Duration, pass_reply: &str, rcpt: Answer) -> Rig {
    rig_with(Pop { delay: pop_delay, ..Pop::answering(pass_reply) }, Smtp { rcpt, ..Smtp::default() })
}

fn rig_with(p: Pop, s: Smtp) -> Rig {
    let (pop, smtp) = (pop(p), smtp(s));
    Rig { config: config(pop.port, smtp.port), dir: tempfile::tempdir().unwrap(), pop, smtp }
}

const OK: &str = "250 2.1.5 Ok";
const RELAY_554: &str = "554 5.7.1 <someone@example.net>: Relay access denied";
const RELAY_454: &str = "454 4.7.1 <someone@example.net>: Relay access denied";

#[tokio::test]
async fn smtp_opens_during_the_login_but_mail_from_waits_for_its_ok() {
    let rig = rig(Duration::from_millis(400), "+OK logged in", always(OK));
    let report = rig.deliver(&[message("someone@example.net")]).await;
    assert!(matches!(report.outcomes[..], [Outcome::Sent]), "{report:?}");
    assert_eq!(report.logins.len(), 1);
    let ok = rig.pop.when("PASS +OK")[0];
    assert!(rig.smtp.when("connect")[0] < ok, "SMTP was not opened in parallel with the login");
    assert!(rig.smtp.when("MAIL")[0] > ok, "MAIL FROM before the POP login succeeded");
    assert!(report.window.is_some(), "the window start was not recorded");
    assert!(rig.state().last_login.is_some());
}

#[tokio::test]
async fn relay_refused_after_the_overlapped_open_reconnects_and_remembers_the_order() {
    // The server judges relaying at connect time: the first connection (opened before the login
    // finished) is refused, a connection made after the login is not.
    let rig = rig(Duration::from_millis(100), "+OK", rcpt(|r| if r.conn == 0 { RELAY_554 } else { OK }.into()));
    let report = rig.deliver(&[message("someone@example.net")]).await;
    assert!(matches!(report.outcomes[..], [Outcome::Sent]), "{report:?}");
    assert_eq!(report.logins.len(), 1, "a reconnect, not a second login, was needed");
    assert_eq!(rig.smtp.when("connect").len(), 2);
    assert!(rig.state().needs_sequential(&format!("127.0.0.1:{}", rig.config.smtp_port())));

    // Next time: log in first, then connect.
    rig.smtp.forget();
    let report = rig.deliver(&[message("someone@example.net")]).await;
    assert!(matches!(report.outcomes[..], [Outcome::Sent]), "{report:?}");
    assert!(rig.smtp.when("connect")[0] > rig.pop.when("PASS +OK")[0], "the remembered order was not used");
}

#[tokio::test]
async fn relay_refused_even_after_a_fresh_login_stops_and_keeps_the_message() {
    let rig = rig(Duration::ZERO, "+OK", always(RELAY_454));
    let report = rig.deliver(&[message("someone@example.net"), message("other@example.net")]).await;
    assert!(matches!(report.outcomes[..], [Outcome::Deferred(None), Outcome::Deferred(None)]), "{report:?}");
    let stopped = report.stopped.as_ref().expect("the run must stop");
    assert!(matches!(stopped, RunError::RelayDenied { .. }), "{stopped:?}");
    assert_eq!(popsend::core::problem::classify::classify(stopped).severity(), Severity::Temporary);
    assert_eq!(stopped.server_reply(), Some(RELAY_454));
    assert_eq!(report.logins.len(), 2, "exactly one extra login");
    assert!(rig.smtp.when("message").is_empty());
}

#[tokio::test]
async fn an_unknown_recipient_fails_that_message_only_in_one_session() {
    let rig = rig(
        Duration::ZERO,
        "+OK",
        rcpt(|r| if r.nth == 0 { "550 5.1.1 <nobody@example.net>: User unknown" } else { OK }.into()),
    );
    let report = rig.deliver(&[message("nobody@example.net"), message("someone@example.net")]).await;
    match &report.outcomes[..] {
        [Outcome::Failed(e), Outcome::Sent] => {
            assert_eq!(popsend::core::problem::classify::classify(e).severity(), Severity::Permanent);
            assert!(e.server_reply().unwrap().contains("User unknown"));
        }
        other => panic!("{other:?}"),
    }
    assert!(report.stopped.is_none());
    assert_eq!(rig.smtp.when("connect").len(), 1, "one SMTP session for the batch");
    assert_eq!(rig.smtp.when("RSET").len(), 1, "RSET after the refusal");
}

#[tokio::test]
async fn pop_response_codes_stop_the_run_before_any_mail_from() {
    for (reply, code, severity) in [
        ("-ERR [IN-USE] Mailbox locked", Some(RespCode::InUse), Severity::Temporary),
        ("-ERR [AUTH] Authentication failed.", Some(RespCode::Auth), Severity::NeedsUser),
        ("-ERR [SYS/TEMP] try later", Some(RespCode::SysTemp), Severity::Temporary),
    ] {
        let rig = rig(Duration::ZERO, reply, always(OK));
        let report = rig.deliver(&[message("someone@example.net")]).await;
        assert!(matches!(report.outcomes[..], [Outcome::Deferred(None)]), "{reply}: {report:?}");
        match report.stopped {
            Some(RunError::Pop3(Pop3Error::Rejected { code: ref c, .. })) => assert_eq!(c, &code, "{reply}"),
            ref other => panic!("{reply}: {other:?}"),
        }
        assert_eq!(
            popsend::core::problem::classify::classify(report.stopped.as_ref().unwrap()).severity(),
            severity,
            "{reply}"
        );
        assert!(rig.smtp.when("MAIL").is_empty(), "{reply}: MAIL FROM without a login");
        assert!(rig.state().last_login.is_none(), "{reply}: a failed login opened the window");
    }
}

/// An SMTP peer that tells whether each command came before its reply to the one before (a
/// PIPELINING group), and offers PIPELINING or not.
fn grouping(pipelining: bool) -> Smtp {
    let ehlo: &[&str] =
        if pipelining { &["PIPELINING", "SIZE 1000000", "8BITMIME"] } else { &["SIZE 1000000", "8BITMIME"] };
    Smtp { ehlo, notice_early: true, ..Smtp::default() }
}

fn grouping_rig(script: Smtp) -> Rig {
    rig_with(Pop::answering("+OK"), script)
}

fn to_three() -> Outgoing {
    let d = Draft {
        from_address: "student@example.ac.jp".into(),
        to: vec!["a@example.net".into(), "b@example.net".into(), "c@example.net".into()],
        subject: "三人へ".into(),
        body: "本文".into(),
        ..Draft::default()
    };
    compose::build(&d, SystemTime::now()).unwrap()
}

/// How many times the peer noted `what`, with or without ` early`.
fn count(seen: &[String], what: &str) -> usize {
    seen.iter().filter(|w| w.strip_suffix(" early").unwrap_or(w) == what).count()
}

/// Issue 14: a server that does not offer PIPELINING gets one command at a time, and the second
/// EHLO (for SIZE and PIPELINING) is asked once, then remembered.
#[tokio::test]
async fn a_server_without_pipelining_gets_one_command_at_a_time() {
    let rig = grouping_rig(grouping(false));
    let report = rig.deliver(&[to_three()]).await;
    assert!(matches!(report.outcomes[..], [Outcome::Sent]), "{report:?}");
    let seen = rig.smtp.notes();
    assert!(!seen.iter().any(|w| w.ends_with(" early")), "commands sent before their turn: {seen:?}");
    assert_eq!(seen.iter().filter(|w| *w == "RCPT").count(), 3, "{seen:?}");
    assert_eq!(seen.iter().filter(|w| *w == "EHLO").count(), 2, "lettre's EHLO and popsend's: {seen:?}");
    let server = format!("127.0.0.1:{}", rig.config.smtp_port());
    assert_eq!(
        rig.state().smtp_extras(&server),
        Some(popsend::core::protocol::smtp::Extras { size: Some(1_000_000), pipelining: false })
    );
    rig.smtp.forget();
    let report = rig.deliver(&[message("someone@example.net")]).await;
    assert!(matches!(report.outcomes[..], [Outcome::Sent]), "{report:?}");
    assert_eq!(rig.smtp.notes().iter().filter(|w| *w == "EHLO").count(), 1, "the EHLO was not remembered");
}

/// Issue 14: a server that offers PIPELINING gets MAIL FROM, every RCPT TO and DATA as one group.
/// One recipient of three refused for good fails the whole message (as one command at a time
/// would): the server said 354 for the other two, so the connection is cut before the dot and
/// the server keeps nothing; the next message goes on a new connection, and is sent.
#[tokio::test]
async fn a_pipelined_group_with_one_refused_recipient_of_three_sends_nothing_for_that_message() {
    let rcpt = rcpt(|r| {
        if r.nth == 1 { "550 5.1.1 <b@example.net>: Recipient address rejected: User unknown" } else { OK }.into()
    });
    let rig = grouping_rig(Smtp { rcpt, ..grouping(true) });
    let report = rig.deliver(&[to_three(), message("someone@example.net")]).await;
    let seen = rig.smtp.notes();
    match &report.outcomes[..] {
        [Outcome::Failed(e), Outcome::Sent] => {
            assert_eq!(popsend::core::problem::classify::classify(e).severity(), Severity::Permanent);
            assert!(
                e.to_string().contains("RCPT TO:<b@example.net>") && e.server_reply().unwrap().contains("User unknown"),
                "{e}"
            );
        }
        other => panic!("{other:?} {seen:?}"),
    }
    let group = ["MAIL early", "RCPT early", "RCPT early", "RCPT early", "DATA"];
    let at = seen
        .iter()
        .position(|w| w == "MAIL early")
        .unwrap_or_else(|| panic!("MAIL FROM was not sent as a group: {seen:?}"));
    assert_eq!(seen[at..at + 5], group, "{seen:?}");
    assert_eq!(
        seen.iter().filter(|w| *w == "cut").count(),
        1,
        "the refused message was not cut before its dot: {seen:?}"
    );
    assert_eq!(count(&seen, "message"), 1, "only the second message is taken: {seen:?}");
    assert_eq!(seen.iter().filter(|w| *w == "connect").count(), 2, "{seen:?}");
    assert!(report.stopped.is_none(), "{report:?}");
}

/// Issue 14: a server that closes after reading a pipelined group: the message stays to be sent
/// again (nothing lost, nothing counted as sent), and the remembered EHLO is asked again next time.
#[tokio::test]
async fn a_server_that_closes_after_a_pipelined_group_keeps_the_message() {
    let rig = grouping_rig(Smtp { fault: Fault::CloseAtData, ..grouping(true) });
    let report = rig.deliver(&[message("someone@example.net")]).await;
    assert!(matches!(report.outcomes[..], [Outcome::Deferred(_)]), "{report:?}");
    let stopped = report.stopped.as_ref().expect("the run must stop");
    assert_eq!(popsend::core::problem::classify::classify(stopped).severity(), Severity::Temporary, "{stopped:?}");
    assert_eq!(count(&rig.smtp.notes(), "message"), 0);
    let server = format!("127.0.0.1:{}", rig.config.smtp_port());
    assert_eq!(rig.state().smtp_extras(&server), None, "the EHLO of a server that broke off is asked again");
}

/// Issue 14: a pipelining server that takes not even one recipient of the group (`452 4.5.3`):
/// the message waits for a later try, and the student reads the server's own words.
#[tokio::test]
async fn a_group_with_no_recipient_taken_waits_with_the_servers_words() {
    let rig = grouping_rig(Smtp { rcpt: always("452 4.5.3 Error: too many recipients"), ..grouping(true) });
    let report = rig.deliver(&[to_three()]).await;
    match &report.outcomes[..] {
        [Outcome::Deferred(Some(e))] => {
            assert_eq!(e.server_reply(), Some("452 4.5.3 Error: too many recipients"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count(&rig.smtp.notes(), "message"), 0);
}

/// Issue 14: on a server that offers PIPELINING, each next message's MAIL FROM, RCPT TO and DATA
/// go behind the previous message's final dot, in the same write (RFC 2920): one round trip a
/// message. One connection, nothing sent twice, the last dot alone.
#[tokio::test]
async fn the_next_message_goes_behind_the_final_dot() {
    let rig = grouping_rig(grouping(true));
    let report =
        rig.deliver(&[message("one@example.net"), message("two@example.net"), message("three@example.net")]).await;
    let seen = rig.smtp.notes();
    assert!(matches!(report.outcomes[..], [Outcome::Sent, Outcome::Sent, Outcome::Sent]), "{report:?} {seen:?}");
    let dots: Vec<&String> = seen.iter().filter(|w| w.starts_with("message")).collect();
    assert_eq!(dots, ["message early", "message early", "message"], "{seen:?}");
    assert_eq!(count(&seen, "MAIL"), 3, "{seen:?}");
    assert_eq!(count(&seen, "connect"), 1, "{seen:?}");
    assert_eq!(count(&seen, "RSET"), 0, "{seen:?}");
}

/// Issue 14: a message's bytes arrive as they are whether its final dot carries the next
/// message's group (popsend's own dot-stuffing) or not (lettre's): lines that begin with a dot,
/// one that is a lone dot, and a message that begins with one.
#[tokio::test]
async fn bytes_arrive_the_same_whether_the_next_group_follows_the_dot_or_not() {
    let rig = grouping_rig(grouping(true));
    let dotted = |to: &str, raw: &str| {
        let mut m = message(to);
        m.raw = raw.as_bytes().to_vec();
        m
    };
    let raw = "Subject: dots\r\n\r\n.\r\n..two\r\n.three\r\nend.\r\n.";
    let leading = ".starts with a dot\r\n";
    let msgs = [dotted("one@example.net", raw), dotted("two@example.net", leading), dotted("three@example.net", raw)];
    let report = rig.deliver(&msgs).await;
    let seen = rig.smtp.notes();
    assert!(matches!(report.outcomes[..], [Outcome::Sent, Outcome::Sent, Outcome::Sent]), "{report:?} {seen:?}");
    let dots: Vec<&String> = seen.iter().filter(|w| w.starts_with("message")).collect();
    assert_eq!(dots, ["message early", "message early", "message"], "{seen:?}");
    let data: Vec<&String> = seen.iter().filter(|w| w.starts_with("data ")).collect();
    // The end is CRLF, dot, CRLF, its CRLF ending the last line: a last line without one gets
    // it, and one that has it gets no second (issue 23: no empty line the program never wrote).
    let kept =
        |raw: &str| format!("data {:?}", if raw.ends_with("\r\n") { raw.to_owned() } else { format!("{raw}\r\n") });
    assert_eq!(data, [&kept(raw), &kept(leading), &kept(raw)], "{seen:?}");
}

/// Issue 14: a refusal of a message whose final dot carried the next message's group, and of a
/// group sent that way, is that message's alone: the first is refused at its dot, the second's
/// recipient is unknown (its group went behind the first's dot), the third is sent, all on one
/// connection; the server takes only the first's and the third's bytes, and keeps the third.
#[tokio::test]
async fn a_refusal_at_the_dot_or_in_the_group_sent_ahead_is_that_messages_alone() {
    let rcpt = rcpt(|r| {
        if r.address.starts_with("nobody@") {
            "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown"
        } else {
            OK
        }
        .into()
    });
    let end = |n| if n == 0 { "554 5.7.1 Message rejected: content" } else { "250 2.0.0 Ok: queued" }.into();
    let rig = grouping_rig(Smtp { rcpt, end, ..grouping(true) });
    let report =
        rig.deliver(&[message("one@example.net"), message("nobody@example.net"), message("three@example.net")]).await;
    let seen = rig.smtp.notes();
    match &report.outcomes[..] {
        [Outcome::Failed(first), Outcome::Failed(second), Outcome::Sent] => {
            assert!(
                first.to_string().contains("end of data") && first.server_reply().unwrap().contains("content"),
                "{first}"
            );
            assert!(second.to_string().contains("RCPT TO:<nobody@example.net>"), "{second}");
        }
        other => panic!("{other:?} {seen:?}"),
    }
    assert!(report.stopped.is_none(), "{report:?}");
    let dots: Vec<&String> = seen.iter().filter(|w| w.starts_with("message")).collect();
    assert_eq!(dots, ["message early", "message"], "the second's group went behind the first's dot: {seen:?}");
    assert_eq!(count(&seen, "connect"), 1, "{seen:?}");
    assert_eq!(count(&seen, "cut"), 0, "{seen:?}");
}

/// Marks messages `sending` as the outbox does: once, and only while queued (a second mark of
/// the same message, or a mark of one deleted meanwhile, is `Skip`).
struct Queued {
    waiting: Vec<bool>,
    marks: Vec<usize>,
}

impl popsend::core::sending::deliver::Progress for Queued {
    fn sending(&mut self, index: usize) -> popsend::core::sending::deliver::Mark {
        self.marks.push(index);
        match std::mem::replace(&mut self.waiting[index], false) {
            true => popsend::core::sending::deliver::Mark::Go,
            false => popsend::core::sending::deliver::Mark::Skip,
        }
    }
}

/// Issue 14: a message whose commands go behind the previous dot is marked `sending` once,
/// before they go, and then sent, not skipped as already marked; a message deleted meanwhile is
/// not sent, and the message before it ends with its dot alone.
#[tokio::test]
async fn a_message_sent_behind_the_dot_is_marked_once_and_a_deleted_one_not_at_all() {
    let rig = grouping_rig(grouping(true));
    let msgs = [
        message("one@example.net"),
        message("two@example.net"),
        message("three@example.net"),
        message("four@example.net"),
    ];
    let mut progress = Queued { waiting: vec![true, true, false, true], marks: Vec::new() };
    let report = rig.deliver_with(&msgs, &mut progress).await;
    let seen = rig.smtp.notes();
    assert!(
        matches!(report.outcomes[..], [Outcome::Sent, Outcome::Sent, Outcome::Deferred(None), Outcome::Sent]),
        "{report:?} {seen:?}"
    );
    assert_eq!(progress.marks, [0, 1, 2, 3], "each message marked once, in order: {seen:?}");
    let dots: Vec<&String> = seen.iter().filter(|w| w.starts_with("message")).collect();
    assert_eq!(dots, ["message early", "message", "message"], "{seen:?}");
    assert_eq!(count(&seen, "MAIL"), 3, "{seen:?}");
    assert_eq!(count(&seen, "connect"), 1, "{seen:?}");
}
