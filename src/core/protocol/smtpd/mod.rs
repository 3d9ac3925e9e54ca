//! The local submission server: other mail programs on this computer send through popsend by
//! pointing their outgoing server at it. It speaks ESMTP on loopback only (127.0.0.1 and ::1,
//! whatever the config says), asks for the local user name and password popsend generated (AUTH
//! PLAIN or LOGIN) unless the config turns that off, takes the envelope as the program gives it,
//! and answers `250` only once the message is in the outbox (committed); popsend's engine then
//! sends it like any other. Bounded everywhere: line length (a longer line is read to its end and
//! dropped whole, however the bytes arrive), recipients, message size, connections (two for
//! another user of this computer), the time for a line, for the login and for writing a reply,
//! and wrong logins. Only <CRLF>.<CRLF> ends a message; a bare CR or a lone dot beside a bare LF
//! is refused (SMTP smuggling), while lines that merely end in a bare LF are stored with CRLF, as
//! Postfix does. A web page's request is closed at once. A program that drops mid-message leaves
//! nothing behind. No wording for the user here, no sending.

use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

mod line;
mod login;
mod port;
mod store;

#[doc(hidden)]
pub mod harness;
#[cfg(test)]
mod tests;

use line::*;
pub use login::{LOGIN_FILE, local_login};
use port::*;
pub use port::{Holder, PortTaken, listen};
pub use store::{Fates, header_from, outbox_store, routed_after, routed_store, try_now};

/// The longest command line taken (RFC 5321 allows 512; a little room for long addresses).
const MAX_LINE: usize = 2048;

/// What a connection is allowed.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_message: usize,
    pub max_recipients: usize,
    /// How long a silent client keeps its connection, and the most one line may take to arrive
    /// (so a byte now and then does not hold a connection either).
    pub idle: Duration,
    /// How long a client has from the greeting to its login (AUTH) when one is required.
    pub login_time: Duration,
    /// Where the upstream SMTP server's announced SIZE is remembered (the data folder and its
    /// "host:port"): each connection announces no more than that, less room for the headers
    /// popsend may add, so a program hears "too large" now rather than a bounce later.
    pub upstream: Option<(std::path::PathBuf, String)>,
}

/// How long a client has to log in (a program does it in its first milliseconds).
const LOGIN_TIME: Duration = Duration::from_secs(30);
/// The pause after each wrong local login, and how many a connection may make before it is
/// closed: guessing the password costs seconds a try, not microseconds.
const AUTH_DELAY: Duration = Duration::from_secs(1);
const MAX_AUTH_FAILURES: u32 = 3;
/// The most one reply may take to be written (the client must read what it is sent).
const WRITE_TIME: Duration = Duration::from_secs(30);

/// Room left under the upstream SIZE for what `submission::prepare` may add (Message-ID, Date).
const HEADER_ROOM: usize = 1024;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message: crate::message::submission::MAX_MESSAGE,
            max_recipients: 100,
            idle: Duration::from_secs(300),
            login_time: LOGIN_TIME,
            upstream: None,
        }
    }
}

impl Limits {
    /// The default limits, under what the account's SMTP server announced last time.
    pub fn for_account(data_dir: &std::path::Path, config: &crate::setup::account::Config) -> Limits {
        Limits {
            upstream: Some((data_dir.to_owned(), crate::sending::deliver::smtp_server(config))),
            ..Limits::default()
        }
    }

    /// The largest message taken now: the own limit, or less if the upstream server said so.
    fn max_message_now(&self) -> usize {
        let upstream = self
            .upstream
            .as_ref()
            .and_then(|(dir, server)| crate::sending::knowledge::Store::new(dir).load().size_for(server));
        match upstream {
            // SIZE 0 means "no fixed limit" (RFC 1870).
            Some(n) if n > 0 => self.max_message.min(n.saturating_sub(HEADER_ROOM).max(1)),
            _ => self.max_message,
        }
    }
}

