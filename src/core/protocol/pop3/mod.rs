//! Our own POP3 client, just what POP before SMTP needs: connect (implicit TLS, STLS or
//! cleartext), read the greeting, CAPA, log in with the strongest allowed method, QUIT. Every step
//! has a timeout; replies are read as capped byte lines. It never retrieves mail, never logs, and
//! never puts the password into an error: every error leaving `login` has the password (and its
//! base64 forms) taken out of what the server said, and control characters made harmless.

pub mod auth;
pub mod reply;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncWriteExt, BufReader};

use crate::protocol::net::{self, BoxStream, NetError, TrustAnchors};
use crate::setup::account::{PopAuth, Security};
use crate::system::clock::Clock;
use crate::system::secrets::Redactor;

pub use auth::{Method, NoMethod};
pub use reply::{Capabilities, RespCode};

/// Everything needed to log in once.
pub struct LoginParams<'a> {
    /// The host name: for TLS verification and messages (addresses are resolved by the caller).
    pub host: &'a str,
    pub addrs: &'a [SocketAddr],
    pub security: Security,
    pub username: &'a str,
    pub password: &'a str,
    pub auth: PopAuth,
    pub allow_plaintext_password: bool,
    pub trust: &'a TrustAnchors,
    /// The limit for each step (connect, TLS, each command).
    pub step_timeout: Duration,
    /// What worked with this server last time: the method is tried first; with the server's
    /// capabilities known too, CAPA is not asked and the method is sent at once (the server's
    /// answer decides whether to ask after all).
    pub remembered: Option<Remembered>,
}

/// What a login remembers about a server for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub method: Method,
    pub caps: Option<Capabilities>,
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct Login {
    /// When the `+OK` of the login arrived: the relay window starts here.
    pub at: SystemTime,
    pub peer: SocketAddr,
    pub method: Method,
    /// A method tried first and refused as a method (APOP without an APOP secret, …).
    pub refused_first: Option<Method>,
    /// What the server offered.
    pub offered: Vec<Method>,
    pub encrypted: bool,
    /// The server's `LOGIN-DELAY`, if it announced one.
    pub login_delay: Option<u64>,
    /// The server's capabilities, when this login asked for them (CAPA); `None` when it went by
    /// what was remembered.
    pub capabilities: Option<Capabilities>,
}

/// The protocol step a failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Connect,
    Greeting,
    Capa,
    Stls,
    Auth,
    Quit,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Greeting => "greeting",
            Step::Capa => "CAPA",
            Step::Stls => "STLS",
            Step::Auth => "login",
            Step::Quit => "QUIT",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Pop3Error {
    #[error(transparent)]
    Net(NetError),
    #[error("POP3 {}: no answer in time", .step.name())]
    Timeout { step: Step },
    #[error("POP3 {}: the server closed the connection", .step.name())]
    Closed { step: Step },
    /// The server sent something that is not POP3 (`detail` is what it sent).
    #[error("POP3 {}: not a POP3 reply: {detail}", .step.name())]
    Protocol { step: Step, detail: String },
    /// The server sent a line longer than `reply::MAX_LINE` (or too many lines).
    #[error("POP3 {}: the server sent a line longer than {} bytes", .step.name(), reply::MAX_LINE)]
    TooLong { step: Step },
    /// The user name or password holds a character that cannot go into a POP3 command line
    /// (CR, LF, NUL): sending it would inject a second command.
    #[error("POP3: the {what} contains a line break or NUL and cannot be sent")]
    BadCredentialText { what: &'static str },
    /// `-ERR` where `+OK` was needed.
    #[error("POP3 {}: the server said: {reply}", .step.name())]
    Rejected { step: Step, code: Option<RespCode>, reply: String },
    /// `starttls` was chosen but the server does not offer STLS.
    #[error("POP3: the server does not offer STLS")]
    StlsNotOffered,
    /// The server refused the login method itself (`-ERR Not implemented` to AUTH, USER refused
    /// on a cleartext connection, …): a setup problem, not a wrong password.
    #[error("POP3: the server refused the login method {} ({reply}); it offers: {}", .method.name(), auth::names(.offered))]
    MethodRefused { method: Method, reply: String, offered: Vec<Method> },
    /// APOP was refused, and USER/PASS may not be used on this connection (it is not encrypted
    /// and `allow_plaintext_password` is off). Many servers keep APOP secrets apart from the
    /// login password, so this is not taken for a wrong password.
    #[error(
        "POP3: the server refused APOP ({reply}); USER/PASS would send the password unencrypted, which the settings do not allow \
         (the server offers: {}; use security = \"tls\" or \"starttls\", or set allow_plaintext_password = true)",
        auth::names(.offered)
    )]
    ApopRefused { reply: String, offered: Vec<Method> },
    #[error("{}", no_method(.0))]
    NoMethod(NoMethod),
}

