//! Issue 15: popsend's POP login against the real POP3 servers students meet — Dovecot, GNU
//! Mailutils pop3d and Courier pop3d (tests/servers/matrix.sh) — with the settings a student
//! would have: `auth = "auto"`, plaintext only where allowed. Each case runs the real binary
//! (`popsend auth`, `popsend diagnose`) and reads what the student reads.

use std::path::Path;

use crate::support::{Matrix, Run, matrix, popsend};

/// A config for `port` with `user`; `pop` adds lines to [pop] (security, auth, …).
fn config(dir: &Path, m: &Matrix, port: u16, user: &str, pop: &str) -> std::path::PathBuf {
    let path = dir.join("c.toml");
    std::fs::write(
        &path,
        format!(
            "[account]\naddress = \"student@popsend.test\"\n[pop]\nhost = \"{}\"\nport = {port}\nusername = \"{user}\"\n{pop}\n\
             [smtp]\nport = 2\n[tls]\nca_file = \"{}\"\n",
            m.host,
            m.ca.display()
        ),
    )
    .unwrap();
    path
}

fn auth(dir: &Path, m: &Matrix, port: u16, user: &str, pass: &str, pop: &str, lang: &str) -> Run {
    let c = config(dir, m, port, user, pop);
    popsend(&c, Some(pass), lang, &["auth"])
}

fn logged_in_with(run: &Run, method: &str) {
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains(&format!("POP login succeeded ({method},")), "{}", run.all());
}

/// The issue's own case: Mailutils greets with an APOP timestamp, but the user has no APOP
/// secret. With plaintext allowed, `auto` falls back to USER/PASS on a fresh connection — and
/// the next login starts with USER/PASS (remembered). Without, it says what to do, not "wrong
/// password".
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn mailutils_apop_without_a_secret() {
    let m = matrix();
    let dir = tempfile::tempdir().unwrap();
    let run = auth(dir.path(), &m, m.mu, &m.mu_user2, &m.mu_pass2, "allow_plaintext_password = true", "en");
    logged_in_with(&run, "USER/PASS");
    let state = std::fs::read_to_string(dir.path().join("data/relay-window")).unwrap();
    assert!(state.contains(&format!("pop_method {}:{}/none user", m.host, m.mu)), "{state}");
    // The next login starts with what worked (the plan's order is unit-tested in pop3::auth).
    let run = auth(dir.path(), &m, m.mu, &m.mu_user2, &m.mu_pass2, "allow_plaintext_password = true", "en");
    logged_in_with(&run, "USER/PASS");

    let dir = tempfile::tempdir().unwrap();
    let run = auth(dir.path(), &m, m.mu, &m.mu_user2, &m.mu_pass2, "", "ja");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("サーバーは APOP を受け付けませんでした"), "{}", run.all());
    assert!(run.stderr.contains("USER/PASS でログインできます"), "{}", run.all());
    assert!(!run.all().contains(&m.mu_pass2));
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn mailutils_apop_with_a_secret_stls_and_wrong_password() {
    let m = matrix();
    let dir = tempfile::tempdir().unwrap();
    // Cleartext, nothing allowed but APOP: the user with an APOP secret logs in.
    logged_in_with(&auth(dir.path(), &m, m.mu, &m.mu_user, &m.mu_pass, "", "en"), "APOP");
    // STLS: USER/PASS over TLS (the server offers no SASL).
    logged_in_with(&auth(dir.path(), &m, m.mu, &m.mu_user2, &m.mu_pass2, "security = \"starttls\"", "en"), "USER/PASS");
    // A wrong password over STLS: wrong password, in both languages.
    let run = auth(dir.path(), &m, m.mu, &m.mu_user2, "not-it-77", "security = \"starttls\"", "en");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("the user name or password is wrong"), "{}", run.all());
    let run = auth(dir.path(), &m, m.mu, &m.mu_user2, "not-it-77", "security = \"starttls\"", "ja");
    assert!(run.stderr.contains("パスワードが違います"), "{}", run.all());
}

