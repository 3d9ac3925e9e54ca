//! The binary's behaviour that needs no server: help, usage and config errors, bad input.

use crate::support::{finish, popsend};

fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_popsend"));
    // No display: with no command the binary explains and prints its help instead of a window.
    c.env_remove("POPSEND_PASSWORD")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(std::process::Stdio::null());
    c
}

#[test]
fn no_command_prints_localized_help() {
    let run = finish(bin().env("POPSEND_LANG", "ja").output().unwrap());
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("送信"), "{}", run.stdout);
    assert!(run.stdout.contains("send") && run.stdout.contains("auth") && run.stdout.contains("status"));
    // Issue 12: Japanese throughout, clap's own words included.
    for heading in ["使い方: popsend [オプション]", "コマンド:", "オプション:", "この説明を表示します"]
    {
        assert!(run.stdout.contains(heading), "{heading}: {}", run.stdout);
    }
    for english in ["Usage:", "Commands:", "Options:", "Print help", "Print this message", "[OPTIONS]"] {
        assert!(!run.stdout.contains(english), "{english}: {}", run.stdout);
    }
    let sub = finish(bin().env("POPSEND_LANG", "ja").args(["send", "--help"]).output().unwrap());
    assert!(
        sub.stdout.contains("使い方: popsend send [オプション]") && !sub.stdout.contains("possible values"),
        "{}",
        sub.stdout
    );
    let run = finish(bin().env("POPSEND_LANG", "en").output().unwrap());
    assert!(run.stdout.contains("Only log in over POP"), "{}", run.stdout);
}

#[test]
fn usage_errors_exit_2() {
    let run = finish(bin().args(["send", "--subject", "x"]).output().unwrap());
    assert_eq!(run.code, 2, "{}", run.all());
    let run = finish(bin().args(["frobnicate"]).output().unwrap());
    assert_eq!(run.code, 2, "{}", run.all());
}

#[test]
fn config_errors_exit_2_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let run = popsend(&missing, Some("x"), "en", &["status"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains(missing.to_str().unwrap()), "{}", run.stderr);

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[account]\naddress = \"a@b.c\"\n[pop]\nhost = \"h\"\nusername = \"u\"\nport = 99999\n[smtp]\n",
    )
    .unwrap();
    let run = popsend(&bad, Some("x"), "ja", &["status"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("設定ファイルを使えません"), "{}", run.stderr);
    assert!(run.stderr.contains("pop.port"), "{}", run.stderr);
}

/// Issue 13: the submission server listens on loopback only, whatever the config says: a config
/// that asks for another address is refused, naming the key, and nothing listens.
#[test]
fn a_submission_address_in_the_config_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path().join("c.toml");
    let text = format!(
        "[account]\naddress = \"a@popsend.test\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"u\"\n[smtp]\nport = 2\n[submission]\naddress = \"0.0.0.0\"\nport = {port}\n"
    );
    std::fs::write(&config, text).unwrap();
    let run = popsend(&config, Some("x"), "ja", &["serve"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("submission.address") && run.stderr.contains("設定ファイルを使えません"),
        "{}",
        run.stderr
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "something listens");
}

fn good_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("c.toml");
    std::fs::write(&path, "[account]\naddress = \"a@popsend.test\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"u\"\n[smtp]\nport = 2\n").unwrap();
    path
}

#[test]
fn header_injection_and_bad_attachments_fail_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let run = popsend(
        &config,
        Some("x"),
        "en",
        &["send", "--to", "a@example.net", "--subject", "hi\r\nBcc: x@example.com", "--body-file", "/dev/null"],
    );
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("Subject: contains a line break"), "{}", run.stderr);
    let run = popsend(
        &config,
        Some("x"),
        "en",
        &["send", "--to", "not an address", "--subject", "s", "--body-file", "/dev/null"],
    );
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("To: \"not an address\""), "{}", run.stderr);
    let run = popsend(
        &config,
        Some("x"),
        "en",
        &[
            "send",
            "--to",
            "a@example.net",
            "--subject",
            "s",
            "--body-file",
            "/dev/null",
            "--attach",
            "/nonexistent/f.pdf",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("/nonexistent/f.pdf: cannot attach"), "{}", run.stderr);
}

#[test]
fn no_password_source_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("username = \"u\"", "username = \"u\"\npassword_command = \"exit 4\"");
    std::fs::write(&config, text).unwrap();
    let run = popsend(&config, None, "en", &["auth"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("password_command `exit 4`: failed"), "{}", run.stderr);
}

#[test]
fn status_without_login() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let run = popsend(&config, None, "ja", &["status"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("まだ POP 認証していません"), "{}", run.stdout);
}

