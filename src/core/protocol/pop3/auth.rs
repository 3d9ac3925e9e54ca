//! Choosing and encoding the POP3 login: SASL PLAIN with an initial response (RFC 5034),
//! USER/PASS, and APOP (RFC 1939 §7). The choice never sends a password in cleartext unless the
//! account says `allow_plaintext_password`. Pure functions; no I/O.

use base64::Engine as _;
use md5::{Digest, Md5};

use crate::setup::account::PopAuth;

use super::reply::Capabilities;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    SaslPlain,
    UserPass,
    Apop,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::SaslPlain => "SASL PLAIN",
            Method::UserPass => "USER/PASS",
            Method::Apop => "APOP",
        }
    }

    /// The word kept in the state file (and the config's `auth` value for it).
    pub fn code(self) -> &'static str {
        match self {
            Method::SaslPlain => "plain",
            Method::UserPass => "user",
            Method::Apop => "apop",
        }
    }

    pub fn from_code(code: &str) -> Option<Method> {
        [Method::SaslPlain, Method::UserPass, Method::Apop].into_iter().find(|m| m.code() == code)
    }
}

/// Methods as a list for people: "APOP, USER/PASS" ("none" when empty).
pub fn names(methods: &[Method]) -> String {
    if methods.is_empty() {
        return "none".into();
    }
    methods.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
}

/// Why no login method may be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMethod {
    /// The connection is cleartext, the server offers no APOP, and the account does not allow
    /// sending the password in cleartext.
    CleartextRefused,
    /// APOP was asked for but the greeting has no timestamp.
    NoApopTimestamp,
    /// The greeting's APOP timestamp has non-ASCII bytes (RFC 1939 requires ASCII).
    BadApopTimestamp,
    /// The method the settings ask for is not among what the server advertises (its CAPA): it
    /// is not tried, so no password is sent for nothing.
    NotOffered { wanted: Method, offered: Vec<Method> },
}

/// What is known when the method is chosen.
pub struct Situation<'a> {
    pub encrypted: bool,
    pub apop_timestamp: Option<&'a str>,
    pub capabilities: Option<&'a Capabilities>,
    pub allow_plaintext_password: bool,
}

impl Situation<'_> {
    /// What the server says it offers: SASL PLAIN when CAPA lists it; USER/PASS when CAPA lists
    /// USER, or when there is no CAPA (RFC 1939 servers); APOP when the greeting has a timestamp
    /// (which says APOP is possible, not that the user has an APOP secret).
    pub fn offered(&self) -> Vec<Method> {
        let mut out = Vec::new();
        if self.capabilities.is_some_and(|c| c.sasl_plain) {
            out.push(Method::SaslPlain);
        }
        if self.capabilities.is_none_or(|c| c.user) {
            out.push(Method::UserPass);
        }
        if self.apop_timestamp.is_some_and(str::is_ascii) {
            out.push(Method::Apop);
        }
        out
    }

    fn password_may_travel(&self) -> bool {
        self.encrypted || self.allow_plaintext_password
    }
}

/// The methods to try, in order: the first, and at most one more after the first was refused
/// as a method (APOP without an APOP secret, AUTH not implemented) — two password attempts at
/// the most, never a loop that could lock the account. `remembered`, the method that worked with
/// this server last time, goes first when it is still offered and allowed.
pub fn plan(wanted: PopAuth, s: &Situation, remembered: Option<Method>) -> Result<Vec<Method>, NoMethod> {
    let offered = s.offered();
    let apop = match s.apop_timestamp {
        None => Err(NoMethod::NoApopTimestamp),
        Some(ts) if !ts.is_ascii() => Err(NoMethod::BadApopTimestamp),
        Some(_) => Ok(Method::Apop),
    };
    let forced = |m: Method| {
        if !s.password_may_travel() {
            Err(NoMethod::CleartextRefused)
        } else if s.capabilities.is_some() && !offered.contains(&m) {
            Err(NoMethod::NotOffered { wanted: m, offered: offered.clone() })
        } else {
            Ok(vec![m])
        }
    };
    let mut list = match wanted {
        PopAuth::Apop => return apop.map(|m| vec![m]),
        PopAuth::Plain => return forced(Method::SaslPlain),
        PopAuth::User => return forced(Method::UserPass),
        // Over TLS the password travels safely: SASL PLAIN, else USER/PASS, APOP last.
        PopAuth::Auto if s.encrypted => [Method::SaslPlain, Method::UserPass, Method::Apop]
            .into_iter()
            .filter(|m| offered.contains(m))
            .collect::<Vec<_>>(),
        // In cleartext: APOP (the password never travels), then — only where the settings allow
        // it — USER/PASS or SASL PLAIN.
        PopAuth::Auto => {
            let mut l: Vec<Method> = offered.iter().copied().filter(|m| *m == Method::Apop).collect();
            if s.allow_plaintext_password {
                l.extend([Method::UserPass, Method::SaslPlain].into_iter().filter(|m| offered.contains(m)));
            }
            l
        }
    };
    if list.is_empty() {
        return Err(match apop {
            Err(NoMethod::BadApopTimestamp) if !s.password_may_travel() => NoMethod::BadApopTimestamp,
            _ if !s.password_may_travel() => NoMethod::CleartextRefused,
            _ => NoMethod::NotOffered { wanted: Method::UserPass, offered },
        });
    }
    if let Some(r) = remembered
        && let Some(at) = list.iter().position(|m| *m == r)
    {
        let m = list.remove(at);
        list.insert(0, m);
    }
    list.truncate(2);
    Ok(list)
}

