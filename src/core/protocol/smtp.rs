//! The SMTP side, on lettre's connection: open (greeting, EHLO, STARTTLS or implicit TLS,
//! optional AUTH), send raw messages with an explicit envelope over one connection (RSET after a
//! refusal, so the next message can reuse it; MAIL FROM, every RCPT TO and DATA in one write
//! where the server offers PIPELINING, the next message's behind this one's final dot), and
//! classify replies — above all, relay refusal in the words of every common server. It never sends MAIL FROM by itself: the caller decides when
//! (after the POP login). Every read from the server is bounded (`Bounded` under lettre's own
//! unbounded line reader); AUTH never goes over a cleartext connection unless the account allows
//! it; what the server says is redacted of the password and of control characters before it
//! leaves this module.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::core::protocol::net::{self, NetError, TrustAnchors};
use crate::core::setup::account::Security;
use crate::core::system::secrets::Redactor;

pub struct SmtpParams<'a> {
    pub host: &'a str,
    pub addrs: &'a [SocketAddr],
    pub security: Security,
    /// SMTP AUTH, for servers that offer it (587/465): user name and password.
    pub auth: Option<(&'a str, &'a str)>,
    /// `[smtp] allow_plaintext_password`: AUTH over `security = "none"`.
    pub allow_plaintext_password: bool,
    /// With `security = "none"`: STARTTLS all the same where the server offers it (a port tried
    /// besides the configured one); AUTH then only if it was.
    pub tls_if_offered: bool,
    /// What to take out of server text (the account password, even when not used for AUTH:
    /// a POP-before-SMTP server knows it too).
    pub redactor: Redactor,
    pub trust: &'a TrustAnchors,
    pub step_timeout: Duration,
    /// What this server's EHLO said last time: given, the second EHLO (which lettre's keeps no
    /// SIZE or PIPELINING from) is not sent, one round trip less.
    pub known: Option<Extras>,
}

/// What popsend needs from the EHLO reply beyond what lettre keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extras {
    /// The server's SIZE limit (RFC 1870), when it announced one.
    pub size: Option<usize>,
    /// PIPELINING (RFC 2920): commands may go in groups.
    pub pipelining: bool,
}

impl Extras {
    fn parse(lines: &[&str]) -> Extras {
        Extras {
            size: lines.iter().find_map(|l| parse_size(l)),
            pipelining: lines.iter().any(|l| l.trim().eq_ignore_ascii_case("PIPELINING")),
        }
    }
}

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

/// The most bytes read from the server between two writes (one reply, or one TLS handshake
/// flight). RFC 5321 replies are a few hundred bytes; EHLO a few dozen lines.
pub const MAX_REPLY_BYTES: usize = 256 * 1024;