#[test]
fn a_closed_stdout_is_not_a_crash() {
    // `popsend queue | head -1`: the reader goes away before popsend writes.
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let mut child = crate::support::popsend_command(&config, None, "ja", &["status"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let run = finish(child.wait_with_output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn queue_show_retry_delete_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path()); // ports 1 and 2: nothing answers
    let run = popsend(
        &config,
        Some("pw"),
        "ja",
        &["send", "--to", "Hanako <hanako@example.net>", "--subject", "レポート", "--body-file", "/dev/null"],
    );
    assert_eq!(run.code, 75, "{}", run.all());
    assert!(run.stdout.contains("送信トレイに入れました: #1"), "{}", run.stdout);
    assert!(run.stdout.contains("次の送信予定"), "{}", run.stdout);

    let q = popsend(&config, None, "ja", &["queue"]);
    assert_eq!(q.code, 0);
    let line = q.stdout.lines().next().unwrap_or_default().to_owned();
    assert!(line.starts_with("#1\t送信待ち\tHanako <hanako@example.net>\tレポート"), "{line}");
    assert!(line.contains("試行 1") && line.contains("接続を拒否"), "{line}");

    let show = popsend(&config, None, "en", &["show", "1"]);
    assert_eq!(show.code, 0, "{}", show.all());
    assert!(show.stdout.contains("Subject: =?utf-8?b?"), "{}", show.stdout);
    assert!(show.stdout.contains("Message-ID: <"), "{}", show.stdout);
    assert!(show.stdout.contains("connection refused"), "the detail is shown: {}", show.stdout);

    let retry = popsend(&config, Some("pw"), "en", &["retry", "1"]);
    assert_eq!(retry.code, 75, "{}", retry.all());
    assert!(retry.stdout.contains("#1 is waiting to be sent again"), "{}", retry.stdout);
    let q = popsend(&config, None, "en", &["queue"]);
    assert!(q.stdout.contains("Tries 2"), "{}", q.stdout);

    let del = popsend(&config, None, "en", &["delete", "1"]);
    assert_eq!(del.code, 0, "{}", del.all());
    let again = popsend(&config, None, "en", &["delete", "1"]);
    assert_eq!(again.code, 1, "{}", again.all());
    assert!(again.stderr.contains("There is no message #1"), "{}", again.stderr);
    let q = popsend(&config, None, "en", &["queue"]);
    assert!(q.stdout.contains("The outbox is empty"), "{}", q.stdout);
    let status = popsend(&config, None, "ja", &["status"]);
    assert!(status.stdout.contains("送信待ち 0 / 失敗 0 / 送信済み 0"), "{}", status.stdout);
}

#[test]
fn send_later_needs_no_password_and_no_network() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let run = popsend(
        &config,
        None,
        "en",
        &["send", "--later", "--to", "a@example.net", "--subject", "s", "--body-file", "/dev/null"],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("Put in the outbox: #1"), "{}", run.stdout);
    let q = popsend(&config, None, "en", &["queue"]);
    assert!(q.stdout.contains("#1\twaiting") && q.stdout.contains("Tries 0"), "{}", q.stdout);
}

/// 送信予約 from the command line: `--at` stores the message with its time (and sends nothing
/// now); a time gone by or malformed is refused before anything is stored.
#[test]
fn send_at_stores_the_time_and_a_past_time_is_refused() {
    use popsend::core::sending::schedule;
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let args = |at: &str| {
        ["send", "--at", at, "--to", "a@example.net", "--subject", "s", "--body-file", "/dev/null"]
            .map(str::to_owned)
            .to_vec()
    };
    let past = args("2000-01-01 08:30");
    let run = popsend(&config, None, "ja", &past.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.all().contains("すでに過ぎた日時です"), "{}", run.all());
    let (date, time) = schedule::next_morning(std::time::SystemTime::now());
    let ahead = args(&format!("{date} {time}"));
    let run = popsend(&config, None, "ja", &ahead.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains(&format!("{date} {time} に送ります")), "{}", run.stdout);
    let ob = popsend::core::sending::outbox::Outbox::open(&dir.path().join("data")).unwrap();
    let rows = ob.list(&[popsend::core::sending::outbox::Status::Queued], 10).unwrap();
    assert_eq!(rows.len(), 1, "the refused one was stored");
    let at = schedule::parse(&date, &time, std::time::SystemTime::now()).unwrap();
    assert_eq!((rows[0].send_at, rows[0].attempts), (Some(at), 0));
}

/// `watch` with the server unreachable tries once at start and then keeps to its backoff: the
/// network interfaces it finds at start are not "the network came back" (each was taken as such,
/// and six attempts in three seconds pushed the next try an hour away). `--until-empty` does not
/// leave while the message still waits.
#[test]
fn watch_offline_tries_once_and_keeps_its_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[account]\naddress = \"a@popsend.test\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"u\"\n[smtp]\nport = 1\n").unwrap();
    let queued = popsend(
        &config,
        Some("pw"),
        "en",
        &["send", "--later", "--to", "b@example.net", "--subject", "waits", "--body-file", "/dev/null"],
    );
    assert_eq!(queued.code, 0, "{}", queued.all());
    let mut watch = crate::support::popsend_command(&config, Some("pw"), "en", &["watch", "--until-empty"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert!(watch.try_wait().unwrap().is_none(), "watch --until-empty left while a message waits");
    let _ = watch.kill();
    let _ = watch.wait();
    let ob = popsend::core::sending::outbox::Outbox::open(&dir.path().join("data")).unwrap();
    let rows = ob.list(&[popsend::core::sending::outbox::Status::Queued], 10).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].attempts, 1, "attempts in 6 s of watch with the server down");
}