fn no_method(n: &NoMethod) -> String {
    match n {
        NoMethod::CleartextRefused => "POP3: the connection is not encrypted and the server offers no APOP; \
             use security = \"tls\" or \"starttls\", or set allow_plaintext_password = true"
            .into(),
        NoMethod::NoApopTimestamp => "POP3: APOP asked for, but the server does not offer it".into(),
        NoMethod::BadApopTimestamp => "POP3: the server's APOP timestamp is not ASCII; refusing APOP".into(),
        NoMethod::NotOffered { wanted, offered } => format!(
            "POP3: the settings ask for {}, which the server does not offer (it offers: {}); nothing was sent",
            wanted.name(),
            auth::names(offered)
        ),
    }
}

impl Pop3Error {
    /// True when the server said the user name or password is wrong.
    pub fn is_bad_credentials(&self) -> bool {
        matches!(self, Pop3Error::Rejected { step: Step::Auth, code: None | Some(RespCode::Auth), .. })
    }

    /// The server's own words, when it said something.
    pub fn server_reply(&self) -> Option<&str> {
        match self {
            Pop3Error::Rejected { reply, .. }
            | Pop3Error::MethodRefused { reply, .. }
            | Pop3Error::ApopRefused { reply, .. } => Some(reply),
            Pop3Error::Protocol { detail, .. } => Some(detail),
            _ => None,
        }
    }
}

/// One POP3 connection in the AUTHORIZATION state.
struct Conn {
    io: BufReader<BoxStream>,
    timeout: Duration,
}

impl Conn {
    async fn read_status(&mut self, step: Step) -> Result<reply::Reply, Pop3Error> {
        let line = self.read_line(step).await?;
        reply::parse_status(&line)
            .map_err(|reply::ParseError::NotAStatus(raw)| Pop3Error::Protocol { step, detail: raw })
    }

    async fn read_line(&mut self, step: Step) -> Result<Vec<u8>, Pop3Error> {
        match tokio::time::timeout(self.timeout, reply::read_line(&mut self.io)).await {
            Err(_) => Err(Pop3Error::Timeout { step }),
            Ok(Ok(line)) => Ok(line),
            Ok(Err(e)) => Err(read_error(step, e)),
        }
    }

    async fn read_body(&mut self, step: Step) -> Result<Vec<Vec<u8>>, Pop3Error> {
        match tokio::time::timeout(self.timeout, reply::read_multiline(&mut self.io)).await {
            Err(_) => Err(Pop3Error::Timeout { step }),
            Ok(Ok(lines)) => Ok(lines),
            Ok(Err(e)) => Err(read_error(step, e)),
        }
    }

    /// Sends one command line. `line` may hold a secret: it is never logged or put in an error.
    async fn send(&mut self, step: Step, line: &str) -> Result<(), Pop3Error> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let write = async {
            self.io.get_mut().write_all(&bytes).await?;
            self.io.get_mut().flush().await
        };
        match tokio::time::timeout(self.timeout, write).await {
            Err(_) => Err(Pop3Error::Timeout { step }),
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Pop3Error::Closed { step }),
        }
    }

    /// Sends a command and requires `+OK`.
    async fn command(&mut self, step: Step, line: &str) -> Result<reply::Reply, Pop3Error> {
        self.send(step, line).await?;
        let r = self.read_status(step).await?;
        if r.ok { Ok(r) } else { Err(rejected(step, r)) }
    }

    async fn capa(&mut self) -> Result<Option<Capabilities>, Pop3Error> {
        self.send(Step::Capa, "CAPA").await?;
        let r = self.read_status(Step::Capa).await?;
        if !r.ok {
            return Ok(None); // A server without CAPA (RFC 1939 only) is fine.
        }
        Ok(Some(Capabilities::parse(&self.read_body(Step::Capa).await?)))
    }
}

/// Server text goes into errors as it came; `login` redacts and bounds it on the way out.
fn rejected(step: Step, r: reply::Reply) -> Pop3Error {
    Pop3Error::Rejected { step, code: r.code, reply: r.raw }
}

fn read_error(step: Step, e: reply::ReadError) -> Pop3Error {
    match e {
        reply::ReadError::Eof | reply::ReadError::Io(_) => Pop3Error::Closed { step },
        reply::ReadError::TooLong => Pop3Error::TooLong { step },
    }
}

impl Pop3Error {
    /// The same error with every form of the password taken out of what the server said.
    fn redacted(self, r: &Redactor) -> Pop3Error {
        match self {
            Pop3Error::Protocol { step, detail } => Pop3Error::Protocol { step, detail: truncate(&r.apply(&detail)) },
            Pop3Error::Rejected { step, code, reply } => {
                Pop3Error::Rejected { step, code, reply: truncate(&r.apply(&reply)) }
            }
            Pop3Error::MethodRefused { method, reply, offered } => {
                Pop3Error::MethodRefused { method, reply: truncate(&r.apply(&reply)), offered }
            }
            Pop3Error::ApopRefused { reply, offered } => {
                Pop3Error::ApopRefused { reply: truncate(&r.apply(&reply)), offered }
            }
            e => e,
        }
    }
}

