//! Issue 24: from home, behind OP25B. The real Dovecot + Postfix of tests/servers/start.sh, with
//! the configured SMTP port made to look as a provider's block does (closed, silent, or answered
//! by the provider's own relay), and the server's other ports real: a submission port that
//! relays after the POP login, and one that relays only with SMTP AUTH over STARTTLS. Scripted
//! peers only where no real server can show it (a port that offers AUTH in the clear only).

use std::net::TcpListener;
use std::sync::Arc;

use crate::scripted::{Fault, Peer, Smtp, always, smtp};

use crate::support::{Servers, popsend, send_simple, servers, token};

/// A port nothing listens on (connections are refused at once).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A port that takes TCP connections and never says a word (the commonest OP25B shape beside a
/// dropped SYN); it counts them.
fn silent_port() -> Peer {
    smtp(Smtp { fault: Fault::Silent, ..Smtp::default() })
}

/// A scripted SMTP peer: greets with `greeting`, offers `ehlo` (before 8BITMIME) and answers every
/// RCPT with `rcpt`.
fn scripted_peer(greeting: &'static str, ehlo: &'static [&'static str], rcpt: &str) -> Peer {
    smtp(Smtp { greeting, ehlo, rcpt: always(rcpt), ..Smtp::default() })
}

/// The servers' config with the configured SMTP port `port` and `other_ports` as given.
fn home_config(s: &Servers, dir: &std::path::Path, port: u16, other_ports: &str) -> std::path::PathBuf {
    s.config(dir, &format!("port = {}", s.pop3), &format!("port = {port}\nother_ports = [{other_ports}]"), "")
}

fn state_text(dir: &std::path::Path) -> String {
    std::fs::read_dir(dir.join("data"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() == "relay-window")
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

/// The configured port never greets (TCP taken, nothing said): after the head start the
/// server's submission port, which relays after the POP login, takes the mail; the student is
/// told once; the next send from this network goes there first and never touches the silent
/// port again.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn behind_op25b_the_mail_goes_by_the_submission_port_and_the_next_send_goes_there_first() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let knocked = silent_port();
    let silent = knocked.port;
    let config = home_config(&s, dir.path(), silent, &format!("{{ port = {} }}", s.pop_submission));
    let first = token("op25b-first");
    let run = send_simple(&config, Some(&s.pass), "ja", &first);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains(&format!("{silent} 番ポートが応答しなかった"))
            && run.stdout.contains(&format!("{} 番ポートで送りました", s.pop_submission)),
        "{}",
        run.stdout
    );
    s.delivered(&first);
    assert_eq!(knocked.connections(), 1, "the configured port was tried once");
    assert!(
        state_text(dir.path())
            .contains(&format!("smtp_route localhost:{silent} 127.0.0.0/24 {} starttls -", s.pop_submission)),
        "{}",
        state_text(dir.path())
    );

    let next = token("op25b-next");
    let run = send_simple(&config, Some(&s.pass), "ja", &next);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.stdout.contains("番ポートが応答しなかった"), "told once only: {}", run.stdout);
    s.delivered(&next);
    assert_eq!(knocked.connections(), 1, "the next send went to the submission port first");
}

/// The configured port refuses connections (closed): the submission port at once. With
/// `other_ports = []` (設定's 「設定したポートだけを使う」) nothing else is tried, and a silent
/// port after a POP login that worked is a blocked port (OP25B), never "offline"; the message
/// waits.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_closed_smtp_port_after_a_pop_login_is_op25b_not_offline() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let closed = closed_port();
    let config = home_config(&s, dir.path(), closed, &format!("{{ port = {} }}", s.pop_submission));
    let tok = token("op25b-closed");
    let run = send_simple(&config, Some(&s.pass), "en", &tok);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains(&format!("through port {}", s.pop_submission)), "{}", run.stdout);
    s.delivered(&tok);

    let only = tempfile::tempdir().unwrap();
    let config = home_config(&s, only.path(), closed, "");
    let run = send_simple(&config, Some(&s.pass), "en", &token("op25b-only"));
    assert_eq!(run.code, 75, "{}", run.all());
    assert!(run.stderr.contains("OP25B") && !run.stderr.to_lowercase().contains("offline"), "{}", run.stderr);
    let queue = popsend(&config, None, "en", &["queue"]);
    assert!(queue.stdout.contains("OP25B"), "{}", queue.stdout);
}

