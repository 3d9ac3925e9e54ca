//! Where the password comes from: the environment variable `POPSEND_PASSWORD`, else the first
//! line printed by the account's `password_command` (bounded in time and size), else the OS
//! keyring, else — only where the student chose it, on a machine without a keyring — the file
//! `password` beside the config file, readable by the user alone (refused otherwise, as ssh does). The password lives in a `Password` whose Debug and Display print nothing of it; errors
//! never contain it, nor the command's output. A `Redactor` takes the password and the forms it
//! travels in (base64, SASL PLAIN) out of anything a server said before it is shown or stored.

use std::fmt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::setup::account::PopSection;

pub const ENV_VAR: &str = "POPSEND_PASSWORD";
pub const KEYRING_SERVICE: &str = "popsend";

/// The file a student may choose to keep the password in where there is no keyring.
pub const PASSWORD_FILE: &str = "password";

/// Where that file is for `config_file`: beside it.
pub fn password_file(config_file: &std::path::Path) -> std::path::PathBuf {
    config_file.with_file_name(PASSWORD_FILE)
}

/// A password. Its Debug/Display are redacted.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(s: String) -> Password {
        Password(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What removes this password (for `username`) from server text.
    pub fn redactor(&self, username: &str) -> Redactor {
        Redactor::new(username, &self.0)
    }
}

/// Takes a password out of text a server sent: the password itself (ASCII case ignored: a server
/// may upper-case the line it echoes), its base64 (AUTH LOGIN) and the SASL PLAIN response.
#[derive(Clone, Default)]
pub struct Redactor {
    /// (needle, ignore ASCII case)
    needles: Vec<(String, bool)>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor(…)")
    }
}

pub const REDACTED: &str = "********";

impl Redactor {
    pub fn new(username: &str, password: &str) -> Redactor {
        if password.is_empty() {
            return Redactor::default();
        }
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let plain = |authz: &str| [authz.as_bytes(), b"\0", username.as_bytes(), b"\0", password.as_bytes()].concat();
        let mut needles = vec![
            (password.to_owned(), true),
            (b64(password.as_bytes()), false),
            (b64(&plain("")), false),
            (b64(&plain(username)), false),
        ];
        // Longest first, so a longer form is not half-replaced by a shorter one inside it.
        needles.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
        Redactor { needles }
    }

    /// `text` with every form of the password replaced by `REDACTED`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (needle, fold) in &self.needles {
            out = replace_all(&out, needle, *fold);
        }
        out
    }
}

/// Replaces every occurrence of `needle` (ASCII case ignored when `fold`). A match differs from
/// the UTF-8 needle only in ASCII letters, so it always sits on character boundaries.
fn replace_all(text: &str, needle: &str, fold: bool) -> String {
    let (t, n) = (text.as_bytes(), needle.as_bytes());
    if n.is_empty() || t.len() < n.len() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let (mut i, mut start) = (0, 0);
    while i + n.len() <= t.len() {
        let w = &t[i..i + n.len()];
        if (fold && w.eq_ignore_ascii_case(n)) || (!fold && w == n) {
            out.push_str(&text[start..i]);
            out.push_str(REDACTED);
            i += n.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[start..]);
    out
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// Where a password was found (shown to the user; never the password).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Env,
    Command,
    Keyring,
    /// The password file the student chose (`password_file`).
    File,
}

#[derive(Debug)]
pub enum SecretError {
    /// The command could not run, failed, took too long, printed too much, or printed nothing.
    Command { command: String, problem: String },
    /// No env var, no command, and the keyring has no entry.
    NotFound { account: String },
    /// No keyring service on this machine (no Secret Service, no session bus, …).
    KeyringUnavailable { detail: String },
    /// The password file is there but cannot be used (others may read it, it is empty, …).
    File { path: String, problem: String },
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::Command { command, problem } => write!(f, "password_command `{command}`: {problem}"),
            SecretError::NotFound { account } => write!(
                f,
                "no password for {account}: set {ENV_VAR}, [pop] password_command, or store it in the keyring (service \"{KEYRING_SERVICE}\")"
            ),
            SecretError::KeyringUnavailable { detail } => {
                write!(f, "the OS keyring is not available ({detail}); set {ENV_VAR} or [pop] password_command instead")
            }
            SecretError::File { path, problem } => write!(f, "the password file {path}: {problem}"),
        }
    }
}

impl std::error::Error for SecretError {}

/// The keyring entry name: "user@host".
pub fn keyring_account(username: &str, host: &str) -> String {
    format!("{username}@{host}")
}

