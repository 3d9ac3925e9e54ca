//! The retry policy (DESIGN.md §4): what a failure means for a queued message — try again at a
//! backoff time, fail it for good, or pause the whole queue until the user changes something —
//! and the backoff schedule itself (about 1, 2, 5, 10, 30, 60 minutes, then hourly, with jitter).
//! Pure functions of the error, the attempt count and `now`; no I/O, no clock reads.

use std::time::{Duration, SystemTime};

use crate::core::Severity;
use crate::core::deliver::RunError;
use crate::core::net::NetError;
use crate::core::pop3::{Pop3Error, RespCode};
use crate::core::smtp::SmtpError;

/// A message older than this fails for good instead of waiting longer.
pub const MAX_AGE: Duration = Duration::from_secs(5 * 24 * 3600);

const SCHEDULE_MIN: [u64; 6] = [1, 2, 5, 10, 30, 60];

/// The wait before attempt number `attempts + 1`, given `attempts` failed ones (>= 1), with
/// ±10 % jitter chosen by `jitter` (any number; the same number gives the same wait).
pub fn backoff(attempts: u32, jitter: u64) -> Duration {
    let i = (attempts.max(1) - 1) as usize;
    let base = SCHEDULE_MIN.get(i).copied().unwrap_or(60) * 60;
    // jitter in [-10 %, +10 %] of base, in whole seconds.
    let span = base / 5;
    let offset = if span == 0 { 0 } else { jitter % (span + 1) };
    Duration::from_secs(base - base / 10 + offset)
}

/// A stable name for the kind of the last error, kept with the message (for the UI to word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Offline,
    WrongPassword,
    MailboxBusy,
    LoginDelay,
    Temporary,
    RelayDenied,
    Certificate,
    Setup,
    Recipient,
    TooLarge,
    Refused,
    Expired,
    /// popsend cannot put this message on this server's wire (nothing was refused).
    Unsendable,
    /// APOP refused on a cleartext connection where nothing else is allowed: a wrong password,
    /// or no APOP secret on the server.
    ApopRefused,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Offline => "offline",
            Kind::WrongPassword => "wrong-password",
            Kind::MailboxBusy => "mailbox-busy",
            Kind::LoginDelay => "login-delay",
            Kind::Temporary => "temporary",
            Kind::RelayDenied => "relay-denied",
            Kind::Certificate => "certificate",
            Kind::Setup => "setup",
            Kind::Recipient => "recipient",
            Kind::TooLarge => "too-large",
            Kind::Refused => "refused",
            Kind::Expired => "expired",
            Kind::Unsendable => "unsendable",
            Kind::ApopRefused => "apop-refused",
        }
    }

    pub const ALL: [Kind; 14] = [
        Kind::Offline,
        Kind::WrongPassword,
        Kind::MailboxBusy,
        Kind::LoginDelay,
        Kind::Temporary,
        Kind::RelayDenied,
        Kind::Certificate,
        Kind::Setup,
        Kind::Recipient,
        Kind::TooLarge,
        Kind::Refused,
        Kind::Expired,
        Kind::Unsendable,
        Kind::ApopRefused,
    ];

    pub fn from_code(code: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Kinds that a network change may cure at once.
    pub fn network_may_cure(self) -> bool {
        matches!(self, Kind::Offline | Kind::RelayDenied)
    }
}

/// What to do with the messages a failed run left queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try again at this time (or earlier, on a network change for `Kind::network_may_cure`).
    RetryAt(SystemTime),
    /// Keep them queued and send nothing until the user changes the password or the settings.
    Pause,
}

pub fn kind_of_run(e: &RunError) -> Kind {
    match e {
        RunError::Net(n) => kind_of_net(n),
        RunError::Pop3(p) => kind_of_pop(p),
        RunError::Smtp(s) => kind_of_smtp(s),
        RunError::RelayDenied { .. } => Kind::RelayDenied,
    }
}

