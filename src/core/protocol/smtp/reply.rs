//! What the server's replies mean: where in the dialogue (`Stage`), the typed error
//! (`SmtpError`, redacted before it leaves the module) and the readings every decision rests on —
//! a relay refusal in the words of every common server, a policy refusal, too many recipients.

use std::fmt;

use crate::protocol::net::NetError;
use crate::system::secrets::Redactor;

/// Where in the SMTP dialogue something happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Greeting,
    StartTls,
    Auth,
    MailFrom,
    RcptTo(String),
    /// RCPT TO refused for every recipient of the message (the fallback relay test).
    RcptAll,
    Data,
    Message,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Greeting => f.write_str("greeting/EHLO"),
            Stage::StartTls => f.write_str("STARTTLS"),
            Stage::Auth => f.write_str("AUTH"),
            Stage::MailFrom => f.write_str("MAIL FROM"),
            Stage::RcptTo(r) => write!(f, "RCPT TO:<{r}>"),
            Stage::RcptAll => f.write_str("RCPT TO (every recipient)"),
            Stage::Data => f.write_str("DATA"),
            Stage::Message => f.write_str("end of data"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error(transparent)]
    Net(NetError),
    #[error("SMTP: the server does not offer STARTTLS")]
    StartTlsNotOffered,
    #[error("SMTP: the server offers no AUTH method popsend can use (PLAIN, LOGIN)")]
    AuthNotOffered,
    /// AUTH asked for on a connection without TLS, and `[smtp] allow_plaintext_password` is off:
    /// nothing was sent.
    #[error(
        "SMTP: AUTH would send the password over an unencrypted connection; use [smtp] security = \"starttls\" or \"tls\", \
         or set [smtp] allow_plaintext_password = true"
    )]
    CleartextAuthRefused,
    /// STARTTLS handshake failed (certificate not trusted, …); never downgraded.
    #[error("SMTP STARTTLS failed: {detail}")]
    Tls { detail: String },
    #[error("SMTP {stage}: no answer in time")]
    Timeout { stage: Stage },
    /// A negative reply. The code stays a number from the wire to the classifier.
    #[error("SMTP {stage}: the server said: {reply}")]
    Rejected { stage: Stage, code: u16, reply: String },
    /// The connection broke or the server sent something that is not SMTP.
    #[error("SMTP {stage}: connection failed: {detail}")]
    Broken { stage: Stage, detail: String },
    /// The message cannot be sent to this server as it is (e.g. 8-bit data without 8BITMIME).
    #[error("SMTP: {detail}")]
    Unsendable { detail: String },
    /// Larger than the server's announced SIZE limit (RFC 1870): refused before MAIL FROM.
    #[error("SMTP: the message is {size} bytes; the server accepts at most {limit}")]
    TooLarge { size: usize, limit: usize },
    /// The connection was taken but the server never sent a byte (it closed, reset or stayed
    /// silent): what a blocked port looks like. The error as it came.
    #[error(transparent)]
    NoGreeting(Box<SmtpError>),
}

impl SmtpError {
    /// True when the server refused to relay for us: the POP login has not (yet) taken effect.
    pub fn is_relay_denied(&self) -> bool {
        match self {
            SmtpError::Rejected { stage: Stage::RcptTo(_) | Stage::MailFrom, code, reply } => {
                is_relay_refusal(*code, reply)
            }
            // Every recipient refused with 5.7.x (policy), whatever the words: the server does
            // not relay for us.
            SmtpError::Rejected { stage: Stage::RcptAll, code, reply } => is_policy_refusal(*code, reply),
            _ => false,
        }
    }

    /// True when the error is about this message, so the connection can go on with the next.
    pub fn is_per_message(&self) -> bool {
        matches!(
            self,
            SmtpError::Rejected {
                stage: Stage::MailFrom | Stage::RcptTo(_) | Stage::RcptAll | Stage::Data | Stage::Message,
                ..
            } | SmtpError::Unsendable { .. }
                | SmtpError::TooLarge { .. }
        )
    }