/// Finds the password for the POP account, in the documented order (`file`: the password file
/// that may stand in for the keyring, see `password_file`).
pub fn resolve(pop: &PopSection, file: &std::path::Path) -> Result<(Password, Source), SecretError> {
    resolve_with(pop, &from_keyring, file)
}

/// `resolve`, with `keyring` (user name, host) for the OS keyring's part: the tests give one of
/// their own, so none of them reads the user's keyring.
pub fn resolve_with(
    pop: &PopSection,
    keyring: &dyn Fn(&str, &str) -> Result<Password, SecretError>,
    file: &std::path::Path,
) -> Result<(Password, Source), SecretError> {
    resolve_for(pop, keyring, file, true)
}

/// `resolve`, `POPSEND_PASSWORD` consulted only with `env`: where several accounts are, the
/// variable is the first account's (or the one a command names), and never goes to another's
/// server.
pub fn resolve_as(pop: &PopSection, file: &std::path::Path, env: bool) -> Result<(Password, Source), SecretError> {
    resolve_for(pop, &from_keyring, file, env)
}

/// `resolve_with`, the variable consulted only with `env`.
pub fn resolve_for(
    pop: &PopSection,
    keyring: &dyn Fn(&str, &str) -> Result<Password, SecretError>,
    file: &std::path::Path,
    env: bool,
) -> Result<(Password, Source), SecretError> {
    if env
        && let Ok(p) = std::env::var(ENV_VAR)
        && !p.is_empty()
    {
        return Ok((Password(p), Source::Env));
    }
    if let Some(cmd) = &pop.password_command {
        return run_command(cmd, Duration::from_secs(pop.password_command_timeout_seconds))
            .map(|p| (p, Source::Command));
    }
    keyring_or_file(keyring(&pop.username, &pop.host), file, &keyring_account(&pop.username, &pop.host))
}

/// The keyring's answer, or where it has none, the password file — only where the student put
/// one; otherwise the keyring's own answer stands.
fn keyring_or_file(
    keyring: Result<Password, SecretError>,
    file: &std::path::Path,
    account: &str,
) -> Result<(Password, Source), SecretError> {
    match keyring {
        Ok(p) => Ok((p, Source::Keyring)),
        Err(e) if !file.exists() => Err(e),
        // Kept for another account (the settings changed since): never sent to this server.
        Err(e) => match read_password_file(file)? {
            (for_account, _) if for_account != account => Err(e),
            (_, p) => Ok((p, Source::File)),
        },
    }
}

/// The password file, which only its owner may read: the account it is for ("user@host"), then
/// the password.
fn read_password_file(path: &std::path::Path) -> Result<(String, Password), SecretError> {
    let bad = |problem: String| SecretError::File { path: path.display().to_string(), problem };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(bad(format!("others may read it (mode {:o}); chmod 600 it", mode & 0o777)));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    match (lines.next(), lines.next()) {
        (Some(account), Some(password)) if !account.is_empty() && !password.is_empty() => {
            Ok((account.to_owned(), Password(password.to_owned())))
        }
        _ => Err(bad("it is empty or not as popsend writes it".into())),
    }
}

/// Keeps `password` for `username` at `host` in the password file at `path`, readable by the
/// user alone (the student's explicit choice where there is no keyring).
pub fn keep_in_file(path: &std::path::Path, username: &str, host: &str, password: &Password) -> std::io::Result<()> {
    let text = format!("{}\n{}\n", keyring_account(username, host), password.expose());
    crate::system::files::write_atomic(path, text.as_bytes())
}

/// The password kept in the OS keyring for `username` at `host`.
fn from_keyring(username: &str, host: &str) -> Result<Password, SecretError> {
    let account = keyring_account(username, host);
    let entry = keyring::Entry::new(KEYRING_SERVICE, &account).map_err(keyring_error)?;
    match entry.get_password() {
        Ok(p) => Ok(Password(p)),
        Err(keyring::Error::NoEntry) => Err(SecretError::NotFound { account }),
        Err(e) => Err(keyring_error(e)),
    }
}

/// Stores the password in the OS keyring.
pub fn store_in_keyring(username: &str, host: &str, password: &Password) -> Result<(), SecretError> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, &keyring_account(username, host)).map_err(keyring_error)?;
    entry.set_password(password.expose()).map_err(keyring_error)
}

fn keyring_error(e: keyring::Error) -> SecretError {
    // The keyring's errors describe the store, never the secret. "No default store" only says
    // that the store could not start; its own error says why (no Secret Service, no D-Bus…).
    let detail = match (&e, keyring::Entry::store_status()) {
        (keyring::Error::NoDefaultStore, Err(why)) => why.to_string(),
        _ => e.to_string(),
    };
    SecretError::KeyringUnavailable { detail }
}

