//! The retry policy of DESIGN.md §4, keyed by `kind::Kind`: what a failure means for a queued
//! message — try again at a backoff time, fail it for good once it is five days old, or pause the
//! whole queue until the user changes something — and the backoff schedule itself (about 1, 2, 5,
//! 10, 30, 60 minutes, then hourly, with jitter). Pure functions of the failure's kind, the
//! attempt count and `now`; no I/O, no clock reads.

use std::time::{Duration, SystemTime};

use crate::problem::kind::{Kind, Severity};

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

/// What to do with the messages a failed run left queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try again at this time (or earlier, on a network change for `Kind::network_may_cure`).
    RetryAt(SystemTime),
    /// Keep them queued and send nothing until the user changes the password or the settings.
    Pause,
}

/// The decision for messages left queued by a run that stopped on a failure of this kind.
/// `attempts` counts this failed attempt too; `jitter` spreads retries.
pub fn decide(kind: Kind, attempts: u32, now: SystemTime, jitter: u64) -> Decision {
    match kind {
        Kind::LoginDelay => Decision::RetryAt(now + backoff(attempts, jitter).max(Duration::from_secs(10 * 60))),
        // Never hammer a login that was refused (that can lock the account), nor settings that
        // cannot work: wait for the user.
        k if k.severity() == Severity::NeedsUser => Decision::Pause,
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
    use crate::problem::classify::classify;
    use crate::problem::run_error::RunError;
    use crate::protocol::net::NetError;
    use crate::protocol::pop3::{Pop3Error, RespCode, Step};
    use crate::protocol::smtp::{SmtpError, Stage};

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
        let in_use = RunError::Pop3(Pop3Error::Rejected {
            step: Step::Auth,
            code: Some(RespCode::InUse),
            reply: "-ERR [IN-USE]".into(),
        });
        let delay = RunError::Pop3(Pop3Error::Rejected {
            step: Step::Auth,
            code: Some(RespCode::LoginDelay),
            reply: "-ERR [LOGIN-DELAY]".into(),
        });
        let smtp4 = RunError::Smtp(SmtpError::Rejected { stage: Stage::MailFrom, code: 421, reply: "421 busy".into() });
        let dropped = RunError::Smtp(SmtpError::Broken { stage: Stage::Data, detail: "eof".into() });
        let relay = RunError::RelayDenied {
            refusal: SmtpError::Rejected {
                stage: Stage::RcptTo("a@b".into()),
                code: 554,
                reply: "554 5.7.1 Relay access denied".into(),
            },
        };
        let cert = RunError::Pop3(Pop3Error::Net(NetError::Tls { host: "h".into(), detail: "self signed".into() }));
        let port25 = RunError::Smtp(SmtpError::Net(NetError::Timeout { addr: "1.2.3.4:25".parse().unwrap() }));

        assert_eq!(classify(&offline), Kind::ConnectionRefused);
        assert_eq!(decide(classify(&offline), 1, now, 0), Decision::RetryAt(now + backoff(1, 0)));
        assert_eq!(classify(&wrong), Kind::WrongPassword);
        assert_eq!(decide(classify(&wrong), 1, now, 0), Decision::Pause);
        assert_eq!(classify(&in_use), Kind::MailboxBusy);
        assert_eq!(decide(classify(&in_use), 1, now, 0), Decision::RetryAt(now + backoff(1, 0)));
        assert_eq!(decide(classify(&delay), 1, now, 0), Decision::RetryAt(now + min(10)));
        assert_eq!(decide(classify(&smtp4), 3, now, 0), Decision::RetryAt(now + backoff(3, 0)));
        assert_eq!(decide(classify(&dropped), 2, now, 0), Decision::RetryAt(now + backoff(2, 0)));
        assert_eq!(classify(&relay), Kind::RelayDenied);
        assert!(Kind::RelayDenied.network_may_cure());
        assert_eq!(decide(classify(&relay), 1, now, 0), Decision::RetryAt(now + backoff(1, 0)));
        assert_eq!(decide(classify(&cert), 1, now, 0), Decision::Pause);
        assert_eq!(classify(&port25), Kind::Port25Blocked);
        assert!(Kind::Port25Blocked.network_may_cure());
    }

    #[test]
    fn per_message_refusals() {
        let unknown = SmtpError::Rejected {
            stage: Stage::RcptTo("x@y".into()),
            code: 550,
            reply: "550 5.1.1 User unknown".into(),
        };
        assert_eq!(classify(&unknown), Kind::Recipient);
        let big = SmtpError::Rejected {
            stage: Stage::Message,
            code: 552,
            reply: "552 5.3.4 Message size exceeds fixed limit".into(),
        };
        assert_eq!(classify(&big), Kind::TooLarge);
        assert_eq!(classify(&SmtpError::TooLarge { size: 10, limit: 5 }), Kind::TooLarge);
    }

    #[test]
    fn five_days_old_is_expired() {
        let created = t0();
        assert!(!expired(created, created + Duration::from_secs(5 * 24 * 3600)));
        assert!(expired(created, created + Duration::from_secs(5 * 24 * 3600 + 1)));
        assert!(!expired(created, created - Duration::from_secs(10)));
    }
}
