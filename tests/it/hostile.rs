//! Issue 9: what a hostile or broken server, or an unlucky input, can do to popsend — tried with
//! scripted peers that record every line popsend writes. Each test names its case in the issue.
//! Real servers cannot be made to echo a password, stream an endless EHLO line or take only 100
//! recipients per transaction on cue; these peers can.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use popsend::core::message::compose::Outgoing;
use popsend::core::message::compose::{self, Draft};
use popsend::core::problem::classify::classify;
use popsend::core::problem::kind::Kind;
use popsend::core::problem::run_error::RunError;
use popsend::core::protocol::net::TrustAnchors;
use popsend::core::protocol::smtp::{SmtpError, Stage};
use popsend::core::sending::deliver::{Deliverer, NoProgress, Outcome, Report};
use popsend::core::sending::engine;
use popsend::core::sending::knowledge;
use popsend::core::sending::outbox::{Outbox, Status};
use popsend::core::setup::account::Config;
use popsend::core::system::clock::SystemClock;
use popsend::core::system::secrets::Password;

use crate::scripted::{self, Fault, Peer, Pop};

const PASSWORD: &str = "Hunter2-s3cret";

fn lines(p: &Peer) -> Vec<String> {
    p.lines()
}

fn count(p: &Peer, prefix: &str) -> usize {
    p.count(prefix)
}

/// A POP3 peer: USER/PASS; PASS answered with `pass_reply` (`{password}` in it is the password).
async fn pop_peer(pass_reply: &'static str) -> (u16, Peer) {
    pop_peer_on("127.0.0.1:0", Arc::new(move || pass_reply.replace("{password}", PASSWORD))).await
}

/// `pop_peer` on another local address, with PASS answered by what `at_pass` returns (it may
/// first do something the test needs at that moment).
async fn pop_peer_on(addr: &'static str, at_pass: Arc<dyn Fn() -> String + Send + Sync>) -> (u16, Peer) {
    let peer = scripted::pop(Pop { addr, delay: Duration::ZERO, pass: at_pass });
    (peer.port, peer)
}

/// How a scripted SMTP peer behaves in these cases.
#[derive(Clone)]
struct Smtp {
    /// EHLO keywords after the first line.
    ehlo: &'static [&'static str],
    /// The reply to a RCPT: (the address, how many this transaction accepted so far).
    rcpt: fn(&str, usize) -> String,
    /// Answer EHLO with a line that never ends.
    endless_ehlo: Option<Arc<Mutex<usize>>>,
    /// The reply to the end of the n-th message (0-based, over the peer's life).
    data: fn(usize) -> String,
}

const QUEUED: fn(usize) -> String = |_| "250 2.0.0 Ok: queued".to_owned();

const OK: fn(&str, usize) -> String = |_, _| "250 2.1.5 Ok".to_owned();

async fn smtp_peer(b: Smtp) -> (u16, Peer) {
    let rcpt = b.rcpt;
    let peer = scripted::smtp(scripted::Smtp {
        ehlo: b.ehlo,
        rcpt: scripted::rcpt(move |r| rcpt(r.address, r.accepted)),
        end: b.data,
        fault: b.endless_ehlo.map_or(Fault::None, Fault::EndlessEhlo),
        ..Default::default()
    });
    (peer.port, peer)
}

fn config(pop: u16, smtp: u16, extra_smtp: &str) -> Config {
    let text = format!(
        "[account]\naddress = \"student@example.ac.jp\"\n\
         [pop]\nhost = \"127.0.0.1\"\nport = {pop}\nusername = \"student\"\nauth = \"user\"\nallow_plaintext_password = true\n\
         [smtp]\nport = {smtp}\n{extra_smtp}\n"
    );
    Config::parse(&text, Path::new("hostile.toml")).unwrap()
}

fn message(to: &[String]) -> Outgoing {
    let d = Draft {
        from_address: "student@example.ac.jp".into(),
        to: to.to_vec(),
        subject: "テスト".into(),
        body: "本文".into(),
        ..Draft::default()
    };
    compose::build(&d, SystemTime::now()).unwrap()
}

fn one(to: &str) -> Outgoing {
    message(&[to.to_owned()])
}

