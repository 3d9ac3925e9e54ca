//! The SMTP side, on lettre's connection: open (greeting, EHLO, STARTTLS or implicit TLS,
//! optional AUTH), send raw messages with an explicit envelope over one connection (RSET after a
//! refusal, so the next message can reuse it), and classify replies — above all, relay refusal in
//! the words of every common server. It never sends MAIL FROM by itself: the caller decides when
//! (after the POP login).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::core::Severity;
use crate::core::account::Security;
use crate::core::net::{self, NetError, TrustAnchors};

pub struct SmtpParams<'a> {
    pub host: &'a str,
    pub addrs: &'a [SocketAddr],
    pub security: Security,
    /// SMTP AUTH, for servers that offer it (587/465): user name and password.
    pub auth: Option<(&'a str, &'a str)>,
    pub trust: &'a TrustAnchors,
    pub step_timeout: Duration,
}

/// Where in the SMTP dialogue something happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Greeting,
    StartTls,
    Auth,
    MailFrom,
    RcptTo(String),
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
            Stage::Data => f.write_str("DATA"),
            Stage::Message => f.write_str("end of data"),
        }
    }
}

#[derive(Debug)]
pub enum SmtpError {
    Net(NetError),
    StartTlsNotOffered,
    AuthNotOffered,
    /// STARTTLS handshake failed (certificate not trusted, …); never downgraded.
    Tls { detail: String },
    Timeout { stage: Stage },
    /// A negative reply.
    Rejected { stage: Stage, code: u16, reply: String },
    /// The connection broke or the server sent something that is not SMTP.
    Broken { stage: Stage, detail: String },
    /// The message cannot be sent to this server as it is (e.g. 8-bit data without 8BITMIME).
    Unsendable { detail: String },
    /// Larger than the server's announced SIZE limit (RFC 1870): refused before MAIL FROM.
    TooLarge { size: usize, limit: usize },
}

impl SmtpError {
    /// True when the server refused to relay for us: the POP login has not (yet) taken effect.
    pub fn is_relay_denied(&self) -> bool {
        match self {
            SmtpError::Rejected { stage: Stage::RcptTo(_) | Stage::MailFrom, code, reply } => is_relay_refusal(*code, reply),
            _ => false,
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            SmtpError::Net(e) if e.is_offline() => Severity::Temporary,
            SmtpError::Net(_) | SmtpError::Tls { .. } | SmtpError::StartTlsNotOffered | SmtpError::AuthNotOffered => {
                Severity::NeedsUser
            }
            SmtpError::Timeout { .. } | SmtpError::Broken { .. } => Severity::Temporary,
            _ if self.is_relay_denied() => Severity::Temporary,
            SmtpError::Rejected { code, .. } if (400..500).contains(code) => Severity::Temporary,
            SmtpError::Rejected { stage: Stage::Greeting | Stage::StartTls | Stage::Auth, .. } => Severity::NeedsUser,
            SmtpError::Rejected { .. } | SmtpError::Unsendable { .. } | SmtpError::TooLarge { .. } => Severity::Permanent,
        }
    }

    /// True when the error is about this message, so the connection can go on with the next.
    pub fn is_per_message(&self) -> bool {
        matches!(
            self,
            SmtpError::Rejected { stage: Stage::MailFrom | Stage::RcptTo(_) | Stage::Data | Stage::Message, .. }
                | SmtpError::Unsendable { .. }
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

impl fmt::Display for SmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmtpError::Net(e) => write!(f, "{e}"),
            SmtpError::StartTlsNotOffered => f.write_str("SMTP: the server does not offer STARTTLS"),
            SmtpError::AuthNotOffered => f.write_str("SMTP: the server offers no AUTH method popsend can use (PLAIN, LOGIN)"),
            SmtpError::Tls { detail } => write!(f, "SMTP STARTTLS failed: {detail}"),
            SmtpError::Timeout { stage } => write!(f, "SMTP {stage}: no answer in time"),
            SmtpError::Rejected { stage, reply, .. } => write!(f, "SMTP {stage}: the server said: {reply}"),
            SmtpError::Broken { stage, detail } => write!(f, "SMTP {stage}: connection failed: {detail}"),
            SmtpError::Unsendable { detail } => write!(f, "SMTP: {detail}"),
            SmtpError::TooLarge { size, limit } => {
                write!(f, "SMTP: the message is {size} bytes; the server accepts at most {limit}")
            }
        }
    }
}

impl std::error::Error for SmtpError {}

/// "SIZE 10240000" from an EHLO line; "SIZE" alone (no fixed limit) is 0.
fn parse_size(line: &str) -> Option<usize> {
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
        "relay access denied",          // Postfix
        "relaying denied",              // Sendmail, Courier
        "unable to relay",              // Exchange
        "relay not permitted",          // Exim
        "allowed rcpthosts",            // qmail
        "relaying not allowed",
        "relay denied",
        "not permitted to relay",
        "we do not relay",
        "relaying disallowed",
    ];
    if !(400..600).contains(&code) {
        return false;
    }
    let text = reply.to_ascii_lowercase();
    PHRASES.iter().any(|p| text.contains(p)) || ((text.contains("5.7.1") || text.contains("4.7.1")) && text.contains("relay"))
}

