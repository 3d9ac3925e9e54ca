//! Choosing and encoding the POP3 login: SASL PLAIN with an initial response (RFC 5034),
//! USER/PASS, and APOP (RFC 1939 §7). The choice never sends a password in cleartext unless the
//! account says `allow_plaintext_password`. Pure functions; no I/O.

use base64::Engine as _;
use md5::{Digest, Md5};

use crate::core::account::PopAuth;

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
}

/// What is known when the method is chosen.
pub struct Situation<'a> {
    pub encrypted: bool,
    pub apop_timestamp: Option<&'a str>,
    pub capabilities: Option<&'a Capabilities>,
    pub allow_plaintext_password: bool,
}

pub fn choose(wanted: PopAuth, s: &Situation) -> Result<Method, NoMethod> {
    let password_may_travel = s.encrypted || s.allow_plaintext_password;
    let apop = match s.apop_timestamp {
        None => Err(NoMethod::NoApopTimestamp),
        Some(ts) if !ts.is_ascii() => Err(NoMethod::BadApopTimestamp),
        Some(_) => Ok(Method::Apop),
    };
    match wanted {
        PopAuth::Apop => apop,
        PopAuth::Plain | PopAuth::User if !password_may_travel => Err(NoMethod::CleartextRefused),
        PopAuth::Plain => Ok(Method::SaslPlain),
        PopAuth::User => Ok(Method::UserPass),
        PopAuth::Auto if s.encrypted => {
            let plain = s.capabilities.is_some_and(|c| c.sasl_plain);
            Ok(if plain { Method::SaslPlain } else { Method::UserPass })
        }
        PopAuth::Auto => match apop {
            Ok(m) => Ok(m),
            Err(_) if s.allow_plaintext_password => Ok(Method::UserPass),
            Err(NoMethod::BadApopTimestamp) => Err(NoMethod::BadApopTimestamp),
            Err(_) => Err(NoMethod::CleartextRefused),
        },
    }
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
        assert_eq!(
            apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn sasl_plain_encoding() {
        assert_eq!(sasl_plain("tim", "tanstaaftanstaaf"), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    }

    fn sit(encrypted: bool, ts: Option<&'static str>, caps: Option<&'static Capabilities>, allow: bool) -> Situation<'static> {
        Situation { encrypted, apop_timestamp: ts, capabilities: caps, allow_plaintext_password: allow }
    }

    #[test]
    fn auto_over_tls_prefers_sasl_plain() {
        static WITH: Capabilities = Capabilities { stls: false, user: true, sasl_plain: true, login_delay: None };
        static WITHOUT: Capabilities = Capabilities { stls: false, user: true, sasl_plain: false, login_delay: None };
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
}