/// Runs `f` with a `Deliverer` for `config` (the password `PASSWORD`, state in `dir`).
async fn with_deliverer<T>(config: &Config, dir: &Path, f: impl AsyncFnOnce(&Deliverer<'_>) -> T) -> T {
    let password = Password::new(PASSWORD.into());
    let trust = TrustAnchors::default();
    let store = knowledge::Store::new(dir);
    let mut d = Deliverer::new(config, &password, &trust, &store, &SystemClock);
    d.step_timeout = Duration::from_secs(5);
    d.relay_retry_delay = Duration::from_millis(20);
    f(&d).await
}

async fn deliver(config: &Config, dir: &Path, msgs: &[Outgoing]) -> Report {
    with_deliverer(config, dir, async |d| d.deliver(msgs, &mut NoProgress).await).await
}

/// One flush of `ob` (forced, as the user's 「今すぐ送信」).
async fn flush(config: &Config, dir: &Path, ob: &Outbox) -> engine::Flushed {
    with_deliverer(config, dir, async |d| engine::flush(ob, d, true).await.unwrap()).await
}

/// Case 1: SMTP AUTH with `security = "none"` sends nothing and names the setting.
#[tokio::test]
async fn smtp_auth_is_never_sent_in_the_clear_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let (pop, _) = pop_peer("+OK").await;
    let (smtp, seen) =
        smtp_peer(Smtp { ehlo: &["AUTH PLAIN LOGIN", "8BITMIME"], rcpt: OK, endless_ehlo: None, data: QUEUED }).await;
    let c = config(pop, smtp, "username = \"student\"");
    let report = deliver(&c, dir.path(), &[one("a@example.net")]).await;
    let stopped = report.stopped.expect("refused");
    assert!(matches!(stopped, RunError::Smtp(SmtpError::CleartextAuthRefused)), "{stopped:?}");
    assert!(stopped.to_string().contains("allow_plaintext_password"), "{stopped}");
    assert_eq!(classify(&stopped), Kind::SmtpCleartext);
    assert_eq!(count(&seen, "AUTH"), 0, "AUTH went out: {:?}", lines(&seen));
    assert!(!lines(&seen).join("\n").contains(PASSWORD));

    // Explicitly allowed: it goes (the server asked for it and the user said yes).
    let c = config(pop, smtp, "username = \"student\"\nallow_plaintext_password = true");
    let report = deliver(&c, dir.path(), &[one("a@example.net")]).await;
    assert!(matches!(report.outcomes[..], [Outcome::Sent]), "{report:?}");
    assert_eq!(count(&seen, "AUTH"), 1);
}

/// Case 2: a POP server echoing the password: not on stderr, not in the outbox file.
#[tokio::test]
async fn an_echoed_password_is_stored_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let (pop, _) = pop_peer("-ERR bad command: PASS {password}").await;
    let (smtp, _) = smtp_peer(Smtp { ehlo: &["8BITMIME"], rcpt: OK, endless_ehlo: None, data: QUEUED }).await;
    let c = config(pop, smtp, "");
    let ob = Outbox::open(dir.path()).unwrap();
    let out = one("a@example.net");
    let id = ob.enqueue(&out, "s", "a@example.net", SystemTime::now()).unwrap();
    let f = flush(&c, dir.path(), &ob).await;
    let stopped = f.stopped.expect("the login failed");
    assert!(!format!("{stopped} {stopped:?}").contains(PASSWORD));
    let (row, _) = ob.get(id).unwrap().unwrap();
    let le = row.last_error.unwrap();
    assert!(le.reply.as_deref().unwrap().contains("********"), "{le:?}");
    let pause = ob.paused().unwrap().expect("a refused login pauses");
    assert!(!format!("{pause:?}").contains(PASSWORD));
    drop(ob);
    // The file itself, WAL included.
    let all = crate::support::all_files_text(dir.path());
    assert!(!all.contains(PASSWORD), "the password is in the data folder");
}