/// An open SMTP connection, ready for MAIL FROM.
pub struct Session {
    conn: AsyncSmtpConnection,
    pub peer: SocketAddr,
    timeout: Duration,
    /// The server's SIZE limit (RFC 1870), when it announced one.
    pub size_limit: Option<usize>,
}

/// Opens the connection: TCP (to the given, family-pinned addresses), TLS as configured, EHLO,
/// and AUTH when configured. Sends no MAIL FROM.
pub async fn open(p: &SmtpParams<'_>) -> Result<Session, SmtpError> {
    let hello = ClientId::default();
    let (tcp, peer) = net::connect(p.addrs, p.step_timeout).await.map_err(SmtpError::Net)?;
    let tls_params = || tls_parameters(p.trust, p.host);
    let stream: Box<dyn AsyncTokioStream> = match p.security {
        Security::Tls => {
            let connector = p.trust.connector();
            let tls = connector.connect(p.host, tcp);
            match tokio::time::timeout(p.step_timeout, tls).await {
                Ok(Ok(s)) => Box::new(TlsOverTcp { inner: s, peer }),
                Ok(Err(e)) => return Err(SmtpError::Net(NetError::Tls { host: p.host.to_owned(), detail: e.to_string() })),
                Err(_) => return Err(SmtpError::Timeout { stage: Stage::Greeting }),
            }
        }
        _ => Box::new(tcp),
    };
    let mut conn = timed(p.step_timeout, Stage::Greeting, AsyncSmtpConnection::connect_with_transport(stream, &hello)).await?;
    if p.security == Security::Starttls {
        if !conn.can_starttls() {
            conn.abort().await;
            return Err(SmtpError::StartTlsNotOffered);
        }
        let params = tls_params()?;
        match tokio::time::timeout(p.step_timeout, conn.starttls(params, &hello)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.status().is_some() => return Err(from_lettre(Stage::StartTls, e)),
            Ok(Err(e)) => return Err(SmtpError::Tls { detail: chain(&e) }),
            Err(_) => return Err(SmtpError::Timeout { stage: Stage::StartTls }),
        }
    }
    if let Some((user, password)) = p.auth {
        let info = conn.server_info();
        if !(info.supports_auth_mechanism(Mechanism::Plain) || info.supports_auth_mechanism(Mechanism::Login)) {
            conn.abort().await;
            return Err(SmtpError::AuthNotOffered);
        }
        let creds = Credentials::new(user.to_owned(), password.to_owned());
        timed(p.step_timeout, Stage::Auth, conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)).await?;
    }
    // lettre keeps only the EHLO keywords it knows; SIZE is not one. Ask once more (this runs
    // while the POP login does, so it costs no time on the way to MAIL FROM).
    let ehlo = timed(p.step_timeout, Stage::Greeting, conn.command(Ehlo::new(hello.clone()))).await?;
    let size_limit = ehlo.message().find_map(parse_size);
    Ok(Session { conn, peer, timeout: p.step_timeout, size_limit })
}

fn tls_parameters(trust: &TrustAnchors, host: &str) -> Result<TlsParameters, SmtpError> {
    let mut b = TlsParameters::builder(host.to_owned());
    if let Some(pem) = &trust.extra_ca_pem {
        let cert = Certificate::from_pem(pem).map_err(|e| SmtpError::Tls { detail: e.to_string() })?;
        b = b.add_root_certificate(cert);
    }
    b.build_native().map_err(|e| SmtpError::Tls { detail: e.to_string() })
}

impl Session {
    /// Sends one message: MAIL FROM, RCPT TO for each envelope recipient, DATA, the bytes.
    /// After a refusal the transaction is reset (RSET), so the session can carry the next message.
    pub async fn send(&mut self, envelope: &Envelope, raw: &[u8]) -> Result<(), SmtpError> {
        let result = self.transaction(envelope, raw).await;
        if let Err(e) = &result
            && matches!(e, SmtpError::Rejected { stage: Stage::MailFrom | Stage::RcptTo(_) | Stage::Data, .. }) {
                let _ = tokio::time::timeout(self.timeout, self.conn.command(Rset)).await;
            }
        result
    }

    async fn transaction(&mut self, envelope: &Envelope, raw: &[u8]) -> Result<(), SmtpError> {
        let mut params = Vec::new();
        if let Some(limit) = self.size_limit {
            if limit > 0 && raw.len() > limit {
                return Err(SmtpError::TooLarge { size: raw.len(), limit });
            }
            params.push(MailParameter::Size(raw.len()));
        }
        if !raw.is_ascii() {
            if !self.conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(SmtpError::Unsendable { detail: "8-bit message, but the server does not offer 8BITMIME".into() });
            }
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let t = self.timeout;
        timed(t, Stage::MailFrom, self.conn.command(Mail::new(envelope.from().cloned(), params))).await?;
        for rcpt in envelope.to() {
            timed(t, Stage::RcptTo(rcpt.to_string()), self.conn.command(Rcpt::new(rcpt.clone(), vec![]))).await?;
        }
        timed(t, Stage::Data, self.conn.command(Data)).await?;
        // The server may take a while to accept a large message: allow for it.
        let generous = t * 4 + Duration::from_secs(raw.len() as u64 / (64 * 1024));
        timed(generous, Stage::Message, self.conn.message(raw)).await?;
        Ok(())
    }

