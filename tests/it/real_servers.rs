//! End to end through the `popsend` binary against the real Dovecot + Postfix of
//! tests/servers/start.sh: relay is refused until a POP login from our address, and allowed for
//! the window after it.

use mail_parser::{MessageParser, MimeHeaders as _};

use crate::support::{all_files_text, popsend, send_simple, servers, token};

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn plain_smtp_is_refused_without_a_pop_login() {
    let s = servers();
    assert_eq!(s.probe_relay(), 454, "the server relays without a POP login: the tests would prove nothing");
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn send_logs_in_then_delivers_japanese_subject_and_attachment() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let tok = token("jp");
    let body = dir.path().join("body.txt");
    std::fs::write(&body, format!("先生\n\nレポートを添付します。{tok}\n")).unwrap();
    let attachment = dir.path().join("期末レポート_山田.txt");
    std::fs::write(&attachment, "添付の中身").unwrap();
    let subject = format!("レポート提出 {tok}");
    let logins = s.login_count();

    let run = popsend(
        &config,
        Some(&s.pass),
        "ja",
        &[
            "send",
            "--to",
            "先生 <teacher@example.net>",
            "--bcc",
            "hidden@example.org",
            "--subject",
            &subject,
            "--body-file",
            body.to_str().unwrap(),
            "--attach",
            attachment.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("POP 認証に成功しました (APOP"), "{}", run.stdout);
    assert!(run.stdout.contains("送信しました"), "{}", run.stdout);
    assert!(run.stdout.contains("送信可能 残り"), "{}", run.stdout);
    assert_eq!(s.login_count(), logins + 1, "exactly one POP login");

    let raw = s.delivered(&tok);
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(m.subject(), Some(subject.as_str()));
    assert_eq!(m.from().unwrap().first().unwrap().name(), Some("山田 太郎"));
    assert!(m.body_text(0).unwrap().contains("レポートを添付します。"));
    let a = m.attachment(0).expect("the attachment arrived");
    assert_eq!(a.attachment_name(), Some("期末レポート_山田.txt"));
    assert_eq!(a.contents(), "添付の中身".as_bytes());
    assert!(m.header("Bcc").is_none(), "Bcc must not reach the headers");
    assert!(!run.all().contains(&s.pass), "password in the output");
    assert!(!all_files_text(dir.path()).contains(&s.pass), "password in a file");
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn the_window_is_reused_then_expires_and_the_next_send_logs_in_again() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config =
        s.config(dir.path(), &format!("port = {}", s.pop3), &format!("port = {}", s.smtp), "reuse_window = true");
    let send = |label: &str| {
        let body = dir.path().join("b.txt");
        std::fs::write(&body, label).unwrap();
        let run = popsend(
            &config,
            Some(&s.pass),
            "en",
            &["send", "--to", "a@example.net", "--subject", label, "--body-file", body.to_str().unwrap()],
        );
        assert_eq!(run.code, 0, "{label}: {}", run.all());
        run
    };
    let before = s.login_count();
    let first = send(&token("w1"));
    assert_eq!(s.login_count(), before + 1);
    assert!(first.stdout.contains("POP login succeeded"), "{}", first.stdout);

    let status = popsend(&config, None, "en", &["status"]);
    assert_eq!(status.code, 0, "{}", status.all());
    assert!(status.stdout.contains("Sending possible"), "{}", status.stdout);

    let second = send(&token("w2"));
    assert_eq!(s.login_count(), before + 1, "the open window was not reused: {}", second.stdout);
    assert!(!second.stdout.contains("POP login succeeded"));

    std::thread::sleep(std::time::Duration::from_millis(s.window * 1000 + 300));
    let status = popsend(&config, None, "en", &["status"]);
    assert!(status.stdout.contains("relay window closed"), "{}", status.stdout);
    send(&token("w3"));
    assert_eq!(s.login_count(), before + 2, "no new login after the window closed");
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_wrong_password_exits_1_and_opens_no_relay() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let wrong = "wrong-password-9f3";
    let run = send_simple(&config, Some(wrong), "ja", "x");
    assert_eq!(run.code, 1, "{}", run.all());
    // The plain config logs in with APOP (cleartext, no plaintext password allowed): a refused
    // APOP may be the password or a missing APOP secret, and the words say both (issue 15).
    assert!(run.stderr.contains("APOP を受け付けませんでした (パスワードが違うか"), "{}", run.stderr);
    assert!(run.stderr.contains("-ERR"), "the server's own reply is shown: {}", run.stderr);
    assert!(!run.all().contains(wrong), "password in the output");
    assert_eq!(s.probe_relay(), 454, "a failed login opened the relay");
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn stls_and_starttls_work_with_the_private_ca() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.config(
        dir.path(),
        &format!("port = {}\nsecurity = \"starttls\"", s.pop3),
        &format!("port = {}\nsecurity = \"starttls\"", s.smtp),
        "",
    );
    let tok = token("stls");
    let run = send_simple(&config, Some(&s.pass), "en", &tok);
    assert_eq!(run.code, 0, "{}", run.all());
    // Over TLS the password may travel, and SASL PLAIN is preferred.
    assert!(run.stdout.contains("(SASL PLAIN"), "{}", run.stdout);
    s.delivered(&tok);
    // A queue over STARTTLS: each next message's commands go behind the previous dot, inside
    // TLS; each arrives once, whole, in one session.
    let toks: Vec<String> = (0..3).map(|i| token(&format!("stls-queue{i}"))).collect();
    for t in &toks {
        let queued = popsend(
            &config,
            Some(&s.pass),
            "en",
            &["send", "--later", "--to", "a@example.net", "--subject", t, "--body-file", "/etc/os-release"],
        );
        assert_eq!(queued.code, 0, "{}", queued.all());
    }
    let sessions = s.smtp_sessions();
    let run = popsend(&config, Some(&s.pass), "en", &["flush"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.stdout.matches("Sent: #").count(), 3, "{}", run.all());
    let body = std::fs::read_to_string("/etc/os-release").unwrap();
    for t in &toks {
        let m = String::from_utf8_lossy(&s.delivered(t)).into_owned();
        assert!(m.contains(body.lines().next().unwrap()), "{t} arrived without its body: {m}");
        assert_eq!(
            s.all_delivered().iter().filter(|m| String::from_utf8_lossy(m).contains(t.as_str())).count(),
            1,
            "{t} arrived more than once"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(500)); // the server's log is written asynchronously
    assert_eq!(s.smtp_sessions() - sessions, 1, "SMTP sessions for the queue");
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn pop3s_and_smtps_work_with_the_private_ca() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.config(
        dir.path(),
        &format!("port = {}\nsecurity = \"tls\"", s.pop3s),
        &format!("port = {}\nsecurity = \"tls\"", s.smtps),
        "",
    );
    let tok = token("tls");
    let run = send_simple(&config, Some(&s.pass), "en", &tok);
    assert_eq!(run.code, 0, "{}", run.all());
    s.delivered(&tok);
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn smtp_auth_on_the_submission_port() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.config(
        dir.path(),
        &format!("port = {}\nsecurity = \"starttls\"", s.pop3),
        &format!("port = {}\nsecurity = \"starttls\"\nusername = \"{}\"", s.submission, s.user),
        "",
    );
    let tok = token("submission");
    let run = send_simple(&config, Some(&s.pass), "en", &tok);
    assert_eq!(run.code, 0, "{}", run.all());
    s.delivered(&tok);
    assert!(!run.all().contains(&s.pass));
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn an_untrusted_certificate_stops_without_downgrading() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config =
        s.config(dir.path(), &format!("port = {}\nsecurity = \"tls\"", s.pop3s), &format!("port = {}", s.smtp), "");
    // Trust an unrelated CA instead of the servers'.
    let text = std::fs::read_to_string(&config).unwrap().replace(s.ca.to_str().unwrap(), s.other_ca.to_str().unwrap());
    std::fs::write(&config, text).unwrap();
    let before = s.login_count();
    let run = popsend(&config, Some(&s.pass), "ja", &["auth"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("証明書を確認できません"), "{}", run.stderr);
    assert_eq!(s.login_count(), before, "logged in over an untrusted connection");
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn cleartext_password_is_refused_unless_allowed() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config =
        s.config(dir.path(), &format!("port = {}\nauth = \"user\"", s.pop3), &format!("port = {}", s.smtp), "");
    let before = s.login_count();
    let run = popsend(&config, Some(&s.pass), "en", &["auth"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("unencrypted connection"), "{}", run.stderr);
    assert_eq!(s.login_count(), before);

    let config = s.config(
        dir.path(),
        &format!("port = {}\nauth = \"user\"\nallow_plaintext_password = true", s.pop3),
        &format!("port = {}", s.smtp),
        "",
    );
    let run = popsend(&config, Some(&s.pass), "en", &["auth"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("(USER/PASS"), "{}", run.stdout);
    assert!(run.stdout.contains("Sending possible"), "{}", run.stdout);
    assert_eq!(s.login_count(), before + 1);
    assert_ne!(s.probe_relay(), 454, "auth did not open the relay window");
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn servers_down_means_exit_75_and_nothing_claimed_sent() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    // Ports nothing listens on.
    let config = s.config(dir.path(), "port = 1", "port = 2", "");
    let run = send_simple(&config, Some(&s.pass), "ja", "x");
    assert_eq!(run.code, 75, "{}", run.all());
    assert!(run.stderr.contains("接続を拒否されました"), "{}", run.stderr);
    assert!(!run.stdout.contains("送信しました"), "{}", run.stdout);
}

/// Issue 12: with `charset = "iso-2022-jp"` the message goes through the real Postfix into the
/// Maildir and an independent parser (Python's `email`) reads every header and body character
/// back as written, half-width katakana made full-width. A character ISO-2022-JP cannot carry
/// stops the send (exit 2, named); `--charset utf-8` sends it.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn iso_2022_jp_goes_through_postfix_and_decodes_identically() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("display_name = \"山田 太郎\"\n", "display_name = \"山田 太郎\"\ncharset = \"iso-2022-jp\"\n");
    std::fs::write(&config, text).unwrap();
    let tok = token("jis");
    let body = dir.path().join("body.txt");
    std::fs::write(&body, format!("先生\n\nｶﾞｲﾀﾞﾝｽの資料です。{tok}\n長い行{}\n", "あ".repeat(400))).unwrap();
    let subject = format!("期末ﾚﾎﾟｰﾄの提出（情報科学概論・第３回） {tok}");
    let run = popsend(
        &config,
        Some(&s.pass),
        "ja",
        &["send", "--to", "花子 <teacher@example.net>", "--subject", &subject, "--body-file", body.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let raw = s.delivered(&tok);
    assert!(raw.is_ascii());
    let script = "import sys, json, email, email.policy\n\
                  m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)\n\
                  print(json.dumps({'subject': str(m['subject']), 'from': m['from'].addresses[0].display_name, \
                  'to': m['to'].addresses[0].display_name, 'charset': m.get_content_charset(), 'body': m.get_content()}))";
    let mut python = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed to read the message independently (tests/run.sh installs it)");
    std::io::Write::write_all(python.stdin.as_mut().unwrap(), &raw).unwrap();
    let out = python.wait_with_output().unwrap();
    assert!(out.status.success());
    let read = String::from_utf8(out.stdout).unwrap();
    let field = |name: &str| -> String {
        let v: Vec<&str> = read.split(&format!("\"{name}\": \"")).collect();
        let rest = v.get(1).unwrap_or_else(|| panic!("{name} missing: {read}"));
        let end = rest.find("\", \"").or_else(|| rest.find("\"}")).unwrap();
        rest[..end].to_owned()
    };
    // JSON escapes non-ASCII as \uXXXX: compare with the same escaping.
    let json = |s: &str| {
        s.chars()
            .map(|c| if c.is_ascii() { c.to_string().replace('\n', "\\n") } else { format!("\\u{:04x}", c as u32) })
            .collect::<String>()
    };
    assert_eq!(field("charset"), "iso-2022-jp");
    assert_eq!(field("subject"), json(&format!("期末レポートの提出（情報科学概論・第３回） {tok}")));
    assert_eq!(field("from"), json("山田 太郎"));
    assert_eq!(field("to"), json("花子"));
    // Compared up to the line breaks that end the part (the MIME framing adds some).
    assert_eq!(
        field("body").trim_end_matches("\\n"),
        json(&(format!("先生\n\nガイダンスの資料です。{tok}\n長い行") + &"あ".repeat(400)))
    );

    // ① cannot go in ISO-2022-JP: named, nothing queued; in UTF-8 it goes.
    let tok2 = token("jis-refused");
    let run = popsend(
        &config,
        Some(&s.pass),
        "ja",
        &["send", "--to", "teacher@example.net", "--subject", &format!("①番 {tok2}"), "--body-file", "/dev/null"],
    );
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("ISO-2022-JP")
            && run.stderr.contains("① (U+2460)")
            && run.stderr.contains("--charset utf-8"),
        "{}",
        run.all()
    );
    let run = popsend(
        &config,
        Some(&s.pass),
        "ja",
        &[
            "send",
            "--charset",
            "utf-8",
            "--to",
            "teacher@example.net",
            "--subject",
            &format!("①番 {tok2}"),
            "--body-file",
            "/dev/null",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let raw = s.delivered(&tok2);
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(m.subject(), Some(format!("①番 {tok2}").as_str()));
}

/// Issue 13's `popsend sendmail`: a message piped in the way mutt or git send-email pipe it goes
/// out through the real servers with its headers as written (Bcc taken out, a missing From and
/// Message-ID added, a line starting with a dot kept), also when popsend is called through a
/// link named sendmail; offline it stays in the outbox and the exit code is 75.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn sendmail_takes_a_message_as_written_and_sends_it() {
    use std::io::Write as _;
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let run = |program: &std::path::Path, config: &std::path::Path, args: &[&str], message: &str| {
        let mut child = std::process::Command::new(program)
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(config.parent().unwrap().join("data"))
            .args(args)
            .env("POPSEND_PASSWORD", &s.pass)
            .env("POPSEND_LANG", "ja")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(message.as_bytes()).unwrap();
        crate::support::finish(child.wait_with_output().unwrap())
    };
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_popsend"));
    let tok = token("sendmail");
    let message = format!(
        "To: Teacher <teacher@example.net>\nBcc: hidden@example.org\nSubject: patch {tok}\nX-Signed: keep me as I am\n\nbody\n.leading dot line\n"
    );
    let out = run(&bin, &config, &["sendmail", "-t", "-oi", "-F", "山田 太郎"], &message);
    assert_eq!(out.code, 0, "{}", out.all());
    let raw = String::from_utf8(s.delivered(&tok)).unwrap();
    assert!(raw.contains(&format!("Subject: patch {tok}\n")) && raw.contains("X-Signed: keep me as I am\n"), "{raw}");
    assert!(!raw.contains("Bcc:") && !raw.contains("hidden@example.org\n"), "{raw}");
    assert!(raw.contains("\n.leading dot line\n"), "the dot line came through: {raw}");
    assert!(raw.contains("Message-ID: <") && raw.contains("From: =?UTF-8?B?"), "{raw}");

    // Through a link named sendmail, recipients as arguments.
    let link = dir.path().join("sendmail");
    std::os::unix::fs::symlink(&bin, &link).unwrap();
    let tok2 = token("sendmail-link");
    let out = run(&link, &config, &["-oi", "teacher@example.net"], &format!("Subject: {tok2}\n\nhi\n"));
    assert_eq!(out.code, 0, "{}", out.all());
    s.delivered(&tok2);

    // Offline: stored, exit 75, waiting in the outbox.
    let offline_dir = tempfile::tempdir().unwrap();
    let offline = s.config(offline_dir.path(), "port = 1", "port = 2", "");
    let out = run(&bin, &offline, &["sendmail", "-t"], "To: teacher@example.net\nSubject: later\n\nhi\n");
    assert_eq!(out.code, 75, "{}", out.all());
    let q = popsend(&offline, None, "ja", &["queue"]);
    assert!(q.stdout.contains("later") && q.stdout.contains("送信待ち"), "{}", q.stdout);
}

/// Issue 13: `popsend serve` takes a message from another mail program over SMTP on loopback —
/// only after the local login — answers 250 once it is in the outbox, and the engine beside it
/// sends it through the real POP-before-SMTP servers with its envelope (Bcc included) and its
/// bytes as the program sent them. A second `serve` on the same port says the port is taken.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn serve_takes_mail_from_another_program_and_sends_it() {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::time::Duration;
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap() + &format!("\n[submission]\nport = {port}\n"))
        .unwrap();
    // Killed when dropped, also when an assertion below fails.
    let _serve = crate::support::Background(
        crate::support::popsend_command(&config, Some(&s.pass), "ja", &["serve"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let stream = loop {
        if let Ok(c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            break c;
        }
        assert!(std::time::Instant::now() < deadline, "popsend serve did not open its port");
        std::thread::sleep(Duration::from_millis(50));
    };
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut reply = || {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            all += &line;
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    };
    assert!(reply().starts_with("220"));
    let password = std::fs::read_to_string(config.parent().unwrap().join("data").join("submission-login")).unwrap();
    let tok = token("serve");
    let mut talk = |line: &str| {
        w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        reply()
    };
    assert!(talk("EHLO thunderbird.local").contains("AUTH PLAIN LOGIN"));
    assert!(talk("MAIL FROM:<student@popsend.test>").starts_with("530"), "no mail without the local login");
    use base64::Engine as _;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0popsend\0{}", password.trim()));
    assert!(talk(&format!("AUTH PLAIN {plain}")).starts_with("235"));
    assert!(talk("MAIL FROM:<student@popsend.test>").starts_with("250"));
    assert!(talk("RCPT TO:<teacher@example.net>").starts_with("250"));
    assert!(talk("RCPT TO:<hidden@example.org>").starts_with("250"));
    assert!(talk("DATA").starts_with("354"));
    let message = format!(
        "From: student@popsend.test\r\nTo: teacher@example.net\r\nSubject: {tok}\r\nX-Signed: as sent\r\n\r\n..a line with a leading dot\r\n."
    );
    // Tried at once: the program hears that it went (the engine beside the server sent it).
    let answer = talk(&message);
    assert!(answer.starts_with("250 2.0.0 sent"), "{answer}");
    talk("QUIT");
    let raw = String::from_utf8(s.delivered(&tok)).unwrap();
    assert!(raw.contains("X-Signed: as sent\n") && raw.contains("\n.a line with a leading dot\n"), "{raw}");
    assert!(raw.contains("Message-ID: <") && raw.contains("Date: "), "added where missing: {raw}");
    // The real Postfix announced SIZE 10240000 (message_size_limit in tests/servers/start.sh):
    // the next program hears that, less popsend's room for the headers it adds.
    let next = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    next.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut next_reader = BufReader::new(next.try_clone().unwrap());
    let mut line = String::new();
    next_reader.read_line(&mut line).unwrap();
    (&next).write_all(b"EHLO second.local\r\n").unwrap();
    let mut ehlo = String::new();
    loop {
        line.clear();
        next_reader.read_line(&mut line).unwrap();
        ehlo += &line;
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            break;
        }
    }
    assert!(ehlo.contains("250-SIZE 10238976\r\n"), "{ehlo}");
    drop((next, next_reader));
    // 送信済み names the program it came from (its EHLO name).
    let sent = popsend(&config, None, "ja", &["sent"]);
    let line = sent.stdout.lines().find(|l| l.contains(&tok)).unwrap_or_default();
    assert!(line.contains("(thunderbird.local から)"), "{}", sent.stdout);

    // The port is taken by this popsend: a second serve (for another data folder: for this one
    // it would not start at all, see clients::serve_steps_aside…) says so, naming it, and ends.
    let other_dir = tempfile::tempdir().unwrap();
    let other = s.plain_config(other_dir.path());
    std::fs::write(&other, std::fs::read_to_string(&other).unwrap() + &format!("\n[submission]\nport = {port}\n"))
        .unwrap();
    let second = popsend(&other, Some(&s.pass), "ja", &["serve"]);
    assert_eq!(second.code, 1, "{}", second.all());
    assert!(
        second.stderr.contains(&format!("{port} 番ポートでは、すでに popsend がメールを受け付けています")),
        "{}",
        second.all()
    );
    // Taken by another program (the real Postfix's port): its greeting is quoted.
    let postfix_dir = tempfile::tempdir().unwrap();
    let on_postfix = s.plain_config(postfix_dir.path());
    std::fs::write(
        &on_postfix,
        std::fs::read_to_string(&on_postfix).unwrap() + &format!("\n[submission]\nport = {}\n", s.smtp),
    )
    .unwrap();
    let third = popsend(&on_postfix, Some(&s.pass), "ja", &["serve"]);
    assert_eq!(third.code, 1, "{}", third.all());
    assert!(
        third.stderr.contains(&format!("{} 番ポートは別のプログラムが使っています", s.smtp))
            && third.stderr.contains("ESMTP"),
        "{}",
        third.all()
    );
}

/// Issue 23: a message handed to `popsend sendmail` (no `-t`) arrives as the program wrote it:
/// Bcc and Resent-Bcc gone, a raw Shift_JIS header byte for byte, and no empty line before the
/// end that the program never wrote; its Message-ID's escapes never reach the terminal.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn sendmail_delivers_the_message_as_written_without_bcc() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let tok = token("asis");
    let mut message = format!("Subject: {tok}\nBcc: hidden@example.org\nResent-Bcc: also-hidden@example.org\nMessage-ID: <{tok}\u{1b}[2J@popsend.test>\nX-Sjis: ").into_bytes();
    message.extend_from_slice(b"\x83\x8c\x83\x7c\x81\x5b\x83\x67\n\nfirst\nlast line\n");
    let run = crate::support::popsend_with_input(
        &config,
        Some(&s.pass),
        "en",
        &["sendmail", "teacher@example.net"],
        &message,
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.all().contains('\u{1b}'), "{:?}", run.all());
    let raw = s.delivered(&tok);
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains("hidden@example.org") && !text.to_ascii_lowercase().contains("bcc:"), "{text}");
    assert!(raw.windows(8).any(|w| w == b"\x83\x8c\x83\x7c\x81\x5b\x83\x67"), "the header's bytes changed: {text}");
    assert!(
        raw.ends_with(b"\nfirst\nlast line\n") && !raw.ends_with(b"last line\n\n"),
        "{:?}",
        &text[text.len().saturating_sub(40)..]
    );
}