/// Who may send: the local user name and password, or anyone on this computer (`None`, only
/// when the config says so).
/// (Its Debug shows no password: `Password` is redacted.)
#[derive(Clone, Debug)]
pub struct LocalLogin {
    pub user: String,
    pub password: crate::system::secrets::Password,
    /// The password was made anew at this start because the file that kept the old one could be
    /// read by others (`local_login`): the programs that use it need the new one.
    pub renewed: bool,
}

/// Stores a message durably (envelope sender, recipients, the bytes, the client's EHLO name);
/// says where it is, or why it could not be stored.
pub type StoreFn = dyn Fn(Option<&str>, &[String], &[u8], &str) -> Result<Stored, NotStored> + Send + Sync;
pub type Store<'a> = &'a (dyn Fn(Option<&str>, &[String], &[u8], &str) -> Result<Stored, NotStored> + Sync);

/// Why a message handed over was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotStored {
    /// The message itself cannot be taken (no recipient, an address that is not one, too
    /// large): `554`, so the program stops retrying and shows the reason.
    Refused(String),
    /// Storing it failed (the disk, the outbox): `451`, the program tries again later.
    Failed(String),
    /// With several accounts: the envelope sender and the From line are none of theirs (the
    /// accounts' addresses): `550`.
    UnknownSender(String),
}

/// Where a message handed over is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// In the outbox of the account (`Account::index`) under this number.
    New { id: i64, account: usize },
    /// The program handed over this very message before (the same Message-ID, envelope and
    /// bytes: it did not hear the answer, popsend was stopped in between) and that copy is still
    /// waiting, or was sent: it is not stored a second time.
    Again { id: i64, sent: bool },
}

/// What became of a stored message while its program waited (`try_now`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Still waiting (offline, a temporary refusal, or not tried in time): popsend owns it.
    Queued,
    Sent,
    /// The server refused it for good: its reply goes back to the program, and popsend keeps no
    /// copy (the program has the message and shows the real error).
    Refused {
        reply: String,
    },
}

/// Tries a stored message (the account's, by its number) at once, for a bounded time.
pub type AfterFn =
    dyn Fn(usize, i64) -> std::pin::Pin<Box<dyn std::future::Future<Output = Verdict> + Send>> + Send + Sync;

/// `<address>` from `MAIL FROM:<…>` / `RCPT TO:<…>` (parameters after it ignored here).
fn path(arg: &str) -> Option<&str> {
    let start = arg.find('<')?;
    let end = arg[start..].find('>')? + start;
    Some(arg[start + 1..end].trim())
}

fn size_param(arg: &str) -> Option<usize> {
    arg.split_ascii_whitespace().find_map(|p| p.to_ascii_uppercase().strip_prefix("SIZE=").and_then(|n| n.parse().ok()))
}