/// The stream under lettre: counts what is read since the last write and fails the read past
/// `MAX_REPLY_BYTES`, so an endless reply ends in an error instead of filling memory (lettre reads
/// a whole line into a `String` before it checks the length). Once `cut`, it neither reads nor
/// writes: the way to leave a DATA phase whose message must not go (the server discards a
/// message whose connection ends before the final dot).
pub struct Bounded<S> {
    inner: S,
    read_since_write: usize,
    limit: usize,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Whether the server has sent a byte yet.
    heard: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<S> Bounded<S> {
    pub fn new(inner: S) -> Bounded<S> {
        Bounded {
            inner,
            read_since_write: 0,
            limit: MAX_REPLY_BYTES,
            cut: Default::default(),
            heard: Default::default(),
        }
    }

    fn is_cut(&self) -> bool {
        self.cut.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn cut_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection closed by popsend")
}

impl<S: AsyncRead + Unpin> AsyncRead for Bounded<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        if self.read_since_write >= self.limit {
            return Poll::Ready(Err(io::Error::other(format!(
                "the server sent more than {} KiB without waiting for us",
                self.limit / 1024
            ))));
        }
        // Never read past the limit in one go either.
        let room = self.limit - self.read_since_write;
        let mut limited = buf.take(room);
        let poll = Pin::new(&mut self.inner).poll_read(cx, &mut limited);
        let n = limited.filled().len();
        if let Poll::Ready(Ok(())) = &poll {
            // SAFETY: `limited` wrote `n` initialised bytes into `buf`'s unfilled part.
            unsafe { buf.assume_init(n) };
            buf.advance(n);
            self.read_since_write += n;
            if n > 0 {
                self.heard.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Bounded<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if self.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &poll
            && *n > 0
        {
            self.read_since_write = 0;
        }
        poll
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl fmt::Debug for Bounded<TcpStream> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bounded({:?})", self.inner.peer_addr().ok())
    }
}

impl AsyncTokioStream for Bounded<TcpStream> {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

/// An open SMTP connection, ready for MAIL FROM.
pub struct Session {
    conn: AsyncSmtpConnection,
    pub peer: SocketAddr,
    timeout: Duration,
    /// SIZE and PIPELINING, from this EHLO or as known from the last.
    pub extras: Extras,
    /// Whether `extras` come from this connection's EHLO (worth remembering).
    pub fresh: bool,
    redactor: Redactor,
    /// Ends the connection at once, whatever lettre is doing (see `Bounded`).
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// A command group sent behind the last message's final dot, its replies not yet read.
    ahead: Option<Ahead>,
    /// TLS protects this connection (implicit, or STARTTLS done).
    pub encrypted: bool,
}

/// Which message a group sent ahead belongs to: the next `send` must be for it (the caller's
/// token for the message, and the envelope the group was written for).
struct Ahead {
    envelope: Envelope,
    token: usize,
}

/// A message as `send` takes it: the caller's token for it (its place in the batch, say), its
/// envelope and its bytes.
#[derive(Clone, Copy)]
pub struct Message<'m> {
    pub token: usize,
    pub envelope: &'m Envelope,
    pub raw: &'m [u8],
}

/// The largest message whose final dot carries the next message's commands: beyond it the
/// transfer takes long enough that one round trip more is noise, and the copy made to send
/// both in one write would cost more than it saves.
const AHEAD_MAX_BYTES: usize = 1024 * 1024;

/// What `send` tells its caller as it goes, and asks of it.
pub trait Carry<'m> {
    /// The server took the message for these recipients (one transaction's worth).
    fn delivered(&mut self, rcpts: &[Address]);
    /// The message to go next on this connection. Asked just before this message's bytes go,
    /// when the server offers PIPELINING: its MAIL FROM, RCPT TO and DATA then go behind this
    /// message's final dot (RFC 2920), one round trip less a message. A message given here must
    /// be the next one handed to `send` (the same token and envelope), on this session. `None`:
    /// nothing follows.
    fn next(&mut self) -> Option<Message<'m>> {
        None
    }
}

impl<F: FnMut(&[Address])> Carry<'_> for F {
    fn delivered(&mut self, rcpts: &[Address]) {
        self(rcpts)
    }
}

/// Opens the connection: TCP (to the given, family-pinned addresses), TLS as configured, EHLO,
/// and AUTH when configured. Sends no MAIL FROM.
pub async fn open(p: &SmtpParams<'_>) -> Result<Session, SmtpError> {
    // Refused before a byte is sent: STARTTLS could still be stripped by whoever sits between.
    if p.auth.is_some() && p.security == Security::None && !p.allow_plaintext_password && !p.tls_if_offered {
        return Err(SmtpError::CleartextAuthRefused);
    }
    open_inner(p).await.map_err(|e| e.redacted(&p.redactor))
}