/// `watch --until-empty` (what the window leaves behind when it closes) exits once nothing waits.
#[test]
fn watch_until_empty_exits_when_nothing_waits() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[account]\naddress = \"a@popsend.test\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"u\"\n[smtp]\nport = 1\n").unwrap();
    let run = popsend(&config, Some("pw"), "en", &["watch", "--until-empty"]);
    assert_eq!(run.code, 0, "{}", run.all());
}

/// Issue 9, case 16: `watch --until-empty` on a paused queue leaves with the pause reason (it is
/// the process the window leaves running on close; it used to run forever).
#[test]
fn watch_until_empty_leaves_a_paused_queue() {
    use popsend::core::sending::outbox::{Described, Outbox, Pause};
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let run = popsend(
        &config,
        None,
        "en",
        &["send", "--later", "--to", "a@example.net", "--subject", "s", "--body-file", "/dev/null"],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let fingerprint = popsend::core::setup::account::Config::load(&config).unwrap().fingerprint;
    let ob = Outbox::open(&dir.path().join("data")).unwrap();
    let error = Described {
        kind: popsend::core::problem::kind::Kind::WrongPassword,
        reply: Some("-ERR [AUTH] no".into()),
        detail: "d".into(),
    };
    ob.pause(&Pause { error, config: fingerprint }).unwrap();
    drop(ob);
    let started = std::time::Instant::now();
    let run = popsend(&config, Some("pw"), "en", &["watch", "--until-empty"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("Wrong password"), "{}", run.all());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// Issue 9, cases 6 and 16: `status` with a damaged state file warns instead of panicking, and
/// with a corrupt outbox fails instead of exiting 0.
#[test]
fn status_survives_damaged_files_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("relay-window"),
        "login_at_ms 18446744073709551615\nlogin_server 127.0.0.1:1\nlogin_peer 127.0.0.1\n",
    )
    .unwrap();
    let run = popsend(&config, None, "en", &["status"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.stderr.contains("panicked"), "{}", run.all());
    assert!(run.stderr.contains("line 1"), "the ignored line is named: {}", run.all());

    std::fs::write(data.join("outbox.sqlite3"), b"this is not a database, it is garbage garbage garbage garbage")
        .unwrap();
    let run = popsend(&config, None, "en", &["status"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("outbox.sqlite3"), "{}", run.all());
}

/// Issue 9, case 14: what a server or an older version stored is shown without its control
/// characters by `queue` and `show`.
#[test]
fn stored_control_characters_never_reach_the_terminal() {
    use popsend::core::sending::outbox::{Described, Outbox};
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let d = popsend::core::message::compose::Draft {
        from_address: "a@popsend.test".into(),
        to: vec!["b@example.net".into()],
        subject: "s".into(),
        ..Default::default()
    };
    let out = popsend::core::message::compose::build(&d, std::time::SystemTime::now()).unwrap();
    let ob = Outbox::open(&dir.path().join("data")).unwrap();
    let id =
        ob.enqueue(&out, "subject\u{1b}]0;owned\u{7}", "b\u{1b}[2J@example.net", std::time::SystemTime::now()).unwrap();
    let e = Described {
        kind: popsend::core::problem::kind::Kind::MessageRefused,
        reply: Some("550 no\u{1b}[31m".into()),
        detail: "detail\u{1b}c".into(),
    };
    ob.mark_failed(id, &e).unwrap();
    drop(ob);
    for args in [&["queue"][..], &["show", "1"][..]] {
        let run = popsend(&config, None, "en", args);
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(run.stdout.contains("subject"), "{}", run.stdout);
        assert!(!run.all().contains('\u{1b}') && !run.all().contains('\u{7}'), "{:?}", run.all());
    }
}

/// Issue 9, case 3: a wrong-typed value is not echoed by the command line either.
#[test]
fn config_type_errors_do_not_echo_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[account]\naddress = \"a@popsend.test\"\n[pop]\nhost = \"h\"\nusername = \"u\"\nallow_plaintext_password = \"Hunter2-secret\"\n[smtp]\n").unwrap();
    let run = popsend(&path, None, "en", &["status"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("pop.allow_plaintext_password") && run.stderr.contains("line 6"), "{}", run.stderr);
    assert!(!run.all().contains("Hunter2"), "{}", run.all());
}

#[test]
fn a_word_that_is_neither_command_nor_link_and_a_broken_link_are_usage_errors() {
    let run = finish(bin().args(["sned"]).env("POPSEND_LANG", "ja").output().unwrap());
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("「sned」は popsend のコマンドでも mailto: リンクでもありません"), "{}", run.stderr);
    let run = finish(bin().args(["mailto:a@example.jp?subject=%zz"]).env("POPSEND_LANG", "en").output().unwrap());
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("Cannot read the mailto: link") && run.stderr.contains("%-escape"), "{}", run.stderr);
    // A good link, but no display and no window to hand it to: it says so and fails.
    let dir = tempfile::tempdir().unwrap();
    let run = finish(
        bin().arg("--data-dir").arg(dir.path()).arg("mailto:a@example.jp").env("POPSEND_LANG", "en").output().unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stdout.contains("No display"), "{}", run.stdout);
}

