//! Turns core errors into what the user reads: a localized headline, the server's own reply, the
//! technical detail, and the next step. Also maps each error to its exit code. Prints nothing.

use crate::core::Severity;
use crate::core::account::{Config, ConfigError};
use crate::core::deliver::RunError;
use crate::core::net::NetError;
use crate::core::pop3::{NoMethod, Pop3Error, RespCode};
use crate::core::smtp::{SmtpError, Stage};
use crate::fl;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_TEMPORARY: u8 = 75;

/// A failure, ready to show.
pub struct Explained {
    pub headline: String,
    pub reply: Option<String>,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub exit: u8,
}

impl Explained {
    pub fn render(&self) -> String {
        let mut out = format!("{}: {}\n", fl!("err-prefix"), self.headline);
        if let Some(reply) = &self.reply {
            out += &format!("  {}\n", fl!("server-reply", reply = reply.as_str()));
        }
        if let Some(detail) = &self.detail {
            out += &format!("  {}\n", fl!("detail", detail = detail.as_str()));
        }
        if let Some(hint) = &self.hint {
            out += &format!("  {}\n", fl!("next-step", hint = hint.as_str()));
        }
        out
    }
}

pub fn exit_for(s: Severity) -> u8 {
    match s {
        Severity::Temporary => EXIT_TEMPORARY,
        Severity::NeedsUser | Severity::Permanent => EXIT_FAILED,
    }
}

pub fn config(e: &ConfigError) -> Explained {
    Explained {
        headline: fl!("err-config", detail = e.to_string()),
        reply: None,
        detail: None,
        hint: Some(fl!("err-config-hint")),
        exit: EXIT_USAGE,
    }
}

fn net(e: &NetError, smtp_port: Option<u16>) -> (String, String) {
    match e {
        NetError::Tls { .. } | NetError::CaFile { .. } => (fl!("err-tls"), fl!("err-tls-hint")),
        NetError::TlsHandshake { .. } => (fl!("err-tls-handshake"), fl!("err-tls-handshake-hint")),
        NetError::TlsTimeout { .. } => (fl!("err-timeout"), fl!("err-timeout-hint")),
        // A silent port 25 from home is the ISP's outbound block far more often than a dead server.
        NetError::Timeout { .. } if smtp_port == Some(25) => (fl!("err-port25"), fl!("err-port25-hint")),
        _ => (fl!("err-offline"), fl!("err-offline-hint")),
    }
}

fn pop3(e: &Pop3Error) -> (String, String) {
    match e {
        Pop3Error::Net(n) => net(n, None),
        _ if e.is_bad_credentials() => (fl!("err-wrong-password"), fl!("err-wrong-password-hint")),
        Pop3Error::Rejected { code: Some(RespCode::InUse), .. } => (fl!("err-in-use"), fl!("err-in-use-hint")),
        Pop3Error::Rejected { code: Some(RespCode::LoginDelay), .. } => (fl!("err-login-delay"), fl!("err-login-delay-hint")),
        Pop3Error::Rejected { code: Some(RespCode::SysPerm), .. } => (fl!("err-pop-refused"), fl!("err-pop-refused-hint")),
        Pop3Error::Rejected { .. } => (fl!("err-pop-temporary"), fl!("err-pop-temporary-hint")),
        Pop3Error::Timeout { .. } => (fl!("err-timeout"), fl!("err-timeout-hint")),
        Pop3Error::Closed { .. } | Pop3Error::Protocol { .. } | Pop3Error::TooLong { .. } => {
            (fl!("err-protocol"), fl!("err-protocol-hint"))
        }
        Pop3Error::BadCredentialText { .. } => (fl!("err-credential-text"), fl!("err-credential-text-hint")),
        Pop3Error::StlsNotOffered => (fl!("err-stls"), fl!("err-stls-hint")),
        Pop3Error::NoMethod(NoMethod::CleartextRefused) => (fl!("err-cleartext"), fl!("err-cleartext-hint")),
        Pop3Error::NoMethod(NoMethod::NotOffered { wanted, .. }) | Pop3Error::MethodRefused { method: wanted, .. } => {
            (fl!("err-method-refused", method = wanted.name()), fl!("err-method-refused-hint"))
        }
        Pop3Error::ApopRefused { .. } => (fl!("err-apop-refused"), fl!("err-apop-refused-hint")),
        Pop3Error::NoMethod(_) => (fl!("err-apop"), fl!("err-apop-hint")),
    }
}