async fn open_inner(p: &SmtpParams<'_>) -> Result<Session, SmtpError> {
    let hello = ClientId::default();
    let (tcp, peer) = net::connect(p.addrs, p.step_timeout).await.map_err(SmtpError::Net)?;
    let tcp = Bounded::new(tcp);
    let cut = tcp.cut.clone();
    let heard = tcp.heard.clone();
    // Failing before the server said a word: told apart (`NoGreeting`), it is what a blocked port
    // looks like.
    let unheard = |e: SmtpError| {
        if heard.load(std::sync::atomic::Ordering::SeqCst) { e } else { SmtpError::NoGreeting(Box::new(e)) }
    };
    let tls_params = || tls_parameters(p.trust, p.host);
    let stream: Box<dyn AsyncTokioStream> = match p.security {
        Security::Tls => {
            let connector = p.trust.connector();
            let tls = connector.connect(p.host, tcp);
            match tokio::time::timeout(p.step_timeout, tls).await {
                Ok(Ok(s)) => Box::new(TlsOverTcp { inner: s, peer }),
                Ok(Err(e)) => return Err(unheard(SmtpError::Net(net::tls_failure(p.host, e.to_string())))),
                Err(_) => return Err(unheard(SmtpError::Net(NetError::TlsTimeout { host: p.host.to_owned() }))),
            }
        }
        _ => Box::new(tcp),
    };
    let mut conn = timed(p.step_timeout, Stage::Greeting, AsyncSmtpConnection::connect_with_transport(stream, &hello))
        .await
        .map_err(unheard)?;
    let starttls =
        p.security == Security::Starttls || (p.security == Security::None && p.tls_if_offered && conn.can_starttls());
    if starttls {
        if !conn.can_starttls() {
            conn.abort().await;
            return Err(SmtpError::StartTlsNotOffered);
        }
        let params = tls_params()?;
        match tokio::time::timeout(p.step_timeout, conn.starttls(params, &hello)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.status().is_some() => return Err(from_lettre(Stage::StartTls, e)),
            Ok(Err(e)) => return Err(SmtpError::Net(net::tls_failure(p.host, chain(&e)))),
            Err(_) => return Err(SmtpError::Net(NetError::TlsTimeout { host: p.host.to_owned() })),
        }
    }
    let encrypted = starttls || p.security == Security::Tls;
    if let Some((user, password)) = p.auth {
        // Refused before a byte of it is sent: STARTTLS was not there to be had.
        if !encrypted && !p.allow_plaintext_password {
            conn.abort().await;
            return Err(SmtpError::CleartextAuthRefused);
        }
        let info = conn.server_info();
        if !(info.supports_auth_mechanism(Mechanism::Plain) || info.supports_auth_mechanism(Mechanism::Login)) {
            conn.abort().await;
            return Err(SmtpError::AuthNotOffered);
        }
        let creds = Credentials::new(user.to_owned(), password.to_owned());
        timed(p.step_timeout, Stage::Auth, conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)).await?;
    }
    // lettre keeps only the EHLO keywords it knows; SIZE and PIPELINING are not among them. Ask
    // once more, unless the answer is known from last time.
    let (extras, fresh) = match p.known {
        Some(known) => (known, false),
        None => {
            let ehlo = timed(p.step_timeout, Stage::Greeting, conn.command(Ehlo::new(hello.clone()))).await?;
            (Extras::parse(&ehlo.message().collect::<Vec<_>>()), true)
        }
    };
    Ok(Session {
        conn,
        peer,
        timeout: p.step_timeout,
        extras,
        fresh,
        redactor: p.redactor.clone(),
        cut,
        ahead: None,
        encrypted,
    })
}