    /// Whether the server's EHLO offers AUTH PLAIN or LOGIN.
    pub fn offers_auth(&self) -> bool {
        let info = self.conn.server_info();
        info.supports_auth_mechanism(Mechanism::Plain) || info.supports_auth_mechanism(Mechanism::Login)
    }

    /// 接続テスト: would the server relay from `from` to the outside address `to`? MAIL FROM and
    /// RCPT TO, then RSET; no DATA, nothing is sent.
    pub async fn probe_relay(&mut self, from: &str, to: &str) -> Result<(), SmtpError> {
        let bad = |detail: String| SmtpError::Unsendable { detail };
        let from: lettre::Address = from.parse().map_err(|e| bad(format!("{from}: {e}")))?;
        let to: lettre::Address = to.parse().map_err(|e| bad(format!("{to}: {e}")))?;
        let t = self.timeout;
        let result = async {
            timed(t, Stage::MailFrom, self.conn.command(Mail::new(Some(from), vec![]))).await?;
            timed(t, Stage::RcptTo(to.to_string()), self.conn.command(Rcpt::new(to.clone(), vec![]))).await
        }
        .await;
        let _ = tokio::time::timeout(t, self.conn.command(Rset)).await;
        result.map(drop)
    }

    pub fn is_broken(&self) -> bool {
        self.conn.has_broken()
    }

    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(self.timeout, self.conn.quit()).await;
    }
}

async fn timed<T>(
    limit: Duration,
    stage: Stage,
    fut: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, SmtpError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(from_lettre(stage, e)),
        Err(_) => Err(SmtpError::Timeout { stage }),
    }
}

fn from_lettre(stage: Stage, e: lettre::transport::smtp::Error) -> SmtpError {
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

fn chain(e: &dyn std::error::Error) -> String {
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

/// Implicit TLS done by us (so the certificate error is ours to word), handed to lettre.
struct TlsOverTcp {
    inner: async_native_tls::TlsStream<TcpStream>,
    peer: SocketAddr,
}

impl fmt::Debug for TlsOverTcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsOverTcp({})", self.peer)
    }
}

impl AsyncTokioStream for TlsOverTcp {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

impl AsyncRead for TlsOverTcp {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsOverTcp {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_keyword() {
        assert_eq!(parse_size("SIZE 10240000"), Some(10_240_000));
        assert_eq!(parse_size("size"), Some(0));
        assert_eq!(parse_size("PIPELINING"), None);
        assert_eq!(parse_size("SIZEX 5"), None);
    }

    #[test]
    fn relay_refusal_in_every_dialect() {
        for (code, text) in [
            (454, "454 4.7.1 <a@example.net>: Relay access denied"),
            (554, "554 5.7.1 <a@example.net>: Relay access denied"),
            (550, "550 5.7.1 <a@example.net>... Relaying denied"),
            (550, "550 relay not permitted"),
            (553, "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"),
            (550, "550 5.7.1 Unable to relay"),
            (513, "513 Relaying denied."),
            (550, "550 5.7.1 Relaying not allowed for this client"),
        ] {
            assert!(is_relay_refusal(code, text), "{text}");
        }
    }

    #[test]
    fn other_refusals_are_not_relay() {
        for (code, text) in [
            (550, "550 5.1.1 <nobody@example.ac.jp>: Recipient address rejected: User unknown"),
            (552, "552 5.3.4 Message size exceeds fixed limit"),
            (450, "450 4.2.0 <a@b>: Recipient address rejected: Greylisted"),
            (250, "250 2.1.5 Ok relay"),
        ] {
            assert!(!is_relay_refusal(code, text), "{text}");
        }
    }

    #[test]
    fn relay_refusal_is_temporary_but_unknown_user_is_permanent() {
        let relay = SmtpError::Rejected {
            stage: Stage::RcptTo("a@example.net".into()),
            code: 554,
            reply: "554 5.7.1 <a@example.net>: Relay access denied".into(),
        };
        assert!(relay.is_relay_denied());
        assert_eq!(relay.severity(), Severity::Temporary);
        let unknown = SmtpError::Rejected {
            stage: Stage::RcptTo("a@example.net".into()),
            code: 550,
            reply: "550 5.1.1 User unknown".into(),
        };
        assert!(!unknown.is_relay_denied());
        assert_eq!(unknown.severity(), Severity::Permanent);
        let busy = SmtpError::Rejected { stage: Stage::MailFrom, code: 421, reply: "421 busy".into() };
        assert_eq!(busy.severity(), Severity::Temporary);
        let auth = SmtpError::Rejected { stage: Stage::Auth, code: 535, reply: "535 5.7.8 bad".into() };
        assert_eq!(auth.severity(), Severity::NeedsUser);
    }
}