/// A provider that answers port 25 with its own relay (another host name, relaying refused even
/// after a fresh POP login): after one re-login the submission port takes the mail, once.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_provider_relay_on_the_smtp_port_is_passed_by_for_the_submission_port() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let isp = scripted_peer("220 smtp.isp.example ESMTP", &["8BITMIME"], "554 5.7.1 <x>: Relay access denied");
    let config = home_config(&s, dir.path(), isp.port, &format!("{{ port = {} }}", s.pop_submission));
    let tok = token("op25b-isp");
    let logins = s.login_count();
    let run = send_simple(&config, Some(&s.pass), "en", &tok);
    assert_eq!(run.code, 0, "{}", run.all());
    s.delivered(&tok);
    assert_eq!(s.login_count(), logins + 2, "one login, and one again before the other port");
    assert!(isp.connections() >= 2, "the provider's relay was tried again after the login");
    assert!(!isp.lines().iter().any(|l| l.starts_with("DATA") || l.starts_with("AUTH")), "{:?}", isp.lines());
    assert_eq!(s.all_delivered().iter().filter(|m| String::from_utf8_lossy(m).contains(&tok)).count(), 1);
}

/// The configured port is closed and the server's 587 relays only with SMTP AUTH (over
/// STARTTLS): the account's password goes there, encrypted, and the mail with it.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_submission_port_that_wants_smtp_auth_gets_the_password_over_tls() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = home_config(&s, dir.path(), closed_port(), &format!("{{ port = {} }}", s.submission));
    let tok = token("op25b-auth");
    let run = send_simple(&config, Some(&s.pass), "en", &tok);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("SMTP AUTH over an encrypted connection"), "{}", run.stdout);
    s.delivered(&tok);
    assert!(state_text(dir.path()).contains(&format!("{} starttls auth", s.submission)), "{}", state_text(dir.path()));
    assert!(!run.all().contains(&s.pass) && !state_text(dir.path()).contains(&s.pass));
}

/// A submission port that relays only with SMTP AUTH and offers it only in the clear: the
/// password is never sent; nothing goes; the error names the setting.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_port_that_offers_auth_only_in_the_clear_never_gets_the_password() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let clear_peer = scripted_peer(
        "220 mail.popsend.test ESMTP",
        &["AUTH PLAIN LOGIN", "8BITMIME"],
        "554 5.7.1 <x>: Relay access denied",
    );
    let config = home_config(&s, dir.path(), closed_port(), &format!("{{ port = {} }}", clear_peer.port));
    let run = send_simple(&config, Some(&s.pass), "en", &token("op25b-clear"));
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("allow_plaintext_password"), "names the setting: {}", run.stderr);
    let heard = clear_peer.lines();
    assert!(!heard.iter().any(|l| l.to_ascii_uppercase().starts_with("AUTH") || l.starts_with("DATA")), "{heard:?}");
}

