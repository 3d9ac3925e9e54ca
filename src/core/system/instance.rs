//! One window per data folder. The first window to start claims the folder with a lock file held
//! for the life of the process (flock on Unix; on Windows an open that shares nothing) and
//! listens on a local channel only its user can reach: a Unix socket inside the (0700) data
//! folder, or on Windows a per-user named pipe. A later start (a second double-click, or a browser handing over a `mailto:` link) gives
//! its request to that window and exits, so two windows never run two engines on one outbox.
//!
//! `popsend serve` (the login entry's background process) claims the folder the same way, so it
//! never runs beside a window: it answers a later window's request with `YIELD`, stops (the
//! message in flight is finished, the port closed) and lets go of the claim, and the window then
//! takes the folder, the engine and the submission port. A server that finds the folder claimed
//! does not start.
//!
//! It carries requests and nothing else: it does not interpret a `mailto:` URL (that is
//! `message::mailto`, on both sides: the receiver must treat what arrives as untrusted), and it never
//! touches the window (the app polls `Listener::take` and wakes on the hook).

use std::io;
#[cfg(unix)]
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// What a later start asks of the running window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handover {
    /// Come to the front.
    Show,
    /// Come to the front with 作成 filled from this URL (not yet checked).
    Mailto(String),
}

/// What wakes the window when a request arrives (set once the window exists).
type Wake = Arc<Mutex<Option<Arc<dyn Fn() + Send + Sync>>>>;

/// The protocol's version tag: the first word of every request line.
const MAGIC: &str = "POPSEND1";
/// The longest request line taken: a mailto URL at its limit, and the words around it.
const MAX_LINE: u64 = crate::message::mailto::MAX_URL as u64 + 64;
/// How long either side waits for the other before giving up on one exchange.
const EXCHANGE: Duration = Duration::from_secs(5);
/// How long a later start keeps trying while the first window is still starting up (it holds the
/// claim but does not listen yet).
const STARTING: Duration = Duration::from_secs(5);
/// How long a window waits for a background server that said `YIELD` to let go of the folder:
/// it finishes the message in flight first, and a slow server takes its time.
const YIELDING: Duration = Duration::from_secs(90);

/// Who holds the claim, and so how a later start's request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The window: takes the request (`OK`).
    Window,
    /// `popsend serve`: steps aside (`YIELD`), for the window to take its place.
    Server,
}

impl Role {
    fn answer(self) -> &'static [u8] {
        match self {
            Role::Window => b"OK\n",
            Role::Server => b"YIELD\n",
        }
    }
}

/// What the holder of the claim answered.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Taken,
    Yielding,
    /// A server asked only if it were a window (`WINDOW_ONLY`): it goes on, nothing changed.
    NotAWindow,
}

/// Marks a request for a window only: a server answers `NO` and does not step aside (a start
/// that cannot open a window of its own must not close the server's port).
/// (Only a Unix start can lack a display: Windows and macOS always have one.)
#[cfg_attr(not(unix), allow(dead_code))]
const WINDOW_ONLY: &str = "WINDOW-ONLY ";

impl Answer {
    fn parse(line: &str) -> io::Result<Answer> {
        match line {
            "OK\n" => Ok(Answer::Taken),
            "YIELD\n" => Ok(Answer::Yielding),
            "NO\n" => Ok(Answer::NotAWindow),
            "" => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the window closed the connection")),
            other => Err(io::Error::other(format!("the window answered {:?}", other.trim_end()))),
        }
    }
}

impl Handover {
    fn line(&self) -> String {
        match self {
            Handover::Show => format!("{MAGIC} SHOW\n"),
            Handover::Mailto(url) => format!("{MAGIC} MAILTO {url}\n"),
        }
    }

    fn parse(line: &str) -> Option<Handover> {
        let rest = line.strip_suffix('\n').unwrap_or(line).strip_prefix(MAGIC)?.strip_prefix(' ')?;
        if rest == "SHOW" {
            return Some(Handover::Show);
        }
        let url = rest.strip_prefix("MAILTO ")?;
        // A URL is one line; anything else is not a request this side made.
        (!url.contains(['\r', '\n'])).then(|| Handover::Mailto(url.to_owned()))
    }
}