impl SmtpError {
    /// The same error with the password taken out of what the server said, and the server's
    /// text made safe to show.
    fn redacted(self, r: &Redactor) -> SmtpError {
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
    let s = crate::core::display_safe(s);
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// An envelope address as it goes on the wire: the domain in its ASCII (punycode) form, so an
/// IDN domain needs nothing of the server; `None` when the domain is not a valid IDN.
fn wire_address(a: &Address) -> Option<Address> {
    if a.domain().is_ascii() {
        return Some(a.clone());
    }
    let domain = idna::domain_to_ascii(a.domain()).ok()?;
    Address::new(a.user(), domain).ok()
}

/// Each recipient once (the same address twice gets one RCPT TO), as (the address as given, its
/// wire form).
fn wire_pairs(rcpts: &[Address]) -> Result<Vec<(Address, Address)>, String> {
    let mut out = Vec::with_capacity(rcpts.len());
    let mut seen = std::collections::HashSet::with_capacity(rcpts.len());
    for r in rcpts {
        let w = wire_address(r).ok_or_else(|| format!("{r}: the domain is not a valid international domain name"))?;
        // Domains compare without case; local parts are the receiving server's business.
        if seen.insert((w.user().to_owned(), w.domain().to_ascii_lowercase())) {
            out.push((r.clone(), w));
        }
    }
    Ok(out)
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
    /// Sends one message: MAIL FROM, RCPT TO for each envelope recipient (once each), DATA, the
    /// bytes. A server that takes only so many recipients per transaction (`452 4.5.3`) gets the
    /// rest in further transactions; `delivered` hears each transaction's recipients as soon as
    /// the server has accepted the data for them, so a failure later never sends to them twice.
    /// After a refusal the transaction is reset (RSET), so the session can carry the next message.
    /// Where the server offers PIPELINING, the message `carry.next()` names goes behind this
    /// one's final dot; the next `send` must be for it.
    pub async fn send<'m>(&mut self, message: Message<'_>, carry: &mut dyn Carry<'m>) -> Result<(), SmtpError> {
        let result = self.transactions(message, carry).await;
        if let Err(e) = &result
            && matches!(
                e,
                SmtpError::Rejected { stage: Stage::MailFrom | Stage::RcptTo(_) | Stage::RcptAll | Stage::Data, .. }
            )
            && !self.conn.has_broken()
        {
            let _ = tokio::time::timeout(self.timeout, self.conn.command(Rset)).await;
        }
        result.map_err(|e| e.redacted(&self.redactor))
    }

    /// MAIL FROM's parameters, or why this server cannot carry the message at all (decided
    /// here, before anything is sent: the server refused nothing).
    fn mail_parameters(
        &self,
        from: Option<&Address>,
        rcpts: &[Address],
        raw: &[u8],
    ) -> Result<Vec<MailParameter>, SmtpError> {
        let mut params = Vec::new();
        if let Some(limit) = self.extras.size {
            if limit > 0 && raw.len() > limit {
                return Err(SmtpError::TooLarge { size: raw.len(), limit });
            }
            params.push(MailParameter::Size(raw.len()));
        }
        let info = self.conn.server_info();
        let utf8 = info.supports_feature(Extension::SmtpUtfEight);
        let non_ascii = from.into_iter().chain(rcpts).find(|a| !a.user().is_ascii());
        if let Some(a) = non_ascii
            && !utf8
        {
            return Err(SmtpError::Unsendable {
                detail: format!(
                    "{a}: an address with non-ASCII characters needs SMTPUTF8, which the server does not offer"
                ),
            });
        }
        let needs_utf8 = non_ascii.is_some();
        if !raw.is_ascii() {
            if !(info.supports_feature(Extension::EightBitMime) || needs_utf8) {
                return Err(SmtpError::Unsendable {
                    detail: "8-bit message, but the server does not offer 8BITMIME".into(),
                });
            }
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        if needs_utf8 {
            params.push(MailParameter::SmtpUtfEight);
        }
        Ok(params)
    }

    /// The envelope as it goes on the wire: MAIL FROM's address, each recipient as (given, on
    /// the wire), and MAIL FROM's parameters; or why the message cannot go (nothing sent).
    fn wire(&self, envelope: &Envelope, raw: &[u8]) -> Result<Wire, SmtpError> {
        let unsendable = |detail: String| SmtpError::Unsendable { detail };
        let from = envelope
            .from()
            .map(|f| wire_address(f).ok_or_else(|| unsendable(format!("{f}: not a valid domain"))))
            .transpose()?;
        // (as given, on the wire): `delivered` hears the addresses as given, as the outbox keeps them.
        let rcpts = wire_pairs(envelope.to()).map_err(unsendable)?;
        let wire: Vec<Address> = rcpts.iter().map(|(_, w)| w.clone()).collect();
        let params = self.mail_parameters(from.as_ref(), &wire, raw)?;
        Ok(Wire { from, rcpts, params })
    }

    async fn transactions<'m>(&mut self, message: Message<'_>, carry: &mut dyn Carry<'m>) -> Result<(), SmtpError> {
        let Message { token, envelope, raw } = message;
        // This message's group went behind the last one's dot: its replies are next on the wire.
        let mut sent_ahead = match self.ahead.take() {
            Some(a) if a.token == token && a.envelope == *envelope => true,
            Some(_) => {
                self.cut_now().await;
                return Err(SmtpError::Broken {
                    stage: Stage::MailFrom,
                    detail: "the commands sent ahead were for another message".into(),
                });
            }
            None => false,
        };
        let Wire { from, rcpts: mut left, params } = self.wire(envelope, raw)?;
        let t = self.timeout;
        while !left.is_empty() {
            if self.extras.pipelining {
                left = self.pipelined(from.as_ref(), &params, &left, raw, carry, sent_ahead).await?;
                sent_ahead = false;
                continue;
            }
            timed(t, Stage::MailFrom, self.conn.command(Mail::new(from.clone(), params.clone()))).await?;
            let mut replies: Vec<Option<Result<(), SmtpError>>> = left.iter().map(|_| None).collect();
            let mut accepted_any = false;
            for (i, (_, rcpt)) in left.iter().enumerate() {
                let reply =
                    timed(t, Stage::RcptTo(rcpt.to_string()), self.conn.command(Rcpt::new(rcpt.clone(), vec![])))
                        .await
                        .map(drop);
                // A connection that broke or went silent: nothing more to decide.
                if let Err(e) = reply {
                    if !matches!(e, SmtpError::Rejected { .. }) {
                        return Err(e);
                    }
                    replies[i] = Some(Err(e));
                } else {
                    replies[i] = Some(Ok(()));
                }
                let settled = replies[i].as_ref().is_some_and(|r| settles(r, accepted_any));
                accepted_any |= replies[i].as_ref().is_some_and(|r| r.is_ok());
                if settled {
                    break;
                }
            }
            let Taken { accepted, rest } = decide(&left, Ok(()), replies)?;
            timed(t, Stage::Data, self.conn.command(Data)).await?;
            self.body(raw, None).await?;
            carry.delivered(&accepted);
            left = rest;
        }
        Ok(())
    }

    /// The message's bytes after `354`, and the server's verdict. With `carry` (the last
    /// transaction of a message, on a server that offers PIPELINING), the next message's group
    /// goes behind the final dot, in the same write.
    async fn body<'m>(&mut self, raw: &[u8], carry: Option<&mut dyn Carry<'m>>) -> Result<(), SmtpError> {
        // The server may take a while to accept a large message: allow for it.
        let generous = self.timeout * 4 + Duration::from_secs(raw.len() as u64 / (64 * 1024));
        // The end is written as CRLF, dot, CRLF (lettre's `message` too), and that first CRLF
        // ends the message's last line (RFC 5321 4.1.1.4): a message whose last line already has
        // its CRLF goes without it, or the recipient would find an empty line the program never
        // wrote.
        let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
        // lettre writes commands as text: only a message that is text goes in one write with
        // the next group (popsend's own are; a program's handed to the submission server may not be).
        if let Some(carry) = carry
            && raw.len() <= AHEAD_MAX_BYTES
            && let Ok(text) = std::str::from_utf8(raw)
            && let Some(next) = carry.next()
            && let Ok(wire) = self.wire(next.envelope, next.raw)
        {
            let mut out = String::with_capacity(text.len() + text.len() / 64 + 256);
            // Transparency (RFC 5321 4.5.2) exactly as lettre's own `message`: a dot that begins a
            // line is doubled; the end is CRLF, dot, CRLF.
            if text.starts_with('.') {
                out.push('.');
            }
            out += &text.replace("\r\n.", "\r\n..");
            out += "\r\n.\r\n";
            out += &group(wire.from.as_ref(), &wire.params, &wire.rcpts);
            self.ahead = Some(Ahead { envelope: next.envelope.clone(), token: next.token });
            return timed(generous, Stage::Message, self.conn.command(Group(out))).await.map(drop);
        }
        timed(generous, Stage::Message, self.conn.message(raw)).await.map(drop)
    }

