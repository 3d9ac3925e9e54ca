//! Test support: the real test servers' settings (from tests/run.sh), running the `popsend`
//! binary, reading the delivery Maildir and the POP login log, and raw SMTP probes. Tests that
//! need the servers fail loudly when they are missing; they never pass by skipping.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The servers' relay decision is per client IP, and every test connects from 127.0.0.1: tests
/// that touch the relay window take this lock so they do not open windows for each other.
static SERVERS: Mutex<()> = Mutex::new(());

pub struct Servers {
    pub host: String,
    pub pop3: u16,
    pub pop3s: u16,
    pub smtp: u16,
    pub smtps: u16,
    pub submission: u16,
    /// Submission that relays after the POP login only (no AUTH), STARTTLS offered: a campus
    /// server's 587 for students behind OP25B.
    pub pop_submission: u16,
    pub user: String,
    pub pass: String,
    pub window: u64,
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub maildir: PathBuf,
    pub logins: PathBuf,
    pub relay_dir: PathBuf,
    pub postfix_log: PathBuf,
    pub dir: PathBuf,
    pub scripts: PathBuf,
    _lock: MutexGuard<'static, ()>,
}

/// The test servers' settings file (written by tests/servers/start.sh and matrix.sh): a lookup
/// that panics, naming the file and the key, when the servers did not start.
fn test_env() -> impl Fn(&str) -> String {
    let path = std::env::var("POPSEND_TEST_ENV").unwrap_or_else(|_| {
        panic!(
            "POPSEND_TEST_ENV is not set: the real-server tests need the test mail servers, which bash tests/run.sh starts"
        )
    });
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e} (did tests/servers/start.sh run?)"));
    move |key: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .unwrap_or_else(|| panic!("{path}: no {key} (did tests/servers/start.sh and matrix.sh run?)"))
            .to_owned()
    }
}

/// The running test servers, exclusively. Panics (fails the test) when they are not running.
pub fn servers() -> Servers {
    let lock = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    let get = test_env();
    let s = Servers {
        host: get("POPSEND_TEST_HOST"),
        pop3: get("POPSEND_TEST_POP3_PORT").parse().unwrap(),
        pop3s: get("POPSEND_TEST_POP3S_PORT").parse().unwrap(),
        smtp: get("POPSEND_TEST_SMTP_PORT").parse().unwrap(),
        smtps: get("POPSEND_TEST_SMTPS_PORT").parse().unwrap(),
        submission: get("POPSEND_TEST_SUBMISSION_PORT").parse().unwrap(),
        pop_submission: get("POPSEND_TEST_POP_SUBMISSION_PORT").parse().unwrap(),
        user: get("POPSEND_TEST_USER"),
        pass: get("POPSEND_TEST_PASS"),
        window: get("POPSEND_TEST_WINDOW").parse().unwrap(),
        ca: get("POPSEND_TEST_CA").into(),
        other_ca: get("POPSEND_TEST_OTHER_CA").into(),
        maildir: get("POPSEND_TEST_MAILDIR").into(),
        logins: get("POPSEND_TEST_LOGINS").into(),
        relay_dir: get("POPSEND_TEST_RELAY_DIR").into(),
        postfix_log: get("POPSEND_TEST_POSTFIX_LOG").into(),
        dir: get("POPSEND_TEST_DIR").into(),
        scripts: get("POPSEND_TEST_SCRIPTS").into(),
        _lock: lock,
    };
    // Every test starts with the window closed.
    s.close_window();
    s
}