/// Case 4: an EHLO line without end ends in an error after a bounded read, not in an abort.
#[tokio::test]
async fn an_endless_ehlo_line_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let (pop, _) = pop_peer("+OK").await;
    let written = Arc::new(Mutex::new(0usize));
    let (smtp, _) = smtp_peer(Smtp { ehlo: &[], rcpt: OK, endless_ehlo: Some(written.clone()), data: QUEUED }).await;
    let c = config(pop, smtp, "");
    let report = deliver(&c, dir.path(), &[one("a@example.net")]).await;
    let stopped = report.stopped.expect("an error");
    assert!(matches!(stopped, RunError::Smtp(SmtpError::Broken { stage: Stage::Greeting, .. })), "{stopped:?}");
    assert!(matches!(report.outcomes[..], [Outcome::Deferred(None)]));
    // popsend hung up after at most MAX_REPLY_BYTES (plus what the kernel buffers).
    let n = *written.lock().unwrap();
    assert!(n < 16 * 1024 * 1024, "popsend read {n} bytes of one EHLO line");
}

/// Case 10: a server that takes 100 recipients per transaction gets the rest in another, each
/// address exactly once, and the outbox forgets the delivered ones at once.
#[tokio::test]
async fn too_many_recipients_go_in_further_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let (pop, _) = pop_peer("+OK").await;
    let (smtp, seen) = smtp_peer(Smtp {
        ehlo: &["8BITMIME"],
        rcpt: |_, accepted| {
            if accepted >= 100 { "452 4.5.3 Error: too many recipients".into() } else { "250 2.1.5 Ok".into() }
        },
        endless_ehlo: None,
        data: QUEUED,
    })
    .await;
    let c = config(pop, smtp, "");
    let to: Vec<String> = (0..150).map(|i| format!("s{i}@example.net")).collect();
    let ob = Outbox::open(dir.path()).unwrap();
    let id = ob.enqueue(&message(&to), "s", "many", SystemTime::now()).unwrap();
    let f = flush(&c, dir.path(), &ob).await;
    assert_eq!(f.sent.len(), 1, "{f:?}");
    assert_eq!(f.split, vec![(id, 2)]);
    assert_eq!(ob.get(id).unwrap().unwrap().0.state, Status::Sent);
    assert_eq!(count(&seen, "<MESSAGE>"), 2, "two transactions");
    // Each address accepted once: 150 accepted RCPTs + the 101st, refused with 452 and given
    // again in the second transaction.
    let rcpts: Vec<String> = lines(&seen).into_iter().filter(|l| l.starts_with("RCPT")).collect();
    assert_eq!(rcpts.len(), 151);
    for (i, a) in to.iter().enumerate() {
        let n = rcpts.iter().filter(|l| l.ends_with(&format!("<{a}>"))).count();
        assert_eq!(n, if i == 100 { 2 } else { 1 }, "{a}");
    }
}

