//! Issue 28: two accounts in one config and one data folder, against the real Dovecot + Postfix:
//! the student's own ("student") and a second mailbox on the same server ("lab"). Each message
//! goes through its own account's login; one account's wrong password stops only its own queue;
//! `POPSEND_PASSWORD` is the first account's and never reaches the second's server; the local
//! submission server picks the account by the sender and refuses an unknown one.

use std::path::{Path, PathBuf};

use mail_parser::MessageParser;

use crate::support::{Servers, popsend, popsend_command, servers, token};

/// The plain config with a second account, "研究室" (lab@popsend.test, POP user "lab").
fn two_accounts(s: &Servers, dir: &Path) -> PathBuf {
    let config = s.plain_config(dir);
    let text = std::fs::read_to_string(&config).unwrap();
    let second = format!(
        "\n[[accounts]]\n[accounts.account]\naddress = \"lab@popsend.test\"\nname = \"研究室\"\n\
         [accounts.pop]\nhost = \"{host}\"\nport = {pop}\nusername = \"lab\"\n\
         [accounts.smtp]\nport = {smtp}\n\
         [accounts.relay]\nwindow_seconds = {window}\nmargin_seconds = 1\n\
         [accounts.tls]\nca_file = \"{ca}\"\n",
        host = s.host,
        pop = s.pop3,
        smtp = s.smtp,
        window = s.window,
        ca = s.ca.display(),
    );
    std::fs::write(&config, text + &second).unwrap();
    config
}

