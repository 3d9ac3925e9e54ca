//! The outbox against the real servers: offline sends wait and go out later (by `flush`, and by
//! `watch` with no user action), a large batch uses one login and one SMTP session, and SIGKILL
//! at any moment loses nothing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use popsend::core::message::compose::{self, Draft};
use popsend::core::sending::outbox::Outbox;

use crate::support::{Servers, popsend, popsend_command, send_simple, servers, token};

/// Restarts the servers when dropped, so a failing test does not leave them down.
struct Down<'a>(&'a Servers);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        self.0.start();
    }
}

fn down(s: &Servers) -> Down<'_> {
    s.stop();
    Down(s)
}

use crate::support::Background;

/// Queues `n` messages straight into the outbox the CLI uses for `config`; returns Message-IDs.
fn enqueue(config: &Path, n: usize, tag: &str) -> Vec<String> {
    let ob = Outbox::open(&config.parent().unwrap().join("data")).unwrap();
    (0..n)
        .map(|i| {
            let d = Draft {
                from_address: "student@popsend.test".into(),
                to: vec!["bulk@example.net".into()],
                subject: format!("{tag} {i}"),
                body: format!("本文 {i}\n"),
                ..Draft::default()
            };
            let b = compose::build(&d, SystemTime::now()).unwrap();
            let out = b.clone();
            ob.enqueue(&out, &d.subject, "bulk@example.net", SystemTime::now()).unwrap();
            b.message_id
        })
        .collect()
}