/// Case 11: relay refusals in the words of real servers (and a 5.7.x refusal of every
/// recipient) are relay refusals — the login is tried again, nothing fails for good.
#[tokio::test]
async fn relay_refusals_in_other_words_are_not_unknown_recipients() {
    for rcpt in [
        (|_: &str, _| "550 5.7.0 Relaying not permitted".to_owned()) as fn(&str, usize) -> String,
        |_, _| "553 5.7.1 <a@example.net>: Client host rejected: Access denied".to_owned(),
        |_, _| "550 5.7.1 you must get POP/APOP authorization".to_owned(),
        |_, _| "554 Relay operation rejected".to_owned(),
        |_, _| "550 5.7.1 Policy rejection for this client".to_owned(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (pop, pop_seen) = pop_peer("+OK").await;
        let (smtp, seen) = smtp_peer(Smtp { ehlo: &["8BITMIME"], rcpt, endless_ehlo: None, data: QUEUED }).await;
        let c = config(pop, smtp, "");
        let report = deliver(&c, dir.path(), &[message(&["a@example.net".into(), "b@example.net".into()])]).await;
        let what = rcpt("", 0);
        assert!(matches!(report.stopped, Some(RunError::RelayDenied { .. })), "{what}: {report:?}");
        assert!(matches!(report.outcomes[..], [Outcome::Deferred(None)]), "{what}");
        assert_eq!(count(&pop_seen, "PASS"), 2, "{what}: logged in again once");
        assert_eq!(count(&seen, "<MESSAGE>"), 0);
    }
    // One recipient accepted and one refused by policy: that recipient's problem, not relaying.
    let dir = tempfile::tempdir().unwrap();
    let (pop, _) = pop_peer("+OK").await;
    let (smtp, _) = smtp_peer(Smtp {
        ehlo: &["8BITMIME"],
        rcpt: |a, _| if a.starts_with('b') { "550 5.7.1 Policy rejection".into() } else { "250 Ok".into() },
        endless_ehlo: None,
        data: QUEUED,
    })
    .await;
    let c = config(pop, smtp, "");
    let report = deliver(&c, dir.path(), &[message(&["a@example.net".into(), "b@example.net".into()])]).await;
    assert!(matches!(report.outcomes[..], [Outcome::Failed(_)]), "{report:?}");
}

/// Case 13: SMTPUTF8 when the address needs it and the server offers it; IDN domains in
/// punycode always; a local error (not "refused by the server") when neither can carry it.
#[tokio::test]
async fn international_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let (pop, _) = pop_peer("+OK").await;
    let (smtp, seen) =
        smtp_peer(Smtp { ehlo: &["8BITMIME", "SMTPUTF8"], rcpt: OK, endless_ehlo: None, data: QUEUED }).await;
    let c = config(pop, smtp, "");
    let report = deliver(&c, dir.path(), &[one("太郎@example.net"), one("taro@例え.jp")]).await;
    assert!(matches!(report.outcomes[..], [Outcome::Sent, Outcome::Sent]), "{report:?}");
    let l = lines(&seen);
    let mails: Vec<&String> = l.iter().filter(|x| x.starts_with("MAIL")).collect();
    assert!(mails[0].contains("SMTPUTF8"), "{mails:?}");
    assert!(!mails[1].contains("SMTPUTF8"), "{mails:?}");
    assert!(l.iter().any(|x| x == "RCPT TO:<taro@xn--r8jz45g.jp>"), "{l:?}");

    let (smtp, seen) = smtp_peer(Smtp { ehlo: &["8BITMIME"], rcpt: OK, endless_ehlo: None, data: QUEUED }).await;
    let c = config(pop, smtp, "");
    let report = deliver(&c, dir.path(), &[one("太郎@example.net")]).await;
    match &report.outcomes[..] {
        [Outcome::Failed(e @ SmtpError::Unsendable { .. })] => {
            assert_eq!(classify(e), Kind::Unsendable);
            assert!(e.to_string().contains("SMTPUTF8"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count(&seen, "MAIL"), 0, "nothing was asked of the server");
}

/// Case 16: the same address twice is one RCPT TO.
#[tokio::test]
async fn duplicate_recipients_get_one_rcpt() {
    let dir = tempfile::tempdir().unwrap();
    let (pop, _) = pop_peer("+OK").await;
    let (smtp, seen) = smtp_peer(Smtp { ehlo: &["8BITMIME"], rcpt: OK, endless_ehlo: None, data: QUEUED }).await;
    let c = config(pop, smtp, "");
    let d = Draft {
        from_address: "student@example.ac.jp".into(),
        to: vec!["a@example.net".into(), "A@Example.NET".into()],
        cc: vec!["a@example.net".into()],
        bcc: vec!["a@EXAMPLE.net".into()],
        subject: "s".into(),
        ..Draft::default()
    };
    let out = compose::build(&d, SystemTime::now()).unwrap();
    let report = deliver(&c, dir.path(), &[out]).await;
    assert!(matches!(report.outcomes[..], [Outcome::Sent]), "{report:?}");
    assert_eq!(count(&seen, "RCPT"), 1, "{:?}", lines(&seen));
}

/// Case 14: escape sequences in a reply reach neither the stored error nor the terminal.
#[tokio::test]
async fn escape_sequences_in_replies_are_neutralised() {
    let dir = tempfile::tempdir().unwrap();
    let (pop, _) = pop_peer("+OK").await;
    let (smtp, _) = smtp_peer(Smtp {
        ehlo: &["8BITMIME"],
        rcpt: |_, _| "550 5.1.1 no such user\u{1b}]0;pwned\u{7}\u{1b}[2J".into(),
        endless_ehlo: None,
        data: QUEUED,
    })
    .await;
    let c = config(pop, smtp, "");
    let report = deliver(&c, dir.path(), &[one("a@example.net")]).await;
    match &report.outcomes[..] {
        [Outcome::Failed(e)] => {
            let reply = e.server_reply().unwrap();
            assert!(!reply.contains('\u{1b}') && !reply.contains('\u{7}'), "{reply:?}");
            assert!(!e.to_string().contains('\u{1b}'));
        }
        other => panic!("{other:?}"),
    }
}

/// Case 9: opening the outbox while another process sends does not take the message back.
#[test]
fn opening_the_outbox_while_sending_leaves_the_message_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sender = Outbox::open(dir.path()).unwrap();
    let id = sender.enqueue(&one("a@example.net"), "s", "a", SystemTime::now()).unwrap();
    let lock = sender.try_send_lock().unwrap().expect("free");
    sender.mark_sending(id).unwrap();

    // `popsend queue`, the window: another process opens the file.
    let other = Outbox::open(dir.path()).unwrap();
    assert_eq!(other.get(id).unwrap().unwrap().0.state, Status::Sending, "recovered under a live sender");
    assert!(!other.delete(id).unwrap(), "deleted while being sent");
    assert_eq!(other.take_draft(id).unwrap(), None, "taken for editing while being sent");

    // The sender dies: the next opener recovers it.
    drop(lock);
    drop(sender);
    let after = Outbox::open(dir.path()).unwrap();
    assert_eq!(after.get(id).unwrap().unwrap().0.state, Status::Queued);
}

/// Case 7: the bytes live apart from the row that changes, and a loose outbox is tightened.
#[cfg(unix)]
#[test]
fn the_outbox_keeps_bytes_apart_and_stays_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(dir.path()).unwrap();
    let id = ob.enqueue(&one("a@example.net"), "s", "a", SystemTime::now()).unwrap();
    let (_, raw) = ob.get(id).unwrap().unwrap();
    assert!(!raw.is_empty());
    drop(ob);
    let path = dir.path().join(popsend::core::sending::outbox::FILE_NAME);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let ob = Outbox::open(dir.path()).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    ob.mark_sending(id).unwrap();
    assert_eq!(ob.due(SystemTime::now()).unwrap().len(), 0);
    assert!(ob.delete(id).is_ok());
}

/// Case 2, as the user meets it: `popsend send` against a server echoing the password prints
/// it nowhere (stdout, stderr), and `queue`/`show` do not bring it back.
#[tokio::test]
async fn the_command_line_never_prints_an_echoed_password() {
    let dir = tempfile::tempdir().unwrap();
    let (pop, _) = pop_peer("-ERR bad command: PASS {password}").await;
    let (smtp, _) = smtp_peer(Smtp { ehlo: &["8BITMIME"], rcpt: OK, endless_ehlo: None, data: QUEUED }).await;
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[account]\naddress = \"student@example.ac.jp\"\n[pop]\nhost = \"127.0.0.1\"\nport = {pop}\nusername = \"student\"\n\
             auth = \"user\"\nallow_plaintext_password = true\n[smtp]\nport = {smtp}\n"
        ),
    )
    .unwrap();
    let runs = tokio::task::spawn_blocking(move || {
        let send = crate::support::send_simple(&config, Some(PASSWORD), "ja", "s");
        let queue = crate::support::popsend(&config, None, "ja", &["queue"]);
        let show = crate::support::popsend(&config, None, "en", &["show", "1"]);
        (send, queue, show, dir)
    })
    .await
    .unwrap();
    let (send, queue, show, _dir) = runs;
    assert_eq!(send.code, 1, "a wrong password pauses: {}", send.all());
    assert!(send.stderr.contains("********"), "the reply is shown, redacted: {}", send.all());
    for run in [&send, &queue, &show] {
        assert!(!run.all().contains(PASSWORD), "{}", run.all());
    }
}