    pub fn server_reply(&self) -> Option<&str> {
        match self {
            SmtpError::Rejected { reply, .. } => Some(reply),
            _ => None,
        }
    }
}

/// "SIZE 10240000" from an EHLO line; "SIZE" alone (no fixed limit) is 0.
pub(super) fn parse_size(line: &str) -> Option<usize> {
    let mut words = line.split_ascii_whitespace();
    if !words.next()?.eq_ignore_ascii_case("SIZE") {
        return None;
    }
    Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// Relay refusal as the common servers word it. Postfix answers `454 4.7.1` (temporary) by
/// default and `554 5.7.1` when configured; others use 550/553/513. The code alone is not enough
/// (550 also means "no such user"), so the text decides, with 5.7.1/4.7.1 + "relay" as a backstop.
pub fn is_relay_refusal(code: u16, reply: &str) -> bool {
    const PHRASES: &[&str] = &[
        "relay access denied", // Postfix
        "relaying denied",     // Sendmail, Courier
        "unable to relay",     // Exchange
        "relay not permitted", // Exim
        "allowed rcpthosts",   // qmail
        "relaying not allowed",
        "relay denied",
        "not permitted to relay",
        "we do not relay",
        "relaying disallowed",
        "relaying not permitted",   // Exchange/IIS
        "relay operation rejected", // Japanese ISPs (OCN, …)
        "pop/apop authorization",   // "you must get POP/APOP authorization" (POP before SMTP)
        "pop before smtp",
        "pop-before-smtp",
        "client host rejected: access denied", // Postfix check_client_access REJECT
    ];
    if !(400..600).contains(&code) {
        return false;
    }
    let text = reply.to_ascii_lowercase();
    PHRASES.iter().any(|p| text.contains(p))
        || ((text.contains("5.7.1") || text.contains("4.7.1")) && text.contains("relay"))
}

/// A refusal on policy grounds: enhanced status 5.7.x (or 4.7.x), RFC 3463 "security or policy".
pub fn is_policy_refusal(code: u16, reply: &str) -> bool {
    (400..600).contains(&code)
        && reply.split_ascii_whitespace().take(2).any(|w| w.starts_with("5.7.") || w.starts_with("4.7."))
}

/// "Too many recipients" (RFC 5321 §4.5.3.1.10): the server takes the rest in a further
/// transaction. 452 is the code the RFC gives; 4.5.3 its enhanced form.
pub fn is_too_many_recipients(code: u16, reply: &str) -> bool {
    code == 452 && (reply.contains("4.5.3") || reply.to_ascii_lowercase().contains("too many recipients"))
}

impl SmtpError {
    /// The same error with the password taken out of what the server said, and the server's
    /// text made safe to show.
    pub(super) fn redacted(self, r: &Redactor) -> SmtpError {
        let clean = |t: String| bounded_text(&r.apply(&t));
        match self {
            SmtpError::Rejected { stage, code, reply } => SmtpError::Rejected { stage, code, reply: clean(reply) },
            SmtpError::Broken { stage, detail } => SmtpError::Broken { stage, detail: clean(detail) },
            SmtpError::Tls { detail } => SmtpError::Tls { detail: clean(detail) },
            e => e,
        }
    }
}

/// Server text as shown: no control characters, at most 1,000 characters.
pub fn bounded_text(s: &str) -> String {
    const MAX: usize = 1000;
    let s = crate::display_safe(s);
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

pub(super) fn from_lettre(stage: Stage, e: lettre::transport::smtp::Error) -> SmtpError {
    match e.status() {
        Some(code) => {
            let code_text = code.to_string();
            let message = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default();
            SmtpError::Rejected { stage, code: code_text.parse().unwrap_or(0), reply: format!("{code_text} {message}") }
        }
        None if e.is_timeout() => SmtpError::Timeout { stage },
        None => SmtpError::Broken { stage, detail: chain(&e) },
    }
}

pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s += ": ";
            s += &t;
        }
        cur = c.source();
    }
    s
}
