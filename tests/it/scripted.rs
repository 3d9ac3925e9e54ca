//! The tests' one scripted POP3 peer and one scripted SMTP peer, for what real servers cannot be
//! made to show on cue: the order of events on the wire, a reply that comes late, a relay refusal
//! that a reconnect cures, a server that echoes a password or streams an endless line, one that
//! greets and never answers, a PIPELINING group seen as it arrives. Each peer binds its port and
//! keeps it (no bind, drop and hope no one else took it) and runs on its own thread and runtime,
//! so sync tests, async tests and tests under tokio's paused clock use it alike. A peer notes what
//! it hears; it must not decide anything a test asserts about popsend.

use std::net::TcpListener as StdListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// What a peer heard, in order, each with its time.
type Log = Arc<Mutex<Vec<(Instant, String)>>>;

/// A running peer: its port, and what it heard.
#[derive(Clone)]
pub struct Peer {
    pub port: u16,
    /// Every command line read, as sent (trimmed); `<message>` where a message was taken.
    lines: Arc<Mutex<Vec<String>>>,
    /// Events: `connect`, each command's verb (`MAIL`, or `MAIL early` when more had already
    /// arrived behind it), `message` (`message early`), `data "…"` (what the server keeps),
    /// `cut` (a message ended before its dot), and a POP peer's `PASS +OK` / `PASS -ERR` when it
    /// answers PASS.
    notes: Log,
    connections: Arc<AtomicUsize>,
}

impl Peer {
    /// Every command line read, in order.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// How many command lines began with `prefix` (case-insensitive).
    pub fn count(&self, prefix: &str) -> usize {
        let prefix = prefix.to_ascii_uppercase();
        self.lines().iter().filter(|l| l.to_ascii_uppercase().starts_with(&prefix)).count()
    }

    /// The events, in order.
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap().iter().map(|(_, w)| w.clone()).collect()
    }

    /// How many times `what` was noted, with or without ` early`.
    pub fn noted(&self, what: &str) -> usize {
        self.when(what).len()
    }

    /// When `what` was noted (with or without ` early`).
    pub fn when(&self, what: &str) -> Vec<Instant> {
        let notes = self.notes.lock().unwrap();
        notes.iter().filter(|(_, w)| w.strip_suffix(" early").unwrap_or(w) == what).map(|(t, _)| *t).collect()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Forgets what was heard (the port stays).
    pub fn forget(&self) {
        self.lines.lock().unwrap().clear();
        self.notes.lock().unwrap().clear();
    }

    fn note(&self, what: String) {
        self.notes.lock().unwrap().push((Instant::now(), what));
    }

    fn heard(&self, line: &str) {
        self.lines.lock().unwrap().push(line.trim_end().to_owned());
    }
}

/// Binds `addr` (kept for the peer's life) and serves each connection with `serve` on the peer's
/// own thread.
fn start<F, Fut>(addr: &str, serve: F) -> Peer
where
    F: Fn(Peer, usize, TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let listener = StdListener::bind(addr).unwrap_or_else(|e| panic!("a scripted peer cannot bind {addr}: {e}"));
    listener.set_nonblocking(true).unwrap();
    let peer = Peer {
        port: listener.local_addr().unwrap().port(),
        lines: Default::default(),
        notes: Default::default(),
        connections: Default::default(),
    };
    let mine = peer.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((s, _)) = listener.accept().await else { return };
                let conn = mine.connections.fetch_add(1, Ordering::SeqCst);
                mine.note("connect".into());
                tokio::task::spawn_local(serve(mine.clone(), conn, s));
            }
        });
    });
    peer
}

/// Reads one line (bytes that are not UTF-8 kept as U+FFFD, not taken for the end); `None` at
/// the end of the connection.
async fn read_line(r: &mut BufReader<OwnedReadHalf>) -> Option<String> {
    let mut line = Vec::new();
    (r.read_until(b'\n', &mut line).await.unwrap_or(0) > 0).then(|| String::from_utf8_lossy(&line).into_owned())
}

/// Whether more has already arrived (a client that waits for each reply has sent nothing more).
async fn more_waiting(r: &mut BufReader<OwnedReadHalf>) -> bool {
    tokio::time::timeout(Duration::from_millis(30), r.fill_buf()).await.is_ok_and(|b| b.is_ok_and(|b| !b.is_empty()))
}