/// Case 10, when the second transaction fails: the recipients the first one took leave the
/// outbox row at once (in the form they were given, IDN included), so the retry never sends to
/// them again.
#[tokio::test]
async fn a_failure_after_a_partial_delivery_keeps_only_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (pop, _) = pop_peer("+OK").await;
    let (smtp, _) = smtp_peer(Smtp {
        ehlo: &["8BITMIME"],
        rcpt: |_, accepted| {
            if accepted >= 2 { "452 4.5.3 Error: too many recipients".into() } else { "250 2.1.5 Ok".into() }
        },
        endless_ehlo: None,
        data: |n| if n == 0 { "250 2.0.0 Ok: queued".into() } else { "451 4.3.0 try again later".into() },
    })
    .await;
    let c = config(pop, smtp, "");
    let to: Vec<String> = vec!["a@例え.jp".into(), "b@example.net".into(), "c@example.net".into(), "d@例え.jp".into()];
    let ob = Outbox::open(dir.path()).unwrap();
    let id = ob.enqueue(&message(&to), "s", "four", SystemTime::now()).unwrap();
    let f = flush(&c, dir.path(), &ob).await;
    assert!(f.sent.is_empty(), "{f:?}");
    assert_eq!(f.split, vec![(id, 1)]);
    let (row, _) = ob.get(id).unwrap().unwrap();
    assert_eq!(row.state, Status::Queued);
    // Due again at once: only c and d are left.
    ob.retry(id, SystemTime::now()).unwrap();
    let due = ob.due(SystemTime::now() + Duration::from_secs(1)).unwrap();
    let left: Vec<String> = due[0].outgoing.envelope.to().iter().map(|a| a.to_string()).collect();
    assert_eq!(left, vec!["c@example.net", "d@例え.jp"]);
}

