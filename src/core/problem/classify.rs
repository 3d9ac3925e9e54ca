//! One taxonomy of failures. `classify` is the only place that decides what any error the core
//! can produce (network, POP3, SMTP, a whole run, the outbox, the config, the password, the
//! message) *is*: a `Kind`. Everything else is a method of the kind or a table keyed by it —
//! severity, whether the network may cure it, whether another address family is worth a try,
//! the exit code — and the retry policy (`retry::decide`), the words (`words::explain`), 接続テスト
//! and the outbox's stored reason all start from it. The kinds themselves are in `kind` (a leaf:
//! what the outbox stores needs no error type). No wording here, no I/O.

use crate::message::compose::ComposeError;
use crate::problem::kind::{Described, Kind};
use crate::problem::run_error::RunError;
use crate::protocol::net::NetError;
use crate::protocol::pop3::{NoMethod, Pop3Error, RespCode, Step};
use crate::protocol::smtp::{SmtpError, Stage};
use crate::sending::outbox::OutboxError;
use crate::setup::account::ConfigError;
use crate::system::secrets::SecretError;

/// Any error the core produces, by reference, for `classify`.
#[derive(Debug, Clone, Copy)]
pub enum Failure<'a> {
    Net(&'a NetError),
    Pop3(&'a Pop3Error),
    Smtp(&'a SmtpError),
    Run(&'a RunError),
    Outbox(&'a OutboxError),
    Config(&'a ConfigError),
    Password(&'a SecretError),
    Compose(&'a ComposeError),
}

macro_rules! failure_from {
    ($($variant:ident($ty:ty)),*) => {$(
        impl<'a> From<&'a $ty> for Failure<'a> {
            fn from(e: &'a $ty) -> Failure<'a> {
                Failure::$variant(e)
            }
        }
    )*};
}
failure_from!(
    Net(NetError),
    Pop3(Pop3Error),
    Smtp(SmtpError),
    Run(RunError),
    Outbox(OutboxError),
    Config(ConfigError),
    Password(SecretError),
    Compose(ComposeError)
);

/// The one classifier.
pub fn classify<'a>(failure: impl Into<Failure<'a>>) -> Kind {
    match failure.into() {
        Failure::Net(n) => match n {
            NetError::Resolve { .. } => Kind::NameNotFound,
            NetError::NoAddressInFamily { .. } => Kind::FamilyMismatch,
            NetError::Refused { .. } => Kind::ConnectionRefused,
            // A silent port 25 from home is the provider's outbound block far more often than a
            // dead server.
            NetError::Timeout { addr } if addr.port() == 25 => Kind::Port25Blocked,
            NetError::Timeout { .. } | NetError::Unreachable { .. } => Kind::Offline,
            NetError::Tls { .. } | NetError::CaFile { .. } => Kind::Certificate,
            NetError::TlsHandshake { .. } => Kind::TlsHandshake,
            NetError::TlsTimeout { .. } => Kind::Timeout,
        },
        Failure::Pop3(p) => match p {
            Pop3Error::Net(n) => classify(n),
            _ if p.is_bad_credentials() => Kind::WrongPassword,
            Pop3Error::Rejected { code: Some(RespCode::InUse), .. } => Kind::MailboxBusy,
            Pop3Error::Rejected { code: Some(RespCode::LoginDelay), .. } => Kind::LoginDelay,
            Pop3Error::Rejected { code: Some(RespCode::SysPerm | RespCode::Auth), .. } => Kind::PopRefused,
            Pop3Error::Rejected { step: Step::Stls, .. } | Pop3Error::StlsNotOffered => Kind::StartTls,
            Pop3Error::Rejected { step: Step::Auth, code: Some(RespCode::Other(_)), .. } => Kind::PopRefused,
            Pop3Error::Rejected { .. } => Kind::PopTemporary,
            Pop3Error::Timeout { .. } => Kind::Timeout,
            Pop3Error::Closed { .. } | Pop3Error::Protocol { .. } | Pop3Error::TooLong { .. } => Kind::Protocol,
            Pop3Error::BadCredentialText { .. } => Kind::CredentialText,
            Pop3Error::NoMethod(NoMethod::CleartextRefused) => Kind::Cleartext,
            Pop3Error::NoMethod(NoMethod::NotOffered { .. }) | Pop3Error::MethodRefused { .. } => Kind::MethodRefused,
            Pop3Error::NoMethod(NoMethod::NoApopTimestamp | NoMethod::BadApopTimestamp) => Kind::ApopUnusable,
            Pop3Error::ApopRefused { .. } => Kind::ApopRefused,
        },
        Failure::Smtp(s) => match s {
            SmtpError::Net(n) => classify(n),
            SmtpError::NoGreeting(e) => classify(&**e),
            _ if s.is_relay_denied() => Kind::RelayDenied,
            SmtpError::Tls { .. } => Kind::Certificate,
            SmtpError::StartTlsNotOffered => Kind::StartTls,
            SmtpError::AuthNotOffered => Kind::SmtpAuthNotOffered,
            SmtpError::CleartextAuthRefused => Kind::SmtpCleartext,
            SmtpError::Timeout { .. } => Kind::Timeout,
            // Dropped while the message was on its way: the server spoke SMTP until then.
            SmtpError::Broken { stage: Stage::Data | Stage::Message, .. } => Kind::Dropped,
            SmtpError::Broken { .. } => Kind::Protocol,
            SmtpError::Unsendable { .. } => Kind::Unsendable,
            SmtpError::TooLarge { .. } | SmtpError::Rejected { code: 552, .. } => Kind::TooLarge,
            SmtpError::Rejected { code: 530, reply, .. } if reply.to_ascii_uppercase().contains("STARTTLS") => {
                Kind::SmtpStartTlsRequired
            }
            SmtpError::Rejected { code: 530, .. } => Kind::SmtpAuthRequired,
            SmtpError::Rejected { code: 400..=499, .. } => Kind::SmtpTemporary,
            SmtpError::Rejected { stage: Stage::RcptTo(_), .. } => Kind::Recipient,
            SmtpError::Rejected { stage: Stage::MailFrom | Stage::RcptAll | Stage::Data | Stage::Message, .. } => {
                Kind::MessageRefused
            }
            SmtpError::Rejected { stage: Stage::Greeting | Stage::StartTls | Stage::Auth, .. } => Kind::SmtpRefused,
        },
        Failure::Run(r) => match r {
            RunError::Net(n) => classify(n),
            RunError::Pop3(p) => classify(p),
            RunError::Smtp(s) => classify(s),
            RunError::RelayDenied { .. } => Kind::RelayDenied,
            // The login worked, so the network is up: a silent SMTP port is a blocked one.
            RunError::PortsSilent { .. } => Kind::Port25Blocked,
            RunError::NoPassword => Kind::NoPassword,
        },
        Failure::Outbox(_) => Kind::Outbox,
        Failure::Config(_) => Kind::Config,
        Failure::Password(_) => Kind::NoPassword,
        Failure::Compose(ComposeError::Unencodable { .. }) => Kind::Unencodable,
        Failure::Compose(_) => Kind::Compose,
    }
}

/// An error and its causes on one line, outermost first ("a: b: c"), as the detail shows them.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out += ": ";
        out += &cause.to_string();
        next = cause.source();
    }
    out
}

impl Described {
    pub fn of<'a>(failure: impl Into<Failure<'a>>) -> Described {
        let failure = failure.into();
        let (reply, detail) = match failure {
            Failure::Net(e) => (None, chain(e)),
            Failure::Pop3(e) => (e.server_reply(), chain(e)),
            Failure::Smtp(e) => (e.server_reply(), chain(e)),
            Failure::Run(e) => (e.server_reply(), chain(e)),
            Failure::Outbox(e) => (None, chain(e)),
            Failure::Config(e) => (None, chain(e)),
            Failure::Password(e) => (None, chain(e)),
            Failure::Compose(e) => (None, chain(e)),
        };
        Described { kind: classify(failure), reply: reply.map(str::to_owned), detail }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::net::SocketAddr;
    use std::path::PathBuf;

    use super::*;
    use crate::problem::kind::{EXIT_FAILED, EXIT_TEMPORARY, EXIT_USAGE, Severity};
    use crate::protocol::net::Family;
    use crate::protocol::pop3::Method;
    use crate::setup::account::ConfigProblem;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    fn net() -> Vec<(NetError, Kind)> {
        vec![
            (NetError::Resolve { host: "h".into(), source: io::Error::other("nx") }, Kind::NameNotFound),
            (NetError::NoAddressInFamily { host: "h".into(), family: Family::V6 }, Kind::FamilyMismatch),
            (NetError::Refused { addr: addr(110) }, Kind::ConnectionRefused),
            (NetError::Timeout { addr: addr(110) }, Kind::Offline),
            (NetError::Timeout { addr: addr(25) }, Kind::Port25Blocked),
            (NetError::Unreachable { addr: addr(995), source: io::Error::other("no route") }, Kind::Offline),
            (NetError::Tls { host: "h".into(), detail: "self signed".into() }, Kind::Certificate),
            (NetError::TlsHandshake { host: "h".into(), detail: "wrong version".into() }, Kind::TlsHandshake),
            (NetError::TlsTimeout { host: "h".into() }, Kind::Timeout),
            (NetError::CaFile { path: "ca.pem".into(), detail: "bad".into() }, Kind::Certificate),
        ]
    }

    fn rejected(step: Step, code: Option<RespCode>) -> Pop3Error {
        Pop3Error::Rejected { step, code, reply: "-ERR no".into() }
    }

    fn pop3() -> Vec<(Pop3Error, Kind)> {
        vec![
            (Pop3Error::Net(NetError::Refused { addr: addr(110) }), Kind::ConnectionRefused),
            (Pop3Error::Timeout { step: Step::Greeting }, Kind::Timeout),
            (Pop3Error::Closed { step: Step::Capa }, Kind::Protocol),
            (Pop3Error::Protocol { step: Step::Greeting, detail: "HTTP/1.1".into() }, Kind::Protocol),
            (Pop3Error::TooLong { step: Step::Capa }, Kind::Protocol),
            (Pop3Error::BadCredentialText { what: "password" }, Kind::CredentialText),
            (rejected(Step::Auth, None), Kind::WrongPassword),
            (rejected(Step::Auth, Some(RespCode::Auth)), Kind::WrongPassword),
            (rejected(Step::Auth, Some(RespCode::InUse)), Kind::MailboxBusy),
            (rejected(Step::Auth, Some(RespCode::LoginDelay)), Kind::LoginDelay),
            (rejected(Step::Auth, Some(RespCode::SysTemp)), Kind::PopTemporary),
            (rejected(Step::Auth, Some(RespCode::SysPerm)), Kind::PopRefused),
            (rejected(Step::Auth, Some(RespCode::Other("X".into()))), Kind::PopRefused),
            (rejected(Step::Stls, None), Kind::StartTls),
            (rejected(Step::Greeting, None), Kind::PopTemporary),
            (Pop3Error::StlsNotOffered, Kind::StartTls),
            (
                Pop3Error::MethodRefused { method: Method::SaslPlain, reply: "-ERR no".into(), offered: vec![] },
                Kind::MethodRefused,
            ),
            (Pop3Error::ApopRefused { reply: "-ERR no".into(), offered: vec![Method::Apop] }, Kind::ApopRefused),
            (Pop3Error::NoMethod(NoMethod::CleartextRefused), Kind::Cleartext),
            (Pop3Error::NoMethod(NoMethod::NoApopTimestamp), Kind::ApopUnusable),
            (Pop3Error::NoMethod(NoMethod::BadApopTimestamp), Kind::ApopUnusable),
            (Pop3Error::NoMethod(NoMethod::NotOffered { wanted: Method::Apop, offered: vec![] }), Kind::MethodRefused),
        ]
    }

    fn smtp_rejected(stage: Stage, code: u16, reply: &str) -> SmtpError {
        SmtpError::Rejected { stage, code, reply: reply.into() }
    }

    fn smtp() -> Vec<(SmtpError, Kind)> {
        let rcpt = || Stage::RcptTo("a@example.net".into());
        vec![
            (SmtpError::Net(NetError::Timeout { addr: addr(25) }), Kind::Port25Blocked),
            (SmtpError::Net(NetError::Timeout { addr: addr(587) }), Kind::Offline),
            (SmtpError::StartTlsNotOffered, Kind::StartTls),
            (SmtpError::AuthNotOffered, Kind::SmtpAuthNotOffered),
            (SmtpError::CleartextAuthRefused, Kind::SmtpCleartext),
            (SmtpError::Tls { detail: "self signed".into() }, Kind::Certificate),
            (SmtpError::Timeout { stage: Stage::Data }, Kind::Timeout),
            (smtp_rejected(rcpt(), 554, "554 5.7.1 <a@example.net>: Relay access denied"), Kind::RelayDenied),
            (smtp_rejected(rcpt(), 454, "454 4.7.1 Relay access denied"), Kind::RelayDenied),
            (smtp_rejected(Stage::RcptAll, 550, "550 5.7.1 Policy rejection"), Kind::RelayDenied),
            (smtp_rejected(rcpt(), 550, "550 5.1.1 User unknown"), Kind::Recipient),
            (smtp_rejected(rcpt(), 450, "450 4.2.0 Greylisted"), Kind::SmtpTemporary),
            (smtp_rejected(Stage::MailFrom, 421, "421 busy"), Kind::SmtpTemporary),
            (smtp_rejected(Stage::MailFrom, 553, "553 sender not owned"), Kind::MessageRefused),
            (smtp_rejected(Stage::Message, 552, "552 5.3.4 too big"), Kind::TooLarge),
            (smtp_rejected(Stage::Data, 554, "554 no"), Kind::MessageRefused),
            (smtp_rejected(Stage::RcptAll, 550, "550 5.1.1 nobody"), Kind::MessageRefused),
            (smtp_rejected(Stage::Greeting, 554, "554 go away"), Kind::SmtpRefused),
            (smtp_rejected(Stage::StartTls, 554, "554 no tls"), Kind::SmtpRefused),
            (smtp_rejected(Stage::Auth, 535, "535 5.7.8 bad"), Kind::SmtpRefused),
            (smtp_rejected(Stage::MailFrom, 530, "530 5.7.0 Authentication required"), Kind::SmtpAuthRequired),
            // Issue 25: a 530 that asks for STARTTLS is not a demand for SMTP AUTH (RFC 3207).
            (
                smtp_rejected(Stage::MailFrom, 530, "530 5.7.0 Must issue a STARTTLS command first"),
                Kind::SmtpStartTlsRequired,
            ),
            (SmtpError::Broken { stage: Stage::Message, detail: "eof".into() }, Kind::Dropped),
            (SmtpError::Broken { stage: Stage::Data, detail: "eof".into() }, Kind::Dropped),
            (SmtpError::Broken { stage: Stage::Greeting, detail: "eof".into() }, Kind::Protocol),
            (SmtpError::Unsendable { detail: "8-bit".into() }, Kind::Unsendable),
            (SmtpError::TooLarge { size: 10, limit: 5 }, Kind::TooLarge),
            // Issue 24: not a byte from the server: classified as what came.
            (SmtpError::NoGreeting(Box::new(SmtpError::Timeout { stage: Stage::Greeting })), Kind::Timeout),
        ]
    }

    /// Adding a variant to any error type breaks this until the table below has a row for it.
    #[allow(dead_code)]
    fn every_variant_is_listed(
        n: &NetError,
        p: &Pop3Error,
        s: &SmtpError,
        r: &RunError,
        x: &SecretError,
        c: &ComposeError,
    ) {
        match n {
            NetError::Resolve { .. }
            | NetError::NoAddressInFamily { .. }
            | NetError::Refused { .. }
            | NetError::Timeout { .. }
            | NetError::Unreachable { .. }
            | NetError::Tls { .. }
            | NetError::TlsHandshake { .. }
            | NetError::TlsTimeout { .. }
            | NetError::CaFile { .. } => {}
        }
        match p {
            Pop3Error::Net(_)
            | Pop3Error::Timeout { .. }
            | Pop3Error::Closed { .. }
            | Pop3Error::Protocol { .. }
            | Pop3Error::TooLong { .. }
            | Pop3Error::BadCredentialText { .. }
            | Pop3Error::Rejected { .. }
            | Pop3Error::StlsNotOffered
            | Pop3Error::MethodRefused { .. }
            | Pop3Error::ApopRefused { .. }
            | Pop3Error::NoMethod(_) => {}
        }
        match s {
            SmtpError::Net(_)
            | SmtpError::StartTlsNotOffered
            | SmtpError::AuthNotOffered
            | SmtpError::CleartextAuthRefused
            | SmtpError::Tls { .. }
            | SmtpError::Timeout { .. }
            | SmtpError::Rejected { .. }
            | SmtpError::Broken { .. }
            | SmtpError::Unsendable { .. }
            | SmtpError::TooLarge { .. }
            | SmtpError::NoGreeting(_) => {}
        }
        match r {
            RunError::Net(_)
            | RunError::Pop3(_)
            | RunError::Smtp(_)
            | RunError::RelayDenied { .. }
            | RunError::PortsSilent { .. }
            | RunError::NoPassword => {}
        }
        match x {
            SecretError::Command { .. }
            | SecretError::NotFound { .. }
            | SecretError::KeyringUnavailable { .. }
            | SecretError::File { .. } => {}
        }
        match c {
            ComposeError::LineBreak { .. }
            | ComposeError::ControlCharacter { .. }
            | ComposeError::TooLarge { .. }
            | ComposeError::BadAddress { .. }
            | ComposeError::NoRecipient
            | ComposeError::Attachment { .. }
            | ComposeError::Build { .. }
            | ComposeError::Unencodable { .. } => {}
        }
    }

    fn check(what: &str, got: Kind, want: Kind) {
        assert_eq!(got, want, "{what}");
        // The tables keyed by the kind agree with each other.
        match got.severity() {
            Severity::Temporary => assert!(got.exit_code() == EXIT_TEMPORARY, "{what}"),
            Severity::NeedsUser | Severity::Permanent => {
                assert!(matches!(got.exit_code(), EXIT_FAILED | EXIT_USAGE), "{what}")
            }
        }
        assert!(!got.network_may_cure() || got.severity() == Severity::Temporary, "{what}");
        assert!(!got.unreachable() || got.network_may_cure(), "{what}");
        assert_eq!(Kind::from_code(got.code()), got, "{what}");
    }

    /// Every error the core can produce, its one kind, and what the kind says about it.
    #[test]
    fn every_error_has_one_kind() {
        for (e, want) in net() {
            check(&e.to_string(), classify(&e), want);
            check(&e.to_string(), classify(&RunError::Net(e)), want);
        }
        for (e, want) in pop3() {
            check(&e.to_string(), classify(&e), want);
            check(&e.to_string(), classify(&RunError::Pop3(e)), want);
        }
        for (e, want) in smtp() {
            check(&e.to_string(), classify(&e), want);
            check(&e.to_string(), classify(&RunError::Smtp(e)), want);
        }
        let relay = RunError::RelayDenied {
            refusal: smtp_rejected(Stage::RcptTo("a@b".into()), 554, "554 5.7.1 Relay access denied"),
        };
        check("relay after a fresh login", classify(&relay), Kind::RelayDenied);
        check("no password", classify(&RunError::NoPassword), Kind::NoPassword);
        // Issue 24: a POP login that worked, then no SMTP port answering, is OP25B, not offline.
        let silent = RunError::PortsSilent {
            host: "mail.example.ac.jp".into(),
            ports: "25, 465, 587".into(),
            last: SmtpError::Net(NetError::Timeout { addr: "192.0.2.1:25".parse().unwrap() }),
        };
        check("every port silent after a login", classify(&silent), Kind::Port25Blocked);
        let outbox = OutboxError { path: "outbox.sqlite".into(), detail: "database or disk is full".into() };
        check("outbox", classify(&outbox), Kind::Outbox);
        let config = ConfigError {
            path: "config.toml".into(),
            key: Some("pop.port".into()),
            problem: ConfigProblem::Invalid("not a port".into()),
        };
        check("config", classify(&config), Kind::Config);
        assert_eq!(Kind::Config.exit_code(), EXIT_USAGE);
        for e in [
            SecretError::Command { command: "pass".into(), problem: "exit 1".into() },
            SecretError::NotFound { account: "u@h".into() },
            SecretError::KeyringUnavailable { detail: "no bus".into() },
        ] {
            check(&e.to_string(), classify(&e), Kind::NoPassword);
        }
        for e in [
            ComposeError::NoRecipient,
            ComposeError::LineBreak { field: "Subject" },
            ComposeError::Attachment { path: PathBuf::from("a"), reason: "gone".into() },
        ] {
            check(&e.to_string(), classify(&e), Kind::Compose);
            assert_eq!(classify(&e).exit_code(), EXIT_USAGE);
        }
        let e = ComposeError::Unencodable { chars: vec!['①'] };
        check(&e.to_string(), classify(&e), Kind::Unencodable);
    }

    /// The decisions the design's failure table makes, read off the kind.
    #[test]
    fn what_each_kind_means() {
        for k in [
            Kind::WrongPassword,
            Kind::ApopRefused,
            Kind::Certificate,
            Kind::TlsHandshake,
            Kind::MethodRefused,
            Kind::Cleartext,
        ] {
            assert_eq!(k.severity(), Severity::NeedsUser, "{k:?} must wait for the user");
        }
        for k in [Kind::Offline, Kind::NameNotFound, Kind::RelayDenied, Kind::Port25Blocked, Kind::FamilyMismatch] {
            assert!(k.network_may_cure(), "{k:?}");
        }
        for k in [Kind::Recipient, Kind::TooLarge, Kind::MessageRefused, Kind::Unsendable, Kind::Expired, Kind::Damaged]
        {
            assert_eq!(k.severity(), Severity::Permanent, "{k:?}");
        }
        // Kinds kept by an older popsend still read, and a newer one's unknown kind stays usable.
        for legacy in ["offline", "wrong-password", "temporary", "setup", "refused", "certificate"] {
            assert_eq!(Kind::from_code(legacy).code(), legacy);
        }
        assert_eq!(Kind::from_code("kind-from-the-future"), Kind::Temporary);
        let codes: std::collections::HashSet<_> = Kind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), Kind::ALL.len(), "codes are unique");
    }

    /// The detail is the error and its causes, outermost first, each said once.
    #[test]
    fn the_detail_carries_the_cause_chain() {
        let resolve = RunError::Pop3(Pop3Error::Net(NetError::Resolve {
            host: "pop.example.ac.jp".into(),
            source: io::Error::other("no such host"),
        }));
        assert_eq!(Described::of(&resolve).detail, "pop.example.ac.jp: name does not resolve: no such host");
        let relay = RunError::RelayDenied {
            refusal: smtp_rejected(Stage::RcptTo("a@b".into()), 554, "554 5.7.1 Relay access denied"),
        };
        let d = Described::of(&relay);
        assert_eq!(
            d.detail,
            "relay still refused after a fresh POP login: SMTP RCPT TO:<a@b>: the server said: 554 5.7.1 Relay access denied"
        );
        assert_eq!(d.reply.as_deref(), Some("554 5.7.1 Relay access denied"), "the code and reply stay the server's");
    }

    #[test]
    fn a_kind_round_trips_through_sqlite() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        for k in Kind::ALL {
            let back: Kind = db.query_row("SELECT ?1", [k], |r| r.get(0)).unwrap();
            assert_eq!(back, *k);
        }
    }
}