async fn say(w: &mut OwnedWriteHalf, reply: &str) -> bool {
    w.write_all(format!("{reply}\r\n").as_bytes()).await.is_ok()
}

fn verb(line: &str) -> String {
    line.split_whitespace().next().unwrap_or("").to_ascii_uppercase()
}

/// How a scripted POP3 peer answers: CAPA (USER), USER, and PASS after `delay` with what `pass`
/// returns (it may first do something the test needs at that moment).
#[derive(Clone)]
pub struct Pop {
    /// Where it listens (`"[::1]:0"`: IPv6 only).
    pub addr: &'static str,
    pub delay: Duration,
    pub pass: Arc<dyn Fn() -> String + Send + Sync>,
}

impl Pop {
    /// PASS answered at once with `reply`.
    pub fn answering(reply: &str) -> Pop {
        let reply = reply.to_owned();
        Pop { addr: "127.0.0.1:0", delay: Duration::ZERO, pass: Arc::new(move || reply.clone()) }
    }
}

/// A POP3 peer answering PASS with `reply`.
pub fn pop_peer(reply: &str) -> Peer {
    pop(Pop::answering(reply))
}

pub fn pop(script: Pop) -> Peer {
    start(script.addr, move |peer, _, s| {
        let script = script.clone();
        async move {
            let (r, mut w) = s.into_split();
            let mut r = BufReader::new(r);
            say(&mut w, "+OK scripted POP3 ready").await;
            while let Some(line) = read_line(&mut r).await {
                peer.heard(&line);
                let verb = verb(&line);
                peer.note(verb.clone());
                let reply = match verb.as_str() {
                    "CAPA" => "+OK\r\nUSER\r\n.".to_owned(),
                    "USER" => "+OK".to_owned(),
                    "PASS" => {
                        tokio::time::sleep(script.delay).await;
                        let reply = (script.pass)();
                        peer.note(format!("PASS {}", reply.split_whitespace().next().unwrap_or("")));
                        reply
                    }
                    "QUIT" => {
                        say(&mut w, "+OK bye").await;
                        return;
                    }
                    _ => "-ERR unknown".to_owned(),
                };
                if !say(&mut w, &reply).await {
                    return;
                }
            }
        }
    })
}

/// One RCPT TO as the SMTP peer sees it.
pub struct Rcpt<'a> {
    /// The connection (0 for the first of the peer's life).
    pub conn: usize,
    /// The RCPT's place on its connection, over all its transactions (0 for the first).
    pub nth: usize,
    /// The address between the angle brackets.
    pub address: &'a str,
    /// Recipients this transaction took so far.
    pub accepted: usize,
}

/// What an SMTP peer does wrong, if anything.
#[derive(Clone, Default)]
pub enum Fault {
    #[default]
    None,
    /// Takes the connection and never says a word (the commonest OP25B shape beside a dropped SYN).
    Silent,
    /// Greets, then never answers.
    Stall,
    /// Answers EHLO with something that is not SMTP.
    MalformedEhlo,
    /// Answers EHLO with a line that never ends, counting the bytes written until popsend hangs
    /// up (or 64 MiB: a client without a bound would still be reading).
    EndlessEhlo(Arc<Mutex<usize>>),
    /// Says 354, reads one line of the message and hangs up.
    CutInData,
    /// Hangs up on DATA without a reply (after a PIPELINING group, say).
    CloseAtData,
}

/// How a scripted SMTP peer answers. `Smtp::default()` is a server that takes everything.
#[derive(Clone)]
pub struct Smtp {
    /// Where it listens (`"[::1]:0"`: IPv6 only).
    pub addr: &'static str,
    pub greeting: &'static str,
    /// EHLO keywords after the first line.
    pub ehlo: &'static [&'static str],
    /// The reply to a RCPT TO (`always` or `rcpt`).
    pub rcpt: Answer,
    /// The reply to the n-th final dot of the peer's life (0 for the first).
    pub end: fn(usize) -> String,
    pub fault: Fault,
    /// Note ` early` on each command and dot behind which more had already arrived.
    pub notice_early: bool,
}

/// How an SMTP peer answers RCPT TO.
pub type Answer = Arc<dyn Fn(&Rcpt) -> String + Send + Sync>;

/// RCPT TO answered by `f`.
pub fn rcpt(f: impl Fn(&Rcpt) -> String + Send + Sync + 'static) -> Answer {
    Arc::new(f)
}