/// Fills the file system `file` is on: writes until it refuses.
fn fill(file: &Path) {
    use std::io::Write as _;
    let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(file) else { return };
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "popsend-test"])
            .arg(at)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "cannot mount a tmpfs at {} (the test needs root, as tests/run.sh runs it)",
            at.display()
        );
        Tmpfs(at.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Issue 11, defect 1: when the outbox cannot record that a message is being sent (here a real
/// full file system: the POP peer fills it while it takes the password, so the outbox opened fine
/// and the next thing it must write is the `sending` mark), the message does not go — no MAIL FROM
/// — and `watch` waits instead of trying again at once. Before, the send went ahead unrecorded and
/// `watch` looped, sending the same message again and again.
#[tokio::test]
async fn a_full_disk_stops_before_mail_from_and_watch_does_not_loop() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(&dir.path().join("fs"));
    let ob = Outbox::open(&fs.0.join("data")).unwrap();
    ob.enqueue(&one("a@example.net"), "テスト", "a@example.net", SystemTime::now()).unwrap();
    let filler = fs.0.join("filler");
    let (pop, pop_seen) = pop_peer_on(
        "127.0.0.1:0",
        Arc::new(move || {
            fill(&filler);
            "+OK".into()
        }),
    )
    .await;
    let (smtp, smtp_seen) = smtp_peer(Smtp { ehlo: &["8BITMIME"], rcpt: OK, endless_ehlo: None, data: QUEUED }).await;
    let c = config(pop, smtp, "");
    let flushed = with_deliverer(&c, dir.path(), async |d| engine::flush(&ob, d, true).await).await;
    assert!(flushed.is_err(), "a flush whose mark could not be written must fail: {flushed:?}");
    assert_eq!(count(&smtp_seen, "MAIL"), 0, "no MAIL FROM without the mark on disk: {:?}", lines(&smtp_seen));
    assert_eq!(count(&pop_seen, "PASS"), 1);

    // `watch` on the same full disk for 3 s: one attempt, then it waits (30 s) instead of looping.
    // A message handed to it meanwhile cannot be stored: it comes back, with its draft.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let second = one("b@example.net");
    let second_id = second.message_id.clone();
    let draft = "subject = \"二通目\"\n".to_owned();
    tx.send(engine::Command::Enqueue {
        outgoing: Box::new(second),
        subject: "二通目".into(),
        to: "b@example.net".into(),
        draft: Some(draft.clone()),
        send_at: None,
    })
    .await
    .unwrap();
    let mut errors = 0;
    let mut came_back = None;
    let _ = tokio::time::timeout(
        Duration::from_secs(3),
        with_deliverer(&c, dir.path(), async |d| {
            engine::watch(&ob, d, rx, |e| match e {
                engine::Event::Error(_) => errors += 1,
                engine::Event::NotQueued { message_id, draft, .. } => came_back = Some((message_id, draft)),
                _ => {}
            })
            .await
        }),
    )
    .await;
    assert_eq!(came_back, Some((second_id, Some(draft))), "a message that could not be stored was not given back");
    assert_eq!(count(&smtp_seen, "MAIL"), 0, "{:?}", lines(&smtp_seen));
    assert!(count(&pop_seen, "PASS") <= 2, "watch logged in {} times in 3 s: it loops", count(&pop_seen, "PASS"));
    assert!(errors >= 1, "the outbox error is told");
    drop(tx);
    // The message is still there, waiting, once there is room again.
    std::fs::remove_file(fs.0.join("filler")).unwrap();
    assert_eq!(ob.counts().unwrap().queued, 1);
}

/// Issue 11, defect 3: 接続テスト uses one address family, the one its POP connection took, as
/// the send path does. Here the name has both loopback addresses, POP answers only over IPv6
/// and SMTP only over IPv4: a real send (POP and SMTP in one family) cannot relay, and the test
/// must not report SMTP reachable over the other family. (The names come from
/// tests/servers/start.sh's /etc/hosts lines.)
#[tokio::test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
async fn the_connection_test_stays_in_the_pop_address_family() {
    let resolved = popsend::core::protocol::net::resolve("dual.popsend.test", 1, Duration::from_secs(5))
        .await
        .expect("dual.popsend.test must resolve (tests/servers/start.sh)");
    assert!(resolved.iter().any(|a| a.is_ipv6()) && resolved.iter().any(|a| a.is_ipv4()), "{resolved:?}");
    let (pop, _) = pop_peer_on("[::1]:0", Arc::new(|| "+OK".into())).await;
    let (smtp, smtp_seen) = smtp_peer(Smtp { ehlo: &["8BITMIME"], rcpt: OK, endless_ehlo: None, data: QUEUED }).await;
    let text = format!(
        "[account]\naddress = \"student@example.ac.jp\"\n[pop]\nhost = \"dual.popsend.test\"\nport = {pop}\nusername = \"student\"\nauth = \"user\"\nallow_plaintext_password = true\n[smtp]\nport = {smtp}\n"
    );
    let c = Config::parse(&text, Path::new("dual.toml")).unwrap();
    let password = Password::new(PASSWORD.into());
    let options = popsend::core::setup::diagnose::Options {
        alternatives: Some(Vec::new()),
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = knowledge::Store::new(dir.path());
    let steps = popsend::core::setup::diagnose::run(
        &c,
        Some(&password),
        &TrustAnchors::default(),
        &SystemClock,
        &store,
        &options,
        &mut |_| {},
    )
    .await;
    let by_id = |id| steps.iter().find(|s| s.id == id).unwrap();
    use popsend::core::setup::diagnose::StepId;
    assert!(by_id(StepId::PopPort).passed() && by_id(StepId::PopPort).detail.contains("::1"), "{steps:?}");
    assert!(by_id(StepId::PopLogin).passed(), "{steps:?}");
    let smtp_step = by_id(StepId::SmtpPort);
    assert!(!smtp_step.passed(), "SMTP was reached over IPv4, which the send would not use: {steps:?}");
    assert!(smtp_step.detail.contains("::1"), "{smtp_step:?}");
    assert_eq!(count(&smtp_seen, "EHLO"), 0, "nothing reached the IPv4-only SMTP peer");
}

/// Issue 11, defect 1, read-only: an outbox on a file system that went read-only is not opened
/// for sending; the command line says so in the kind's words, with the file and the cause, sends
/// nothing (no MAIL FROM) and exits 1; the message is there again once the file system is
/// writable. (Root ignores file modes, so the test remounts a real tmpfs read-only.)
#[tokio::test]
async fn a_read_only_outbox_sends_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(&dir.path().join("fs"));
    let (smtp, smtp_seen) = smtp_peer(Smtp { ehlo: &["8BITMIME"], rcpt: OK, endless_ehlo: None, data: QUEUED }).await;
    let (pop, pop_seen) = pop_peer_on("127.0.0.1:0", Arc::new(|| "+OK".into())).await;
    let config = fs.0.join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[account]\naddress = \"student@example.ac.jp\"\n[pop]\nhost = \"127.0.0.1\"\nport = {pop}\nusername = \"student\"\nauth = \"user\"\nallow_plaintext_password = true\n[smtp]\nport = {smtp}\n"
        ),
    )
    .unwrap();
    {
        let ob = Outbox::open(&fs.0.join("data")).unwrap();
        ob.enqueue(&one("a@example.net"), "テスト", "a@example.net", SystemTime::now()).unwrap();
    }
    let remount = |how: &str| {
        let status =
            std::process::Command::new("mount").args(["-o", &format!("remount,{how}")]).arg(&fs.0).status().unwrap();
        assert!(status.success(), "cannot remount the test tmpfs {how}");
    };
    remount("ro");
    let e = Outbox::open(&fs.0.join("data")).err().expect("a read-only outbox opened for sending");
    assert_eq!(classify(&e), Kind::Outbox);
    for lang in ["ja", "en"] {
        let run = tokio::task::spawn_blocking({
            let config = config.clone();
            move || crate::support::popsend(&config, Some(PASSWORD), lang, &["flush"])
        })
        .await
        .unwrap();
        assert_eq!(run.code, 1, "{}", run.all());
        let headline = if lang == "ja" {
            "送信トレイ (送信待ちのメッセージを保存するファイル) を読み書きできません"
        } else {
            "The outbox (the file that keeps messages waiting to be sent) cannot be read or written"
        };
        assert!(run.stderr.contains(headline), "{}", run.all());
        assert!(
            run.stderr.contains("outbox.sqlite") && run.stderr.to_lowercase().contains("read-only"),
            "the file and the cause: {}",
            run.all()
        );
    }
    assert_eq!(count(&smtp_seen, "MAIL"), 0, "{:?}", lines(&smtp_seen));
    assert_eq!(count(&pop_seen, "PASS"), 0, "nothing logs in for an outbox it cannot record in");
    remount("rw");
    assert_eq!(Outbox::open(&fs.0.join("data")).unwrap().counts().unwrap().queued, 1, "the message is still there");
}

