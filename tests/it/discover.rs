//! Finding the servers from the address alone, step by step, against the real test servers: the
//! names (pop.popsend.test, …) are mapped to loopback in /etc/hosts by tests/servers/start.sh, the
//! ports are the test servers' own, and an autoconfig file is served over real HTTP on loopback.
//! Nothing leaves the machine.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::Duration;

use popsend::core::setup::account::Security;
use popsend::core::setup::discover::{self, NotFound, Options, Progress, Source};
use popsend::core::setup::presets::Preset;

use crate::support::{Servers, matrix, servers};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The test servers' POP and SMTP ports in place of the usual ones; no autoconfig.
fn on_test_ports(s: &Servers) -> Options {
    Options {
        pop_ports: vec![(s.pop3s, Security::Tls), (s.pop3, Security::None)],
        smtp_ports: vec![(s.submission, Security::Starttls), (s.smtps, Security::Tls), (s.smtp, Security::None)],
        autoconfig_urls: Vec::new(),
        step_timeout: Duration::from_secs(3),
        ca_file: Some(s.ca.clone()),
    }
}

fn find(address: &str, presets: &[Preset], options: &Options) -> (Result<discover::Proposal, NotFound>, Vec<Progress>) {
    let mut progress = Vec::new();
    let r = rt().block_on(discover::find(address, presets, options, &mut |p| progress.push(p)));
    (r, progress)
}

/// A preset that names the domain wins before anything touches the network.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_preset_for_the_domain_comes_first() {
    let preset: Preset = toml::from_str(
        "id = \"u\"\nname = \"テスト大学\"\npop_host = \"mail.u.example\"\npop_port = 110\nsmtp_port = 25\nwindow_minutes = 10.0\ndomains = [\"u.example\"]",
    )
    .unwrap();
    let mut options = on_test_ports(&servers());
    options.autoconfig_urls = vec!["http://127.0.0.1:1/never-asked".into()];
    let (r, progress) = find("taro@st.u.example", &[preset], &options);
    let p = r.unwrap();
    assert_eq!(p.source, Source::Preset("u".into()));
    assert_eq!(
        (p.pop_host.as_str(), p.pop_port, p.smtp_port, p.window_minutes),
        ("mail.u.example", 110, 25, Some(10.0))
    );
    assert_eq!(p.usernames, ["taro", "taro@st.u.example"]);
    assert_eq!(progress, [Progress::Presets], "nothing else was asked");
}

/// Serves `body` to every GET on a loopback port; returns the port and the requests seen.
fn serve(body: &'static str) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned();
            let found = request.contains("/mail/config-v1.1.xml");
            log.lock().unwrap().push(request);
            let reply = if found {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
            };
            let _ = conn.write_all(reply.as_bytes());
        }
    });
    (port, seen)
}

const AUTOCONFIG: &str = r#"<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="auto.popsend.test">
    <domain>auto.popsend.test</domain>
    <incomingServer type="pop3">
      <hostname>pop.auto.popsend.test</hostname><port>995</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.auto.popsend.test</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>"#;