/// The second account's password file (its data folder), as popsend writes one, for `password`.
fn lab_password(s: &Servers, config: &Path, password: &str) {
    let dir = config.parent().unwrap().join("data/accounts/lab@popsend.test");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("password");
    std::fs::write(&file, format!("lab@{}\n{password}\n", s.host)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The users that logged in since line `from` of the server's login record.
fn logins_since(s: &Servers, from: usize) -> Vec<String> {
    std::fs::read_to_string(&s.logins)
        .unwrap()
        .lines()
        .skip(from)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .collect()
}

fn queue_later(config: &Path, password: &str, account: Option<&str>, subject: &str) {
    let mut args = Vec::new();
    if let Some(a) = account {
        args.extend(["--account", a]);
    }
    args.extend(["send", "--later", "--to", "teacher@example.net", "--subject", subject, "--body-file", "/dev/null"]);
    let run = popsend(config, Some(password), "ja", &args);
    assert_eq!(run.code, 0, "{}", run.all());
}

fn from_of(raw: &[u8]) -> String {
    let m = MessageParser::default().parse(raw).unwrap();
    m.from().and_then(|f| f.first()).and_then(|a| a.address()).unwrap_or_default().to_owned()
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn each_account_sends_through_its_own_login_and_a_wrong_password_holds_only_its_own() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = two_accounts(&s, dir.path());
    lab_password(&s, &config, "pop-pass-2");
    let (a, b) = (token("acct-a"), token("acct-b"));
    queue_later(&config, &s.pass, None, &format!("大学から {a}"));
    queue_later(&config, &s.pass, Some("研究室"), &format!("研究室から {b}"));
    let before = s.login_count();

    // One `flush` for both: POPSEND_PASSWORD is the first account's; the second's comes from its
    // own password file (with the variable's password it could not log in as "lab").
    let run = popsend(&config, Some(&s.pass), "ja", &["flush"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("── 研究室 ──"), "{}", run.stdout);
    assert_eq!(from_of(&s.delivered(&a)), "student@popsend.test");
    assert_eq!(from_of(&s.delivered(&b)), "lab@popsend.test");
    let mut users = logins_since(&s, before);
    users.sort();
    assert_eq!(users, ["lab", "student"], "each account logs in once, as itself");

    // 送信済み lists both, each line starting with its account.
    let sent = popsend(&config, Some(&s.pass), "ja", &["sent"]);
    assert_eq!(sent.code, 0, "{}", sent.all());
    let line = |tok: &str| sent.stdout.lines().find(|l| l.contains(tok)).unwrap_or_default().to_owned();
    assert!(line(&a).starts_with("student@popsend.test\t#1\t"), "{}", sent.stdout);
    assert!(line(&b).starts_with("研究室\t#1\t"), "{}", sent.stdout);

    // The second account's password is now wrong: its queue stops, the first's mail goes.
    lab_password(&s, &config, "not-the-password");
    let (a2, b2) = (token("acct-a2"), token("acct-b2"));
    queue_later(&config, &s.pass, None, &format!("大学から {a2}"));
    queue_later(&config, &s.pass, Some("lab@popsend.test"), &format!("研究室から {b2}"));
    let run = popsend(&config, Some(&s.pass), "ja", &["flush"]);
    assert_ne!(run.code, 0, "a refused password is not success: {}", run.all());
    assert_eq!(from_of(&s.delivered(&a2)), "student@popsend.test");
    let waiting = popsend(&config, Some(&s.pass), "ja", &["--account", "研究室", "queue"]);
    assert!(waiting.stdout.contains(&b2), "the second account's message waits: {}", waiting.all());
    let first = popsend(&config, Some(&s.pass), "ja", &["--account", "student@popsend.test", "queue"]);
    assert!(first.stdout.contains("送信トレイは空です"), "{}", first.all());
    assert!(s.find_delivered(&b2).is_none(), "sent with a refused password");
    let status = popsend(&config, Some(&s.pass), "ja", &["status"]);
    assert!(status.stdout.contains("── 研究室 ──"), "{}", status.all());
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn an_unknown_account_is_named_with_the_ones_there_are() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = two_accounts(&s, dir.path());
    let run = popsend(&config, Some(&s.pass), "ja", &["--account", "バイト先", "queue"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("「バイト先」というアカウントはありません"), "{}", run.stderr);
    assert!(run.stderr.contains("student@popsend.test、研究室"), "{}", run.stderr);
}

/// Python's smtplib hands one message over (From line and envelope sender given) and prints the
/// server's answer to DATA.
const HAND_OVER: &str = r#"
import smtplib, sys
port, login_file, envelope, header, tok = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
password = open(login_file).read().strip()
msg = f"From: {header}\r\nTo: teacher@example.net\r\nSubject: {tok}\r\n\r\n{tok}\r\n".encode()
with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
    s.login("popsend", password)
    try:
        s.sendmail(envelope, ["teacher@example.net"], msg)
        print("250")
    except smtplib.SMTPDataError as e:
        print(e.smtp_code, e.smtp_error.decode())
"#;

fn hand_over(port: u16, login: &Path, envelope: &str, header: &str, tok: &str) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", HAND_OVER, &port.to_string()])
        .arg(login)
        .args([envelope, header, tok])
        .output()
        .expect("python3 (tests/run.sh installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn the_submission_server_picks_the_account_by_the_sender() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = two_accounts(&s, dir.path());
    lab_password(&s, &config, "pop-pass-2");
    let port = crate::clients::free_port();
    let text = std::fs::read_to_string(&config).unwrap();
    // `[submission]` is the file's, shared: written before the other accounts' tables.
    let (head, rest) = text.split_once("\n[[accounts]]").unwrap();
    std::fs::write(&config, format!("{head}\n[submission]\nport = {port}\n\n[[accounts]]{rest}")).unwrap();
    let mut child = crate::clients::listening(
        popsend_command(&config, Some(&s.pass), "ja", &["serve"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
        port,
    );
    let login = dir.path().join("data/submission-login");
    let (a, b, c) = (token("serve-a"), token("serve-b"), token("serve-c"));
    // By the envelope sender, by the From line (the envelope names no account), and neither.
    let said_a = hand_over(port, &login, "student@popsend.test", "student@popsend.test", &a);
    let said_b = hand_over(port, &login, "bounces@example.org", "研究室 <LAB@popsend.test>", &b);
    let said_c = hand_over(port, &login, "someone@example.org", "someone@example.org", &c);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(said_a, "250");
    assert_eq!(said_b, "250");
    assert!(said_c.starts_with("550 "), "{said_c}");
    assert!(said_c.contains("student@popsend.test, lab@popsend.test"), "{said_c}");
    assert_eq!(from_of(&s.delivered(&a)), "student@popsend.test");
    assert!(String::from_utf8_lossy(&s.delivered(&b)).contains("LAB@popsend.test"));
    // Each in its own account's outbox; the unknown sender's nowhere.
    let first = popsend(&config, Some(&s.pass), "ja", &["--account", "student@popsend.test", "sent"]);
    let second = popsend(&config, Some(&s.pass), "ja", &["--account", "研究室", "sent"]);
    assert!(first.stdout.contains(&a) && !first.stdout.contains(&b), "{}", first.stdout);
    assert!(second.stdout.contains(&b) && !second.stdout.contains(&a), "{}", second.stdout);
    let all = popsend(&config, Some(&s.pass), "ja", &["queue"]);
    assert!(!all.stdout.contains(&c) && s.find_delivered(&c).is_none(), "{}", all.stdout);
}

/// `sendmail` (mutt, git send-email): the message's From line picks the account, and the first
/// account's POPSEND_PASSWORD does not go to the second's server (it logs in with its own); a
/// message number needs its account when there are several.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn sendmail_goes_through_the_account_of_its_from_line() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = two_accounts(&s, dir.path());
    lab_password(&s, &config, "pop-pass-2");
    let tok = token("sendmail-lab");
    let message = format!("From: 研究室 <lab@popsend.test>\nTo: teacher@example.net\nSubject: {tok}\n\n{tok}\n");
    let before = s.login_count();
    let run = crate::support::popsend_with_input(&config, Some(&s.pass), "ja", &["sendmail", "-t"], message.as_bytes());
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(from_of(&s.delivered(&tok)), "lab@popsend.test");
    assert_eq!(logins_since(&s, before), ["lab"], "not through the lab's own login");
    let sent = popsend(&config, Some(&s.pass), "ja", &["--account", "研究室", "sent"]);
    assert!(sent.stdout.contains(&tok), "{}", sent.all());
    // `show 1` could be either account's first message: it asks which.
    let show = popsend(&config, Some(&s.pass), "ja", &["show", "1"]);
    assert_eq!(show.code, 2, "{}", show.all());
    assert!(show.stderr.contains("--account"), "{}", show.stderr);
}
