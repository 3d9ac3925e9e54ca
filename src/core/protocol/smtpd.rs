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
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

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
            max_message: crate::core::message::submission::MAX_MESSAGE,
            max_recipients: 100,
            idle: Duration::from_secs(300),
            login_time: LOGIN_TIME,
            upstream: None,
        }
    }
}

impl Limits {
    /// The default limits, under what the account's SMTP server announced last time.
    pub fn for_account(data_dir: &std::path::Path, config: &crate::core::setup::account::Config) -> Limits {
        Limits {
            upstream: Some((data_dir.to_owned(), crate::core::sending::deliver::smtp_server(config))),
            ..Limits::default()
        }
    }

    /// The largest message taken now: the own limit, or less if the upstream server said so.
    fn max_message_now(&self) -> usize {
        let upstream = self
            .upstream
            .as_ref()
            .and_then(|(dir, server)| crate::core::sending::knowledge::Store::new(dir).load().size_for(server));
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
    pub password: crate::core::system::secrets::Password,
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
}

/// Where a message handed over is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// In the outbox under this number.
    New(i64),
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

/// Tries a stored message at once, for a bounded time.
pub type AfterFn = dyn Fn(i64) -> std::pin::Pin<Box<dyn std::future::Future<Output = Verdict> + Send>> + Send + Sync;

/// One line as `read_line` found it.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A whole line with its ending (CRLF, or a bare LF).
    Text(Vec<u8>),
    /// A line longer than the limit, read to its end and dropped whole: whether it ended in CRLF
    /// (only after one may a lone dot end a message).
    TooLong { crlf: bool },
    /// The end of the stream, the idle time passed, or the line's deadline.
    Closed,
}

/// Reads one line ending in LF of at most `limit` bytes (its ending included). A longer line is
/// read to its end and reported as `TooLong`, never in pieces: however the bytes arrive (one at a
/// time, or a read ending inside the line), no part of a line ever comes back as a line of its
/// own. `Closed` when the stream ends, when nothing arrives for `idle`, or at `deadline` (a whole
/// line must arrive by then, so a byte now and then does not hold the connection).
async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    idle: Duration,
    deadline: tokio::time::Instant,
    limit: usize,
) -> Line {
    let mut buf = Vec::new();
    let mut over = false;
    // The last byte of the line before its LF, across pieces.
    let mut tail = 0u8;
    loop {
        let wait = idle.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        let chunk = match tokio::time::timeout(wait, r.fill_buf()).await {
            Ok(Ok(chunk)) if !chunk.is_empty() => chunk,
            _ => return Line::Closed,
        };
        let (used, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let text_end = if done { used - 1 } else { used };
        if text_end > 0 {
            tail = chunk[text_end - 1];
        }
        if !over && buf.len() + used > limit {
            over = true;
            buf = Vec::new();
        }
        if !over {
            buf.extend_from_slice(&chunk[..used]);
        }
        r.consume(used);
        if done {
            return if over { Line::TooLong { crlf: tail == b'\r' } } else { Line::Text(buf) };
        }
    }
}

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
                        Ok(Stored::New(id)) => match after {
                            None => format!("250 2.0.0 queued in popsend's outbox as #{id}"),
                            Some(after) => match after(id).await {
                                Verdict::Sent => format!("250 2.0.0 sent (popsend #{id})"),
                                Verdict::Queued => format!("250 2.0.0 queued in popsend's outbox as #{id}"),
                                Verdict::Refused { reply } => refusal(&reply),
                            },
                        },
                        Err(NotStored::Refused(why)) => {
                            format!("554 5.6.0 the message cannot be taken: {}", crate::core::display_safe(&why))
                        }
                        Err(NotStored::Failed(why)) => {
                            format!("451 4.3.0 cannot store the message: {}", crate::core::display_safe(&why))
                        }
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
    let line = crate::core::display_safe(reply.lines().next().unwrap_or(""));
    match line.get(..3).and_then(|c| c.parse::<u16>().ok()) {
        Some(code) if (500..600).contains(&code) => line,
        _ => format!("554 5.0.0 the server refused the message: {line}"),
    }
}

/// `after` for the server: wakes the engine with `nudge` and waits (at most `wait`) for the
/// first flush that ends; the message's fate in it is the verdict. A permanent refusal is taken
/// out of the outbox, since the program keeps the message and the error.
pub fn try_now(
    outbox: std::sync::Arc<std::sync::Mutex<crate::core::sending::outbox::Outbox>>,
    flushed: tokio::sync::broadcast::Sender<Fates>,
    nudge: std::sync::Arc<dyn Fn() + Send + Sync>,
    wait: Duration,
) -> std::sync::Arc<AfterFn> {
    std::sync::Arc::new(move |id: i64| {
        // Listening before the nudge: the flush cannot end unseen.
        let mut rx = flushed.subscribe();
        nudge();
        let outbox = outbox.clone();
        Box::pin(async move {
            let fates = loop {
                match tokio::time::timeout(wait, rx.recv()).await {
                    Ok(Ok(f)) => break f,
                    Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                    _ => return Verdict::Queued,
                }
            };
            if fates.sent.contains(&id) {
                return Verdict::Sent;
            }
            match fates.failed.into_iter().find(|(i, _)| *i == id) {
                Some((_, reply)) => {
                    if let Ok(ob) = outbox.lock() {
                        let _ = ob.delete(id);
                    }
                    Verdict::Refused { reply }
                }
                None => Verdict::Queued,
            }
        })
    })
}

/// What one flush did, by outbox number: sent, and refused for good (with the server's reply).
#[derive(Debug, Clone, Default)]
pub struct Fates {
    pub sent: Vec<i64>,
    pub failed: Vec<(i64, String)>,
}

impl Fates {
    pub fn of(f: &crate::core::sending::engine::Flushed) -> Fates {
        Fates {
            sent: f.sent.iter().map(|(id, _)| *id).collect(),
            failed: f
                .failed
                .iter()
                .map(|(id, _, e)| (*id, e.reply.clone().unwrap_or_else(|| e.detail.clone())))
                .collect(),
        }
    }
}

/// The file the local login is kept in, in the data folder (0600).
pub const LOGIN_FILE: &str = "submission-login";

/// The local user name, and the password generated once and kept in the data folder (a file
/// only this user can read, like the outbox; never the account's password). As ssh does with a
/// key, a file others could read (or write) is not trusted: its password may be known, so a new
/// one is made, the file is put back to 0600, and `renewed` says so (the programs that use the old
/// one must be given the new one).
pub fn local_login(data_dir: &std::path::Path) -> std::io::Result<LocalLogin> {
    let path = data_dir.join(LOGIN_FILE);
    let exposed = opened_to_others(&path);
    let (password, renewed) = match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 16 && !exposed => (text.trim().to_owned(), false),
        Ok(_) | Err(_) => {
            let fresh = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            // A new file: `write_atomic` makes it 0600 (a leftover temporary is removed first,
            // so its mode cannot carry over).
            let mut tmp = path.clone().into_os_string();
            tmp.push(".tmp");
            let _ = std::fs::remove_file(&tmp);
            crate::core::system::files::write_atomic(&path, format!("{fresh}\n").as_bytes())?;
            (fresh, exposed)
        }
    };
    Ok(LocalLogin { user: "popsend".into(), password: crate::core::system::secrets::Password::new(password), renewed })
}