    /// One transaction as a group (RFC 2920): MAIL FROM, every RCPT TO and DATA in one write,
    /// then the replies in order. The same decisions as one command at a time: a recipient
    /// refused for good fails the whole message (nothing is sent to anyone), a `452 4.5.3` leaves
    /// the rest for a further transaction, every recipient refused on policy grounds is a relay
    /// refusal. When the server said `354` to a message that must not go, the connection is cut
    /// before the final dot, so the server discards it. `sent_ahead`: the group went behind the
    /// last message's dot, only its replies are read. Returns the recipients left over.
    async fn pipelined<'m>(
        &mut self,
        from: Option<&Address>,
        params: &[MailParameter],
        left: &[(Address, Address)],
        raw: &[u8],
        carry: &mut dyn Carry<'m>,
        sent_ahead: bool,
    ) -> Result<Vec<(Address, Address)>, SmtpError> {
        let t = self.timeout;
        let mail = if sent_ahead {
            timed(t, Stage::MailFrom, self.conn.read_response()).await
        } else {
            // lettre writes what `command` is given in one go and reads the first reply (MAIL's).
            timed(t, Stage::MailFrom, self.conn.command(Group(group(from, params, left)))).await
        };
        let mut replies = Vec::with_capacity(left.len());
        for (_, rcpt) in left {
            replies.push(timed(t, Stage::RcptTo(rcpt.to_string()), self.conn.read_response()).await);
        }
        let data = timed(t, Stage::Data, self.conn.read_response()).await;
        // A connection that broke or went silent: nothing more can be read in step.
        let lost = std::iter::once(mail.as_ref().err())
            .chain(replies.iter().map(|r| r.as_ref().err()))
            .chain([data.as_ref().err()])
            .flatten()
            .find(|e| !matches!(e, SmtpError::Rejected { .. }));
        if let Some(e) = lost {
            let e = match e {
                SmtpError::Timeout { stage } => SmtpError::Timeout { stage: stage.clone() },
                SmtpError::Broken { stage, detail } => {
                    SmtpError::Broken { stage: stage.clone(), detail: detail.clone() }
                }
                other => SmtpError::Broken { stage: Stage::MailFrom, detail: other.to_string() },
            };
            self.cut_now().await;
            return Err(e);
        }
        // The same verdict as one command at a time: `decide`.
        let verdict = decide(left, mail.map(drop), replies.into_iter().map(|r| Some(r.map(drop))).collect());
        match (verdict, data) {
            (Ok(Taken { accepted, rest }), Ok(_)) => {
                // The next message may follow behind the dot once this one is whole.
                let last = rest.is_empty();
                self.body(raw, if last { Some(&mut *carry) } else { None }).await?;
                carry.delivered(&accepted);
                Ok(rest)
            }
            (Ok(_), Err(e)) => Err(e),
            (Err(e), Ok(_)) => {
                // `354` for a message that must not go: leave before the dot.
                self.cut_now().await;
                Err(e)
            }
            (Err(e), Err(_)) => Err(e),
        }
    }

    /// Ends the connection at once: no QUIT, nothing more read; a message in its DATA phase is
    /// discarded by the server. The session is broken from here on.
    async fn cut_now(&mut self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        self.conn.abort().await;
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
        result.map(drop).map_err(|e| e.redacted(&self.redactor))
    }

    pub fn is_broken(&self) -> bool {
        self.conn.has_broken()
    }

    pub async fn quit(mut self) {
        // A group sent ahead may have opened a DATA phase: QUIT would be taken as the message's
        // text. Leaving before a dot discards it.
        if self.ahead.is_some() {
            self.cut_now().await;
            return;
        }
        let _ = tokio::time::timeout(self.timeout, self.conn.quit()).await;
    }

    /// QUIT, with its reply not awaited: nothing waits on the way out after the last `250`.
    pub fn quit_soon(self) {
        tokio::spawn(self.quit());
    }
}