/// Issue 12: the codes students search for find their page on the command line too, with the
/// page's sources; a send that fails points at the page that explains it.
#[test]
fn error_codes_find_their_page_and_a_failure_points_to_it() {
    for (query, heading) in [("0x800CCC78", "送信を断られた"), ("OP25B", "接続できない"), ("530", "SMTP 認証が必要")]
    {
        let out = finish(bin().env("POPSEND_LANG", "ja").args(["guide", query]).output().unwrap());
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(out.stdout.contains(heading) && out.stdout.contains("出典: "), "{query}: {}", out.stdout);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path()); // ports 1 and 2: nothing answers
    let run = popsend(
        &config,
        Some("pw"),
        "ja",
        &["send", "--to", "a@example.net", "--subject", "s", "--body-file", "/dev/null"],
    );
    assert_eq!(run.code, 75, "{}", run.all());
    assert!(run.stderr.contains("詳しくは: popsend guide error-cannot-connect"), "{}", run.all());
}

/// Issue 23: `popsend` (or a `mailto:` link) where no window can be made says so and leaves a
/// running `popsend serve` alone: it is not asked to step aside, and its port stays open.
#[test]
fn a_start_without_a_display_leaves_the_background_server_running() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, format!("[account]\naddress = \"a@popsend.test\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"u\"\n[smtp]\nport = 2\n[submission]\nenabled = true\nport = {port}\n")).unwrap();
    let mut serve = crate::support::popsend_command(&config, Some("x"), "en", &["serve"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(serve.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains(&format!("port {port}")) {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "serve ended before it listened");
    }
    let data = dir.path().join("data");
    for args in [&[][..], &["mailto:b@example.net"][..]] {
        let run = finish(
            bin()
                .env("POPSEND_LANG", "en")
                .arg("--config")
                .arg(&config)
                .arg("--data-dir")
                .arg(&data)
                .args(args)
                .output()
                .unwrap(),
        );
        assert!(run.stdout.contains("No display to open the window on"), "{}", run.all());
        assert!(serve.try_wait().unwrap().is_none(), "serve stepped aside for a window that could not open");
        let mut greeting = String::new();
        let conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the port closed");
        std::io::BufReader::new(conn).read_line(&mut greeting).unwrap();
        assert!(greeting.starts_with("220 localhost popsend"), "{greeting}");
    }
    serve.kill().unwrap();
    serve.wait().unwrap();
}

/// Issue 23: whatever came from outside reaches the terminal only through `display_safe`, on
/// every output path: a Message-ID, subject and recipient with terminal escapes, through
/// `sendmail` (queued, and the flush's failure), `queue`, `show`, `flush` and a usage error.
#[test]
fn escapes_from_outside_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let message = "Message-ID: <id\u{1b}]0;owned\u{7}@evil\u{1b}[2J>\nSubject: s\u{1b}[31m\u{202e}\nX-Note: \u{9b}1m\nTo: b@example.net\n\nbody\n";
    let runs = [
        crate::support::popsend_with_input(&config, Some("x"), "en", &["sendmail", "-t"], message.as_bytes()),
        popsend(&config, Some("x"), "en", &["queue"]),
        popsend(&config, Some("x"), "en", &["show", "1"]),
        popsend(&config, Some("x"), "en", &["flush"]),
        finish(bin().args(["send", "--frob\u{1b}[2J"]).output().unwrap()),
    ];
    assert!(runs[0].stdout.contains("<id"), "the queued line names the message: {}", runs[0].all());
    for run in runs {
        let all = run.all();
        let bad: Vec<char> = all
            .chars()
            .filter(|c| (c.is_control() && !matches!(c, '\n' | '\t')) || ('\u{202a}'..='\u{202e}').contains(c))
            .collect();
        assert!(bad.is_empty(), "{bad:?} in {all:?}");
    }
}