/// Whether others than this user may read or write `path` (Unix permissions; on Windows the data
/// folder's own ACL, inherited from the user's profile, is what protects it).
fn opened_to_others(path: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// How the server greets (and how `holder` knows another popsend).
const GREETING: &str = "220 localhost popsend ESMTP";

/// Binds `port` on the loopback addresses only (127.0.0.1, and ::1 where the machine has IPv6).
/// An error says the port is taken (by another `popsend serve` or another program).
async fn bind(port: u16) -> std::io::Result<Vec<tokio::net::TcpListener>> {
    let v4 = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let port = v4.local_addr()?.port();
    let mut out = vec![v4];
    match tokio::net::TcpListener::bind(("::1", port)).await {
        Ok(v6) => out.push(v6),
        // Taken on ::1 only: "localhost" often means ::1 first, so whoever holds it would get
        // what programs send (the local login and the mail). The port counts as taken.
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(e),
        // No IPv6 here: 127.0.0.1 alone.
        Err(_) => {}
    }
    Ok(out)
}

/// Who holds a port `bind` could not open, as far as its first line tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Another popsend's submission server (`popsend serve`, or a window with it on).
    Popsend,
    /// Another program, with its greeting (made safe to show, at most 120 characters).
    Other(String),
    /// Nothing answered on 127.0.0.1 within a second (or it says nothing first).
    Silent,
}

/// A port `listen` could not open: who holds it, and the system's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortTaken {
    pub holder: Holder,
    pub detail: String,
    /// Another user of this computer listens there (Linux: the socket's owner in /proc/net):
    /// what programs send to the port, the local login and the mail, goes to that user.
    pub other_user: Option<u32>,
}

/// `bind`, and when the port is taken, who holds it (`holder`): what `popsend serve` and the
/// window both say.
pub async fn listen(port: u16) -> Result<Vec<tokio::net::TcpListener>, PortTaken> {
    match bind(port).await {
        Ok(listeners) => Ok(listeners),
        Err(e) => Err(PortTaken {
            holder: holder(port).await,
            detail: e.to_string(),
            other_user: owner(port).filter(|uid| Some(*uid) != own_uid()),
        }),
    }
}

/// This process's user id, where there is one.
fn own_uid() -> Option<u32> {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        Some(unsafe { libc::geteuid() })
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// One row of /proc/net/tcp (or tcp6): `sl local_address rem_address st … uid …`, addresses as
/// the kernel writes them (`proc_address`).
struct ProcSocket<'a> {
    local: &'a str,
    remote: &'a str,
    state: &'a str,
    uid: Option<u32>,
}

fn proc_sockets(table: &str) -> impl Iterator<Item = ProcSocket<'_>> {
    table.lines().skip(1).filter_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        Some(ProcSocket {
            local: cols.get(1)?,
            remote: cols.get(2)?,
            state: cols.get(3)?,
            uid: cols.get(7)?.parse().ok(),
        })
    })
}

/// The owner (user id) of the first socket `wanted` picks in `table`.
fn table_owner(table: &str, wanted: &dyn Fn(&ProcSocket) -> bool) -> Option<u32> {
    proc_sockets(table).find(|s| wanted(s)).and_then(|s| s.uid)
}

/// The owner of the first socket of this computer `wanted` picks, as far as the system tells
/// another user: on Linux from /proc/net/tcp and tcp6; elsewhere not known (`None`).
fn socket_owner(wanted: &dyn Fn(&ProcSocket) -> bool) -> Option<u32> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .find_map(|f| std::fs::read_to_string(f).ok().and_then(|t| table_owner(&t, wanted)))
}

/// Who listens on TCP `port` of this computer (its user id).
fn owner(port: u16) -> Option<u32> {
    socket_owner(&|s| listens_on(s, port))
}

/// The user id of the process on the other end of a loopback connection (the client's socket:
/// local `peer`, remote `local`).
fn peer_owner(peer: std::net::SocketAddr, local: std::net::SocketAddr) -> Option<u32> {
    socket_owner(&connects(peer, local))
}

/// The socket from `from` to `to`.
fn connects(from: std::net::SocketAddr, to: std::net::SocketAddr) -> impl Fn(&ProcSocket) -> bool {
    let (from, to) = (proc_address(from), proc_address(to));
    move |s| s.local.eq_ignore_ascii_case(&from) && s.remote.eq_ignore_ascii_case(&to)
}

/// A socket listening (state 0A) on `port` (the hex after the address).
fn listens_on(s: &ProcSocket, port: u16) -> bool {
    s.state == "0A" && s.local.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok()) == Some(port)
}

/// The owner of a socket listening on `port` in the text of /proc/net/tcp (or tcp6).
#[cfg(test)]
fn listening_owner(table: &str, port: u16) -> Option<u32> {
    table_owner(table, &|s| listens_on(s, port))
}

/// The owner of the socket from `from` to `to` in the text of /proc/net/tcp (or tcp6).
#[cfg(test)]
fn connection_owner(table: &str, from: std::net::SocketAddr, to: std::net::SocketAddr) -> Option<u32> {
    table_owner(table, &connects(from, to))
}

/// An address as /proc/net/tcp writes it: the bytes in network order read as native 32-bit
/// words, each in hex, then `:` and the port.
fn proc_address(a: std::net::SocketAddr) -> String {
    let octets: Vec<u8> = match a.ip() {
        std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
        std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let words: String =
        octets.chunks(4).map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))).collect();
    format!("{words}:{:04X}", a.port())
}