/// The outcome of `claim`.
pub enum Claim {
    /// This process is the window (or server) for the folder; later requests arrive through the
    /// listener.
    First(Listener),
    /// The running window took the request: this process has nothing more to do.
    HandedOver,
    /// A server's claim only: another process has the folder (nothing was asked of it).
    Held,
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another process holds the folder but did not take the request.
    #[error("another popsend window has this data folder but did not answer: {0}")]
    NoAnswer(String),
    /// A background `popsend serve` agreed to step aside but still holds the folder.
    #[error("the background popsend serve agreed to stop but still holds this data folder after {} s", YIELDING.as_secs())]
    NotYielded,
    /// The folder could not be claimed at all (unwritable, …).
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// The running window's end: requests from later starts, and the hook that wakes the window.
pub struct Listener {
    rx: mpsc::Receiver<Handover>,
    wake: Wake,
    /// Held for as long as the process runs: the claim (flock on Unix, an open that shares
    /// nothing on Windows).
    _lock: std::fs::File,
}

impl Listener {
    /// Sets what is called after each request arrives (the window's repaint).
    pub fn set_wake(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        if let Ok(mut w) = self.wake.lock() {
            *w = Some(wake);
        }
    }

    /// The requests that arrived since the last call, oldest first.
    pub fn take(&self) -> Vec<Handover> {
        self.rx.try_iter().collect()
    }
}

/// Claims `data_dir` for this process's window, or hands `request` to the window that has it.
/// A background server that has it steps aside, and then the folder is this window's.
pub fn claim(data_dir: &Path, request: &Handover) -> Result<Claim, ClaimError> {
    crate::system::files::create_private_dir(data_dir)?;
    imp::claim(data_dir, Some(request), Role::Window)
}

/// For a start that cannot open a window (no display): gives `request` to the window that holds
/// `data_dir`, if a window does (`true`). A background server that holds it is asked only whether
/// it is a window, and goes on; nothing is claimed either way.
#[cfg(unix)]
pub fn hand_over_to_window(data_dir: &Path, request: &Handover) -> io::Result<bool> {
    use std::os::unix::net::UnixStream;
    let Some(path) = imp::socket_path(data_dir) else { return Ok(false) };
    // Nobody listening (no window, no server) is the common case here: no waiting.
    let Ok(conn) = UnixStream::connect(&path) else { return Ok(false) };
    conn.set_read_timeout(Some(EXCHANGE))?;
    conn.set_write_timeout(Some(EXCHANGE))?;
    let mut reader = BufReader::new(conn);
    io::Write::write_all(
        reader.get_mut(),
        request.line().replacen(MAGIC, &format!("{MAGIC} {}", WINDOW_ONLY.trim_end()), 1).as_bytes(),
    )?;
    let mut answer = String::new();
    reader.by_ref().take(16).read_line(&mut answer)?;
    Ok(Answer::parse(&answer)? == Answer::Taken)
}

/// Claims `data_dir` for `popsend serve`: `Held` when a window or another server still has it
/// after `wait` (a window that is closing lets go in a moment). A request from a later window
/// arrives through the listener (answered `YIELD`): the server's cue to stop.
pub fn claim_for_server(data_dir: &Path, wait: Duration) -> Result<Claim, ClaimError> {
    crate::system::files::create_private_dir(data_dir)?;
    let start = Instant::now();
    loop {
        match imp::claim(data_dir, None, Role::Server)? {
            Claim::Held if start.elapsed() < wait => std::thread::sleep(Duration::from_millis(100)),
            claim => return Ok(claim),
        }
    }
}

/// Serves one connection: reads one request line, queues it, answers as `role` does.
#[cfg(unix)]
fn serve(
    conn: impl io::Read + io::Write,
    tx: &mpsc::Sender<Handover>,
    wake: &Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
    role: Role,
) {
    let mut reader = BufReader::new(conn);
    let mut line = Vec::new();
    if reader.by_ref().take(MAX_LINE).read_until(b'\n', &mut line).is_err() || !line.ends_with(b"\n") {
        return;
    }
    let Ok(mut line) = String::from_utf8(line) else {
        let _ = reader.get_mut().write_all(b"ERR\n");
        return;
    };
    if let Some(rest) = line.strip_prefix(&format!("{MAGIC} {WINDOW_ONLY}")) {
        if role == Role::Server {
            let _ = reader.get_mut().write_all(b"NO\n");
            return;
        }
        line = format!("{MAGIC} {rest}");
    }
    let Some(h) = Handover::parse(&line) else {
        let _ = reader.get_mut().write_all(b"ERR\n");
        return;
    };
    if tx.send(h).is_err() {
        return;
    }
    // Woken before the answer: when the later start hears OK, the window already knows.
    if let Some(w) = wake.lock().ok().and_then(|w| w.clone()) {
        w();
    }
    let _ = reader.get_mut().write_all(role.answer());
}

/// Sends `request` on an open connection and waits for the answer.
#[cfg(unix)]
fn ask(conn: impl io::Read + io::Write, request: &Handover) -> io::Result<Answer> {
    let mut reader = BufReader::new(conn);
    reader.get_mut().write_all(request.line().as_bytes())?;
    reader.get_mut().flush()?;
    let mut answer = String::new();
    reader.by_ref().take(16).read_line(&mut answer)?;
    Answer::parse(&answer)
}

/// Tries `attempt` until it gives the claim or `YIELDING` has passed (a server stepping aside).
fn wait_for_claim<T>(mut attempt: impl FnMut() -> io::Result<Option<T>>) -> Result<T, ClaimError> {
    let start = Instant::now();
    loop {
        if let Some(v) = attempt()? {
            return Ok(v);
        }
        if start.elapsed() >= YIELDING {
            return Err(ClaimError::NotYielded);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn channel() -> (mpsc::Sender<Handover>, mpsc::Receiver<Handover>, Wake) {
    let (tx, rx) = mpsc::channel();
    (tx, rx, Arc::new(Mutex::new(None)))
}

/// A short, stable name made from `key` (a folder path): 16 hex digits of its MD5. A name, not
/// a secret: nothing relies on it being hard to guess.
#[cfg_attr(not(any(unix, windows)), allow(dead_code))]
fn name_digest(key: &[u8]) -> String {
    use md5::{Digest as _, Md5};
    Md5::digest(key).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Tries `attempt` until it succeeds or `STARTING` has passed.
fn keep_trying<T>(mut attempt: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let start = Instant::now();
    loop {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() >= STARTING => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[cfg(unix)]
mod imp {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt as _;
    use std::os::unix::io::AsRawFd as _;
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::PathBuf;

    /// Unix socket paths are short (108 bytes on Linux, 104 on macOS).
    const SUN_PATH: usize = 100;

    /// Where the window listens: in the data folder, or for a very long folder name in the
    /// user's private runtime folder, named after the data folder. `None`: nowhere safe.
    pub(super) fn socket_path(data_dir: &Path) -> Option<PathBuf> {
        let inside = data_dir.join("window.sock");
        if inside.as_os_str().len() <= SUN_PATH {
            return Some(inside);
        }
        let runtime = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
        let digest = name_digest(data_dir.as_os_str().as_encoded_bytes());
        Some(runtime.join(format!("popsend-{digest}.sock"))).filter(|p| p.as_os_str().len() <= SUN_PATH)
    }

    /// The lock file, locked: `None` while another process holds it.
    fn try_lock(data_dir: &Path) -> io::Result<Option<std::fs::File>> {
        let lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(data_dir.join("window.lock"))?;
        // SAFETY: flock on a descriptor this function owns; no memory is shared.
        let held = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        Ok(held.then_some(lock))
    }

    pub(super) fn claim(data_dir: &Path, request: Option<&Handover>, role: Role) -> Result<Claim, ClaimError> {
        let path = socket_path(data_dir);
        let lock = match try_lock(data_dir)? {
            Some(lock) => lock,
            None => {
                let Some(request) = request else { return Ok(Claim::Held) };
                let Some(path) = &path else {
                    return Err(ClaimError::NoAnswer("no place for the local socket".into()));
                };
                let answer = keep_trying(|| {
                    let conn = UnixStream::connect(path)?;
                    conn.set_read_timeout(Some(EXCHANGE))?;
                    conn.set_write_timeout(Some(EXCHANGE))?;
                    ask(conn, request)
                })
                .map_err(|e| ClaimError::NoAnswer(e.to_string()))?;
                if answer == Answer::Taken {
                    return Ok(Claim::HandedOver);
                }
                wait_for_claim(|| try_lock(data_dir))?
            }
        };
        let (tx, rx, wake) = channel();
        if let Some(path) = path {
            // A socket left by a window that crashed: the lock says nobody listens on it now.
            let _ = std::fs::remove_file(&path);
            let listener = UnixListener::bind(&path)?;
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            let wake = wake.clone();
            std::thread::Builder::new().name("popsend-instance".into()).spawn(move || {
                for conn in listener.incoming().flatten() {
                    // A peer that connects and says nothing holds up the next one only this long.
                    let _ = conn.set_read_timeout(Some(EXCHANGE));
                    let _ = conn.set_write_timeout(Some(EXCHANGE));
                    serve(conn, &tx, &wake, role);
                }
            })?;
        }
        Ok(Claim::First(Listener { rx, wake, _lock: lock }))
    }
}

#[cfg(windows)]
mod imp {
    use super::*;
    use tokio::net::windows::named_pipe::{ClientOptions, ServerOptions};

    /// The pipe's name: named pipes are machine-wide, so it is made of the user and the folder.
    fn pipe_name(data_dir: &Path) -> String {
        let user = std::env::var("USERNAME").unwrap_or_default();
        let mut key = user.into_bytes();
        key.push(0);
        key.extend_from_slice(data_dir.as_os_str().as_encoded_bytes());
        format!(r"\\.\pipe\popsend-{}", name_digest(&key))
    }

    unsafe extern "system" {
        /// user32: lets the window that takes the request come to the front.
        fn AllowSetForegroundWindow(process_id: u32) -> i32;
    }
    const ASFW_ANY: u32 = u32::MAX;

    /// The lock file opened sharing nothing: `None` while another process has it open.
    fn try_lock(data_dir: &Path) -> io::Result<Option<std::fs::File>> {
        use std::os::windows::fs::OpenOptionsExt as _;
        // The claim: window.lock opened sharing nothing, held while the window runs (a second
        // open fails with a sharing violation).
        const ERROR_SHARING_VIOLATION: i32 = 32;
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .share_mode(0)
            .open(data_dir.join("window.lock"))
        {
            Ok(lock) => Ok(Some(lock)),
            Err(e) if e.raw_os_error() == Some(ERROR_SHARING_VIOLATION) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) fn claim(data_dir: &Path, request: Option<&Handover>, role: Role) -> Result<Claim, ClaimError> {
        let name = pipe_name(data_dir);
        let runtime = crate::runtime()?;
        let lock = match try_lock(data_dir)? {
            Some(lock) => lock,
            None => {
                let Some(request) = request else { return Ok(Claim::Held) };
                // SAFETY: a plain Win32 call with a constant argument.
                unsafe { AllowSetForegroundWindow(ASFW_ANY) };
                let answer = keep_trying(|| {
                    runtime.block_on(async {
                        let client = ClientOptions::new().open(&name)?;
                        let line = request.line();
                        let exchange = async move {
                            use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
                            let mut reader = tokio::io::BufReader::new(client);
                            reader.get_mut().write_all(line.as_bytes()).await?;
                            let mut answer = String::new();
                            (&mut reader).take(16).read_line(&mut answer).await?;
                            Answer::parse(&answer)
                        };
                        tokio::time::timeout(EXCHANGE, exchange)
                            .await
                            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
                    })
                })
                .map_err(|e| ClaimError::NoAnswer(e.to_string()))?;
                if answer == Answer::Taken {
                    return Ok(Claim::HandedOver);
                }
                wait_for_claim(|| try_lock(data_dir))?
            }
        };
        // The pipe; its first instance must be ours.
        let mut server = runtime.block_on(async {
            ServerOptions::new().first_pipe_instance(true).reject_remote_clients(true).create(&name)
        })?;
        let (tx, rx, wake) = channel();
        let wake_thread = wake.clone();
        std::thread::Builder::new().name("popsend-instance".into()).spawn(move || {
            runtime.block_on(async move {
                loop {
                    if server.connect().await.is_err() {
                        continue;
                    }
                    let conn = server;
                    server = match ServerOptions::new().reject_remote_clients(true).create(&name) {
                        Ok(s) => s,
                        Err(_) => return,
                    };
                    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
                    let mut reader = tokio::io::BufReader::new(conn);
                    let mut line = String::new();
                    let read = tokio::time::timeout(EXCHANGE, (&mut reader).take(MAX_LINE).read_line(&mut line)).await;
                    let Some(h) = matches!(read, Ok(Ok(_))).then(|| Handover::parse(&line)).flatten() else {
                        continue;
                    };
                    if tx.send(h).is_err() {
                        return;
                    }
                    if let Some(w) = wake_thread.lock().ok().and_then(|w| w.clone()) {
                        w();
                    }
                    let _ = tokio::time::timeout(EXCHANGE, reader.get_mut().write_all(role.answer())).await;
                }
            })
        })?;
        Ok(Claim::First(Listener { rx, wake, _lock: lock }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::path::PathBuf;

    #[test]
    fn request_lines_round_trip_and_nothing_else_is_taken() {
        for h in [Handover::Show, Handover::Mailto("mailto:a@example.jp?subject=%E3%81%82".into())] {
            assert_eq!(Handover::parse(&h.line()), Some(h));
        }
        for bad in ["SHOW\n", "POPSEND2 SHOW\n", "POPSEND1 OPEN\n", "POPSEND1 MAILTO a\rb\n", "POPSEND1SHOW\n", ""] {
            assert_eq!(Handover::parse(bad), None, "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_second_start_hands_over_and_the_first_hears_it() {
        let dir = tempfile::tempdir().unwrap();
        let Claim::First(first) = claim(dir.path(), &Handover::Show).unwrap() else {
            panic!("the first start must get the folder")
        };
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let w = woken.clone();
        first.set_wake(Arc::new(move || {
            w.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
        let url = "mailto:taro@example.ac.jp?subject=%E8%A1%A8";
        assert!(matches!(claim(dir.path(), &Handover::Mailto(url.into())).unwrap(), Claim::HandedOver));
        assert!(matches!(claim(dir.path(), &Handover::Show).unwrap(), Claim::HandedOver));
        assert_eq!(first.take(), vec![Handover::Mailto(url.into()), Handover::Show]);
        assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 2);
        // Only the owner can reach the socket.
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join("window.sock")).unwrap().permissions(),
        );
        assert_eq!(mode & 0o077, 0);
    }

    /// Issue 13: a background server steps aside for a window: the window's request is heard
    /// (the server's cue), answered `YIELD`, and once the server lets go the window has the
    /// folder. A server never starts beside a window, nor beside another server.
    #[test]
    fn a_server_yields_the_folder_to_a_window_and_never_starts_beside_one() {
        let dir = tempfile::tempdir().unwrap();
        let Claim::First(server) = claim_for_server(dir.path(), Duration::ZERO).unwrap() else {
            panic!("the folder was free")
        };
        assert!(
            matches!(claim_for_server(dir.path(), Duration::ZERO).unwrap(), Claim::Held),
            "a second server must not start"
        );
        let (cue_tx, cue_rx) = std::sync::mpsc::channel();
        server.set_wake(Arc::new(move || {
            let _ = cue_tx.send(());
        }));
        // The server: on its cue, it finishes (here: a moment) and lets go.
        let stepping_aside = std::thread::spawn(move || {
            cue_rx.recv().unwrap();
            let heard = server.take();
            std::thread::sleep(Duration::from_millis(300));
            drop(server);
            heard
        });
        let start = Instant::now();
        let Claim::First(window) = claim(dir.path(), &Handover::Show).unwrap() else {
            panic!("the window must get the folder from the server")
        };
        assert!(start.elapsed() >= Duration::from_millis(300), "the window took the folder before the server let go");
        assert_eq!(stepping_aside.join().unwrap(), vec![Handover::Show]);
        assert!(
            matches!(claim_for_server(dir.path(), Duration::ZERO).unwrap(), Claim::Held),
            "a server must not start beside the window"
        );
        drop(window);
    }

    #[cfg(unix)]
    #[test]
    fn a_socket_left_by_a_crashed_window_does_not_stop_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        // A stale socket file nobody listens on, and no lock held.
        drop(std::os::unix::net::UnixListener::bind(dir.path().join("window.sock")).unwrap());
        assert!(matches!(claim(dir.path(), &Handover::Show).unwrap(), Claim::First(_)));
    }

    #[cfg(unix)]
    #[test]
    fn a_window_that_does_not_answer_is_reported_not_doubled() {
        let dir = tempfile::tempdir().unwrap();
        // Someone holds the claim but never answers: the lock is held, nobody listens.
        let lock = std::fs::File::create(dir.path().join("window.lock")).unwrap();
        assert_eq!(
            unsafe { libc::flock(std::os::unix::io::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX | libc::LOCK_NB) },
            0
        );
        let start = Instant::now();
        match claim(dir.path(), &Handover::Show) {
            Err(ClaimError::NoAnswer(_)) => {}
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a second window must not start while the first holds the folder"),
        }
        assert!(start.elapsed() >= STARTING, "it waits for a window that is still starting");
    }

    #[cfg(unix)]
    #[test]
    fn a_long_data_folder_listens_in_the_runtime_folder() {
        let long = PathBuf::from(format!("/home/{}/data", "x".repeat(120)));
        let p = imp::socket_path(&long);
        if let Some(p) = p {
            assert!(p.as_os_str().len() <= 100 && !p.starts_with(&long));
        }
        assert_eq!(imp::socket_path(Path::new("/d")), Some(PathBuf::from("/d/window.sock")));
    }
}