/// The same bytes, compared in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves one connection to its end. With `after`, a stored message is tried at once and its
/// fate decides the answer (250, or the server's own 5xx); without, it is queued (250).
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    limits: &Limits,
    login: Option<&LocalLogin>,
    store: Store<'_>,
    after: Option<&AfterFn>,
) {
    let (r, mut w) = tokio::io::split(stream);
    let mut r = BufReader::new(r);
    // A client that does not read its replies holds nothing: a reply that cannot be written in
    // `WRITE_TIME` ends the session.
    let say = async |w: &mut tokio::io::WriteHalf<S>, text: &str| {
        matches!(tokio::time::timeout(WRITE_TIME, w.write_all(format!("{text}\r\n").as_bytes())).await, Ok(Ok(())))
    };
    if !say(&mut w, &format!("{GREETING} (this computer only)")).await {
        return;
    }
    let max_message = limits.max_message_now();
    let mut client = String::new();
    let mut greeted = false;
    let mut authed = login.is_none();
    let mut failures = 0u32;
    let login_by = tokio::time::Instant::now() + limits.login_time;
    // When the next line must have arrived: within the idle time, and before the login's
    // deadline while there is no login yet.
    let by = |authed: bool| {
        let line = tokio::time::Instant::now() + limits.idle;
        if authed { line } else { line.min(login_by) }
    };
    let mut from: Option<Option<String>> = None;
    let mut rcpts: Vec<String> = Vec::new();
    loop {
        let line = match read_line(&mut r, limits.idle, by(authed), MAX_LINE).await {
            Line::Text(l) => l,
            Line::TooLong { .. } => {
                say(&mut w, "500 5.5.2 line too long").await;
                continue;
            }
            Line::Closed => {
                let _ = say(&mut w, "421 4.4.2 closing: idle too long or connection gone").await;
                return;
            }
        };
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
        let verb = verb.to_ascii_uppercase();
        // A web page's request (a browser can be made to post text to any port): not a mail
        // program. Closed at once, as Postfix does with `smtpd_forbidden_commands`.
        if matches!(verb.as_str(), "GET" | "POST" | "HEAD" | "PUT" | "CONNECT" | "OPTIONS" | "HOST:" | "USER-AGENT:") {
            let _ = say(&mut w, "421 4.7.0 this is a mail server: closing").await;
            return;
        }
        let reply: String = match verb.as_str() {
            "EHLO" | "HELO" => {
                greeted = true;
                client = arg.trim().chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
                from = None;
                rcpts.clear();
                if verb == "HELO" {
                    "250 localhost".into()
                } else {
                    let mut lines = vec![
                        "250-localhost".to_owned(),
                        "250-PIPELINING".into(),
                        "250-8BITMIME".into(),
                        "250-ENHANCEDSTATUSCODES".into(),
                    ];
                    lines.push(format!("250-SIZE {}", max_message));
                    if login.is_some() {
                        lines.push("250-AUTH PLAIN LOGIN".into());
                    }
                    lines.push("250 HELP".into());
                    lines.join("\r\n")
                }
            }
            "AUTH" => match login {
                None => "503 5.5.1 no authentication needed here".into(),
                Some(_) if authed => "503 5.5.1 already authenticated".into(),
                Some(l) => {
                    let (mech, initial) = arg.split_once(' ').unwrap_or((arg, ""));
                    let ok = match mech.to_ascii_uppercase().as_str() {
                        "PLAIN" => {
                            let answer = if initial.is_empty() {
                                say(&mut w, "334 ").await;
                                match read_line(&mut r, limits.idle, by(authed), MAX_LINE).await {
                                    Line::Text(t) => String::from_utf8_lossy(&t).trim().to_owned(),
                                    _ => return,
                                }
                            } else {
                                initial.trim().to_owned()
                            };
                            // The client gave up (RFC 4954): not a wrong password.
                            if answer == "*" {
                                say(&mut w, "501 5.7.0 authentication cancelled").await;
                                continue;
                            }
                            let decoded = base64::engine::general_purpose::STANDARD.decode(answer).unwrap_or_default();
                            // authzid NUL authcid NUL passwd (RFC 4616), nothing more: the
                            // authorization identity empty or the user's own.
                            let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
                            match parts.as_slice() {
                                [authz, user, pass] if authz.is_empty() || *authz == l.user.as_bytes() => {
                                    same(user, l.user.as_bytes()) & same(pass, l.password.expose().as_bytes())
                                }
                                _ => false,
                            }
                        }
                        "LOGIN" => {
                            let mut ask = async |prompt: &str| {
                                say(&mut w, prompt).await;
                                match read_line(&mut r, limits.idle, by(authed), MAX_LINE).await {
                                    Line::Text(t) => Some(
                                        base64::engine::general_purpose::STANDARD
                                            .decode(String::from_utf8_lossy(&t).trim())
                                            .unwrap_or_default(),
                                    ),
                                    _ => None,
                                }
                            };
                            // The user name may come with the command (an initial response).
                            let user = match initial.trim() {
                                "" => ask("334 VXNlcm5hbWU6").await,
                                given => {
                                    Some(base64::engine::general_purpose::STANDARD.decode(given).unwrap_or_default())
                                }
                            };
                            let Some(user) = user else { return };
                            let Some(pass) = ask("334 UGFzc3dvcmQ6").await else { return };
                            same(&user, l.user.as_bytes()) & same(&pass, l.password.expose().as_bytes())
                        }
                        _ => {
                            say(&mut w, "504 5.5.4 use AUTH PLAIN or LOGIN").await;
                            continue;
                        }
                    };
                    if ok {
                        authed = true;
                        "235 2.7.0 authenticated".into()
                    } else {
                        failures += 1;
                        tokio::time::sleep(AUTH_DELAY).await;
                        if failures >= MAX_AUTH_FAILURES {
                            say(&mut w, "535 5.7.8 wrong user name or password (popsend's local ones, shown in popsend's settings)").await;
                            let _ = say(&mut w, "421 4.7.0 too many failed logins: closing").await;
                            return;
                        }
                        "535 5.7.8 wrong user name or password (popsend's local ones, shown in popsend's settings)"
                            .into()
                    }
                }
            },
            "MAIL" if !authed => "530 5.7.0 authentication required (popsend's local user name and password)".into(),
            // A mail program greets first; text that starts with MAIL does not.
            "MAIL" if !greeted => "503 5.5.1 EHLO or HELO first".into(),
            "MAIL" => match (arg.to_ascii_uppercase().starts_with("FROM:"), path(arg)) {
                (true, Some(addr)) => {
                    if size_param(arg).is_some_and(|n| n > max_message) {
                        format!("552 5.3.4 larger than {} bytes", max_message)
                    } else if !addr.is_empty() && addr.parse::<lettre::Address>().is_err() {
                        "553 5.1.7 the sender address is not an address".into()
                    } else {
                        from = Some((!addr.is_empty()).then(|| addr.to_owned()));
                        rcpts.clear();
                        "250 2.1.0 ok".into()
                    }
                }
                _ => "501 5.5.4 MAIL FROM:<address>".into(),
            },
            "RCPT" if from.is_none() => "503 5.5.1 MAIL first".into(),
            "RCPT" => match (arg.to_ascii_uppercase().starts_with("TO:"), path(arg)) {
                (true, Some(addr)) if addr.parse::<lettre::Address>().is_ok() => {
                    if rcpts.len() >= limits.max_recipients {
                        "452 4.5.3 too many recipients: send the rest in another message".into()
                    } else {
                        rcpts.push(addr.to_owned());
                        "250 2.1.5 ok".into()
                    }
                }
                (true, Some(_)) => "553 5.1.3 not an address".into(),
                _ => "501 5.5.4 RCPT TO:<address>".into(),
            },
            "DATA" if rcpts.is_empty() => "503 5.5.1 RCPT first".into(),
            "DATA" => {
                say(&mut w, "354 end with <CRLF>.<CRLF>").await;
                // The whole message is read whatever happens, so the session stays in step.
                let mut message = Vec::new();
                let (mut bare, mut too_big) = (false, false);
                // Whether the line before ended in CRLF: only <CRLF>.<CRLF> ends the message.
                let mut after_crlf = true;
                loop {
                    let line = match read_line(&mut r, limits.idle, by(true), 1000).await {
                        Line::Text(l) => l,
                        // Read to its end and dropped whole: the message is refused, and the
                        // lines after it are judged as the client wrote them.
                        Line::TooLong { crlf } => {
                            too_big = true;
                            after_crlf = crlf;
                            continue;
                        }
                        // Dropped mid-message: nothing is kept.
                        Line::Closed => return,
                    };
                    if line.as_slice() == b".\r\n" && after_crlf {
                        break;
                    }
                    // As Postfix 3.9 does by default: a line may end in a bare LF (Python's
                    // smtplib sends bytes so) and is stored with CRLF, but only <CRLF>.<CRLF>
                    // ends the message. What SMTP smuggling needs is refused: a bare CR, or a
                    // lone dot next to a bare LF, which another server could take as the end.
                    let crlf = line.ends_with(b"\r\n");
                    let text = line.strip_suffix(b"\r\n").or_else(|| line.strip_suffix(b"\n")).unwrap_or(&line);
                    // 998 characters at most, whatever the line's ending (stored with CRLF).
                    if text.len() > 998 {
                        too_big = true;
                    }
                    if text.contains(&b'\r') || (text == b"." && !(crlf && after_crlf)) {
                        bare = true;
                    }
                    after_crlf = crlf;
                    let unstuffed = text.strip_prefix(b".").unwrap_or(text);
                    if message.len() + unstuffed.len() + 2 > max_message {
                        too_big = true;
                    } else {
                        message.extend_from_slice(unstuffed);
                        message.extend_from_slice(b"\r\n");
                    }
                }
                let sender = from.take().flatten();
                let to = std::mem::take(&mut rcpts);
                if bare {
                    "550 5.6.0 a bare CR, or a lone dot beside a bare LF, in the message (SMTP smuggling)".into()
                } else if too_big {
                    format!("552 5.3.4 larger than {} bytes, or a line over 998 characters", max_message)
                } else {
                    match store(sender.as_deref(), &to, &message, &client) {
                        Ok(Stored::Again { id, sent: true }) => {
                            format!("250 2.0.0 already sent (popsend #{id}): this message was handed over before")
                        }
                        Ok(Stored::Again { id, sent: false }) => format!(
                            "250 2.0.0 already in popsend's outbox as #{id}: this message was handed over before"
                        ),
                        Ok(Stored::New { id, account }) => match after {
                            None => format!("250 2.0.0 queued in popsend's outbox as #{id}"),
                            Some(after) => match after(account, id).await {
                                Verdict::Sent => format!("250 2.0.0 sent (popsend #{id})"),
                                Verdict::Queued => format!("250 2.0.0 queued in popsend's outbox as #{id}"),
                                Verdict::Refused { reply } => refusal(&reply),
                            },
                        },
                        Err(NotStored::Refused(why)) => {
                            format!("554 5.6.0 the message cannot be taken: {}", crate::display_safe(&why))
                        }
                        Err(NotStored::Failed(why)) => {
                            format!("451 4.3.0 cannot store the message: {}", crate::display_safe(&why))
                        }
                        Err(NotStored::UnknownSender(known)) => format!(
                            "550 5.7.1 the sender is none of popsend's accounts; send from one of: {}",
                            crate::display_safe(&known)
                        ),
                    }
                }
            }
            "RSET" => {
                from = None;
                rcpts.clear();
                "250 2.0.0 ok".into()
            }
            "NOOP" => "250 2.0.0 ok".into(),
            "HELP" => "214 2.0.0 popsend: EHLO, AUTH, MAIL, RCPT, DATA, RSET, NOOP, QUIT".into(),
            "VRFY" | "EXPN" => "502 5.5.1 not offered".into(),
            "QUIT" => {
                say(&mut w, "221 2.0.0 bye").await;
                return;
            }
            _ => "500 5.5.1 unknown command".into(),
        };
        if !say(&mut w, &reply).await {
            return;
        }
    }
}