/// Every RCPT TO answered with `reply`.
pub fn always(reply: &str) -> Answer {
    let reply = reply.to_owned();
    Arc::new(move |_| reply.clone())
}

pub const TAKEN: &str = "250 2.1.5 Ok";
pub const QUEUED: &str = "250 2.0.0 Ok: queued";

impl Default for Smtp {
    fn default() -> Smtp {
        Smtp {
            addr: "127.0.0.1:0",
            greeting: "220 scripted ESMTP",
            ehlo: &["8BITMIME"],
            rcpt: always(TAKEN),
            end: |_| QUEUED.into(),
            fault: Fault::None,
            notice_early: false,
        }
    }
}

pub fn smtp(script: Smtp) -> Peer {
    let messages = Arc::new(AtomicUsize::new(0));
    start(script.addr, move |peer, conn, s| {
        let (script, messages) = (script.clone(), messages.clone());
        async move { smtp_conn(&script, &messages, &peer, conn, s).await }
    })
}

async fn smtp_conn(script: &Smtp, messages: &AtomicUsize, peer: &Peer, conn: usize, s: TcpStream) {
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    if let Fault::Silent = script.fault {
        while read_line(&mut r).await.is_some() {}
        return;
    }
    say(&mut w, script.greeting).await;
    let (mut nth, mut accepted) = (0, 0);
    while let Some(line) = read_line(&mut r).await {
        peer.heard(&line);
        let verb = verb(&line);
        let early = script.notice_early && more_waiting(&mut r).await;
        peer.note(format!("{verb}{}", if early { " early" } else { "" }));
        let reply = match (verb.as_str(), &script.fault) {
            (_, Fault::Stall) => continue,
            ("EHLO", Fault::MalformedEhlo) => "hello there, friend".to_owned(),
            ("EHLO", Fault::EndlessEhlo(written)) => {
                let _ = w.write_all(b"250-").await;
                let chunk = vec![b'a'; 64 * 1024];
                for _ in 0..1024 {
                    if w.write_all(&chunk).await.is_err() {
                        break;
                    }
                    *written.lock().unwrap() += chunk.len();
                }
                return;
            }
            ("EHLO", _) => {
                let mut lines = vec!["250-scripted".to_owned()];
                lines.extend(script.ehlo.iter().map(|k| format!("250-{k}")));
                let last = lines.pop().unwrap().replacen("250-", "250 ", 1);
                lines.push(last);
                lines.join("\r\n")
            }
            ("MAIL", _) | ("RSET", _) => {
                accepted = 0;
                "250 2.0.0 Ok".to_owned()
            }
            ("NOOP", _) => "250 2.0.0 Ok".to_owned(),
            ("RCPT", _) => {
                let address = line.split(['<', '>']).nth(1).unwrap_or("");
                let reply = (script.rcpt)(&Rcpt { conn, nth, address, accepted });
                nth += 1;
                accepted += usize::from(reply.starts_with('2'));
                reply
            }
            ("DATA", Fault::CloseAtData) => return,
            ("DATA", _) if accepted == 0 => "554 5.5.1 Error: no valid recipients".to_owned(),
            ("DATA", fault) => {
                if !say(&mut w, "354 go ahead").await {
                    return;
                }
                if let Fault::CutInData = fault {
                    read_line(&mut r).await;
                    return;
                }
                let mut data = String::new();
                loop {
                    let Some(body) = read_line(&mut r).await else {
                        peer.note("cut".into());
                        return;
                    };
                    if body == ".\r\n" {
                        break;
                    }
                    // Transparency undone (RFC 5321 4.5.2): what the server keeps.
                    data += body.strip_prefix('.').unwrap_or(&body);
                }
                peer.heard("<message>");
                peer.note(format!("data {data:?}"));
                let early = script.notice_early && more_waiting(&mut r).await;
                peer.note(format!("message{}", if early { " early" } else { "" }));
                (script.end)(messages.fetch_add(1, Ordering::SeqCst))
            }
            ("AUTH", _) => "235 2.7.0 Authentication successful".to_owned(),
            ("QUIT", _) => {
                say(&mut w, "221 bye").await;
                return;
            }
            _ => "502 5.5.2 what".to_owned(),
        };
        if !say(&mut w, &reply).await {
            return;
        }
    }
}