/// Connects to 127.0.0.1:`port` (or ::1 where nothing answers there) and reads its greeting (at most 512 bytes, one second in all),
/// then says QUIT. Sends nothing else; never a login.
async fn holder(port: u16) -> Holder {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let probe = async {
        let mut stream = match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => s,
            Err(_) => tokio::net::TcpStream::connect(("::1", port)).await.ok()?,
        };
        let mut buf = vec![0u8; 512];
        let mut got = 0;
        while got < buf.len() && !buf[..got].contains(&b'\n') {
            match stream.read(&mut buf[got..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        let _ = stream.write_all(b"QUIT\r\n").await;
        let line = String::from_utf8_lossy(&buf[..got]).lines().next().unwrap_or_default().trim().to_owned();
        (!line.is_empty()).then_some(line)
    };
    match tokio::time::timeout(std::time::Duration::from_secs(1), probe).await {
        Ok(Some(line)) if line.starts_with(GREETING) => Holder::Popsend,
        Ok(Some(line)) => Holder::Other(crate::core::display_safe(&line).chars().take(120).collect()),
        Ok(None) | Err(_) => Holder::Silent,
    }
}

/// The store `accept` needs, into `outbox` (a connection of the server's own): the message as
/// the program sent it (`submission::prepare`), committed before the program hears 250; then
/// `nudge` wakes the engine to send it.
pub fn outbox_store(
    outbox: std::sync::Arc<std::sync::Mutex<crate::core::sending::outbox::Outbox>>,
    account: String,
    nudge: impl Fn() + Send + Sync + 'static,
) -> std::sync::Arc<StoreFn> {
    use crate::core::message::submission::{self, Handover};
    // Synced before 250: the program deletes its copy when it hears it.
    let synced = outbox.lock().map(|o| o.sync_every_commit().is_ok()).unwrap_or(false);
    std::sync::Arc::new(
        move |from: Option<&str>, to: &[String], raw: &[u8], client: &str| -> Result<Stored, NotStored> {
            let failed = |e: String| NotStored::Failed(e);
            if !synced {
                return Err(failed("the outbox cannot be made to sync each message to disk".into()));
            }
            let handed = Handover { from, full_name: None, recipients: to, from_headers: false };
            let now = std::time::SystemTime::now();
            let p = submission::prepare(raw, &handed, &account, now).map_err(|e| NotStored::Refused(e.to_string()))?;
            let outbox = outbox.lock().map_err(|_| failed("the outbox is not usable".to_owned()))?;
            // Handed over again (a program that lost the answer tries again): one copy is enough.
            let since = now.checked_sub(AGAIN_WITHIN).unwrap_or(std::time::UNIX_EPOCH);
            if let Some((id, sent)) = outbox.earlier_copy(&p.outgoing, since).map_err(|e| failed(e.to_string()))? {
                return Ok(Stored::Again { id, sent });
            }
            // The program's own name for itself, as much as a list line has room for.
            let via: String = if client.is_empty() { "?".into() } else { client.chars().take(64).collect() };
            let id =
                outbox.enqueue_via(&p.outgoing, &p.subject, &p.to, &via, now).map_err(|e| failed(e.to_string()))?;
            nudge();
            Ok(Stored::New(id))
        },
    )
}

/// How long a message handed over is recognised when the same program hands it over again.
const AGAIN_WITHIN: Duration = Duration::from_secs(24 * 3600);

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

/// For the tests and the fuzz target (`examples/fuzz.rs`, target `smtpd`): a session fed bytes
/// in the pieces a test chooses, and an independent reading of what a DATA section must give.
/// Not used by popsend itself.
#[doc(hidden)]
pub mod harness {
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};

    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    use super::{Limits, LocalLogin, Stored};

    /// What one session did: every reply, and each message stored (sender, recipients, bytes).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Outcome {
        pub replies: String,
        pub stored: Vec<(Option<String>, Vec<String>, Vec<u8>)>,
    }

    /// A client that has written `script` and is gone: each read returns at most up to the next
    /// cut, so the server meets the bytes in exactly these pieces.
    struct Pieces {
        script: Vec<u8>,
        cuts: Vec<usize>,
        at: usize,
        replies: Arc<Mutex<Vec<u8>>>,
    }

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            let at = self.at;
            let end = self.cuts.iter().copied().find(|c| *c > at).unwrap_or(self.script.len()).min(self.script.len());
            let n = (end - at).min(buf.remaining());
            buf.put_slice(&self.script[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Pieces {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
            self.replies.lock().unwrap().extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Serves `script`, arriving cut at the offsets `cuts` (ascending), to its end.
    pub async fn session(script: &[u8], cuts: &[usize], limits: &Limits, login: Option<&LocalLogin>) -> Outcome {
        let stored = Mutex::new(Vec::new());
        let store = |from: Option<&str>, to: &[String], raw: &[u8], _: &str| {
            let mut s = stored.lock().unwrap();
            s.push((from.map(str::to_owned), to.to_vec(), raw.to_vec()));
            Ok(Stored::New(s.len() as i64))
        };
        let replies = Arc::new(Mutex::new(Vec::new()));
        let client = Pieces { script: script.to_vec(), cuts: cuts.to_vec(), at: 0, replies: replies.clone() };
        super::serve(client, limits, login, &store, None).await;
        let replies = String::from_utf8_lossy(&replies.lock().unwrap()).into_owned();
        Outcome { replies, stored: stored.into_inner().unwrap() }
    }

    /// What a DATA section must give, read from the whole of it at once (not line by line as
    /// the server does): where it ends, and the message stored or the refusal.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Expected {
        /// No <CRLF>.<CRLF>: the message never ends, nothing may be stored.
        Unended,
        /// It ends after `len` bytes (the final dot's line included); `Some` message to store, or
        /// `None` when it must be refused (a bare CR, a lone dot beside a bare LF, a line over 998
        /// characters, or too large).
        Ends { len: usize, message: Option<Vec<u8>> },
    }

    /// `data`: the bytes after the `354`.
    pub fn expected(data: &[u8], max_message: usize) -> Expected {
        // The first CRLF . CRLF, the CRLF of `DATA` itself counting for the first line.
        let framed = [&b"\r\n"[..], data].concat();
        let Some(end) = framed.windows(5).position(|w| w == b"\r\n.\r\n") else { return Expected::Unended };
        // `content` is every line of the message with its ending.
        let content = &data[..end];
        let len = end + 3;
        let lines: Vec<&[u8]> = content.split_inclusive(|b| *b == b'\n').collect();
        let bare_cr = content.iter().enumerate().any(|(i, b)| *b == b'\r' && content.get(i + 1) != Some(&b'\n'));
        let text_len = |l: &[u8]| l.strip_suffix(b"\r\n").or_else(|| l.strip_suffix(b"\n")).unwrap_or(l).len();
        let too_long = lines.iter().any(|l| text_len(l) > 998);
        // A line that is only a dot, where either it or the line before ends in a bare LF.
        let lone_dot = lines.iter().enumerate().any(|(i, l)| {
            let bare = |l: &[u8]| l.ends_with(b"\n") && !l.ends_with(b"\r\n");
            (*l == b".\n" || *l == b".\r\n") && (bare(l) || (i > 0 && bare(lines[i - 1])))
        });
        let message: Vec<u8> = lines
            .iter()
            .flat_map(|l| {
                let text = l.strip_suffix(b"\r\n").or_else(|| l.strip_suffix(b"\n")).unwrap_or(l);
                let text = text.strip_prefix(b".").unwrap_or(text);
                [text, b"\r\n"].concat()
            })
            .collect();
        let ok = !bare_cr && !too_long && !lone_dot && message.len() <= max_message;
        Expected::Ends { len, message: ok.then_some(message) }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    type Stored = Mutex<Vec<(Option<String>, Vec<String>, Vec<u8>)>>;

    /// Runs a session with `script` (lines the client sends, all at once: pipelined) and returns
    /// the server's replies and what was stored.
    async fn session(script: &str, login: Option<&LocalLogin>, limits: &Limits) -> (String, Stored) {
        let stored: Stored = Mutex::new(Vec::new());
        let store = |from: Option<&str>, to: &[String], raw: &[u8], _: &str| {
            let mut s = stored.lock().unwrap();
            s.push((from.map(str::to_owned), to.to_vec(), raw.to_vec()));
            Ok(super::Stored::New(s.len() as i64))
        };
        let (client, server) = tokio::io::duplex(1 << 20);
        let (mut cr, mut cw) = tokio::io::split(client);
        let script = script.to_owned();
        let writer = async move {
            cw.write_all(script.as_bytes()).await.unwrap();
            // The client goes away after its script (a drop, unless it said QUIT).
            cw.shutdown().await.unwrap();
        };
        let reader = async move {
            let mut out = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut cr, &mut out).await.unwrap();
            out
        };
        let ((), (), replies) = tokio::join!(serve(server, limits, login, &store, None), writer, reader);
        (replies, stored)
    }

    fn login() -> LocalLogin {
        LocalLogin {
            user: "popsend".into(),
            password: crate::core::system::secrets::Password::new("local-secret".into()),
            renewed: false,
        }
    }

    fn plain(user: &str, pass: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pass}"))
    }

    #[tokio::test]
    async fn a_pipelined_session_stores_the_message_as_sent_dot_unstuffed() {
        let l = login();
        let script = format!(
            "EHLO mutt.local\r\nAUTH PLAIN {}\r\nMAIL FROM:<taro@example.ac.jp> SIZE=100\r\nRCPT TO:<a@example.net>\r\nRCPT TO:<bcc@example.org>\r\nDATA\r\nSubject: hi\r\n\r\n..leading dot\r\nend\r\n.\r\nQUIT\r\n",
            plain("popsend", "local-secret")
        );
        let (replies, stored) = session(&script, Some(&l), &Limits::default()).await;
        assert!(replies.contains("250-AUTH PLAIN LOGIN") && replies.contains("235 2.7.0"), "{replies}");
        assert!(
            replies.contains("250 2.0.0 queued in popsend's outbox as #1") && replies.ends_with("221 2.0.0 bye\r\n"),
            "{replies}"
        );
        let stored = stored.into_inner().unwrap();
        assert_eq!(stored.len(), 1);
        let (from, to, raw) = &stored[0];
        assert_eq!(from.as_deref(), Some("taro@example.ac.jp"));
        assert_eq!(to, &["a@example.net", "bcc@example.org"]);
        assert_eq!(raw, b"Subject: hi\r\n\r\n.leading dot\r\nend\r\n");
    }

    #[tokio::test]
    async fn nothing_goes_without_the_local_login() {
        let l = login();
        let script = format!(
            "EHLO x\r\nMAIL FROM:<a@b.jp>\r\nAUTH PLAIN {}\r\nAUTH LOGIN\r\n{}\r\n{}\r\nMAIL FROM:<a@b.jp>\r\nQUIT\r\n",
            plain("popsend", "wrong"),
            base64::engine::general_purpose::STANDARD.encode("popsend"),
            base64::engine::general_purpose::STANDARD.encode("local-secret")
        );
        let (replies, stored) = session(&script, Some(&l), &Limits::default()).await;
        let codes: Vec<&str> = replies.lines().map(|l| &l[..3]).collect();
        assert_eq!(
            codes,
            ["220", "250", "250", "250", "250", "250", "250", "250", "530", "535", "334", "334", "235", "250", "221"],
            "{replies}"
        );
        assert!(stored.into_inner().unwrap().is_empty());
    }

    /// Issue 13: a taken port says who holds it — another popsend (its greeting), another
    /// program (its greeting, made safe), or something that says nothing.
    #[tokio::test]
    async fn a_taken_port_names_its_holder() {
        // Another popsend: a real server on the port.
        let listeners = bind(0).await.unwrap();
        let port = listeners[0].local_addr().unwrap().port();
        let store: std::sync::Arc<StoreFn> =
            std::sync::Arc::new(|_: Option<&str>, _: &[String], _: &[u8], _: &str| Ok(super::Stored::New(1)));
        let server = tokio::spawn(accept(listeners, Limits::default(), None, store, None, std::future::pending()));
        assert_eq!(holder(port).await, Holder::Popsend);
        assert!(bind(port).await.is_err());
        server.abort();
        // Another program with a greeting that carries a control character.
        let other = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = other.local_addr().unwrap().port();
        let greeter = tokio::spawn(async move {
            loop {
                let (mut s, _) = other.accept().await.unwrap();
                let _ = s.write_all(b"220 mx.example ESMTP Postfix\x1b[2J\r\n").await;
            }
        });
        match holder(port).await {
            Holder::Other(g) => assert!(g.starts_with("220 mx.example ESMTP Postfix") && !g.contains('\x1b'), "{g:?}"),
            h => panic!("{h:?}"),
        }
        greeter.abort();
        // Silent: it accepts and says nothing within the second.
        let mute = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = mute.local_addr().unwrap().port();
        let started = std::time::Instant::now();
        assert_eq!(holder(port).await, Holder::Silent);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        drop(mute);
    }

    /// Issue 13: told to stop (a window takes over), the server closes its port at once, and a
    /// client already in a session still hears its answer and has its message kept.
    #[tokio::test]
    async fn stopping_closes_the_port_and_lets_a_session_in_progress_finish() {
        let listeners = bind(0).await.unwrap();
        let port = listeners[0].local_addr().unwrap().port();
        let stored = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = stored.clone();
        let store: std::sync::Arc<StoreFn> =
            std::sync::Arc::new(move |_: Option<&str>, _: &[String], _: &[u8], _: &str| {
                Ok(super::Stored::New(count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) as i64 + 1))
            });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(accept(listeners, Limits::default(), None, store, None, async move {
            let _ = stop_rx.await;
        }));
        let mut client = tokio::io::BufReader::new(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        let mut line = String::new();
        let mut reply = async |client: &mut tokio::io::BufReader<tokio::net::TcpStream>, send: &str| {
            client.get_mut().write_all(send.as_bytes()).await.unwrap();
            line.clear();
            loop {
                let start = line.len();
                tokio::io::AsyncBufReadExt::read_line(client, &mut line).await.unwrap();
                if line.as_bytes().get(start + 3) != Some(&b'-') {
                    return line.clone();
                }
            }
        };
        assert!(reply(&mut client, "").await.starts_with("220"));
        for (send, code) in [
            ("EHLO me\r\n", "250"),
            ("MAIL FROM:<a@example.jp>\r\n", "250"),
            ("RCPT TO:<b@example.jp>\r\n", "250"),
            ("DATA\r\n", "354"),
        ] {
            let got = reply(&mut client, send).await;
            assert!(got.lines().last().unwrap_or_default().starts_with(code), "{send:?}: {got}");
        }
        // A window takes over while the message is being written.
        stop_tx.send(()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            assert!(std::time::Instant::now() < deadline, "the port stayed open");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(!server.is_finished(), "the server ended before the session in progress");
        assert!(reply(&mut client, "Subject: x\r\n\r\nbody\r\n.\r\n").await.starts_with("250"));
        assert!(reply(&mut client, "QUIT\r\n").await.starts_with("221"));
        tokio::time::timeout(std::time::Duration::from_secs(5), server)
            .await
            .expect("the server did not end after its last session")
            .unwrap();
        assert_eq!(stored.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// Issue 13: the server listens on loopback addresses only (127.0.0.1, and ::1 where there is
    /// IPv6), never on every interface.
    #[tokio::test]
    async fn it_binds_loopback_only() {
        let listeners = bind(0).await.unwrap();
        assert!(!listeners.is_empty());
        for l in &listeners {
            let at = l.local_addr().unwrap();
            assert!(at.ip().is_loopback(), "listening on {at}");
        }
    }

    /// Issue 13: the submission server announces (and keeps to) no more than the upstream
    /// server's SIZE, less room for the headers popsend adds; SIZE 0 (no limit) and no SIZE
    /// leave popsend's own.
    #[tokio::test]
    async fn the_upstream_size_is_announced_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::core::sending::knowledge::Store::new(dir.path());
        let limits = Limits { upstream: Some((dir.path().to_owned(), "smtp.example:587".into())), ..Limits::default() };
        let own = Limits::default().max_message;
        let script = |size: usize| format!("EHLO x\r\nMAIL FROM:<a@b.jp> SIZE={size}\r\nQUIT\r\n");

        let (replies, _) = session(&script(2000), None, &limits).await;
        assert!(replies.contains(&format!("250-SIZE {own}\r\n")), "nothing known: {replies}");

        let mut state = crate::core::sending::knowledge::Knowledge::default();
        state.set_size("smtp.example:587", Some(3000));
        store.save(&state).unwrap();
        let (replies, _) = session(&script(2000), None, &limits).await;
        assert!(
            replies.contains("250-SIZE 1976\r\n") && replies.contains("552 5.3.4 larger than 1976 bytes"),
            "{replies}"
        );
        let body = "x".repeat(1000);
        let (replies, stored) = session(&format!("EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\nSubject: big\r\n\r\n{body}\r\n{body}\r\n.\r\nQUIT\r\n"), None, &limits).await;
        assert!(replies.contains("552 5.3.4") && stored.into_inner().unwrap().is_empty(), "{replies}");

        // Another server's size does not apply; SIZE 0 is no limit.
        state.set_size("smtp.example:587", Some(0));
        state.set_size("other:25", Some(3000));
        store.save(&state).unwrap();
        let (replies, _) = session(&script(2000), None, &limits).await;
        assert!(replies.contains(&format!("250-SIZE {own}\r\n")) && !replies.contains("552"), "{replies}");
    }

    /// SMTP smuggling (CVE-2023-51764 and kin): a bare CR, or a lone dot beside a bare LF, is
    /// refused, so `\n.\n` and its kin can never end one message and start another (here or at
    /// the next server); the refused message is not stored.
    #[tokio::test]
    async fn bare_line_ends_are_refused_and_nothing_is_stored() {
        for smuggled in [
            "Subject: a\r\n\r\nbody\n.\nMAIL FROM:<x@evil.example>\r\n.\r\n",
            "Subject: a\r\n\r\nbody\n.\r\nMAIL FROM:<x@evil.example>\r\n.\r\n",
            "Subject: a\r\n\r\nbody\r\n.\nMAIL FROM:<x@evil.example>\r\n.\r\n",
            "Subject: a\r\n\r\nbody\r.\rmore\r\n.\r\n",
            "Subject: a\r\n\r\nbody\rmore\r\n.\r\n",
        ] {
            let script = format!("EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\n{smuggled}QUIT\r\n");
            let (replies, stored) = session(&script, None, &Limits::default()).await;
            assert!(replies.contains("550 5.6.0"), "{replies}");
            assert!(stored.into_inner().unwrap().is_empty(), "{smuggled:?}");
        }
    }

    /// Lines that end in a bare LF (Python's `smtplib.sendmail` with bytes sends them so) are
    /// taken and stored with CRLF, as Postfix 3.9 takes them; only <CRLF>.<CRLF> ends the message.
    #[tokio::test]
    async fn bare_lf_lines_are_stored_with_crlf() {
        let script =
            "EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\nSubject: lf\n\n..dot\nbody\r\n.\r\nQUIT\r\n";
        let (replies, stored) = session(script, None, &Limits::default()).await;
        assert!(replies.contains("250 2.0.0 queued"), "{replies}");
        assert_eq!(stored.into_inner().unwrap()[0].2, b"Subject: lf\r\n\r\n.dot\r\nbody\r\n");
    }

    /// Issue 13: a program that did not hear the answer (popsend was stopped between storing and
    /// saying 250) hands the same message over again: while the first copy waits, or after it
    /// was sent, it is not stored twice. A different envelope, different bytes or a message
    /// without its own Message-ID is a new message.
    #[tokio::test]
    async fn the_same_message_handed_over_again_is_kept_once() {
        use crate::core::sending::outbox::{Outbox, Status};
        let dir = tempfile::tempdir().unwrap();
        let outbox = std::sync::Arc::new(std::sync::Mutex::new(Outbox::open(dir.path()).unwrap()));
        let store = outbox_store(outbox.clone(), "taro@example.ac.jp".into(), || {});
        let message = |to: &str, body: &str, id: bool| {
            let mid = if id { "Message-ID: <r1@thunderbird.local>\r\n" } else { "" };
            format!(
                "EHLO x\r\nMAIL FROM:<taro@example.ac.jp>\r\nRCPT TO:<{to}>\r\nDATA\r\nDate: Mon, 30 Nov 2026 10:00:00 +0900\r\n{mid}Subject: s\r\n\r\n{body}\r\n.\r\nQUIT\r\n"
            )
        };
        let hand = async |script: String| {
            let (client, server) = tokio::io::duplex(1 << 16);
            let (mut cr, mut cw) = tokio::io::split(client);
            let limits = Limits::default();
            let (_, replies) = tokio::join!(serve(server, &limits, None, &*store, None), async {
                cw.write_all(script.as_bytes()).await.unwrap();
                let mut out = String::new();
                tokio::io::AsyncReadExt::read_to_string(&mut cr, &mut out).await.unwrap();
                out
            });
            replies
        };
        let rows = || outbox.lock().unwrap().list(&[Status::Queued, Status::Sent], 100).unwrap().len();
        assert!(
            hand(message("hanako@example.net", "hi", true))
                .await
                .contains("250 2.0.0 queued in popsend's outbox as #1")
        );
        let again = hand(message("hanako@example.net", "hi", true)).await;
        assert!(again.contains("250 2.0.0 already in popsend's outbox as #1"), "{again}");
        assert_eq!(rows(), 1);
        outbox.lock().unwrap().mark_sent(1, std::time::SystemTime::now()).unwrap();
        let again = hand(message("hanako@example.net", "hi", true)).await;
        assert!(again.contains("250 2.0.0 already sent (popsend #1)"), "{again}");
        assert_eq!(rows(), 1);
        for other in [
            message("jiro@example.net", "hi", true),
            message("hanako@example.net", "changed", true),
            message("hanako@example.net", "hi", false),
            message("hanako@example.net", "hi", false),
        ] {
            assert!(hand(other).await.contains("250 2.0.0 queued in popsend's outbox"));
        }
        assert_eq!(rows(), 5);
    }

    /// Try now, then queue: the first flush after the nudge decides the answer — its 250, the
    /// server's own 5xx (and popsend keeps no copy: the program has the message and the error),
    /// or "queued" when the message did not go (offline, not tried in time). Exactly one side
    /// owns the message when the session ends.
    #[tokio::test]
    async fn the_program_hears_the_servers_refusal_and_popsend_keeps_no_copy() {
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let outbox = Arc::new(std::sync::Mutex::new(crate::core::sending::outbox::Outbox::open(dir.path()).unwrap()));
        let store = outbox_store(outbox.clone(), "taro@example.ac.jp".into(), || {});
        let script = "EHLO x\r\nMAIL FROM:<taro@example.ac.jp>\r\nRCPT TO:<nobody@example.net>\r\nDATA\r\nSubject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n";
        let refused = "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown";
        // What the engine's flush does with the message: refuse it, send it, not try it, or
        // never end in time.
        for (fate, expect, kept) in [
            ("refused", refused, false),
            ("sent", "250 2.0.0 sent", true),
            ("untried", "250 2.0.0 queued", true),
            ("never", "250 2.0.0 queued", true),
        ] {
            let (tx, _) = tokio::sync::broadcast::channel::<Fates>(4);
            let engine = tx.clone();
            let newest = Arc::new(std::sync::Mutex::new(0i64));
            let (seen, ob) = (newest.clone(), outbox.clone());
            let nudge: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
                let id = ob.lock().unwrap().list(&[crate::core::sending::outbox::Status::Queued], 1).unwrap()[0].id;
                *seen.lock().unwrap() = id;
                let f = match fate {
                    "refused" => Fates { sent: vec![], failed: vec![(id, refused.into())] },
                    "sent" => Fates { sent: vec![id], failed: vec![] },
                    "untried" => Fates::default(),
                    _ => return,
                };
                let engine = engine.clone();
                tokio::spawn(async move {
                    let _ = engine.send(f);
                });
            });
            let after = try_now(outbox.clone(), tx, nudge, Duration::from_millis(300));
            let (client, server) = tokio::io::duplex(1 << 16);
            let (mut cr, mut cw) = tokio::io::split(client);
            cw.write_all(script.as_bytes()).await.unwrap();
            cw.shutdown().await.unwrap();
            let reader = async {
                let mut out = String::new();
                tokio::io::AsyncReadExt::read_to_string(&mut cr, &mut out).await.unwrap();
                out
            };
            let limits = Limits::default();
            let ((), replies) = tokio::join!(serve(server, &limits, None, &*store, Some(&*after)), reader);
            assert!(replies.contains(&format!("\r\n{expect}")), "{fate}: {replies}");
            let id = *newest.lock().unwrap();
            assert_eq!(outbox.lock().unwrap().get(id).unwrap().is_some(), kept, "{fate}: who owns the message");
            // The next case starts from an empty outbox.
            if kept {
                outbox.lock().unwrap().delete(id).unwrap();
            }
        }
    }

    #[tokio::test]
    async fn limits_hold_and_a_drop_mid_message_keeps_nothing() {
        let limits = Limits { max_message: 20, max_recipients: 2, idle: Duration::from_secs(5), ..Limits::default() };
        let script = "EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<1@d.jp>\r\nRCPT TO:<2@d.jp>\r\nRCPT TO:<3@d.jp>\r\nDATA\r\nthis line is longer than twenty bytes\r\n.\r\nVRFY x\r\nMAIL FROM:<a@b.jp> SIZE=9999\r\nQUIT\r\n";
        let (replies, stored) = session(script, None, &limits).await;
        assert!(
            replies.contains("452 4.5.3") && replies.contains("552 5.3.4") && replies.contains("502 5.5.1"),
            "{replies}"
        );
        assert!(stored.into_inner().unwrap().is_empty());
        let (replies, stored) = session(
            "EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\nSubject: half\r\n",
            None,
            &Limits::default(),
        )
        .await;
        assert!(replies.contains("354"), "{replies}");
        assert!(stored.into_inner().unwrap().is_empty(), "a dropped message was kept");
        let long = format!("EHLO {}\r\nNOOP\r\nQUIT\r\n", "x".repeat(5000));
        let (replies, _) = session(&long, None, &Limits::default()).await;
        assert!(replies.contains("500 5.5.2 line too long") && replies.contains("250 2.0.0 ok"), "{replies}");
    }
    /// Issue 23: only <CRLF>.<CRLF> ends a message and nothing stored is altered, however the
    /// bytes arrive. Each script of the corpus (long lines with a dot at their end at every offset
    /// near the read buffer's size, lone dots there, CR/LF shapes, an over-long command line) is
    /// fed whole, one byte at a time, cut at the buffer size and ±1, and at random places: every
    /// way gives the same replies and the same stored messages, and that outcome is the one the
    /// whole-buffer reading (`harness::expected`) says.
    #[tokio::test]
    async fn every_way_the_bytes_arrive_gives_the_same_outcome() {
        use harness::{Expected, expected, session};
        const BUF: usize = 8 * 1024;
        let preamble = "EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\n";
        let smuggled = "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n";
        let mut corpus: Vec<Vec<u8>> = Vec::new();
        // A long line whose last character is a dot, ending at every offset around the buffer's
        // end and twice it: the read stops just before the dot in one of them.
        for around in [BUF, 2 * BUF] {
            for k in around - 6..around + 6 {
                let fill = k - preamble.len() - "Subject: a\r\n\r\n".len();
                let data = format!("Subject: a\r\n\r\n{}.\r\n{smuggled}", "x".repeat(fill));
                corpus.push(format!("{preamble}{data}.\r\nQUIT\r\n").into_bytes());
            }
        }
        // A lone dot (ending the message) and a stuffed one, at every offset around the buffer's end.
        for k in BUF - 6..BUF + 6 {
            let mut body = String::from("Subject: b\r\n\r\n");
            while preamble.len() + body.len() + 900 < k {
                body += &"y".repeat(898);
                body += "\r\n";
            }
            body += &"z".repeat(k - preamble.len() - body.len());
            corpus.push(format!("{preamble}{body}\r\n.\r\nNOOP\r\nQUIT\r\n").into_bytes());
            corpus.push(format!("{preamble}{body}\r\n..\r\nstill\r\n.\r\nQUIT\r\n").into_bytes());
        }
        // Lines at and over the limit; CR/LF shapes; a command line over its limit whose tail is a command.
        for data in [
            format!("Subject: c\r\n\r\n{}\r\n.\r\n", "w".repeat(998)),
            format!("Subject: c\r\n\r\n{}\r\n.\r\n", "w".repeat(999)),
            format!("Subject: c\r\n\r\n{}\n.\r\n", "w".repeat(998)),
            format!("Subject: c\r\n\r\n{}\nend\r\n.\r\n", "w".repeat(999)),
            format!("Subject: c\r\n\r\n{}\n.\n{smuggled}.\r\n", "w".repeat(5000)),
            "Subject: d\r\n\r\nbody\n.\nMAIL FROM:<x@evil.example>\r\n.\r\n".into(),
            "Subject: d\r\n\r\nbody\r\n.\nmore\r\n.\r\n".into(),
            "Subject: d\r\n\r\nbody\r.\rmore\r\n.\r\n".into(),
            "Subject: d\n\nbare LF lines\n..stuffed\r\n.\r\n".into(),
        ] {
            corpus.push(format!("{preamble}{data}QUIT\r\n").into_bytes());
        }
        // (The old reader dropped the first buffer's worth and ran the rest as a command.)
        corpus.push(format!("NOOP {}MAIL FROM:<evil@attacker.example>\r\nQUIT\r\n", "v".repeat(BUF - 5)).into_bytes());

        let limits = Limits::default();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for script in &corpus {
            let whole = session(script, &[], &limits, None).await;
            // What the first DATA must give, whatever the pieces.
            if let Some(start) = script.windows(6).position(|w| w == b"DATA\r\n").map(|p| p + 6) {
                match expected(&script[start..], limits.max_message) {
                    Expected::Ends { message: Some(m), .. } => {
                        assert_eq!(whole.stored.first().map(|s| &s.2), Some(&m), "{:?}", whole.replies)
                    }
                    Expected::Ends { message: None, .. } => {
                        assert!(whole.replies.contains("\r\n55"), "refused: {}", whole.replies);
                        assert!(whole.stored.is_empty(), "stored {:?}", whole.stored);
                    }
                    Expected::Unended => assert!(whole.stored.is_empty()),
                }
            } else {
                // The over-long command line is refused whole: its tail is never a command.
                assert!(
                    whole.replies.contains("500 5.5.2 line too long") && !whole.replies.contains("250 2.1.0"),
                    "{}",
                    whole.replies
                );
            }
            let n = script.len();
            let mut ways: Vec<Vec<usize>> = vec![
                (1..n).collect(),
                (BUF - 1..n).step_by(BUF - 1).collect(),
                (BUF..n).step_by(BUF).collect(),
                (BUF + 1..n).step_by(BUF + 1).collect(),
            ];
            for _ in 0..8 {
                let mut cuts: Vec<usize> = (0..1 + (rng % 12) as usize)
                    .map(|_| {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        (rng % n as u64) as usize
                    })
                    .collect();
                cuts.sort_unstable();
                ways.push(cuts);
            }
            for cuts in ways {
                let got = session(script, &cuts, &limits, None).await;
                assert_eq!(got, whole, "cut at {:?}…", &cuts[..cuts.len().min(8)]);
            }
        }
    }

    /// Issue 23: a client that sends a byte now and then does not keep its slot. Without a login
    /// it is closed at the login's deadline; logged in, a line must still arrive whole within the
    /// idle time (the timer does not restart on every byte).
    #[tokio::test(start_paused = true)]
    async fn a_trickle_of_bytes_does_not_hold_a_connection() {
        use tokio::io::AsyncReadExt as _;
        let l = login();
        let limits =
            Limits { idle: Duration::from_secs(300), login_time: Duration::from_secs(30), ..Limits::default() };
        for logged_in in [false, true] {
            let (client, server) = tokio::io::duplex(1 << 16);
            let (mut cr, mut cw) = tokio::io::split(client);
            let store = |_: Option<&str>, _: &[String], _: &[u8], _: &str| Ok(super::Stored::New(1));
            let started = tokio::time::Instant::now();
            let trickle = async {
                if logged_in {
                    cw.write_all(format!("AUTH PLAIN {}\r\n", plain("popsend", "local-secret")).as_bytes())
                        .await
                        .unwrap();
                }
                // One byte every 100 s of a line that never ends.
                for _ in 0..100 {
                    if cw.write_all(b"N").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(100)).await;
                }
            };
            let mut replies = String::new();
            tokio::select! {
                () = serve(server, &limits, Some(&l), &store, None) => {}
                () = trickle => panic!("the connection was held for 10,000 s"),
            }
            let closed_after = started.elapsed();
            cr.read_to_string(&mut replies).await.unwrap();
            assert!(replies.trim_end().ends_with("421 4.4.2 closing: idle too long or connection gone"), "{replies}");
            let limit = if logged_in { limits.idle } else { limits.login_time };
            assert!(
                closed_after <= limit + Duration::from_secs(1),
                "logged in {logged_in}: closed after {closed_after:?}"
            );
        }
    }

    /// Issue 23: each wrong local login costs a pause, and the third closes the connection, so
    /// 2,000 guesses on one connection are three; a PLAIN answer with a part too many, or
    /// another's authorization identity, is refused.
    #[tokio::test(start_paused = true)]
    async fn guessing_the_local_password_is_slow_and_plain_is_read_strictly() {
        let l = login();
        let guesses: String =
            (0..2000).map(|i| format!("AUTH PLAIN {}\r\n", plain("popsend", &format!("guess{i}")))).collect();
        let started = tokio::time::Instant::now();
        let (replies, _) = session(&format!("EHLO x\r\n{guesses}"), Some(&l), &Limits::default()).await;
        assert_eq!(replies.matches("535 5.7.8").count(), 3, "{replies}");
        assert!(replies.trim_end().ends_with("421 4.7.0 too many failed logins: closing"), "{replies}");
        assert!(started.elapsed() >= 3 * AUTH_DELAY, "{:?}", started.elapsed());

        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        for (answer, code) in [
            (b64("\0popsend\0local-secret\0extra"), "535"),
            (b64("someone\0popsend\0local-secret"), "535"),
            (b64("popsend\0popsend\0local-secret"), "235"),
        ] {
            let (replies, _) = session(&format!("AUTH PLAIN {answer}\r\nQUIT\r\n"), Some(&l), &Limits::default()).await;
            assert!(replies.lines().nth(1).is_some_and(|r| r.starts_with(code)), "{answer}: {replies}");
        }
    }

    /// Issue 23: a login file others can read is not used as found: a new password, the file
    /// back to 0600, and `renewed` says so; a private one is kept as it is.
    #[cfg(unix)]
    #[test]
    fn a_login_file_others_can_read_is_renewed() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let first = local_login(dir.path()).unwrap();
        assert!(!first.renewed);
        let file = dir.path().join(LOGIN_FILE);
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        let again = local_login(dir.path()).unwrap();
        assert!(!again.renewed && again.password.expose() == first.password.expose());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let renewed = local_login(dir.path()).unwrap();
        assert!(renewed.renewed, "an open file was used as found");
        assert_ne!(renewed.password.expose(), first.password.expose());
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), renewed.password.expose());
    }

    /// Issue 23: the owner of a listening port is read from the system's table, so a port taken
    /// by another user of this computer (who would collect the local login and the mail) is told
    /// apart from one of the student's own programs.
    #[tokio::test]
    async fn the_owner_of_a_taken_port_is_known() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:0A1A 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 4242 1\n   1: 0100007F:0A1B 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1002        0 4243 1\n";
        assert_eq!(listening_owner(table, 0x0a1a), Some(1001));
        assert_eq!(listening_owner(table, 0x0a1b), None, "an established connection is not a listener");
        assert_eq!(listening_owner(table, 25), None);
        #[cfg(target_os = "linux")]
        {
            let mine = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
            let port = mine.local_addr().unwrap().port();
            assert_eq!(owner(port), own_uid());
            let taken = listen(port).await.unwrap_err();
            assert_eq!(taken.other_user, None, "the student's own program is not another user");
        }
    }
    /// Issue 23 (review): ::1 held by someone else makes the port taken, not silently skipped:
    /// "localhost" often means ::1 first, and its holder would get the local login and the mail.
    #[tokio::test]
    async fn a_port_held_on_ipv6_loopback_alone_is_taken() {
        let squatter = std::net::TcpListener::bind(("::1", 0)).expect("this machine has ::1");
        let port = squatter.local_addr().unwrap().port();
        let e = bind(port).await.expect_err("bound beside another holder of ::1");
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
        let taken = listen(port).await.unwrap_err();
        assert_eq!(taken.other_user, None, "the student's own socket");
        drop(squatter);
        assert_eq!(bind(port).await.unwrap().len(), 2, "both loopback addresses once free");
    }

    /// Issue 23 (review): a web page's request (a browser posting text to the port) is closed at
    /// once, and MAIL needs EHLO or HELO first, so a form's text is never a mail session.
    #[tokio::test]
    async fn a_web_page_is_not_a_mail_program() {
        let post = "POST / HTTP/1.1\r\nHost: 127.0.0.1:2525\r\nContent-Type: text/plain\r\n\r\nx=\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nSubject: web\r\n\r\nhi\r\n.\r\n";
        let (replies, stored) = session(post, None, &Limits::default()).await;
        assert!(
            replies.trim_end().ends_with("421 4.7.0 this is a mail server: closing") && replies.lines().count() == 2,
            "{replies}"
        );
        assert!(stored.into_inner().unwrap().is_empty());
        let (replies, stored) =
            session("MAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n", None, &Limits::default())
                .await;
        assert!(
            replies.contains("503 5.5.1 EHLO or HELO first") && stored.into_inner().unwrap().is_empty(),
            "{replies}"
        );
    }

    /// Issue 23 (review): a client that never reads its replies does not hold its slot past the
    /// write deadline (its socket buffers full, every reply blocked).
    #[tokio::test(start_paused = true)]
    async fn a_client_that_does_not_read_is_closed() {
        let (client, server) = tokio::io::duplex(64);
        let (_cr, mut cw) = tokio::io::split(client);
        let store = |_: Option<&str>, _: &[String], _: &[u8], _: &str| Ok(super::Stored::New(1));
        let started = tokio::time::Instant::now();
        let l = login();
        let flood = async {
            loop {
                if cw.write_all(b"EHLO x\r\n").await.is_err() {
                    return;
                }
            }
        };
        let limits = Limits::default();
        tokio::select! {
            () = serve(server, &limits, Some(&l), &store, None) => {}
            () = flood => {}
        }
        assert!(started.elapsed() <= WRITE_TIME + Duration::from_secs(1), "held for {:?}", started.elapsed());
    }

    /// Issue 23 (review): AUTH LOGIN with the user name in the command, and a cancelled AUTH
    /// (`*`), which is no wrong password.
    #[tokio::test]
    async fn auth_login_takes_an_initial_response_and_a_cancel_is_not_a_failure() {
        let l = login();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let script = format!(
            "EHLO x\r\nAUTH PLAIN\r\n*\r\nAUTH LOGIN {}\r\n{}\r\nQUIT\r\n",
            b64("popsend"),
            b64("local-secret")
        );
        let (replies, _) = session(&script, Some(&l), &Limits::default()).await;
        assert!(
            replies.contains("501 5.7.0 authentication cancelled")
                && !replies.contains("535")
                && replies.contains("235 2.7.0"),
            "{replies}"
        );
    }

    /// Issue 23 (review): a message popsend cannot take as it is (here a Bcc line under a first
    /// line that is no header field) is refused for good (5xx), so the program stops retrying
    /// and shows why; nothing is stored.
    #[tokio::test]
    async fn a_message_that_cannot_be_taken_is_refused_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let outbox =
            std::sync::Arc::new(std::sync::Mutex::new(crate::core::sending::outbox::Outbox::open(dir.path()).unwrap()));
        let store = outbox_store(outbox.clone(), "taro@example.ac.jp".into(), || {});
        let script = "EHLO x\r\nMAIL FROM:<taro@example.ac.jp>\r\nRCPT TO:<a@example.net>\r\nDATA\r\n: x\r\nBcc: hidden@example.org\r\n\r\nbody\r\n.\r\nQUIT\r\n";
        let out = harness_with(script, &*store).await;
        assert!(out.contains("554 5.6.0 the message cannot be taken") && out.contains("Bcc"), "{out}");
        assert!(outbox.lock().unwrap().list(&[crate::core::sending::outbox::Status::Queued], 10).unwrap().is_empty());
    }

    async fn harness_with(script: &str, store: Store<'_>) -> String {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (mut cr, mut cw) = tokio::io::split(client);
        let limits = Limits::default();
        let (_, replies) = tokio::join!(serve(server, &limits, None, store, None), async {
            cw.write_all(script.as_bytes()).await.unwrap();
            let mut out = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut cr, &mut out).await.unwrap();
            out
        });
        replies
    }

    /// Issue 23 (review): the owner of a loopback connection's client end is read from the
    /// system's table, and another user gets at most `MAX_PER_STRANGER` connections, however
    /// often they reconnect; the student's own are not counted.
    #[tokio::test]
    async fn another_user_gets_a_few_connections_only() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let to = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(to).await.unwrap();
        let from = client.local_addr().unwrap();
        #[cfg(target_os = "linux")]
        assert_eq!(peer_owner(from, to), own_uid(), "this test's own connection");
        // The table as Linux writes it for 127.0.0.1:0xD431 → 127.0.0.1:0x0A1A, user 65534.
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n   0: 0100007F:D431 0100007F:0A1A 01 00000000:00000000 00:00000000 00000000 65534\n";
        if cfg!(target_endian = "little") {
            assert_eq!(
                connection_owner(table, "127.0.0.1:54321".parse().unwrap(), "127.0.0.1:2586".parse().unwrap()),
                Some(65534)
            );
        }
        let counts: StrangerCounts = Default::default();
        let first = Strangers::enter(&counts, Some(65534)).unwrap();
        let _second = Strangers::enter(&counts, Some(65534)).unwrap();
        assert!(Strangers::enter(&counts, Some(65534)).is_none(), "a third from the same user");
        assert!(Strangers::enter(&counts, None).is_some(), "the student's own");
        drop(first);
        assert!(Strangers::enter(&counts, Some(65534)).is_some(), "a place freed is a place again");
        drop((client, listener));
    }
}
