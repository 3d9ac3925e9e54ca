//! `popsend diagnose` (接続テスト) against the real test servers: every step ✓ with a right
//! config; the POP login ✗ with the wrong-password reason; the SMTP port ✗ with the port-25
//! hint, and 587-style SMTP AUTH found; relaying ✗ when the POP login is skipped. Exit codes
//! 0/1; the password never in the output.

use std::time::Duration;

use popsend::core::protocol::net::TrustAnchors;
use popsend::core::setup::account::Config;
use popsend::core::setup::diagnose::{self, Finding, Options, StepId};
use popsend::core::system::clock::SystemClock;
use popsend::core::system::secrets::Password;

use crate::support::{popsend, servers};

fn marks(stdout: &str) -> Vec<(char, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut c = l.chars();
            let mark = c.next()?;
            ['✓', '✗', '–'].contains(&mark).then(|| (mark, c.as_str().trim().to_owned()))
        })
        .collect()
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_right_config_passes_every_step() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.config(
        dir.path(),
        &format!("port = {}\nsecurity = \"starttls\"", s.pop3),
        &format!("port = {}\nsecurity = \"starttls\"", s.smtp),
        "",
    );
    let run = popsend(&config, Some(&s.pass), "ja", &["diagnose"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let m = marks(&run.stdout);
    assert_eq!(m.len(), 8, "{}", run.stdout);
    assert!(m.iter().all(|(mark, _)| *mark == '✓'), "{}", run.stdout);
    assert!(run.stdout.contains("すべての手順に成功しました"), "{}", run.stdout);
    assert!(!run.all().contains(&s.pass), "the password is in the report");
    // Relaying was probed, nothing was sent.
    assert!(s.find_delivered("popsend-relay-test").is_none());
    // Its login opened the relay window, recorded like any other login: the countdown shows it.
    let status = popsend(&config, None, "ja", &["status"]);
    assert!(status.stdout.contains("送信可能 残り"), "{}", status.all());
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_wrong_password_fails_the_login_step() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let run = popsend(&config, Some("wrong-password-for-diagnose"), "ja", &["diagnose"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let m = marks(&run.stdout);
    assert_eq!(m[3].0, '✗', "{}", run.stdout);
    assert!(m[3].1.contains("POP 認証") && m[3].1.contains("パスワードが違うか"), "{}", run.stdout);
    assert!(run.stdout.contains("the settings allow: APOP"), "{}", run.stdout);
    assert!(run.stdout.contains("-ERR"), "the server's reply is missing: {}", run.stdout);
    assert!(!run.all().contains("wrong-password-for-diagnose"));
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_silent_smtp_port_25_gets_the_port_blocking_hint_and_the_auth_port_is_found() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 25 here: what a student behind an ISP's port-25 block sees.
    let config = s.config(dir.path(), &format!("port = {}", s.pop3), "port = 25", "");
    let run = popsend(&config, Some(&s.pass), "ja", &["diagnose"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let m = marks(&run.stdout);
    assert_eq!(m[4].0, '✗', "{}", run.stdout);
    assert!(run.stdout.contains("25 番ポート") && run.stdout.contains("587"), "{}", run.stdout);

    // The same check in the core, pointed at the test server's submission port: it answers and
    // offers SMTP AUTH, and the hint says so.
    let c = Config::load(&config).unwrap();
    let trust = TrustAnchors::load(c.tls.ca_file.as_deref()).unwrap();
    let password = Password::new(s.pass.clone());
    let other = |port| popsend::core::setup::account::OtherPort { port, tls: false };
    let options = Options {
        alternatives: Some(vec![other(s.submission), other(s.pop_submission)]),
        timeout: Duration::from_secs(10),
        ..Options::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let steps = rt.block_on(diagnose::run(
        &c,
        Some(&password),
        &trust,
        &SystemClock,
        &popsend::core::sending::knowledge::Store::new(&dir.path().join("state")),
        &options,
        &mut |_| {},
    ));
    let smtp = steps.iter().find(|r| r.id == StepId::SmtpPort).unwrap();
    // Issue 24: each other port with what it offers, relaying after the login asked as step 7
    // asks it: the AUTH port does not relay without AUTH; the submission port for students
    // behind OP25B does, and is what the switch offers (POP before SMTP goes on).
    use popsend::core::setup::diagnose::OtherPortFound;
    let found =
        |port, auth, relays| OtherPortFound { port, implicit_tls: false, encrypted: true, auth, relays: Some(relays) };
    assert_eq!(
        smtp.finding,
        Finding::SmtpPortSilent {
            port: 25,
            alternatives: vec![found(s.submission, true, false), found(s.pop_submission, false, true)],
            automatic: true
        }
    );
    let (what, next) = popsend::text::words::step_explanation(smtp);
    // One line for the silent port, one for each other port that answered (in the process's
    // language, whichever it is).
    assert_eq!(what.lines().count(), 3, "{what}");
    assert!(what.lines().nth(2).is_some_and(|l| l.contains(&s.pop_submission.to_string())), "{what}");
    assert!(next.unwrap().contains(&s.pop_submission.to_string()));
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn skipping_the_login_fails_the_relay_step() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = s.plain_config(dir.path());
    let run = popsend(&config, Some(&s.pass), "ja", &["diagnose", "--skip-login"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let m = marks(&run.stdout);
    assert_eq!(m[3].0, '–', "{}", run.stdout);
    assert_eq!(m[6].0, '✗', "{}", run.stdout);
    assert!(m[6].1.contains("中継を許可しませんでした"), "{}", run.stdout);
    assert!(run.stdout.contains("454") || run.stdout.contains("Relay access denied"), "{}", run.stdout);
}