/// A forced method the server does not advertise is refused before any password is sent.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn mailutils_without_sasl_refuses_a_forced_plain() {
    let m = matrix();
    let dir = tempfile::tempdir().unwrap();
    let run = auth(dir.path(), &m, m.mu, &m.mu_user2, &m.mu_pass2, "security = \"starttls\"\nauth = \"plain\"", "en");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("does not support the login method"), "{}", run.all());
    assert!(run.stderr.contains("ask for SASL PLAIN, which the server does not offer"), "{}", run.all());
    assert!(run.stderr.contains("nothing was sent"), "{}", run.all());
    let run = auth(dir.path(), &m, m.mu, &m.mu_user2, &m.mu_pass2, "security = \"starttls\"\nauth = \"plain\"", "ja");
    assert!(
        run.stderr.contains("ログイン方法に対応していません") && run.stderr.contains("SASL PLAIN"),
        "{}",
        run.all()
    );
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn courier_user_pass_sasl_plain_wrong_password_and_no_apop() {
    let m = matrix();
    let dir = tempfile::tempdir().unwrap();
    let allow = "allow_plaintext_password = true";
    logged_in_with(&auth(dir.path(), &m, m.cr, &m.cr_user, &m.cr_pass, allow, "en"), "USER/PASS");
    // Its own folder: the method that worked is remembered, and the wrong-password case below
    // is about USER/PASS.
    let plain = tempfile::tempdir().unwrap();
    logged_in_with(
        &auth(plain.path(), &m, m.cr, &m.cr_user, &m.cr_pass, &format!("{allow}\nauth = \"plain\""), "en"),
        "SASL PLAIN",
    );
    let run = auth(dir.path(), &m, m.cr, &m.cr_user, "not-it-78", allow, "en");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("the user name or password is wrong"), "{}", run.all());
    // Courier has no APOP: asked for, it is refused before anything is sent.
    let run = auth(dir.path(), &m, m.cr, &m.cr_user, &m.cr_pass, "auth = \"apop\"", "en");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("does not offer it"), "{}", run.all());
    // Cleartext with nothing allowed: no password leaves.
    let run = auth(dir.path(), &m, m.cr, &m.cr_user, &m.cr_pass, "", "en");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("unencrypted"), "{}", run.all());
}

#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn dovecot_with_the_defaults_and_forced_methods() {
    // Dovecot's logins open the relay window for 127.0.0.1: hold the servers' lock.
    let _s = crate::support::servers();
    let m = matrix();
    let dir = tempfile::tempdir().unwrap();
    // Cleartext: APOP (Dovecot has the user's secret); STLS: SASL PLAIN; forced USER over STLS.
    logged_in_with(&auth(dir.path(), &m, m.dovecot, &m.dovecot_user, &m.dovecot_pass, "", "en"), "APOP");
    logged_in_with(
        &auth(dir.path(), &m, m.dovecot, &m.dovecot_user, &m.dovecot_pass, "security = \"starttls\"", "en"),
        "SASL PLAIN",
    );
    logged_in_with(
        &auth(
            dir.path(),
            &m,
            m.dovecot,
            &m.dovecot_user,
            &m.dovecot_pass,
            "security = \"starttls\"\nauth = \"user\"",
            "en",
        ),
        "USER/PASS",
    );
}

/// 接続テスト steps 1–4 on each server: names the method used; on failure, what the server
/// offers and what the settings allow.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn diagnose_names_the_methods() {
    let _s = crate::support::servers();
    let m = matrix();
    for (port, user, pass, pop, method) in [
        (m.dovecot, &m.dovecot_user, &m.dovecot_pass, "security = \"starttls\"", "SASL PLAIN"),
        (m.mu, &m.mu_user2, &m.mu_pass2, "allow_plaintext_password = true", "USER/PASS; APOP refused first"),
        (m.cr, &m.cr_user, &m.cr_pass, "allow_plaintext_password = true", "USER/PASS"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path(), &m, port, user, pop);
        let run = popsend(&c, Some(pass), "en", &["diagnose"]);
        let lines: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with(['✓', '✗', '–'])).collect();
        assert!(lines.len() >= 4, "{}", run.all());
        assert!(lines[..4].iter().all(|l| !l.starts_with('✗')), "{port}: {}", run.stdout);
        assert!(run.stdout.contains(&format!("({method}")), "{port}: {}", run.stdout);
    }
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), &m, m.mu, &m.mu_user2, "security = \"starttls\"\nauth = \"plain\"");
    let run = popsend(&c, Some(&m.mu_pass2), "en", &["diagnose"]);
    assert!(run.stdout.contains("it offers: USER/PASS, APOP"), "{}", run.stdout);
    assert!(run.stdout.contains("the settings allow: SASL PLAIN"), "{}", run.stdout);
}