/// What a transaction's replies allow: the recipients the server took, and those left for a
/// further transaction (too many for this one, or not asked yet).
#[derive(Debug, PartialEq)]
struct Taken {
    accepted: Vec<Address>,
    rest: Vec<(Address, Address)>,
}

/// Whether a recipient's reply settles the transaction, so one command at a time sends no
/// further RCPT TO: too many recipients (the rest go in a further transaction, or, with none
/// taken, the message waits), or a refusal for good. A policy refusal (5.7.x) does not, while no
/// recipient was taken: the others decide whether it is a relay refusal.
fn settles(reply: &Result<(), SmtpError>, accepted_any: bool) -> bool {
    match reply {
        Ok(()) => false,
        Err(SmtpError::Rejected { code, reply, .. }) if is_too_many_recipients(*code, reply) => true,
        Err(SmtpError::Rejected { code, reply, .. }) if is_policy_refusal(*code, reply) => accepted_any,
        Err(_) => true,
    }
}

/// The one verdict on a transaction, however its replies were collected: one command at a time
/// (stopping where a reply `settles` it; the recipients after it are `None`, not asked) or as a
/// PIPELINING group (every reply read). `rcpts[i]` answers `left[i]`. In order: MAIL refused; a
/// recipient refused for good (nothing is sent to anyone); every recipient refused on policy
/// grounds (a relay refusal, `Stage::RcptAll`) or some (that refusal); too many recipients for
/// even one (the server's own 452); otherwise the recipients taken, and the rest left over.
fn decide(
    left: &[(Address, Address)],
    mail: Result<(), SmtpError>,
    rcpts: Vec<Option<Result<(), SmtpError>>>,
) -> Result<Taken, SmtpError> {
    mail?;
    let (mut accepted, mut rest) = (Vec::new(), Vec::new());
    let (mut refusal, mut policy, mut too_many) = (None, None, None);
    for (pair, reply) in left.iter().zip(rcpts) {
        match reply {
            None => rest.push(pair.clone()),
            Some(Ok(())) => accepted.push(pair.0.clone()),
            Some(Err(e)) if matches!(&e, SmtpError::Rejected { code, reply, .. } if is_too_many_recipients(*code, reply)) =>
            {
                rest.push(pair.clone());
                too_many.get_or_insert(e);
            }
            Some(Err(e)) if matches!(&e, SmtpError::Rejected { code, reply, .. } if is_policy_refusal(*code, reply)) => {
                policy.get_or_insert(e);
            }
            Some(Err(e)) => {
                refusal.get_or_insert(e);
            }
        }
    }
    if let Some(e) = refusal {
        return Err(e);
    }
    match policy {
        Some(SmtpError::Rejected { code, reply, .. }) if accepted.is_empty() => {
            return Err(SmtpError::Rejected { stage: Stage::RcptAll, code, reply });
        }
        Some(e) => return Err(e),
        None => {}
    }
    match too_many {
        Some(e) if accepted.is_empty() => Err(e),
        _ => Ok(Taken { accepted, rest }),
    }
}