/// Issue 12: 接続テスト's relay probe. A refusal of its outside address that is not a relay
/// refusal (a recipient rule checked after the relay check) means relaying was allowed: the step
/// passes and says so with the reply; a relay refusal still fails it.
#[tokio::test]
async fn a_probe_recipient_refused_by_a_later_rule_is_not_a_relay_failure() {
    use popsend::core::setup::diagnose::{self, Finding, StepId};
    let run = async |rcpt: fn(&str, usize) -> String| {
        let (pop, _) = pop_peer_on("127.0.0.1:0", Arc::new(|| "+OK".into())).await;
        let (smtp, _) = smtp_peer(Smtp { ehlo: &["8BITMIME"], rcpt, endless_ehlo: None, data: QUEUED }).await;
        let c = config(pop, smtp, "");
        let dir = tempfile::tempdir().unwrap();
        let options =
            diagnose::Options { alternatives: Some(Vec::new()), timeout: Duration::from_secs(5), ..Default::default() };
        let password = Password::new(PASSWORD.into());
        let steps = diagnose::run(
            &c,
            Some(&password),
            &TrustAnchors::default(),
            &SystemClock,
            &knowledge::Store::new(dir.path()),
            &options,
            &mut |_| {},
        )
        .await;
        steps.into_iter().find(|s| s.id == StepId::Relay).unwrap()
    };
    popsend::text::i18n::init(Some("ja"));
    let later_rule = run(|_, _| {
        "550 5.7.0 <popsend-relay-test@example.com>: Recipient address rejected: not in our list".to_owned()
    })
    .await;
    assert_eq!(later_rule.finding, Finding::RelayAllowed, "{later_rule:?}");
    assert!(later_rule.passed());
    assert!(later_rule.reply.as_deref().is_some_and(|r| r.contains("Recipient address rejected")));
    let shown = popsend::text::words::diagnose_step(6, &later_rule);
    assert!(shown.starts_with('✓') && shown.contains("中継は許可されています"), "{shown}");

    let relay = run(|_, _| "554 5.7.1 <popsend-relay-test@example.com>: Relay access denied".to_owned()).await;
    assert_eq!(relay.finding, Finding::Failed(Kind::RelayDenied), "{relay:?}");
}