fn smtp(e: &SmtpError, smtp_port: u16) -> (String, String) {
    match e {
        SmtpError::Net(n) => net(n, Some(smtp_port)),
        _ if e.is_relay_denied() => (fl!("err-relay-denied"), fl!("err-relay-denied-hint")),
        SmtpError::StartTlsNotOffered => (fl!("err-stls"), fl!("err-stls-hint")),
        SmtpError::AuthNotOffered => (fl!("err-smtp-auth"), fl!("err-smtp-auth-hint")),
        SmtpError::CleartextAuthRefused => (fl!("err-smtp-cleartext"), fl!("err-smtp-cleartext-hint")),
        SmtpError::Tls { .. } => (fl!("err-tls"), fl!("err-tls-hint")),
        SmtpError::Timeout { .. } => (fl!("err-timeout"), fl!("err-timeout-hint")),
        // Dropped while the message was on its way: the server spoke SMTP until then, so the
        // host name is not the problem.
        SmtpError::Broken { stage: Stage::Data | Stage::Message, .. } => (fl!("err-dropped"), fl!("err-dropped-hint")),
        SmtpError::Broken { .. } => (fl!("err-protocol"), fl!("err-protocol-hint")),
        SmtpError::TooLarge { size, limit } => {
            (fl!("err-too-large", size = size.to_string(), limit = limit.to_string()), fl!("err-too-large-hint"))
        }
        SmtpError::Unsendable { detail } => (fl!("err-unsendable", detail = detail.as_str()), fl!("err-unsendable-hint")),
        SmtpError::Rejected { code, .. } if (400..500).contains(code) => (fl!("err-smtp-temporary"), fl!("err-smtp-temporary-hint")),
        SmtpError::Rejected { stage: Stage::RcptTo(_), .. } => (fl!("err-recipient"), fl!("err-recipient-hint")),
        SmtpError::Rejected { stage: Stage::MailFrom | Stage::Data | Stage::Message, .. } => {
            (fl!("err-message-refused"), fl!("err-message-refused-hint"))
        }
        SmtpError::Rejected { .. } => (fl!("err-smtp-refused"), fl!("err-smtp-refused-hint")),
    }
}

pub fn run(e: &RunError, cfg: &Config) -> Explained {
    let (headline, hint) = match e {
        RunError::Net(n) => net(n, None),
        RunError::Pop3(p) => pop3(p),
        RunError::Smtp(s) => smtp(s, cfg.smtp_port()),
        RunError::RelayDenied { .. } => (fl!("err-relay-denied"), fl!("err-relay-denied-hint")),
    };
    Explained {
        headline,
        reply: e.server_reply().map(str::to_owned),
        detail: Some(e.to_string()),
        hint: Some(hint),
        exit: exit_for(e.severity()),
    }
}

/// A failure with a plain headline and hint (compose, password, body).
pub fn simple(headline: String, hint: Option<String>, exit: u8) -> Explained {
    Explained { headline, reply: None, detail: None, hint, exit }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = "[account]\naddress = \"a@b.jp\"\n[pop]\nhost = \"h\"\nusername = \"u\"\n[smtp]\n";
        Config::parse(text, std::path::Path::new("c.toml")).unwrap()
    }

    /// Issue 9, case 16: a connection dropped in the middle of the message is not a wrong host
    /// name; the SMTP AUTH refusal names the setting.
    #[test]
    fn hints_fit_the_failure() {
        // Japanese, as the other test that sets the language: tests share the one loader.
        crate::i18n::init(Some("ja"));
        let dropped = RunError::Smtp(SmtpError::Broken { stage: Stage::Message, detail: "eof".into() });
        let e = run(&dropped, &config());
        assert!(!e.hint.as_deref().unwrap().contains("ホスト名"), "{:?}", e.hint);
        assert!(e.headline.contains("送信中に接続が切れました"), "{}", e.headline);
        let at_greeting = RunError::Smtp(SmtpError::Broken { stage: Stage::Greeting, detail: "eof".into() });
        assert!(run(&at_greeting, &config()).hint.unwrap().contains("ホスト名"));
        let e = run(&RunError::Smtp(SmtpError::CleartextAuthRefused), &config());
        assert!(e.hint.as_deref().unwrap().contains("allow_plaintext_password"), "{:?}", e.hint);
        assert_eq!(e.exit, EXIT_FAILED);
    }
}