/// The server's refusal as one 5xx line for the program (its own code and words when it gave a
/// 5xx, else 554).
fn refusal(reply: &str) -> String {
    let line = crate::display_safe(reply.lines().next().unwrap_or(""));
    match line.get(..3).and_then(|c| c.parse::<u16>().ok()) {
        Some(code) if (500..600).contains(&code) => line,
        _ => format!("554 5.0.0 the server refused the message: {line}"),
    }
}

/// How many programs may be connected at once.
pub const MAX_CONNECTIONS: usize = 8;
/// How many of them may belong to another user of this computer (by user id).
pub const MAX_PER_STRANGER: usize = 2;

/// Connections open per other user id.
type StrangerCounts = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<u32, usize>>>;

/// One connection's place in `StrangerCounts` (none for the student's own, or an unknown owner).
struct Strangers {
    counts: StrangerCounts,
    uid: Option<u32>,
}

impl Strangers {
    /// A place for a connection of `uid`, or `None` when that user has `MAX_PER_STRANGER` already.
    fn enter(counts: &StrangerCounts, uid: Option<u32>) -> Option<Strangers> {
        if let Some(uid) = uid {
            let mut c = counts.lock().ok()?;
            let n = c.entry(uid).or_insert(0);
            if *n >= MAX_PER_STRANGER {
                return None;
            }
            *n += 1;
        }
        Some(Strangers { counts: counts.clone(), uid })
    }
}