impl Servers {
    /// Forgets every POP login on the server side, closing the relay window.
    pub fn close_window(&self) {
        if let Ok(entries) = std::fs::read_dir(&self.relay_dir) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Stops both servers (their ports refuse connections until `start`).
    pub fn stop(&self) {
        // Only Dovecot and Postfix: the POP3 matrix servers serve other tests meanwhile.
        let ok = Command::new("bash")
            .arg(self.scripts.join("stop.sh"))
            .arg(&self.dir)
            .env("KEEP_MATRIX", "1")
            .status()
            .unwrap();
        assert!(ok.success(), "stop.sh failed");
    }

    /// Starts them again with the same settings.
    pub fn start(&self) {
        // Not a pipe: the daemons it starts inherit it, and a pipe would never reach EOF.
        let err_path = self.dir.join("restart.err");
        let err = std::fs::File::create(&err_path).unwrap();
        let status = Command::new("bash")
            .arg(self.scripts.join("start.sh"))
            .arg(&self.dir)
            .env("KEEP_MATRIX", "1")
            .stdout(Stdio::null())
            .stderr(err)
            .status()
            .unwrap();
        assert!(status.success(), "start.sh failed: {}", std::fs::read_to_string(&err_path).unwrap_or_default());
    }

    /// SMTP sessions the server has accepted so far (its log's "connect from" lines).
    pub fn smtp_sessions(&self) -> usize {
        std::fs::read_to_string(&self.postfix_log).map(|t| t.matches("]: connect from ").count()).unwrap_or(0)
    }

    /// All delivered messages' bytes.
    pub fn all_delivered(&self) -> Vec<Vec<u8>> {
        std::fs::read_dir(&self.maildir)
            .unwrap()
            .flatten()
            .map(|e| std::fs::read(e.path()).unwrap_or_default())
            .collect()
    }

    /// How many POP logins the server has recorded so far.
    pub fn login_count(&self) -> usize {
        std::fs::read_to_string(&self.logins).map(|t| t.lines().count()).unwrap_or(0)
    }

    /// Waits (up to 15 s) for the delivered message containing `needle`, and returns its bytes.
    pub fn delivered(&self, needle: &str) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(m) = self.find_delivered(needle) {
                return m;
            }
            assert!(Instant::now() < deadline, "no message containing {needle:?} reached {}", self.maildir.display());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn find_delivered(&self, needle: &str) -> Option<Vec<u8>> {
        for e in std::fs::read_dir(&self.maildir).ok()?.flatten() {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            if String::from_utf8_lossy(&bytes).contains(needle) {
                return Some(bytes);
            }
        }
        None
    }

    /// A plain SMTP client's attempt to relay: the reply code to RCPT TO.
    pub fn probe_relay(&self) -> u16 {
        let s = TcpStream::connect(("127.0.0.1", self.smtp)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let mut reply = || -> u16 {
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line.as_bytes().get(3) != Some(&b'-') {
                    return line[..3].parse().unwrap();
                }
            }
        };
        assert_eq!(reply(), 220);
        for (cmd, want) in [("EHLO probe.example", 250), ("MAIL FROM:<probe@popsend.test>", 250)] {
            writeln!(w, "{cmd}\r").unwrap();
            assert_eq!(reply(), want, "{cmd}");
        }
        writeln!(w, "RCPT TO:<someone@example.net>\r").unwrap();
        let code = reply();
        let _ = writeln!(w, "QUIT\r");
        code
    }

    /// A config file for these servers; `extra` lines are appended to their sections by name.
    pub fn config(&self, dir: &Path, pop: &str, smtp: &str, relay: &str) -> PathBuf {
        let text = format!(
            "[account]\naddress = \"student@popsend.test\"\ndisplay_name = \"山田 太郎\"\n\n\
             [pop]\nhost = \"{host}\"\nusername = \"{user}\"\n{pop}\n\n\
             [smtp]\n{smtp}\n\n[relay]\nwindow_seconds = {window}\nmargin_seconds = 1\n{relay}\n\n\
             [tls]\nca_file = \"{ca}\"\n",
            host = self.host,
            user = self.user,
            window = self.window,
            ca = self.ca.display(),
        );
        let path = dir.join("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The plainest set-up: cleartext POP on 110-like port (APOP chosen), SMTP on 25-like port.
    pub fn plain_config(&self, dir: &Path) -> PathBuf {
        self.config(dir, &format!("port = {}", self.pop3), &format!("port = {}", self.smtp), "")
    }
}

/// One run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// `popsend --config CONFIG --data-dir DIR/data ARGS…` with the password in the environment
/// (`None`: no password variable) and the language given, not yet started.
pub fn popsend_command(config: &Path, password: Option<&str>, lang: &str, args: &[&str]) -> Command {
    let data = config.parent().unwrap().join("data");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_popsend"));
    cmd.arg("--config").arg(config).arg("--data-dir").arg(&data).args(args);
    cmd.env_remove("POPSEND_PASSWORD").env("POPSEND_LANG", lang).stdin(Stdio::null());
    if let Some(p) = password {
        cmd.env("POPSEND_PASSWORD", p);
    }
    cmd
}

/// Runs `popsend_command` to its end.
pub fn popsend(config: &Path, password: Option<&str>, lang: &str, args: &[&str]) -> Run {
    finish(popsend_command(config, password, lang, args).output().unwrap())
}

/// `popsend_command` with `input` on its standard input (a message for `sendmail`), run to its end.
pub fn popsend_with_input(config: &Path, password: Option<&str>, lang: &str, args: &[&str], input: &[u8]) -> Run {
    use std::io::Write as _;
    let mut child = popsend_command(config, password, lang, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    finish(child.wait_with_output().unwrap())
}

/// `popsend send` of an empty-bodied message to a@example.net with `subject`.
pub fn send_simple(config: &Path, password: Option<&str>, lang: &str, subject: &str) -> Run {
    popsend(
        config,
        password,
        lang,
        &["send", "--to", "a@example.net", "--subject", subject, "--body-file", "/dev/null"],
    )
}

pub fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A token unique to one test run, to find its message in the shared Maildir.
pub fn token(label: &str) -> String {
    format!("{label}-{}-{:016x}", std::process::id(), rand_u64())
}

/// A random number (for tokens and kill timings).
pub fn random() -> u64 {
    rand_u64()
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher as _, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// Every file below `dir`, as text, for "the password is not in any file" checks.
pub fn all_files_text(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out += &String::from_utf8_lossy(&std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

/// The other POP3 servers of the matrix (tests/servers/matrix.sh): GNU Mailutils and Courier.
pub struct Matrix {
    pub host: String,
    pub ca: PathBuf,
    pub dovecot: u16,
    pub dovecot_user: String,
    pub dovecot_pass: String,
    pub mu: u16,
    pub mu_user: String,
    pub mu_pass: String,
    /// A Mailutils user with no APOP secret.
    pub mu_user2: String,
    pub mu_pass2: String,
    pub cr: u16,
    pub cr_user: String,
    pub cr_pass: String,
}

/// The matrix servers' settings. Panics (fails the test) when they are not running. No lock:
/// logging in to them opens no relay window.
pub fn matrix() -> Matrix {
    let get = test_env();
    Matrix {
        host: get("POPSEND_TEST_HOST"),
        ca: get("POPSEND_TEST_CA").into(),
        dovecot: get("POPSEND_TEST_POP3_PORT").parse().unwrap(),
        dovecot_user: get("POPSEND_TEST_USER"),
        dovecot_pass: get("POPSEND_TEST_PASS"),
        mu: get("POPSEND_TEST_MU_PORT").parse().unwrap(),
        mu_user: get("POPSEND_TEST_MU_USER"),
        mu_pass: get("POPSEND_TEST_MU_PASS"),
        mu_user2: get("POPSEND_TEST_MU_USER2"),
        mu_pass2: get("POPSEND_TEST_MU_PASS2"),
        cr: get("POPSEND_TEST_CR_PORT").parse().unwrap(),
        cr_user: get("POPSEND_TEST_CR_USER"),
        cr_pass: get("POPSEND_TEST_CR_PASS"),
    }
}

/// A background `popsend`, killed when dropped, so a failing assertion does not leave it running.
pub struct Background(pub std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An X server of the test's own (Xvfb, installed by tests/run.sh) on a display number it picks
/// and reports once it accepts clients (-displayfd): no fixed number, no sleep. Stopped on drop.
pub struct Xvfb {
    child: std::process::Child,
    pub display: String,
}

impl Xvfb {
    pub fn start() -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "800x600x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is missing: bash tests/run.sh installs it");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(!line.trim().is_empty(), "Xvfb did not start");
        Xvfb { child, display: format!(":{}", line.trim()) }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