/// No preset: the domain's autoconfig file, fetched over HTTP from autoconfig.<domain> (the
/// first address, on a missing path, answers 404 and the next one is asked).
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn the_domains_autoconfig_file_comes_next() {
    let (port, seen) = serve(AUTOCONFIG);
    let mut options = on_test_ports(&servers());
    options.autoconfig_urls = vec![
        format!("http://autoconfig.{{domain}}:{port}/missing.xml"),
        format!("http://autoconfig.{{domain}}:{port}/mail/config-v1.1.xml?emailaddress={{address}}"),
    ];
    let (r, progress) = find("hanako@auto.popsend.test", &[], &options);
    let p = r.unwrap();
    assert!(matches!(&p.source, Source::Autoconfig(u) if u.contains("autoconfig.auto.popsend.test")), "{:?}", p.source);
    assert_eq!((p.pop_host.as_str(), p.pop_port, p.pop_security), ("pop.auto.popsend.test", 995, Security::Tls));
    assert_eq!(
        (p.smtp_host.as_str(), p.smtp_port, p.smtp_security, p.smtp_auth),
        ("smtp.auto.popsend.test", 587, Security::Starttls, true)
    );
    assert_eq!(p.usernames[0], "hanako@auto.popsend.test", "the file's %EMAILADDRESS% comes first");
    assert_eq!(progress.len(), 3, "{progress:?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[1].contains("emailaddress=hanako%40auto.popsend.test"), "{seen:?}");
}

/// No preset, no autoconfig: the usual names on the usual ports. The real Dovecot answers on
/// POP3S (its certificate checked against the test CA), Postfix's submission port offers
/// STARTTLS and AUTH.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn probing_finds_the_real_servers() {
    let s = servers();
    let (r, progress) = find(&format!("{}@popsend.test", s.user), &[], &on_test_ports(&s));
    let p = r.unwrap();
    assert_eq!(p.source, Source::Probe);
    assert_eq!(
        (p.pop_host.as_str(), p.pop_port, p.pop_security, p.pop_cleartext_only),
        ("pop.popsend.test", s.pop3s, Security::Tls, false)
    );
    assert_eq!(
        (p.smtp_host.as_str(), p.smtp_port, p.smtp_security),
        ("pop.popsend.test", s.submission, Security::Starttls)
    );
    assert_eq!(p.usernames, [s.user.clone(), format!("{}@popsend.test", s.user)]);
    assert_eq!(progress[0], Progress::Presets);
    assert!(progress.contains(&Progress::Probing { host: "pop.popsend.test".into(), port: s.pop3s }), "{progress:?}");
    // Cleartext POP with APOP and SMTP on 25 only: the reference server's rules.
    let mut options = on_test_ports(&s);
    options.pop_ports = vec![(s.pop3, Security::None)];
    options.smtp_ports = vec![(s.smtp, Security::None)];
    let p = find(&format!("{}@popsend.test", s.user), &[], &options).0.unwrap();
    // Dovecot offers STLS on its cleartext port: taken.
    assert_eq!(
        (p.pop_port, p.pop_security, p.smtp_port, p.smtp_security, p.smtp_auth),
        (s.pop3, Security::Starttls, s.smtp, Security::None, false)
    );
}

/// A server that offers only cleartext USER/PASS (Courier here: no STLS, no APOP stamp) is
/// proposed, but marked: the password would go in the clear, which needs the student's yes.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_cleartext_only_server_is_proposed_but_marked() {
    let s = servers();
    let m = matrix();
    let mut options = on_test_ports(&s);
    options.pop_ports = vec![(m.cr, Security::None)];
    options.smtp_ports = vec![(s.smtp, Security::None)];
    let p = find("saburo@clear.popsend.test", &[], &options).0.unwrap();
    assert_eq!((p.pop_host.as_str(), p.pop_port, p.pop_security), ("pop.clear.popsend.test", m.cr, Security::None));
    assert!(p.pop_cleartext_only);
    let mut form = popsend::app::form::Form::default();
    form.apply_proposal(&p);
    assert!(!form.allow_plaintext_password, "applying a proposal never allows cleartext by itself");
}

/// A domain where nothing answers: a clear "not found" that says what was tried, in bounded time.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_domain_where_nothing_answers_says_what_was_tried() {
    let s = servers();
    let started = std::time::Instant::now();
    let (r, _) = find("taro@nothing.invalid", &[], &on_test_ports(&s));
    match r {
        Err(NotFound::NoPop { domain, tried }) => {
            assert_eq!(domain, "nothing.invalid");
            assert!(tried.contains("pop.nothing.invalid") && tried.contains("mail.nothing.invalid"), "{tried}");
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(matches!(find("not an address", &[], &on_test_ports(&s)).0, Err(NotFound::NotAnAddress(_))));
}

/// A file over plain HTTP that names servers outside the address's domain may have been changed
/// on the way (and 接続テスト would send them the password): it is not believed, and the search
/// goes on to probing.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_plain_http_autoconfig_naming_other_domains_is_not_believed() {
    const ELSEWHERE: &str = r#"<clientConfig version="1.1"><emailProvider id="x">
      <incomingServer type="pop3"><hostname>pop.attacker.example</hostname><port>995</port><socketType>SSL</socketType><username>%EMAILADDRESS%</username></incomingServer>
      <outgoingServer type="smtp"><hostname>smtp.attacker.example</hostname><port>587</port><socketType>STARTTLS</socketType></outgoingServer>
    </emailProvider></clientConfig>"#;
    let (port, seen) = serve(ELSEWHERE);
    let s = servers();
    let mut options = on_test_ports(&s);
    options.autoconfig_urls = vec![format!("http://autoconfig.{{domain}}:{port}/mail/config-v1.1.xml")];
    let (r, progress) = find(&format!("{}@popsend.test", s.user), &[], &options);
    assert_eq!(seen.lock().unwrap().len(), 1, "the file was fetched");
    let p = r.unwrap();
    assert_eq!(p.source, Source::Probe, "{p:?}");
    assert!(p.pop_host.ends_with(".popsend.test"));
    assert!(progress.iter().any(|p| matches!(p, Progress::Probing { .. })));
}