impl Drop for Strangers {
    /// The connection ended: its place is free again.
    fn drop(&mut self) {
        if let (Some(uid), Ok(mut c)) = (self.uid.take(), self.counts.lock())
            && let Some(n) = c.get_mut(&uid)
        {
            *n = n.saturating_sub(1);
        }
    }
}

/// How long the sessions in progress may go on once the server stops taking connections (a
/// message being tried now takes up to `[submission] try_seconds`, 20 by default).
const DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Accepts connections on `listeners` until the future is dropped, each served by `serve`.
pub async fn accept(
    listeners: Vec<tokio::net::TcpListener>,
    limits: Limits,
    login: Option<LocalLogin>,
    store: std::sync::Arc<StoreFn>,
    after: Option<std::sync::Arc<AfterFn>>,
    until: impl std::future::Future<Output = ()>,
) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let strangers = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let mut accepting = futures_util::stream::select_all(
        listeners
            .into_iter()
            .map(|l| Box::pin(futures_util::stream::unfold(l, |l| async move { Some((l.accept().await, l)) }))),
    );
    let mut until = std::pin::pin!(until);
    loop {
        let conn = tokio::select! {
            conn = futures_util::StreamExt::next(&mut accepting) => conn,
            () = &mut until => break,
        };
        let Some(conn) = conn else { break };
        let Ok((mut stream, peer)) = conn else { continue };
        // Replies are small and pipelined clients wait for each: no Nagle delay (with the
        // client's delayed ACK it cost 40 ms a command).
        let _ = stream.set_nodelay(true);
        // Loopback listeners only; a peer elsewhere cannot reach them, but check anyway.
        if !peer.ip().is_loopback() {
            continue;
        }
        // Another user of this computer (where the system tells) gets a few connections at most:
        // reconnecting without end, they cannot keep the student's own programs out.
        let stranger =
            stream.local_addr().ok().and_then(|local| peer_owner(peer, local)).filter(|uid| Some(*uid) != own_uid());
        let Some(place) = Strangers::enter(&strangers, stranger) else {
            let _ = stream.write_all(b"421 4.7.0 too many connections from another user, try again later\r\n").await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            let _ = stream.write_all(b"421 4.7.0 too many connections, try again shortly\r\n").await;
            continue;
        };
        let (limits, login, store, after) = (limits.clone(), login.clone(), store.clone(), after.clone());
        tokio::spawn(async move {
            serve(stream, &limits, login.as_ref(), &*store, after.as_deref()).await;
            drop((slot, place));
        });
    }
    // Closed to new connections; the sessions in progress finish, for a while: a client in the
    // middle of a message hears its answer rather than a dropped connection.
    drop(accepting);
    let _ = tokio::time::timeout(DRAIN, slots.acquire_many(MAX_CONNECTIONS as u32)).await;
}