fn kind_of_net(n: &NetError) -> Kind {
    match n {
        _ if n.is_offline() => Kind::Offline,
        NetError::TlsTimeout { .. } => Kind::Temporary,
        NetError::TlsHandshake { .. } | NetError::NoAddressInFamily { .. } => Kind::Setup,
        _ => Kind::Certificate,
    }
}

fn kind_of_pop(p: &Pop3Error) -> Kind {
    match p {
        Pop3Error::Net(n) => kind_of_net(n),
        _ if p.is_bad_credentials() => Kind::WrongPassword,
        Pop3Error::Rejected { code: Some(RespCode::InUse), .. } => Kind::MailboxBusy,
        Pop3Error::Rejected { code: Some(RespCode::LoginDelay), .. } => Kind::LoginDelay,
        Pop3Error::Rejected { code: Some(RespCode::SysPerm), .. } => Kind::Setup,
        Pop3Error::ApopRefused { .. } => Kind::ApopRefused,
        Pop3Error::StlsNotOffered | Pop3Error::NoMethod(_) | Pop3Error::MethodRefused { .. } => Kind::Setup,
        _ => Kind::Temporary,
    }
}

pub fn kind_of_smtp(s: &SmtpError) -> Kind {
    match s {
        SmtpError::Net(n) => kind_of_net(n),
        SmtpError::Tls { .. } => Kind::Certificate,
        _ if s.is_relay_denied() => Kind::RelayDenied,
        SmtpError::StartTlsNotOffered | SmtpError::AuthNotOffered | SmtpError::CleartextAuthRefused => Kind::Setup,
        SmtpError::Unsendable { .. } => Kind::Unsendable,
        SmtpError::TooLarge { .. } => Kind::TooLarge,
        SmtpError::Rejected { code: 552, .. } => Kind::TooLarge,
        _ => match s.severity() {
            Severity::Temporary => Kind::Temporary,
            Severity::NeedsUser => Kind::Setup,
            Severity::Permanent if matches!(s, SmtpError::Rejected { stage: crate::core::smtp::Stage::RcptTo(_), .. }) => {
                Kind::Recipient
            }
            Severity::Permanent => Kind::Refused,
        },
    }
}

/// The decision for messages left queued by a run that stopped with `e`.
/// `attempts` counts this failed attempt too; `jitter` spreads retries.
pub fn decide(e: &RunError, attempts: u32, now: SystemTime, jitter: u64) -> Decision {
    match kind_of_run(e) {
        // Never hammer a login that was refused: that can lock the account.
        Kind::WrongPassword | Kind::ApopRefused | Kind::Certificate | Kind::Setup => Decision::Pause,
        Kind::LoginDelay => Decision::RetryAt(now + backoff(attempts, jitter).max(Duration::from_secs(10 * 60))),
        _ => Decision::RetryAt(now + backoff(attempts, jitter)),
    }
}