/// Server text shown to the user: bounded, and with no control characters.
fn truncate(s: &str) -> String {
    const MAX: usize = 300;
    let s = &crate::display_safe(s);
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Logs in once and quits. The returned `Login::at` is when the login's `+OK` arrived.
pub async fn login(p: &LoginParams<'_>, clock: &dyn Clock) -> Result<Login, Pop3Error> {
    for (what, text) in [("user name", p.username), ("password", p.password)] {
        if text.contains(['\r', '\n', '\0']) {
            return Err(Pop3Error::BadCredentialText { what });
        }
    }
    let redactor = Redactor::new(p.username, p.password);
    login_once(p, clock).await.map_err(|e| e.redacted(&redactor))
}

/// One connection in the AUTHORIZATION state, ready for a login command.
struct Session {
    conn: Conn,
    peer: SocketAddr,
    greeting: reply::Reply,
    caps: Option<Capabilities>,
    encrypted: bool,
    /// Whether `caps` came from CAPA on this connection (not from what was remembered).
    asked: bool,
}

/// Connects, does TLS as configured, reads the greeting and CAPA (again after STLS) — unless
/// the capabilities are `known`, when neither CAPA is asked.
async fn open_session(p: &LoginParams<'_>, known: Option<&Capabilities>) -> Result<Session, Pop3Error> {
    let (tcp, peer) = net::connect(p.addrs, p.step_timeout).await.map_err(Pop3Error::Net)?;
    let stream: BoxStream = match p.security {
        Security::Tls => net::start_tls(p.trust, p.host, tcp, p.step_timeout).await.map_err(Pop3Error::Net)?,
        _ => Box::new(tcp),
    };
    let mut conn = Conn { io: BufReader::new(stream), timeout: p.step_timeout };

    let greeting = conn.read_status(Step::Greeting).await?;
    if !greeting.ok {
        return Err(rejected(Step::Greeting, greeting));
    }
    let mut caps = match known {
        Some(k) => Some(k.clone()),
        None => conn.capa().await?,
    };
    let mut encrypted = p.security == Security::Tls;

    if p.security == Security::Starttls {
        // RFC 2595: never go on in cleartext when STLS was asked for. With the capabilities
        // known (they are those inside TLS, where STLS is not listed), STLS is sent at once and
        // a refusal means the same.
        if known.is_none() && !caps.as_ref().is_some_and(|c| c.stls) {
            return Err(Pop3Error::StlsNotOffered);
        }
        match conn.command(Step::Stls, "STLS").await {
            Err(Pop3Error::Rejected { .. }) if known.is_some() => return Err(Pop3Error::StlsNotOffered),
            r => r?,
        };
        // Anything the server sent before the handshake would be injected plaintext: drop it.
        let plain = conn.io.into_inner();
        let tls = net::start_tls(p.trust, p.host, plain, p.step_timeout).await.map_err(Pop3Error::Net)?;
        conn = Conn { io: BufReader::new(tls), timeout: p.step_timeout };
        encrypted = true;
        if known.is_none() {
            caps = conn.capa().await?;
        }
    }
    Ok(Session { conn, peer, greeting, caps, encrypted, asked: known.is_none() })
}

impl Session {
    fn situation(&self, p: &LoginParams<'_>) -> auth::Situation<'_> {
        auth::Situation {
            encrypted: self.encrypted,
            apop_timestamp: reply::apop_timestamp(&self.greeting.text),
            capabilities: self.caps.as_ref(),
            allow_plaintext_password: p.allow_plaintext_password,
        }
    }
}

/// Words servers use when they refuse a login method (not a password): Courier, Cyrus,
/// Mailutils, qpopper and Dovecot ("Plaintext authentication disallowed").
fn refuses_the_method(reply: &str) -> bool {
    let t = reply.to_ascii_lowercase();
    [
        "not implemented",
        "unknown command",
        "unrecognized",
        "unrecognised",
        "not supported",
        "unsupported",
        "invalid command",
        "disallowed",
        "not allowed",
        "not enabled",
        "command not",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// One login attempt with `method` on `s`. A refusal of the method itself becomes
/// `MethodRefused`; a refusal of the password stays `Rejected` (wrong password, or a response
/// code such as `[IN-USE]`).
async fn attempt(s: &mut Session, method: Method, p: &LoginParams<'_>, offered: &[Method]) -> Result<(), Pop3Error> {
    // USER and PASS in one write where the server takes command groups.
    let pipelining = s.caps.as_ref().is_some_and(|c| c.pipelining);
    let method_refused = |r: reply::Reply| Pop3Error::MethodRefused { method, reply: r.raw, offered: offered.to_vec() };
    // The answer to AUTH or APOP: logged in, the method refused, or the password refused.
    let verdict = |r: reply::Reply| match r {
        r if r.ok => Ok(()),
        r if r.code.is_none() && refuses_the_method(&r.text) => Err(method_refused(r)),
        r => Err(rejected(Step::Auth, r)),
    };
    let conn = &mut s.conn;
    match method {
        Method::SaslPlain => {
            let line = format!("AUTH PLAIN {}", auth::sasl_plain(p.username, p.password));
            conn.send(Step::Auth, &line).await?;
            let mut r = conn.read_status_or_continuation().await?;
            if r.is_none() {
                // The server ignored the initial response and asks for it ("+ ").
                conn.send(Step::Auth, &auth::sasl_plain(p.username, p.password)).await?;
                r = Some(conn.read_status(Step::Auth).await?);
            }
            let Some(r) = r else { return Err(Pop3Error::Closed { step: Step::Auth }) };
            verdict(r)
        }
        Method::UserPass => {
            if pipelining {
                conn.send(Step::Auth, &format!("USER {}\r\nPASS {}", p.username, p.password)).await?;
            } else {
                conn.send(Step::Auth, &format!("USER {}", p.username)).await?;
            }
            let r = conn.read_status(Step::Auth).await?;
            if !r.ok {
                // Refused before the password: USER/PASS itself is not welcome here (Dovecot
                // says "[AUTH] Plaintext authentication disallowed…").
                return Err(if refuses_the_method(&r.text) { method_refused(r) } else { rejected(Step::Auth, r) });
            }
            if pipelining {
                let r = conn.read_status(Step::Auth).await?;
                return if r.ok { Ok(()) } else { Err(rejected(Step::Auth, r)) };
            }
            conn.command(Step::Auth, &format!("PASS {}", p.password)).await.map(drop)
        }
        Method::Apop => {
            let Some(ts) = reply::apop_timestamp(&s.greeting.text) else {
                return Err(Pop3Error::NoMethod(NoMethod::NoApopTimestamp));
            };
            let line = format!("APOP {} {}", p.username, auth::apop_digest(ts, p.password));
            conn.send(Step::Auth, &line).await?;
            verdict(conn.read_status(Step::Auth).await?)
        }
    }
}

/// Whether a refused first method lets the plan go on to its second: the method was refused,
/// or APOP was (its secret is often not the login password). Never after a temporary refusal
/// (`[IN-USE]`, `[SYS/TEMP]`, `[LOGIN-DELAY]`): that answer holds for every method.
fn may_fall_back(method: Method, e: &Pop3Error) -> bool {
    match e {
        Pop3Error::MethodRefused { .. } => true,
        Pop3Error::Rejected { step: Step::Auth, code: None | Some(RespCode::Auth), .. } => method == Method::Apop,
        _ => false,
    }
}

async fn login_once(p: &LoginParams<'_>, clock: &dyn Clock) -> Result<Login, Pop3Error> {
    // The fast way, with what the last login learned: no CAPA, the method at once (USER and PASS
    // in one write where the server takes groups): the greeting and one round trip.
    if let Some(Remembered { method, caps: Some(known) }) = &p.remembered {
        let mut session = open_session(p, Some(known)).await?;
        let situation = session.situation(p);
        let offered = situation.offered();
        // A plan that no longer starts with the method (the settings or the greeting changed):
        // the server is asked after all.
        if auth::plan(p.auth, &situation, Some(*method)).is_ok_and(|plan| plan.first() == Some(method)) {
            return match attempt(&mut session, *method, p, &offered).await {
                Ok(()) => Ok(logged_in(session, clock, *method, None, offered).await),
                // The server answers otherwise than last time: ask it (CAPA) and choose again.
                Err(e) if may_fall_back(*method, &e) || matches!(e, Pop3Error::Protocol { .. }) => {
                    planned(p, clock, Some((*method, e))).await
                }
                Err(e) => Err(e),
            };
        }
    }
    planned(p, clock, None).await
}

/// The login as planned from the server's CAPA: the first method, and a second one only after
/// the first was refused as a method. `refused`: a method the fast way just tried, with how it
/// was refused (it then counts as the first).
async fn planned(
    p: &LoginParams<'_>,
    clock: &dyn Clock,
    refused: Option<(Method, Pop3Error)>,
) -> Result<Login, Pop3Error> {
    let mut session = open_session(p, None).await?;
    let situation = session.situation(p);
    let offered = situation.offered();
    let mut plan =
        auth::plan(p.auth, &situation, p.remembered.as_ref().map(|r| r.method)).map_err(Pop3Error::NoMethod)?;
    let mut refused_first = None;
    if let Some((method, e)) = refused {
        plan.retain(|m| *m != method);
        // Two password attempts at the most, as always.
        plan.truncate(1);
        if plan.is_empty() {
            return Err(e);
        }
        refused_first = Some(method);
    }
    for (i, &method) in plan.iter().enumerate() {
        if i > 0 {
            // A fresh connection: some servers close after a refused login, and a new greeting
            // brings a new APOP timestamp.
            session = open_session(p, None).await?;
        }
        match attempt(&mut session, method, p, &offered).await {
            Ok(()) => return Ok(logged_in(session, clock, method, refused_first, offered).await),
            Err(e) if i + 1 < plan.len() && may_fall_back(method, &e) => refused_first = Some(method),
            // APOP refused, and the settings allow nothing else on this connection: say so,
            // rather than "wrong password".
            Err(Pop3Error::Rejected { step: Step::Auth, code: None | Some(RespCode::Auth), reply })
                if method == Method::Apop && p.auth == PopAuth::Auto && plan.len() == 1 && !session.encrypted =>
            {
                return Err(Pop3Error::ApopRefused { reply, offered });
            }
            Err(e) => return Err(e),
        }
    }
    // Every planned method was refused as a method; the loop returned the last one's error.
    Err(Pop3Error::NoMethod(NoMethod::NotOffered { wanted: plan[plan.len() - 1], offered }))
}

/// The login's `+OK` arrived: the window is open now. QUIT is sent at once, but its reply is
/// awaited off the critical path (one round trip less before MAIL FROM); a failed QUIT does not
/// close the window. `fresh` capabilities (asked this time) go back to be remembered.
async fn logged_in(
    session: Session,
    clock: &dyn Clock,
    method: Method,
    refused_first: Option<Method>,
    offered: Vec<Method>,
) -> Login {
    let at = clock.now();
    let Session { mut conn, peer, caps, encrypted, asked, .. } = session;
    if conn.send(Step::Quit, "QUIT").await.is_ok() {
        tokio::spawn(async move {
            let _ = conn.read_status(Step::Quit).await;
        });
    }
    let login_delay = caps.as_ref().and_then(|c| c.login_delay);
    Login {
        at,
        peer,
        method,
        refused_first,
        offered,
        encrypted,
        login_delay,
        capabilities: if asked { caps } else { None },
    }
}

impl Conn {
    /// After `AUTH PLAIN <ir>`: `Some(status)`, or `None` for a "+ " continuation request.
    async fn read_status_or_continuation(&mut self) -> Result<Option<reply::Reply>, Pop3Error> {
        let line = self.read_line(Step::Auth).await?;
        if line == b"+" || line.starts_with(b"+ ") {
            return Ok(None);
        }
        reply::parse_status(&line)
            .map(Some)
            .map_err(|reply::ParseError::NotAStatus(raw)| Pop3Error::Protocol { step: Step::Auth, detail: raw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;
    use crate::system::clock::FixedClock;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A scripted server: for each (expected client line, reply) pair, reads a line, checks it,
    /// and writes the reply. Returns what the client wrote.
    async fn scripted(
        greeting: &'static str,
        script: Vec<(&'static str, &'static str)>,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let h = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            let mut r = tokio::io::BufReader::new(r);
            w.write_all(greeting.as_bytes()).await.unwrap();
            let mut seen = Vec::new();
            for (_expect, answer) in script {
                let mut line = String::new();
                if r.read_line(&mut line).await.unwrap() == 0 {
                    break;
                }
                seen.push(line.trim_end().to_owned());
                w.write_all(answer.as_bytes()).await.unwrap();
            }
            seen
        });
        (addr, h)
    }

    fn params<'a>(addrs: &'a [SocketAddr], trust: &'a TrustAnchors, auth: PopAuth, allow: bool) -> LoginParams<'a> {
        LoginParams {
            host: "localhost",
            addrs,
            security: Security::None,
            username: "tim",
            password: "tanstaaf",
            auth,
            allow_plaintext_password: allow,
            trust,
            step_timeout: Duration::from_secs(2),
            remembered: None,
        }
    }

    /// A server taking `conns.len()` connections in turn, each with its greeting and its answers
    /// in order; it records each line, marked `early` when the next was already on its way
    /// before the answer (a group).
    async fn scripted_conns(
        conns: Vec<(&'static str, Vec<&'static str>)>,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<Vec<String>>>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let h = tokio::spawn(async move {
            let mut all = Vec::new();
            for (greeting, answers) in conns {
                let (s, _) = l.accept().await.unwrap();
                let (r, mut w) = s.into_split();
                let mut r = tokio::io::BufReader::new(r);
                w.write_all(greeting.as_bytes()).await.unwrap();
                let mut seen = Vec::new();
                for answer in answers {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        break;
                    }
                    let early =
                        tokio::time::timeout(Duration::from_millis(30), tokio::io::AsyncBufReadExt::fill_buf(&mut r))
                            .await
                            .is_ok_and(|b| b.is_ok_and(|b| !b.is_empty()));
                    seen.push(format!("{}{}", line.trim_end(), if early { " (early)" } else { "" }));
                    let _ = w.write_all(answer.as_bytes()).await;
                }
                all.push(seen);
            }
            all
        });
        (addr, h)
    }

    /// Issue 14: with the method and the capabilities remembered, no CAPA: USER and PASS go in
    /// one write to a server that offered PIPELINING, and the login says it did not ask.
    #[tokio::test]
    async fn remembered_capabilities_skip_capa_and_group_user_and_pass() {
        let (addr, h) =
            scripted_conns(vec![("+OK ready\r\n", vec!["+OK\r\n", "+OK logged in\r\n", "+OK bye\r\n"])]).await;
        let trust = TrustAnchors::default();
        let addrs = [addr];
        let mut p = params(&addrs, &trust, PopAuth::Auto, true);
        let caps = Capabilities { user: true, pipelining: true, ..Capabilities::default() };
        p.remembered = Some(Remembered { method: Method::UserPass, caps: Some(caps) });
        let done = login(&p, &FixedClock(SystemTime::UNIX_EPOCH)).await.unwrap();
        assert_eq!((done.method, done.capabilities), (Method::UserPass, None));
        assert_eq!(h.await.unwrap(), vec![vec!["USER tim (early)", "PASS tanstaaf", "QUIT"]]);
    }

    /// Issue 14: the server's capabilities changed since they were remembered (SASL PLAIN gone):
    /// its refusal of the method sends popsend back to CAPA on a new connection, and the method
    /// it offers now is used (one password attempt more, never a loop) and remembered.
    #[tokio::test]
    async fn changed_capabilities_fall_back_to_capa() {
        let (addr, h) = scripted_conns(vec![
            ("+OK ready\r\n", vec!["-ERR Unknown command\r\n"]),
            ("+OK ready\r\n", vec!["+OK\r\nUSER\r\n.\r\n", "+OK\r\n", "+OK logged in\r\n", "+OK bye\r\n"]),
        ])
        .await;
        let trust = TrustAnchors::default();
        let addrs = [addr];
        let mut p = params(&addrs, &trust, PopAuth::Auto, true);
        let caps = Capabilities { user: true, sasl_plain: true, ..Capabilities::default() };
        p.remembered = Some(Remembered { method: Method::SaslPlain, caps: Some(caps) });
        let done = login(&p, &FixedClock(SystemTime::UNIX_EPOCH)).await.unwrap();
        assert_eq!((done.method, done.refused_first), (Method::UserPass, Some(Method::SaslPlain)));
        assert_eq!(
            done.capabilities,
            Some(Capabilities { user: true, ..Capabilities::default() }),
            "what CAPA said now is remembered"
        );
        let seen = h.await.unwrap();
        assert!(seen[0][0].starts_with("AUTH PLAIN "), "{seen:?}");
        assert_eq!(seen[1], vec!["CAPA", "USER tim", "PASS tanstaaf", "QUIT"]);
        // A wrong password on the fast way is final: no second attempt.
        let (addr, h) =
            scripted_conns(vec![("+OK ready\r\n", vec!["+OK\r\n", "-ERR [AUTH] Authentication failed.\r\n"])]).await;
        let addrs = [addr];
        let mut p = params(&addrs, &trust, PopAuth::Auto, true);
        p.remembered = Some(Remembered {
            method: Method::UserPass,
            caps: Some(Capabilities { user: true, ..Capabilities::default() }),
        });
        assert!(login(&p, &FixedClock(SystemTime::UNIX_EPOCH)).await.unwrap_err().is_bad_credentials());
        assert_eq!(h.await.unwrap(), vec![vec!["USER tim", "PASS tanstaaf"]]);
    }

    #[tokio::test]
    async fn apop_login_writes_exact_bytes() {
        let (addr, h) = scripted(
            "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
            vec![("CAPA", "-ERR no\r\n"), ("APOP", "+OK maildrop has 0 messages\r\n"), ("QUIT", "+OK bye\r\n")],
        )
        .await;
        let trust = TrustAnchors::default();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let login = login(&params(&[addr], &trust, PopAuth::Auto, false), &FixedClock(t)).await.unwrap();
        assert_eq!(login.method, Method::Apop);
        assert_eq!(login.at, t);
        assert!(!login.encrypted);
        let seen = h.await.unwrap();
        assert_eq!(seen, vec!["CAPA", "APOP tim c4c9334bac560ecc979e58001b3e22fb", "QUIT"]);
    }

    #[tokio::test]
    async fn cleartext_without_apop_sends_no_password() {
        let (addr, h) = scripted("+OK ready\r\n", vec![("CAPA", "+OK\r\nUSER\r\n.\r\n")]).await;
        let trust = TrustAnchors::default();
        let e = login(&params(&[addr], &trust, PopAuth::Auto, false), &crate::system::clock::SystemClock)
            .await
            .unwrap_err();
        assert!(matches!(e, Pop3Error::NoMethod(NoMethod::CleartextRefused)), "{e:?}");
        assert_eq!(crate::problem::classify::classify(&e).severity(), Severity::NeedsUser);
        let seen = h.await.unwrap();
        assert_eq!(seen, vec!["CAPA"]);
    }

    #[tokio::test]
    async fn user_pass_when_allowed_and_wrong_password() {
        let (addr, h) = scripted(
            "+OK ready\r\n",
            vec![
                ("CAPA", "+OK\r\nUSER\r\n.\r\n"),
                ("USER", "+OK\r\n"),
                ("PASS", "-ERR [AUTH] Authentication failed.\r\n"),
            ],
        )
        .await;
        let trust = TrustAnchors::default();
        let e =
            login(&params(&[addr], &trust, PopAuth::Auto, true), &crate::system::clock::SystemClock).await.unwrap_err();
        assert!(e.is_bad_credentials(), "{e:?}");
        assert_eq!(e.server_reply(), Some("-ERR [AUTH] Authentication failed."));
        // The password is sent, but never shown.
        assert!(!e.to_string().contains("tanstaaf"));
        assert_eq!(h.await.unwrap(), vec!["CAPA", "USER tim", "PASS tanstaaf"]);
    }

    #[tokio::test]
    async fn sasl_plain_with_continuation() {
        let (addr, h) = scripted(
            "+OK ready\r\n",
            vec![
                ("CAPA", "+OK\r\nSASL PLAIN\r\n.\r\n"),
                ("AUTH", "+ \r\n"),
                ("b64", "+OK welcome\r\n"),
                ("QUIT", "+OK\r\n"),
            ],
        )
        .await;
        let trust = TrustAnchors::default();
        let login =
            login(&params(&[addr], &trust, PopAuth::Plain, true), &crate::system::clock::SystemClock).await.unwrap();
        assert_eq!(login.method, Method::SaslPlain);
        let seen = h.await.unwrap();
        assert_eq!(seen[1], format!("AUTH PLAIN {}", auth::sasl_plain("tim", "tanstaaf")));
        assert_eq!(seen[2], auth::sasl_plain("tim", "tanstaaf"));
    }

    #[tokio::test]
    async fn response_codes_become_kinds() {
        for (answer, temporary) in [
            ("-ERR [IN-USE] locked\r\n", true),
            ("-ERR [SYS/TEMP] later\r\n", true),
            ("-ERR [LOGIN-DELAY] wait\r\n", true),
            ("-ERR [SYS/PERM] closed\r\n", false),
        ] {
            let (addr, _h) =
                scripted("+OK ready\r\n", vec![("CAPA", "-ERR\r\n"), ("USER", "+OK\r\n"), ("PASS", answer)]).await;
            let trust = TrustAnchors::default();
            let e = login(&params(&[addr], &trust, PopAuth::User, true), &crate::system::clock::SystemClock)
                .await
                .unwrap_err();
            assert!(!e.is_bad_credentials(), "{answer}");
            assert_eq!(crate::problem::classify::classify(&e).severity() == Severity::Temporary, temporary, "{answer}");
        }
    }

    #[tokio::test]
    async fn starttls_not_offered_never_continues_in_cleartext() {
        let (addr, h) = scripted("+OK ready\r\n", vec![("CAPA", "+OK\r\nUSER\r\n.\r\n")]).await;
        let trust = TrustAnchors::default();
        let addrs = [addr];
        let mut p = params(&addrs, &trust, PopAuth::Auto, true);
        p.security = Security::Starttls;
        let e = login(&p, &crate::system::clock::SystemClock).await.unwrap_err();
        assert!(matches!(e, Pop3Error::StlsNotOffered), "{e:?}");
        assert_eq!(h.await.unwrap(), vec!["CAPA"]);
    }

    #[tokio::test]
    async fn malformed_greeting_and_stall_and_drop() {
        let trust = TrustAnchors::default();
        let (addr, _h) = scripted("220 smtp.example.com ESMTP\r\n", vec![]).await;
        let e =
            login(&params(&[addr], &trust, PopAuth::User, true), &crate::system::clock::SystemClock).await.unwrap_err();
        assert!(matches!(e, Pop3Error::Protocol { step: Step::Greeting, .. }), "{e:?}");

        // Stall: a server that accepts and says nothing.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let _keep = tokio::spawn(async move {
            let (_s, _) = l.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let addrs = [addr];
        let mut p = params(&addrs, &trust, PopAuth::User, true);
        p.step_timeout = Duration::from_millis(300);
        let e = login(&p, &crate::system::clock::SystemClock).await.unwrap_err();
        assert!(matches!(e, Pop3Error::Timeout { step: Step::Greeting }), "{e:?}");
        assert_eq!(crate::problem::classify::classify(&e).severity(), Severity::Temporary);

        // Drop during login: the server hangs up after USER.
        let (addr, _h) = scripted("+OK ready\r\n", vec![("CAPA", "-ERR\r\n"), ("USER", "+OK\r\n")]).await;
        let e =
            login(&params(&[addr], &trust, PopAuth::User, true), &crate::system::clock::SystemClock).await.unwrap_err();
        assert!(matches!(e, Pop3Error::Closed { step: Step::Auth }), "{e:?}");
        assert!(!e.is_bad_credentials());
    }

    /// Issue 9, case 2: a server that echoes the password gets it back redacted, everywhere.
    #[tokio::test]
    async fn an_echoed_password_is_redacted() {
        let b64 = auth::sasl_plain("tim", "tanstaaf");
        for answer in [
            "-ERR bad command: PASS tanstaaf\r\n".to_owned(),
            "-ERR BAD: PASS TANSTAAF\r\n".to_owned(),
            format!("-ERR {b64}\r\n"),
        ] {
            let answer: &'static str = Box::leak(answer.into_boxed_str());
            let (addr, _h) =
                scripted("+OK ready\r\n", vec![("CAPA", "-ERR\r\n"), ("USER", "+OK\r\n"), ("PASS", answer)]).await;
            let trust = TrustAnchors::default();
            let e = login(&params(&[addr], &trust, PopAuth::User, true), &crate::system::clock::SystemClock)
                .await
                .unwrap_err();
            let all = format!("{e} {e:?} {}", e.server_reply().unwrap_or(""));
            assert!(!all.to_ascii_lowercase().contains("tanstaaf"), "{all}");
            assert!(!all.contains(&b64), "{all}");
            assert!(e.server_reply().unwrap().contains(crate::system::secrets::REDACTED), "{all}");
        }
        // Not a status line at all, echoing the password: the same.
        let (addr, _h) =
            scripted("+OK ready\r\n", vec![("CAPA", "-ERR\r\n"), ("USER", "+OK\r\n"), ("PASS", "huh? tanstaaf\r\n")])
                .await;
        let trust = TrustAnchors::default();
        let e =
            login(&params(&[addr], &trust, PopAuth::User, true), &crate::system::clock::SystemClock).await.unwrap_err();
        assert!(matches!(e, Pop3Error::Protocol { .. }), "{e:?}");
        assert!(!format!("{e}").contains("tanstaaf"), "{e}");
    }

    /// Issue 9, cases 14 and 16: control characters never reach the user, and popsend's own
    /// words are not passed off as the server's reply.
    #[tokio::test]
    async fn hostile_replies_are_made_harmless() {
        let (addr, _h) = scripted(
            "+OK ready\r\n",
            vec![("CAPA", "-ERR\r\n"), ("USER", "+OK\r\n"), ("PASS", "-ERR no\x1b]0;pwned\x07\x1b[2J\r\n")],
        )
        .await;
        let trust = TrustAnchors::default();
        let e =
            login(&params(&[addr], &trust, PopAuth::User, true), &crate::system::clock::SystemClock).await.unwrap_err();
        let reply = e.server_reply().unwrap();
        assert!(!reply.contains('\x1b') && !reply.contains('\x07'), "{reply:?}");
        assert!(!e.to_string().contains('\x1b'));

        let long: &'static str = Box::leak(format!("+OK {}\r\n", "x".repeat(reply::MAX_LINE + 10)).into_boxed_str());
        let (addr, _h) = scripted(long, vec![]).await;
        let e =
            login(&params(&[addr], &trust, PopAuth::User, true), &crate::system::clock::SystemClock).await.unwrap_err();
        assert!(matches!(e, Pop3Error::TooLong { step: Step::Greeting }), "{e:?}");
        assert_eq!(e.server_reply(), None, "popsend's own words shown as the server's");
    }

    #[tokio::test]
    async fn a_line_break_in_the_password_is_never_sent() {
        let (addr, h) = scripted("+OK ready\r\n", vec![("CAPA", "-ERR\r\n")]).await;
        let trust = TrustAnchors::default();
        let addrs = [addr];
        let mut p = params(&addrs, &trust, PopAuth::User, true);
        p.password = "pw\r\nDELE 1";
        let e = login(&p, &crate::system::clock::SystemClock).await.unwrap_err();
        assert!(matches!(e, Pop3Error::BadCredentialText { what: "password" }), "{e:?}");
        drop(h);
    }
}