/// はじめての設定 from home: the SMTP port found does not answer from this network, but the
/// server's submission port takes mail after the POP login: the assistant proposes that port
/// (POP before SMTP goes on, no SMTP AUTH) and its test passes.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn the_assistant_proposes_the_port_that_works_from_this_network() {
    use popsend::app::backend::{Backend as _, Handed, Hooks, Request, Worker};
    use popsend::app::form::Form;
    use popsend::core::setup::account::{OtherPort, Paths};
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths { config_file: dir.path().join("config.toml"), data_dir: dir.path().join("data") };
    let hooks = Hooks {
        repaint: Arc::new(|| {}),
        notify: Arc::new(|_| {}),
        discovery: popsend::core::setup::discover::Options::default(),
        platform: Arc::new(popsend::app::platform::Isolated::without_keyring()),
    };
    let worker = Worker::spawn(paths, hooks);
    let form = Form {
        address: "student@popsend.test".into(),
        pop_host: s.host.clone(),
        pop_port: s.pop3.to_string(),
        smtp_port: closed_port().to_string(),
        other_ports: vec![OtherPort { port: s.pop_submission, tls: false }],
        ca_file: s.ca.display().to_string(),
        ..Form::default()
    };
    let password = popsend::core::system::secrets::Password::new(s.pass.clone());
    worker.request(Request::TryAccount { form: Box::new(form), usernames: vec![s.user.clone()], password }).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (tried, passed) = loop {
        if let Some((f, passed)) = worker.take_handed().into_iter().find_map(|h| match h {
            Handed::Trial(f, passed) => Some((f, passed)),
            _ => None,
        }) {
            break (f, passed);
        }
        assert!(std::time::Instant::now() < deadline, "no trial came back");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(passed, "{:?}", worker.view().diagnosis);
    assert_eq!(tried.smtp_port, s.pop_submission.to_string());
    assert_eq!(
        (tried.smtp_security, tried.smtp_username.as_str()),
        (popsend::core::setup::account::Security::Starttls, ""),
        "POP before SMTP, over STARTTLS, no AUTH"
    );
}

/// Review of issue 24: a port that takes the mail without the password comes before one that
/// wants SMTP AUTH, whatever their order in `other_ports`: the password goes out only where
/// nothing else will do.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_port_that_needs_no_password_comes_before_smtp_auth() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let config = home_config(
        &s,
        dir.path(),
        closed_port(),
        &format!("{{ port = {} }}, {{ port = {} }}", s.submission, s.pop_submission),
    );
    let tok = token("op25b-order");
    let run = send_simple(&config, Some(&s.pass), "en", &tok);
    assert_eq!(run.code, 0, "{}", run.all());
    s.delivered(&tok);
    assert!(!run.stdout.contains("SMTP AUTH"), "{}", run.stdout);
    assert!(state_text(dir.path()).contains(&format!("{} starttls -", s.pop_submission)), "{}", state_text(dir.path()));
}

/// Review of issue 24: a port remembered for this network that has gone stale (it now turns
/// the client away) does not stand in the way: the configured port takes the mail, and the
/// line is forgotten (a network where the configured port works keeps none).
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_remembered_port_gone_stale_is_passed_by_and_forgotten() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let stale = scripted_peer("554 5.3.2 not taking mail here", &["8BITMIME"], "554 no");
    let config = home_config(&s, dir.path(), s.smtp, &format!("{{ port = {} }}", stale.port));
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("data/relay-window"),
        format!("smtp_route localhost:{} 127.0.0.0/24 {} starttls -\n", s.smtp, stale.port),
    )
    .unwrap();
    let tok = token("op25b-stale");
    let run = send_simple(&config, Some(&s.pass), "en", &tok);
    assert_eq!(run.code, 0, "{}", run.all());
    s.delivered(&tok);
    assert!(!state_text(dir.path()).contains("smtp_route"), "{}", state_text(dir.path()));
}

/// Review of issue 24: after a POP login that worked, a silent configured port is OP25B (the
/// message waits, the queue is not paused) even when another port answered with a fault of its
/// own; that port's words are in the detail.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_silent_configured_port_is_op25b_whatever_the_other_ports_say() {
    let s = servers();
    let dir = tempfile::tempdir().unwrap();
    let odd = scripted_peer("554 5.3.2 not taking mail here", &["8BITMIME"], "554 no");
    let config = home_config(&s, dir.path(), closed_port(), &format!("{{ port = {} }}", odd.port));
    let run = send_simple(&config, Some(&s.pass), "en", &token("op25b-odd"));
    assert_eq!(run.code, 75, "{}", run.all());
    assert!(run.stderr.contains("OP25B") && run.stderr.contains("not taking mail here"), "{}", run.stderr);
    assert!(!run.all().to_lowercase().contains("paused"), "{}", run.all());
}