/// True when a message created at `created` is too old to keep trying at `now`.
pub fn expired(created: SystemTime, now: SystemTime) -> bool {
    now.duration_since(created).is_ok_and(|age| age > MAX_AGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::net::NetError;
    use crate::core::pop3::Step;
    use crate::core::smtp::Stage;

    fn min(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }

    #[test]
    fn schedule_without_jitter_spread() {
        // jitter 0 is the low end (-10 %), the top of the range is +10 %.
        for (attempt, base) in [(1, 1), (2, 2), (3, 5), (4, 10), (5, 30), (6, 60), (7, 60), (50, 60)] {
            let low = backoff(attempt, 0);
            let high = backoff(attempt, (base * 60) / 5);
            assert_eq!(low, min(base) - min(base) / 10, "attempt {attempt}");
            assert_eq!(high, min(base) + min(base) / 10, "attempt {attempt}");
            for j in [1, 7, 12345, u64::MAX] {
                let d = backoff(attempt, j);
                assert!(d >= low && d <= high, "attempt {attempt} jitter {j}: {d:?}");
            }
        }
    }

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn each_failure_row_of_the_design_table() {
        let now = t0();
        let offline = RunError::Net(NetError::Refused { addr: "127.0.0.1:110".parse().unwrap() });
        let wrong = RunError::Pop3(Pop3Error::Rejected { step: Step::Auth, code: None, reply: "-ERR".into() });
        let in_use = RunError::Pop3(Pop3Error::Rejected { step: Step::Auth, code: Some(RespCode::InUse), reply: "-ERR [IN-USE]".into() });
        let delay = RunError::Pop3(Pop3Error::Rejected { step: Step::Auth, code: Some(RespCode::LoginDelay), reply: "-ERR [LOGIN-DELAY]".into() });
        let smtp4 = RunError::Smtp(SmtpError::Rejected { stage: Stage::MailFrom, code: 421, reply: "421 busy".into() });
        let dropped = RunError::Smtp(SmtpError::Broken { stage: Stage::Data, detail: "eof".into() });
        let relay = RunError::RelayDenied {
            refusal: SmtpError::Rejected { stage: Stage::RcptTo("a@b".into()), code: 554, reply: "554 5.7.1 Relay access denied".into() },
        };
        let cert = RunError::Pop3(Pop3Error::Net(NetError::Tls { host: "h".into(), detail: "self signed".into() }));
        let port25 = RunError::Smtp(SmtpError::Net(NetError::Timeout { addr: "1.2.3.4:25".parse().unwrap() }));

        assert_eq!(kind_of_run(&offline), Kind::Offline);
        assert_eq!(decide(&offline, 1, now, 0), Decision::RetryAt(now + backoff(1, 0)));
        assert_eq!(kind_of_run(&wrong), Kind::WrongPassword);
        assert_eq!(decide(&wrong, 1, now, 0), Decision::Pause);
        assert_eq!(kind_of_run(&in_use), Kind::MailboxBusy);
        assert_eq!(decide(&in_use, 1, now, 0), Decision::RetryAt(now + backoff(1, 0)));
        assert_eq!(decide(&delay, 1, now, 0), Decision::RetryAt(now + min(10)));
        assert_eq!(decide(&smtp4, 3, now, 0), Decision::RetryAt(now + backoff(3, 0)));
        assert_eq!(decide(&dropped, 2, now, 0), Decision::RetryAt(now + backoff(2, 0)));
        assert_eq!(kind_of_run(&relay), Kind::RelayDenied);
        assert!(Kind::RelayDenied.network_may_cure());
        assert_eq!(decide(&relay, 1, now, 0), Decision::RetryAt(now + backoff(1, 0)));
        assert_eq!(decide(&cert, 1, now, 0), Decision::Pause);
        assert_eq!(kind_of_run(&port25), Kind::Offline);
    }

    #[test]
    fn per_message_refusals() {
        let unknown = SmtpError::Rejected { stage: Stage::RcptTo("x@y".into()), code: 550, reply: "550 5.1.1 User unknown".into() };
        assert_eq!(kind_of_smtp(&unknown), Kind::Recipient);
        let big = SmtpError::Rejected { stage: Stage::Message, code: 552, reply: "552 5.3.4 Message size exceeds fixed limit".into() };
        assert_eq!(kind_of_smtp(&big), Kind::TooLarge);
        assert_eq!(kind_of_smtp(&SmtpError::TooLarge { size: 10, limit: 5 }), Kind::TooLarge);
    }

    #[test]
    fn five_days_old_is_expired() {
        let created = t0();
        assert!(!expired(created, created + Duration::from_secs(5 * 24 * 3600)));
        assert!(expired(created, created + Duration::from_secs(5 * 24 * 3600 + 1)));
        assert!(!expired(created, created - Duration::from_secs(10)));
    }

    #[test]
    fn kind_codes_round_trip() {
        for k in [Kind::Offline, Kind::WrongPassword, Kind::Expired, Kind::TooLarge] {
            assert_eq!(Kind::from_code(k.code()), Some(k));
        }
        assert_eq!(Kind::from_code("nonsense"), None);
    }
}