/// The most a password command may print: a password is a line, not a file.
const COMMAND_OUTPUT_MAX: usize = 64 * 1024;

fn run_command(cmd: &str, timeout: Duration) -> Result<Password, SecretError> {
    let bad = |problem: String| SecretError::Command { command: cmd.to_owned(), problem };
    #[cfg(windows)]
    let mut command = Command::new("cmd");
    #[cfg(windows)]
    command.args(["/C", cmd]);
    #[cfg(not(windows))]
    let mut command = Command::new("sh");
    #[cfg(not(windows))]
    command.args(["-c", cmd]);
    // Its own process group, so a timeout ends what the shell started too (`sleep`, a pipeline).
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| bad(format!("cannot run: {e}")))?;
    let over = Arc::new(AtomicBool::new(false));
    let out = read_capped(child.stdout.take(), over.clone());
    let err = read_capped(child.stderr.take(), Arc::new(AtomicBool::new(false)));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if over.load(Ordering::SeqCst) {
            kill_group(&mut child);
            return Err(bad(format!("printed more than {} KiB", COMMAND_OUTPUT_MAX / 1024)));
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                kill_group(&mut child);
                return Err(bad(format!(
                    "no answer within {} s (pop.password_command_timeout_seconds)",
                    timeout.as_secs()
                )));
            }
            Err(e) => {
                kill_group(&mut child);
                return Err(bad(format!("cannot wait for it: {e}")));
            }
        }
    };
    // Something the shell started in the background may still hold the pipes: give it a moment
    // to finish, then end its group, so the readers see EOF.
    let linger = Instant::now() + Duration::from_secs(1);
    while !(out.thread.is_finished() && err.thread.is_finished()) && Instant::now() < linger {
        std::thread::sleep(Duration::from_millis(10));
    }
    if !(out.thread.is_finished() && err.thread.is_finished()) {
        kill_group(&mut child);
    }
    // A reader still blocked after that (a grandchild that left the group, `setsid`, holds the
    // pipe) is left behind rather than waited for: what it read so far is what we have.
    let collect = |r: Reader| match r.thread.is_finished() {
        true => r.thread.join().unwrap_or_default(),
        false => r.so_far.lock().map(|b| b.clone()).unwrap_or_default(),
    };
    let wait_a_little = Instant::now() + Duration::from_millis(200);
    while !(out.thread.is_finished() && err.thread.is_finished()) && Instant::now() < wait_a_little {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stdout = collect(out);
    let stderr = collect(err);
    if !status.success() {
        // stderr may be shown (it is the command's complaint); stdout never is.
        let err = String::from_utf8_lossy(&stderr);
        let err = crate::display_safe(err.lines().next().unwrap_or("").trim());
        return Err(bad(format!(
            "failed ({status}){}",
            if err.is_empty() { String::new() } else { format!(": {err}") }
        )));
    }
    if over.load(Ordering::SeqCst) {
        return Err(bad(format!("printed more than {} KiB", COMMAND_OUTPUT_MAX / 1024)));
    }
    let stdout = String::from_utf8(stdout).map_err(|_| bad("printed something that is not UTF-8".into()))?;
    let first = stdout.lines().next().unwrap_or("").trim_end_matches('\r');
    if first.is_empty() {
        return Err(bad("printed no password".into()));
    }
    if first.chars().any(char::is_control) {
        return Err(bad("printed a control character in the password line".into()));
    }
    Ok(Password(first.to_owned()))
}

/// A pipe read on its own thread: the whole output when the thread ends, or what it has read so
/// far.
struct Reader {
    thread: std::thread::JoinHandle<Vec<u8>>,
    so_far: Arc<std::sync::Mutex<Vec<u8>>>,
}

/// Reads a pipe on its own thread, keeping at most `COMMAND_OUTPUT_MAX` bytes; sets `over` and
/// stops reading when there is more.
fn read_capped<R: std::io::Read + Send + 'static>(pipe: Option<R>, over: Arc<AtomicBool>) -> Reader {
    let so_far = Arc::new(std::sync::Mutex::new(Vec::new()));
    let shared = so_far.clone();
    let thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let mut chunk = [0u8; 4096];
            while buf.len() <= COMMAND_OUTPUT_MAX {
                match p.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        if let Ok(mut s) = shared.lock() {
                            s.extend_from_slice(&chunk[..n]);
                        }
                    }
                }
            }
        }
        if buf.len() > COMMAND_OUTPUT_MAX {
            buf.clear();
            over.store(true, Ordering::SeqCst);
        }
        buf
    });
    Reader { thread, so_far }
}

fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals the process group the child leads (it was
        // started with process_group(0)); no memory is touched.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(30);

    #[test]
    fn debug_is_redacted() {
        let p = Password::new("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[cfg(unix)]
    #[test]
    fn command_first_line_only() {
        let p = run_command("printf 'sekrit\\nsecond\\n'", T).unwrap();
        assert_eq!(p.expose(), "sekrit");
    }

    #[cfg(unix)]
    #[test]
    fn command_failures_never_show_stdout() {
        // The output (42xyz) is not in the command text, so it can only leak through the error.
        let e = run_command("echo $((6*7))xyz; exit 3", T).unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains("failed"), "{shown}");
        assert!(!shown.contains("42xyz"), "{shown}");
        let e = run_command("true", T).unwrap_err();
        assert!(e.to_string().contains("printed no password"));
    }

    #[cfg(unix)]
    #[test]
    fn a_command_that_hangs_is_ended_in_time() {
        let started = Instant::now();
        let e = run_command("sleep 100", Duration::from_millis(300)).unwrap_err();
        assert!(e.to_string().contains("no answer within"), "{e}");
        assert!(e.to_string().contains("password_command_timeout_seconds"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        // A background child holding the pipe open does not keep us waiting either.
        let started = Instant::now();
        let p = run_command("(sleep 100 &) ; echo pw", T).unwrap();
        assert_eq!(p.expose(), "pw");
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        // Even one that left the process group.
        let started = Instant::now();
        let p = run_command("setsid sleep 100 & echo pw2", T).unwrap();
        assert_eq!(p.expose(), "pw2");
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    }

    #[cfg(unix)]
    #[test]
    fn a_command_that_prints_without_end_is_stopped() {
        let e = run_command("yes sekrit", T).unwrap_err();
        assert!(e.to_string().contains("printed more than 64 KiB"), "{e}");
        assert!(!e.to_string().contains("sekrit\n"), "{e}");
    }

    /// Where there is no keyring, the file the student chose stands in for it: written readable
    /// by its owner alone, read back; one others may read is refused (naming the fix, never the
    /// password); no file leaves the keyring's own answer; a working keyring comes first.
    #[test]
    fn the_password_file_stands_in_for_a_missing_keyring() {
        let dir = tempfile::tempdir().unwrap();
        let file = password_file(&dir.path().join("config.toml"));
        let none = || Err(SecretError::KeyringUnavailable { detail: "no bus".into() });
        let account = keyring_account("taro", "pop.example.ac.jp");
        assert!(matches!(keyring_or_file(none(), &file, &account), Err(SecretError::KeyringUnavailable { .. })));
        keep_in_file(&file, "taro", "pop.example.ac.jp", &Password::new("Hunter2pw".into())).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (p, source) = keyring_or_file(none(), &file, &account).unwrap();
        assert_eq!((p.expose(), source), ("Hunter2pw", Source::File));
        // Another account (the settings changed): the file's password never goes to it.
        let other = keyring_account("taro", "mail.isp.example");
        assert!(matches!(keyring_or_file(none(), &file, &other), Err(SecretError::KeyringUnavailable { .. })));
        let (p, source) = keyring_or_file(Ok(Password::new("from-keyring".into())), &file, &account).unwrap();
        assert_eq!((p.expose(), source), ("from-keyring", Source::Keyring));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = keyring_or_file(none(), &file, &account).unwrap_err().to_string();
            assert!(e.contains("chmod 600") && !e.contains("Hunter2pw"), "{e}");
        }
        std::fs::write(&file, "").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(keyring_or_file(none(), &file, &account).unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn redactor_takes_every_form_out() {
        let r = Password::new("Hunter2pw".into()).redactor("taro");
        let b64 = base64::engine::general_purpose::STANDARD.encode("Hunter2pw");
        let plain = crate::protocol::pop3::auth::sasl_plain("taro", "Hunter2pw");
        for line in [
            "-ERR bad command: PASS Hunter2pw".to_owned(),
            "-ERR BAD COMMAND: PASS HUNTER2PW".to_owned(),
            format!("535 5.7.8 bad: {b64}"),
            format!("-ERR AUTH PLAIN {plain} not accepted"),
        ] {
            let shown = r.apply(&line);
            assert!(!shown.to_ascii_lowercase().contains("hunter2pw"), "{shown}");
            assert!(!shown.contains(&b64) && !shown.contains(&plain), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
        assert_eq!(r.apply("+OK 日本語 fine"), "+OK 日本語 fine");
        assert_eq!(Redactor::new("u", "").apply("anything"), "anything");
    }
}