/// Issue 25: a mistake in the arguments is told in the user's language, with what was typed
/// and where the help is, never in clap's English.
#[test]
fn usage_errors_speak_the_users_language() {
    for (args, said) in [
        (&["send", "--frob"][..], "「--frob」というオプションはありません。"),
        (
            &["send", "--to", "a@example.net", "--subject", "x", "--charset", "latin1"][..],
            "「latin1」は --charset <CHARSET> には使えません。使えるのは utf-8, iso-2022-jp です。",
        ),
        (&["send", "--subject", "x"][..], "--to <ADDR> を指定してください。"),
        (&["sendmail", "-o"][..], "-o <OPTION> のあとに値を指定してください。"),
    ] {
        let run = finish(bin().env("POPSEND_LANG", "ja").args(args).output().unwrap());
        assert_eq!(run.code, 2, "{}", run.all());
        assert!(run.stderr.contains(said) && run.stderr.contains("popsend --help"), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("error:") && !run.stderr.contains("Usage"), "{}", run.stderr);
    }
}

/// Issue 28: today's one-account file and outbox, on a copy, when a second account is added as
/// 設定 adds one: the first account's tables read back the same, its messages are the same
/// messages in the same states (the same `show`, the same `queue` lines), now under its name.
#[test]
fn adding_a_second_account_leaves_the_first_and_its_outbox_as_they_were() {
    use popsend::app::form::Form;
    use popsend::core::setup::account::Config;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[account]\naddress = \"taro@example.ac.jp\"\ndisplay_name = \"山田 太郎\"\n\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"taro\"\n\n[smtp]\nport = 2\n\n[relay]\nwindow_seconds = 600\n",
    )
    .unwrap();
    for subject in ["ゼミの連絡", "レポート"] {
        let run = popsend(
            &config,
            Some("x"),
            "ja",
            &["send", "--later", "--to", "a@example.net", "--subject", subject, "--body-file", "/dev/null"],
        );
        assert_eq!(run.code, 0, "{}", run.all());
    }
    let delete = popsend(&config, Some("x"), "ja", &["delete", "1"]);
    assert_eq!(delete.code, 0, "{}", delete.all());
    let before_show = popsend(&config, Some("x"), "ja", &["show", "2"]).stdout;
    let before_queue = popsend(&config, Some("x"), "ja", &["queue"]).stdout;
    let before = Config::load(&config).unwrap();

    let second = Form {
        address: "taro@provider.ne.jp".into(),
        name: "プロバイダー".into(),
        pop_host: "pop.provider.ne.jp".into(),
        pop_username: "taro123".into(),
        ..Form::default()
    };
    let text = Form::adding(&Form::from_config(&before), &second).to_toml().unwrap();
    std::fs::write(&config, text).unwrap();

    let after = Config::load(&config).unwrap();
    assert_eq!(after.own(), before.own(), "the first account's tables changed");
    assert_eq!(after.accounts.len(), 1);
    let show = popsend(&config, Some("x"), "ja", &["--account", "taro@example.ac.jp", "show", "2"]);
    assert_eq!(show.stdout, before_show, "{}", show.all());
    let queue = popsend(&config, Some("x"), "ja", &["queue"]);
    let expected: String = before_queue.lines().map(|l| format!("taro@example.ac.jp\t{l}\n")).collect();
    assert_eq!(queue.stdout, expected);
    // The second account's outbox is its own, and empty.
    let theirs = popsend(&config, Some("x"), "ja", &["--account", "プロバイダー", "queue"]);
    assert!(theirs.stdout.contains("送信トレイは空です"), "{}", theirs.all());
}