/// How often each Message-ID appears in the Maildir, once every one has arrived (or 30 s).
fn arrivals(s: &Servers, ids: &[String]) -> Vec<usize> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = s.all_delivered();
        let counts: Vec<usize> = ids
            .iter()
            .map(|id| all.iter().filter(|m| String::from_utf8_lossy(m).contains(&format!("Message-ID: {id}"))).count())
            .collect();
        if counts.iter().all(|&c| c > 0) || Instant::now() > deadline {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn offline_send_waits_and_flush_delivers_it_later() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let tok = token("offline");
    {
        let _down = down(&s);
        let run = send_simple(&config, Some(&s.pass), "ja", &tok);
        assert_eq!(run.code, 75, "{}", run.all());
        assert!(run.stdout.contains("送信トレイに入れました"), "{}", run.stdout);
        assert!(run.stdout.contains("送信待ち 1 通"), "{}", run.stdout);
        let q = popsend(&config, None, "ja", &["queue"]);
        assert!(q.stdout.contains(&tok) && q.stdout.contains("自動で再試行"), "{}", q.stdout);
    }
    let run = popsend(&config, Some(&s.pass), "en", &["flush"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("Sent: #1"), "{}", run.stdout);
    s.delivered(&tok);
    let q = popsend(&config, None, "en", &["queue"]);
    assert!(q.stdout.contains("The outbox is empty"), "{}", q.stdout);
    let sent = popsend(&config, None, "en", &["sent"]);
    assert!(sent.stdout.contains(&tok), "{}", sent.stdout);
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn watch_sends_by_itself_when_the_servers_come_back() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let tok = token("watch");
    let down = down(&s);
    let run = send_simple(&config, Some(&s.pass), "en", &tok);
    assert_eq!(run.code, 75, "{}", run.all());

    let log = dir.path().join("watch.log");
    let mut watch = Background(
        popsend_command(&config, Some(&s.pass), "en", &["watch"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_secs(1));
    drop(down); // the servers come back; nobody touches popsend
    let arrived = Instant::now();
    let deadline = arrived + Duration::from_secs(45);
    while s.find_delivered(&tok).is_none() {
        assert!(
            Instant::now() < deadline,
            "watch did not deliver within 45 s: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!("watch delivered {:.1} s after the servers came back", arrived.elapsed().as_secs_f64());
    let status = Command::new("kill").arg("-INT").arg(watch.0.id().to_string()).status().unwrap();
    assert!(status.success());
    let code = watch.0.wait().unwrap();
    let out = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code.code(), Some(0), "{out}");
    assert!(out.contains("Watching the outbox") && out.contains("Stopped."), "{out}");
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_hundred_messages_go_in_one_login_and_one_smtp_session() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let ids = enqueue(&config, 100, &token("batch"));
    let (logins, sessions) = (s.login_count(), s.smtp_sessions());
    let t0 = Instant::now();
    let run = popsend(&config, Some(&s.pass), "en", &["flush"]);
    let took = t0.elapsed();
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.stdout.matches("Sent: #").count(), 100);
    assert!(arrivals(&s, &ids).iter().all(|&c| c == 1), "every message exactly once");
    std::thread::sleep(Duration::from_millis(500)); // the server's log is written asynchronously
    assert_eq!(s.login_count() - logins, 1, "POP logins for the batch");
    assert_eq!(s.smtp_sessions() - sessions, 1, "SMTP sessions for the batch");
    eprintln!("100-message flush: {:.2} s, 1 POP login, 1 SMTP session", took.as_secs_f64());
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn sigkill_at_random_moments_loses_no_message() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let ids = enqueue(&config, 50, &token("kill"));
    let data = dir.path().join("data");
    let mut kills = 0;
    for _round in 0..40 {
        let queued = Outbox::open(&data).unwrap().counts().unwrap().queued;
        if queued == 0 {
            break;
        }
        let mut child = popsend_command(&config, Some(&s.pass), "en", &["flush"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere from before the login to well into the batch.
        let wait = 10 + crate::support::random() % 70;
        std::thread::sleep(Duration::from_millis(wait));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    let run = popsend(&config, Some(&s.pass), "en", &["flush"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let counts = arrivals(&s, &ids);
    let lost = counts.iter().filter(|&&c| c == 0).count();
    let duplicates: usize = counts.iter().map(|&c| c.saturating_sub(1)).sum();
    eprintln!("kill loop: {kills} kills, {lost} lost, {duplicates} duplicates of 50");
    assert!(kills >= 3, "only {kills} kills landed: the test proved little");
    assert_eq!(lost, 0, "messages lost: {counts:?}");
    assert!(duplicates <= kills, "{duplicates} duplicates for {kills} kills");
    assert_eq!(Outbox::open(&data).unwrap().counts().unwrap().sent, 50);
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn an_untrusted_certificate_pauses_the_queue_until_the_settings_change() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config =
        s.config(dir.path(), &format!("port = {}\nsecurity = \"tls\"", s.pop3s), &format!("port = {}", s.smtp), "");
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, good.replace(s.ca.to_str().unwrap(), s.other_ca.to_str().unwrap())).unwrap();
    let tok = token("cert");
    let run = send_simple(&config, Some(&s.pass), "ja", &tok);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("証明書を確認できません"), "{}", run.stderr);
    assert!(run.stdout.contains("一時停止"), "{}", run.stdout);
    let q = popsend(&config, None, "ja", &["queue"]);
    assert!(q.stdout.contains(&tok) && q.stdout.contains("送信待ち"), "kept, not failed: {}", q.stdout);

    // The settings are fixed: the pause lifts by itself (an automatic flush, as `watch` runs).
    std::fs::write(&config, good).unwrap();
    let cfg = popsend::core::setup::account::Config::load(&config).unwrap();
    let ob = Outbox::open(&dir.path().join("data")).unwrap();
    let paused = ob.paused().unwrap().expect("paused");
    assert_ne!(paused.config, cfg.fingerprint, "the fingerprint must change with the file");
    let run = popsend(&config, Some(&s.pass), "en", &["flush"]);
    assert_eq!(run.code, 0, "{}", run.all());
    s.delivered(&tok);
    assert!(ob.paused().unwrap().is_none());
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_message_over_the_servers_size_limit_fails_before_data() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 11 * 1024 * 1024]).unwrap(); // the server allows 10 MB
    let tok = token("big");
    let run = popsend(
        &config,
        Some(&s.pass),
        "ja",
        &[
            "send",
            "--to",
            "a@example.net",
            "--subject",
            &tok,
            "--body-file",
            "/dev/null",
            "--attach",
            big.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("大きすぎます"), "{}", run.stderr);
    let q = popsend(&config, None, "ja", &["queue"]);
    assert!(q.stdout.contains("失敗") && q.stdout.contains("サイズ超過"), "{}", q.stdout);
    std::thread::sleep(Duration::from_millis(500));
    let log = std::fs::read_to_string(&s.postfix_log).unwrap();
    // No message the size of this one in the server's log (other tests' small messages are).
    let sizes: Vec<u64> = log
        .split("size=")
        .skip(1)
        .filter_map(|t| t.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    assert!(sizes.iter().all(|n| *n < 10 * 1024 * 1024), "the server received data it would refuse: {sizes:?}");
    assert!(s.find_delivered(&tok).is_none());
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn watch_and_send_at_the_same_time_send_each_message_once() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let _watch = Background(
        popsend_command(&config, Some(&s.pass), "en", &["watch"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let tag = token("both");
    let mut subjects = Vec::new();
    for i in 0..6 {
        let subject = format!("{tag}-{i}");
        let run = send_simple(&config, Some(&s.pass), "en", &subject);
        assert!(run.code == 0 || run.code == 75, "{}", run.all());
        subjects.push(subject);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let counts = loop {
        let all = s.all_delivered();
        let counts: Vec<usize> = subjects
            .iter()
            .map(|subj| {
                all.iter().filter(|m| String::from_utf8_lossy(m).contains(&format!("Subject: {subj}\n"))).count()
            })
            .collect();
        if counts.iter().all(|&c| c > 0) || Instant::now() > deadline {
            break counts;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_secs(1)); // a duplicate would arrive now
    let all = s.all_delivered();
    let again: Vec<usize> = subjects
        .iter()
        .map(|subj| all.iter().filter(|m| String::from_utf8_lossy(m).contains(&format!("Subject: {subj}\n"))).count())
        .collect();
    assert_eq!(counts, vec![1; 6], "delivered counts");
    assert_eq!(again, vec![1; 6], "a message was sent twice");
}