/// What the settings allow on a connection, whatever the server offers (for 接続テスト's report).
pub fn allowed(wanted: PopAuth, encrypted: bool, allow_plaintext_password: bool) -> Vec<Method> {
    let travel = encrypted || allow_plaintext_password;
    match wanted {
        PopAuth::Apop => vec![Method::Apop],
        PopAuth::Plain if travel => vec![Method::SaslPlain],
        PopAuth::User if travel => vec![Method::UserPass],
        PopAuth::Plain | PopAuth::User => vec![],
        PopAuth::Auto if travel => vec![Method::SaslPlain, Method::UserPass, Method::Apop],
        PopAuth::Auto => vec![Method::Apop],
    }
}

/// The first method of the plan (what a login starts with).
pub fn choose(wanted: PopAuth, s: &Situation) -> Result<Method, NoMethod> {
    plan(wanted, s, None).map(|l| l[0])
}

/// The APOP digest: lowercase hex MD5 of the timestamp followed by the secret.
pub fn apop_digest(timestamp: &str, secret: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(timestamp.as_bytes());
    md5.update(secret.as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The SASL PLAIN initial response: base64 of "\0user\0password" (empty authorization id).
pub fn sasl_plain(user: &str, password: &str) -> String {
    let mut raw = Vec::with_capacity(user.len() + password.len() + 2);
    raw.push(0);
    raw.extend_from_slice(user.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apop_digest_matches_rfc_1939() {
        assert_eq!(apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"), "c4c9334bac560ecc979e58001b3e22fb");
    }

    #[test]
    fn sasl_plain_encoding() {
        assert_eq!(sasl_plain("tim", "tanstaaftanstaaf"), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    }

    fn sit(
        encrypted: bool,
        ts: Option<&'static str>,
        caps: Option<&'static Capabilities>,
        allow: bool,
    ) -> Situation<'static> {
        Situation { encrypted, apop_timestamp: ts, capabilities: caps, allow_plaintext_password: allow }
    }

    #[test]
    fn auto_over_tls_prefers_sasl_plain() {
        static WITH: Capabilities =
            Capabilities { stls: false, user: true, sasl_plain: true, login_delay: None, pipelining: false };
        static WITHOUT: Capabilities =
            Capabilities { stls: false, user: true, sasl_plain: false, login_delay: None, pipelining: false };
        assert_eq!(choose(PopAuth::Auto, &sit(true, None, Some(&WITH), false)), Ok(Method::SaslPlain));
        assert_eq!(choose(PopAuth::Auto, &sit(true, None, Some(&WITHOUT), false)), Ok(Method::UserPass));
        assert_eq!(choose(PopAuth::Auto, &sit(true, None, None, false)), Ok(Method::UserPass));
    }

    #[test]
    fn auto_in_cleartext_uses_apop_or_refuses() {
        let ts = Some("<1.2@host>");
        assert_eq!(choose(PopAuth::Auto, &sit(false, ts, None, false)), Ok(Method::Apop));
        assert_eq!(choose(PopAuth::Auto, &sit(false, None, None, false)), Err(NoMethod::CleartextRefused));
        assert_eq!(choose(PopAuth::Auto, &sit(false, None, None, true)), Ok(Method::UserPass));
        assert_eq!(choose(PopAuth::Auto, &sit(false, Some("<ü@host>"), None, false)), Err(NoMethod::BadApopTimestamp));
        assert_eq!(choose(PopAuth::Auto, &sit(false, Some("<ü@host>"), None, true)), Ok(Method::UserPass));
    }

    #[test]
    fn explicit_methods() {
        assert_eq!(choose(PopAuth::User, &sit(false, None, None, false)), Err(NoMethod::CleartextRefused));
        assert_eq!(choose(PopAuth::Plain, &sit(false, None, None, false)), Err(NoMethod::CleartextRefused));
        assert_eq!(choose(PopAuth::User, &sit(false, None, None, true)), Ok(Method::UserPass));
        assert_eq!(choose(PopAuth::Plain, &sit(true, None, None, false)), Ok(Method::SaslPlain));
        assert_eq!(choose(PopAuth::Apop, &sit(true, None, None, false)), Err(NoMethod::NoApopTimestamp));
        assert_eq!(choose(PopAuth::Apop, &sit(false, Some("<ü@h>"), None, false)), Err(NoMethod::BadApopTimestamp));
        assert_eq!(choose(PopAuth::Apop, &sit(false, Some("<1@h>"), None, false)), Ok(Method::Apop));
    }

    static CAPA_USER: Capabilities =
        Capabilities { stls: false, user: true, sasl_plain: false, login_delay: None, pipelining: false };
    static CAPA_NONE: Capabilities =
        Capabilities { stls: false, user: false, sasl_plain: false, login_delay: None, pipelining: false };
    static CAPA_BOTH: Capabilities =
        Capabilities { stls: false, user: true, sasl_plain: true, login_delay: None, pipelining: false };

    /// Issue 15: a greeting timestamp means APOP is possible; USER/PASS follows where allowed.
    #[test]
    fn auto_plans_a_fallback_only_where_the_password_may_travel() {
        let ts = Some("<1.2@host>");
        assert_eq!(
            plan(PopAuth::Auto, &sit(false, ts, Some(&CAPA_USER), true), None),
            Ok(vec![Method::Apop, Method::UserPass])
        );
        assert_eq!(plan(PopAuth::Auto, &sit(false, ts, Some(&CAPA_USER), false), None), Ok(vec![Method::Apop]));
        // Remembered: the method that worked goes first (and the doomed APOP is not tried first).
        assert_eq!(
            plan(PopAuth::Auto, &sit(false, ts, Some(&CAPA_USER), true), Some(Method::UserPass)),
            Ok(vec![Method::UserPass, Method::Apop])
        );
        // A remembered method that is not allowed now is not used.
        assert_eq!(
            plan(PopAuth::Auto, &sit(false, ts, Some(&CAPA_USER), false), Some(Method::UserPass)),
            Ok(vec![Method::Apop])
        );
        // Over TLS: at most two.
        assert_eq!(
            plan(PopAuth::Auto, &sit(true, ts, Some(&CAPA_BOTH), false), None),
            Ok(vec![Method::SaslPlain, Method::UserPass])
        );
    }

    /// Issue 15: a forced method the server does not advertise is refused before any password.
    #[test]
    fn forced_methods_must_be_offered() {
        let e = plan(PopAuth::Plain, &sit(true, None, Some(&CAPA_USER), false), None).unwrap_err();
        assert_eq!(e, NoMethod::NotOffered { wanted: Method::SaslPlain, offered: vec![Method::UserPass] });
        let e = plan(PopAuth::User, &sit(true, None, Some(&CAPA_NONE), false), None).unwrap_err();
        assert!(matches!(e, NoMethod::NotOffered { wanted: Method::UserPass, .. }), "{e:?}");
        // No CAPA at all: nothing is known, the method is tried.
        assert_eq!(plan(PopAuth::Plain, &sit(true, None, None, false), None), Ok(vec![Method::SaslPlain]));
        // Auto with nothing usable over TLS.
        let e = plan(PopAuth::Auto, &sit(true, None, Some(&CAPA_NONE), false), None).unwrap_err();
        assert!(matches!(e, NoMethod::NotOffered { .. }), "{e:?}");
    }

    #[test]
    fn method_codes_round_trip() {
        for m in [Method::SaslPlain, Method::UserPass, Method::Apop] {
            assert_eq!(Method::from_code(m.code()), Some(m));
        }
        assert_eq!(names(&[Method::Apop, Method::UserPass]), "APOP, USER/PASS");
    }
}