/// MAIL FROM, RCPT TO for each recipient and DATA, as one PIPELINING group.
fn group(from: Option<&Address>, params: &[MailParameter], rcpts: &[(Address, Address)]) -> String {
    let mut group = Mail::new(from.cloned(), params.to_vec()).to_string();
    for (_, rcpt) in rcpts {
        group += &Rcpt::new(rcpt.clone(), vec![]).to_string();
    }
    group + &Data.to_string()
}

/// A message's envelope as it goes on the wire (`Session::wire`).
struct Wire {
    from: Option<Address>,
    rcpts: Vec<(Address, Address)>,
    params: Vec<MailParameter>,
}

/// Commands sent in one write (a PIPELINING group), each already ending in CRLF.
struct Group(String);

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
    inner: async_native_tls::TlsStream<Bounded<TcpStream>>,
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
    use crate::core::Severity;

    /// Issue 26: one verdict for both ways of asking. Each script is a server's replies to the
    /// RCPT TOs; one command at a time stops where a reply settles the transaction (as the send
    /// loop does), a PIPELINING group reads them all. Both must come to the same decision: sent
    /// or not, and when not, the same refusal (code and stage).
    #[test]
    fn one_verdict_for_one_command_at_a_time_and_for_a_group() {
        let addr = |n: usize| Address::new(format!("r{n}"), "example.net").unwrap();
        let reply = |n: usize, code: u16| -> Result<(), SmtpError> {
            let text = match code {
                250 => return Ok(()),
                452 => "452 4.5.3 Too many recipients",
                554 => "554 5.7.1 Relay access denied",
                454 => "454 4.7.1 Relay access denied",
                _ => "550 5.1.1 User unknown",
            };
            Err(SmtpError::Rejected { stage: Stage::RcptTo(addr(n).to_string()), code, reply: text.into() })
        };
        let verdict_of = |r: &Result<Taken, SmtpError>| match r {
            Ok(t) => Ok(t.accepted.len()),
            Err(SmtpError::Rejected { stage, code, .. }) => Err((stage.clone(), *code)),
            Err(e) => panic!("{e}"),
        };
        type Expected = Result<usize, (Stage, u16)>;
        let scripts: &[(&[u16], Expected)] = &[
            (&[250, 250, 250], Ok(3)),
            (&[550, 250], Err((Stage::RcptTo(addr(0).to_string()), 550))),
            (&[250, 550, 250], Err((Stage::RcptTo(addr(1).to_string()), 550))),
            (&[554, 554], Err((Stage::RcptAll, 554))),
            (&[454, 454, 454], Err((Stage::RcptAll, 454))),
            (&[250, 554], Err((Stage::RcptTo(addr(1).to_string()), 554))),
            (&[554, 250], Err((Stage::RcptTo(addr(0).to_string()), 554))),
            (&[452, 452], Err((Stage::RcptTo(addr(0).to_string()), 452))),
        ];
        for (codes, expected) in scripts {
            let left: Vec<(Address, Address)> = (0..codes.len()).map(|i| (addr(i), addr(i))).collect();
            let group = decide(&left, Ok(()), codes.iter().enumerate().map(|(i, c)| Some(reply(i, *c))).collect());
            let mut one_at_a_time: Vec<Option<Result<(), SmtpError>>> = left.iter().map(|_| None).collect();
            let mut accepted_any = false;
            for (i, c) in codes.iter().enumerate() {
                let r = reply(i, *c);
                let settled = settles(&r, accepted_any);
                accepted_any |= r.is_ok();
                one_at_a_time[i] = Some(r);
                if settled {
                    break;
                }
            }
            let single = decide(&left, Ok(()), one_at_a_time);
            assert_eq!(verdict_of(&group), *expected, "group, {codes:?}");
            assert_eq!(verdict_of(&single), *expected, "one at a time, {codes:?}");
        }
        // Too many after one was taken: the taken one goes now, the rest in a further
        // transaction; one at a time has not asked for the third, a group has its answer.
        let left: Vec<(Address, Address)> = (0..3).map(|i| (addr(i), addr(i))).collect();
        let single = decide(&left, Ok(()), vec![Some(reply(0, 250)), Some(reply(1, 452)), None]).unwrap();
        assert_eq!(single, Taken { accepted: vec![addr(0)], rest: vec![left[1].clone(), left[2].clone()] });
        let group = decide(&left, Ok(()), vec![Some(reply(0, 250)), Some(reply(1, 452)), Some(reply(2, 452))]).unwrap();
        assert_eq!(group, Taken { accepted: vec![addr(0)], rest: vec![left[1].clone(), left[2].clone()] });
        // MAIL FROM refused: that refusal, whatever the recipients said.
        let mail = Err(SmtpError::Rejected { stage: Stage::MailFrom, code: 553, reply: "553 no".into() });
        assert_eq!(verdict_of(&decide(&left, mail, vec![None, None, None])), Err((Stage::MailFrom, 553)));
    }

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
            (550, "550 5.7.0 Relaying not permitted"),
            (553, "553 5.7.1 <a@example.net>: Client host rejected: Access denied"),
            (550, "550 5.7.1 you must get POP/APOP authorization"),
            (554, "554 Relay operation rejected"),
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
        assert_eq!(crate::core::problem::classify::classify(&relay).severity(), Severity::Temporary);
        let unknown = SmtpError::Rejected {
            stage: Stage::RcptTo("a@example.net".into()),
            code: 550,
            reply: "550 5.1.1 User unknown".into(),
        };
        assert!(!unknown.is_relay_denied());
        assert_eq!(crate::core::problem::classify::classify(&unknown).severity(), Severity::Permanent);
        let busy = SmtpError::Rejected { stage: Stage::MailFrom, code: 421, reply: "421 busy".into() };
        assert_eq!(crate::core::problem::classify::classify(&busy).severity(), Severity::Temporary);
        let auth = SmtpError::Rejected { stage: Stage::Auth, code: 535, reply: "535 5.7.8 bad".into() };
        assert_eq!(crate::core::problem::classify::classify(&auth).severity(), Severity::NeedsUser);
    }

    #[test]
    fn policy_and_too_many() {
        assert!(is_policy_refusal(550, "550 5.7.1 Policy rejection"));
        assert!(!is_policy_refusal(550, "550 5.1.1 User unknown"));
        assert!(!is_policy_refusal(550, "550 text mentioning 5.7.1 later"));
        assert!(is_too_many_recipients(452, "452 4.5.3 Error: too many recipients"));
        assert!(is_too_many_recipients(452, "452 Too many recipients"));
        assert!(!is_too_many_recipients(452, "452 4.2.2 Mailbox full"));
        assert!(!is_too_many_recipients(552, "552 5.5.3 too many recipients"));
    }

    /// Issue 9, cases 13 and 16: an envelope from an older outbox row may list an address twice
    /// or hold an IDN domain: one RCPT each, in punycode.
    #[test]
    fn wire_recipients_once_each_in_ascii() {
        let a = |s: &str| s.parse::<Address>().unwrap();
        let wire =
            wire_pairs(&[a("x@example.net"), a("x@EXAMPLE.net"), a("y@例え.jp"), a("y@xn--r8jz45g.jp")]).unwrap();
        let shown: Vec<String> = wire.iter().map(|(_, w)| w.to_string()).collect();
        assert_eq!(shown, vec!["x@example.net", "y@xn--r8jz45g.jp"]);
    }
}
