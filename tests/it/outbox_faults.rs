//! Every fault of the failure table, from scripted peers, through `engine::flush` and a real
//! outbox file: each ends in the right state and kind, with the message's bytes intact.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::scripted::{self, Fault, pop_peer};
use popsend::core::message::compose::Outgoing;
use popsend::core::message::compose::{self, Draft};
use popsend::core::protocol::net::TrustAnchors;
use popsend::core::sending::deliver::Deliverer;
use popsend::core::sending::engine;
use popsend::core::sending::knowledge;
use popsend::core::sending::outbox::{Outbox, Status};
use popsend::core::setup::account::Config;
use popsend::core::system::clock::SystemClock;
use popsend::core::system::secrets::Password;

#[derive(Clone, Copy)]
enum Smtp {
    /// Replies to RCPT TO with this line.
    Rcpt(&'static str),
    Greeting(&'static str),
    /// Accepts DATA, reads a little of the message, hangs up.
    DropMidData,
    /// Greets, then never answers.
    Stall,
    /// Answers EHLO with something that is not SMTP.
    Malformed,
    /// Answers EHLO with an endless line.
    EndlessLine,
}

/// The scripted SMTP peer that shows `fault`.
fn smtp_peer(fault: Smtp) -> scripted::Peer {
    let script = match fault {
        Smtp::Rcpt(reply) => scripted::Smtp { rcpt: scripted::always(reply), ..Default::default() },
        Smtp::Greeting(greeting) => scripted::Smtp { greeting, ..Default::default() },
        Smtp::DropMidData => scripted::Smtp { fault: Fault::CutInData, ..Default::default() },
        Smtp::Stall => scripted::Smtp { fault: Fault::Stall, ..Default::default() },
        Smtp::Malformed => scripted::Smtp { fault: Fault::MalformedEhlo, ..Default::default() },
        Smtp::EndlessLine => scripted::Smtp { fault: Fault::EndlessEhlo(Default::default()), ..Default::default() },
    };
    scripted::smtp(script)
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

struct Case {
    name: &'static str,
    pop_reply: &'static str,
    pop_closed: bool,
    smtp: Smtp,
    state: Status,
    kind: &'static str,
    paused: bool,
    /// The least wait before the next try.
    at_least: Duration,
}

async fn run(c: &Case) {
    let pop = if c.pop_closed { closed_port() } else { pop_peer(c.pop_reply).port };
    let smtp = smtp_peer(c.smtp).port;
    let text = format!(
        "[account]\naddress = \"student@example.ac.jp\"\n\
         [pop]\nhost = \"127.0.0.1\"\nport = {pop}\nusername = \"student\"\nauth = \"user\"\nallow_plaintext_password = true\n\
         [smtp]\nport = {smtp}\n"
    );
    let config = Config::parse(&text, Path::new("faults.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(dir.path()).unwrap();
    let d = Draft {
        from_address: "student@example.ac.jp".into(),
        to: vec!["someone@example.net".into()],
        subject: "レポート".into(),
        body: "本文\n".into(),
        ..Draft::default()
    };
    let b = compose::build(&d, SystemTime::now()).unwrap();
    let id = ob
        .enqueue(
            &Outgoing { envelope: b.envelope, raw: b.raw.clone(), message_id: b.message_id },
            "レポート",
            "someone",
            SystemTime::now(),
        )
        .unwrap();

    let password = Password::new("pw".into());
    let trust = TrustAnchors::default();
    let store = knowledge::Store::new(dir.path());
    let mut dl = Deliverer::new(&config, &password, &trust, &store, &SystemClock);
    dl.step_timeout = Duration::from_millis(700);
    dl.relay_retry_delay = Duration::from_millis(20);
    let before = SystemTime::now();
    let flushed = engine::flush(&ob, &dl, false).await.unwrap();

    let (row, raw) = ob.get(id).unwrap().unwrap();
    assert_eq!(raw, b.raw, "{}: the message changed", c.name);
    assert_eq!(row.state, c.state, "{}: {row:?}", c.name);
    let err = row.last_error.as_ref().unwrap_or_else(|| panic!("{}: no reason recorded", c.name));
    assert_eq!(err.kind.code(), c.kind, "{}: {err:?}", c.name);
    assert!(!err.detail.is_empty());
    assert_eq!(row.attempts, 1, "{}", c.name);
    assert_eq!(flushed.paused.is_some(), c.paused, "{}", c.name);
    assert_eq!(ob.paused().unwrap().is_some(), c.paused, "{}", c.name);
    if c.state == Status::Queued && !c.paused {
        assert!(
            row.next_attempt >= before + c.at_least,
            "{}: retry too soon: {:?}",
            c.name,
            row.next_attempt.duration_since(before)
        );
        // Not due again before its time, and nothing sent twice.
        assert!(ob.due(SystemTime::now()).unwrap().is_empty(), "{}", c.name);
    }
}

const MIN: Duration = Duration::from_secs(53); // one minute less the 10 % jitter, less rounding

#[tokio::test]
async fn each_fault_ends_in_the_right_state_with_the_message_intact() {
    let ok = Smtp::Rcpt("250 2.1.5 Ok");
    let cases = [
        Case {
            name: "POP refused",
            pop_reply: "+OK",
            pop_closed: true,
            smtp: ok,
            state: Status::Queued,
            kind: "connection-refused",
            paused: false,
            at_least: MIN,
        },
        Case {
            name: "POP -ERR",
            pop_reply: "-ERR Authentication failed.",
            pop_closed: false,
            smtp: ok,
            state: Status::Queued,
            kind: "wrong-password",
            paused: true,
            at_least: Duration::ZERO,
        },
        Case {
            name: "POP [IN-USE]",
            pop_reply: "-ERR [IN-USE] locked",
            pop_closed: false,
            smtp: ok,
            state: Status::Queued,
            kind: "mailbox-busy",
            paused: false,
            at_least: MIN,
        },
        Case {
            name: "POP [LOGIN-DELAY]",
            pop_reply: "-ERR [LOGIN-DELAY] wait",
            pop_closed: false,
            smtp: ok,
            state: Status::Queued,
            kind: "login-delay",
            paused: false,
            at_least: Duration::from_secs(599),
        },
        Case {
            name: "SMTP 421",
            pop_reply: "+OK",
            pop_closed: false,
            smtp: Smtp::Greeting("421 4.3.2 Service not available"),
            state: Status::Queued,
            kind: "smtp-temporary",
            paused: false,
            at_least: MIN,
        },
        Case {
            name: "SMTP 454 relay",
            pop_reply: "+OK",
            pop_closed: false,
            smtp: Smtp::Rcpt("454 4.7.1 <someone@example.net>: Relay access denied"),
            state: Status::Queued,
            kind: "relay-denied",
            paused: false,
            at_least: MIN,
        },
        Case {
            name: "SMTP 554 relay",
            pop_reply: "+OK",
            pop_closed: false,
            smtp: Smtp::Rcpt("554 5.7.1 <someone@example.net>: Relay access denied"),
            state: Status::Queued,
            kind: "relay-denied",
            paused: false,
            at_least: MIN,
        },
        Case {
            name: "SMTP 450 mailbox busy",
            pop_reply: "+OK",
            pop_closed: false,
            smtp: Smtp::Rcpt("450 4.2.1 try later"),
            state: Status::Queued,
            kind: "smtp-temporary",
            paused: false,
            at_least: MIN,
        },
        Case {
            name: "SMTP 550 unknown user",
            pop_reply: "+OK",
            pop_closed: false,
            smtp: Smtp::Rcpt("550 5.1.1 <someone@example.net>: User unknown"),
            state: Status::Failed,
            kind: "recipient",
            paused: false,
            at_least: Duration::ZERO,
        },
        Case {
            name: "drop mid-DATA",
            pop_reply: "+OK",
            pop_closed: false,
            smtp: Smtp::DropMidData,
            state: Status::Queued,
            kind: "dropped",
            paused: false,
            at_least: MIN,
        },
        Case {
            name: "stall",
            pop_reply: "+OK",
            pop_closed: false,
            smtp: Smtp::Stall,
            state: Status::Queued,
            kind: "timeout",
            paused: false,
            at_least: MIN,
        },
        Case {
            name: "malformed reply",
            pop_reply: "+OK",
            pop_closed: false,
            smtp: Smtp::Malformed,
            state: Status::Queued,
            kind: "protocol",
            paused: false,
            at_least: MIN,
        },
        Case {
            name: "endless reply line",
            pop_reply: "+OK",
            pop_closed: false,
            smtp: Smtp::EndlessLine,
            state: Status::Queued,
            kind: "protocol",
            paused: false,
            at_least: MIN,
        },
    ];
    for c in &cases {
        run(c).await;
    }
}

/// Messages one run could not send because the server was out of reach retry together: one
/// connection for all of them next time, not one per message spread over the backoff's jitter
/// (the idle window would otherwise wake every few seconds to try one message more).
#[tokio::test]
async fn messages_a_refused_run_stopped_retry_together() {
    let text = format!(
        "[account]\naddress = \"student@example.ac.jp\"\n\
         [pop]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"student\"\nauth = \"user\"\nallow_plaintext_password = true\n\
         [smtp]\nport = {}\n",
        closed_port(),
        closed_port()
    );
    let config = Config::parse(&text, Path::new("faults.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(dir.path()).unwrap();
    for n in 0..5 {
        let d = Draft {
            from_address: "student@example.ac.jp".into(),
            to: vec![format!("someone{n}@example.net")],
            subject: format!("レポート {n}"),
            body: "本文\n".into(),
            ..Draft::default()
        };
        let b = compose::build(&d, SystemTime::now()).unwrap();
        let out = Outgoing { envelope: b.envelope, raw: b.raw, message_id: b.message_id };
        ob.enqueue(&out, &d.subject, "someone", SystemTime::now()).unwrap();
    }
    let password = Password::new("pw".into());
    let trust = TrustAnchors::default();
    let store = knowledge::Store::new(dir.path());
    let mut dl = Deliverer::new(&config, &password, &trust, &store, &SystemClock);
    dl.step_timeout = Duration::from_millis(700);
    let before = SystemTime::now();
    engine::flush(&ob, &dl, false).await.unwrap();

    let rows = ob.list(&[Status::Queued], 10).unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    let next = rows[0].next_attempt;
    assert!(next >= before + MIN, "retry too soon: {:?}", next.duration_since(before));
    for r in &rows {
        assert_eq!(r.last_error.as_ref().map(|e| e.kind.code()), Some("connection-refused"), "{r:?}");
        assert_eq!(r.next_attempt, next, "#{} retries apart from the others: {rows:?}", r.id);
    }
}
