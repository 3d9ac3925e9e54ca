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
use std::net::SocketAddr;
use std::time::Duration;

use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

use crate::protocol::net::{self, NetError, TrustAnchors};
use crate::setup::account::Security;
use crate::system::secrets::Redactor;

mod reply;
mod stream;
#[cfg(test)]
mod tests;
mod verdict;

use reply::*;
pub use reply::{SmtpError, Stage, bounded_text, is_policy_refusal, is_relay_refusal, is_too_many_recipients};
use stream::*;
pub use stream::{Bounded, MAX_REPLY_BYTES};
use verdict::*;

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
