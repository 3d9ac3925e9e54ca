//! Finding the servers from the address alone, in the order Thunderbird's account setup uses:
//! a preset whose `domains` list the address's domain; the domain's autoconfig file
//! (Thunderbird's `config-v1.1.xml`); then probing the usual host names and ports, reading only
//! greetings and capabilities. Each step is bounded in time and reported as it starts. It sends no
//! password and no mail: what it returns is a proposal, which 接続テスト then proves or refutes.
//! The POP-before-SMTP window cannot be discovered; a proposal without a preset says so.
//! No wording, no UI; the proposal fills the settings form through `Proposal::apply`.

use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use crate::protocol::net::{self, TrustAnchors};
use crate::protocol::pop3::Capabilities;
use crate::protocol::pop3::reply::{self, apop_timestamp, parse_status};
use crate::setup::account::Security;
use crate::setup::presets::Preset;

/// Where and how long to look.
#[derive(Debug, Clone)]
pub struct Options {
    /// POP ports to try on each host, in order.
    pub pop_ports: Vec<(u16, Security)>,
    /// SMTP ports to try on each host, in order.
    pub smtp_ports: Vec<(u16, Security)>,
    /// Autoconfig addresses, `{domain}` and `{address}` filled in.
    pub autoconfig_urls: Vec<String>,
    /// The limit of each step (one name lookup and connection, or one download).
    pub step_timeout: Duration,
    /// An extra CA for TLS probes (the test servers' own; `tls.ca_file` of the settings).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            pop_ports: vec![(995, Security::Tls), (110, Security::None)],
            smtp_ports: vec![(587, Security::Starttls), (465, Security::Tls), (25, Security::None)],
            autoconfig_urls: vec![
                "https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={address}".into(),
                "https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml".into(),
                "http://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={address}".into(),
            ],
            step_timeout: Duration::from_secs(4),
            ca_file: None,
        }
    }
}

/// What the search is doing now (shown as it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Presets,
    Autoconfig(String),
    Probing { host: String, port: u16 },
}

/// Where a proposal came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A built-in or the user's preset, by id (its name is in the user's language there).
    Preset(String),
    /// The domain's autoconfig file, at this address.
    Autoconfig(String),
    /// Servers that answered on the usual names and ports.
    Probe,
}

/// The servers popsend proposes for an address.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub source: Source,
    pub pop_host: String,
    pub pop_port: u16,
    pub pop_security: Security,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: Security,
    /// The SMTP port wants SMTP AUTH (with the POP user name and password).
    pub smtp_auth: bool,
    /// User names to try, in order (the address's local part, then the whole address, unless
    /// the source says which).
    pub usernames: Vec<String>,
    /// The POP server offers neither TLS nor APOP: logging in would send the password in the
    /// clear, which the settings do not allow unless the student says so.
    pub pop_cleartext_only: bool,
    /// From a preset; otherwise unknown (the default of 10 minutes is kept).
    pub window_minutes: Option<f64>,
    /// The extra CA the search trusted (`Options::ca_file`), so the test that follows trusts it too.
    pub ca_file: Option<std::path::PathBuf>,
}

/// Why nothing was proposed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotFound {
    #[error("not a mail address: {0}")]
    NotAnAddress(String),
    /// No POP server answered on any name and port tried.
    #[error("no POP server answered for {domain} (tried {tried})")]
    NoPop { domain: String, tried: String },
    /// A POP server, but no SMTP server.
    #[error("no SMTP server answered for {domain} (tried {tried})")]
    NoSmtp { domain: String, tried: String },
}

fn split(address: &str) -> Result<(&str, String), NotFound> {
    let address = address.trim();
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains(char::is_whitespace) => {
            Ok((local, domain.trim_end_matches('.').to_ascii_lowercase()))
        }
        _ => Err(NotFound::NotAnAddress(address.to_owned())),
    }
}

/// Looks for the servers of `address`; reports each step to `progress` as it starts.
pub async fn find(
    address: &str,
    presets: &[Preset],
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Proposal, NotFound> {
    let (local, domain) = split(address)?;
    let usernames = vec![local.to_owned(), address.trim().to_owned()];
    progress(Progress::Presets);
    if let Some(p) = from_presets(&domain, presets, &usernames) {
        return Ok(p);
    }
    for template in &options.autoconfig_urls {
        let url = template.replace("{domain}", &domain).replace("{address}", &address.trim().replace('@', "%40"));
        progress(Progress::Autoconfig(url.clone()));
        if let Some((p, chain)) = from_autoconfig(&url, local, address.trim(), options.step_timeout).await
            && trusted_autoconfig(&chain, &p, &domain)
        {
            return Ok(p);
        }
    }
    probe(&domain, usernames, options, progress).await
}

/// A preset that lists `domain` (or a parent domain: a university's presets name its top domain).
fn from_presets(domain: &str, presets: &[Preset], usernames: &[String]) -> Option<Proposal> {
    let matches = |d: &String| {
        let d = d.trim_start_matches('.').to_ascii_lowercase();
        domain == d || domain.ends_with(&format!(".{d}"))
    };
    let p = presets.iter().find(|p| p.domains.iter().any(matches))?;
    let pop_host = p.pop_host.clone()?;
    let pop_security = p.pop_security.unwrap_or(Security::None);
    let smtp_security = p.smtp_security.unwrap_or(Security::None);
    Some(Proposal {
        source: Source::Preset(p.id.clone()),
        pop_port: p.pop_port.unwrap_or(if pop_security == Security::Tls { 995 } else { 110 }),
        smtp_host: p.smtp_host.clone().unwrap_or_else(|| pop_host.clone()),
        smtp_port: p.smtp_port.unwrap_or(match smtp_security {
            Security::Tls => 465,
            Security::Starttls => 587,
            Security::None => 25,
        }),
        pop_host,
        pop_security,
        smtp_security,
        smtp_auth: p.smtp_auth.unwrap_or(false),
        usernames: usernames.to_vec(),
        pop_cleartext_only: false,
        window_minutes: p.window_minutes,
        ca_file: None,
    })
}

/// Whether to believe an autoconfig file, fetched through `chain` (the address asked, each
/// redirect, and where it came from at last). One that came over HTTPS all the way speaks for the
/// domain. If any step was plain HTTP (a redirect off HTTPS included), the file could have been
/// changed or sent elsewhere on the way, and 接続テスト sends the password to what it names: it is
/// believed only when its servers are in the address's own domain.
fn trusted_autoconfig(chain: &[String], p: &Proposal, domain: &str) -> bool {
    let inside = |host: &str| {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        host == domain || host.ends_with(&format!(".{domain}"))
    };
    let https = !chain.is_empty() && chain.iter().all(|u| u.to_ascii_lowercase().starts_with("https://"));
    https || (inside(&p.pop_host) && inside(&p.smtp_host))
}

/// The largest autoconfig file read (real ones are a few KB).
const MAX_AUTOCONFIG: u64 = 256 * 1024;

/// Downloads and reads one autoconfig file; `None` when it is missing, unreadable or has no POP.
/// With the proposal, every address it was fetched through (`fetch`).
async fn from_autoconfig(url: &str, local: &str, address: &str, timeout: Duration) -> Option<(Proposal, Vec<String>)> {
    let from = url.to_owned();
    let (text, chain) = tokio::task::spawn_blocking(move || fetch(&from, timeout)).await.ok()??;
    parse_autoconfig(&text, local, address)
        .map(|p| (Proposal { source: Source::Autoconfig(url.to_owned()), ..p }, chain))
}

/// The file at `url`, and the addresses it came through: the one asked, each redirect, the last.
fn fetch(url: &str, timeout: Duration) -> Option<(String, Vec<String>)> {
    use ureq::ResponseExt as _;
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::NativeTls)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(3)
        .save_redirect_history(true)
        .tls_config(tls)
        .build()
        .into();
    let mut response = agent.get(url).call().ok()?;
    let chain = match response.get_redirect_history() {
        Some(history) if !history.is_empty() => history.iter().map(|u| u.to_string()).collect(),
        _ => vec![url.to_owned(), response.get_uri().to_string()],
    };
    let text = response.body_mut().with_config().limit(MAX_AUTOCONFIG).read_to_string().ok()?;
    Some((text, chain))
}

/// Reads Thunderbird's `config-v1.1.xml`: the first POP3 incoming server and the first SMTP
/// outgoing server, their sockets and user names (`%EMAILLOCALPART%`, `%EMAILADDRESS%`).
pub fn parse_autoconfig(xml: &str, local: &str, address: &str) -> Option<Proposal> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let provider = doc.descendants().find(|n| n.has_tag_name("emailProvider"))?;
    let child_text = |n: roxmltree::Node, tag: &str| {
        n.children().find(|c| c.has_tag_name(tag)).and_then(|c| c.text()).map(str::trim).map(str::to_owned)
    };
    let server =
        |tag: &str, kind: &str| provider.children().find(|n| n.has_tag_name(tag) && n.attribute("type") == Some(kind));
    let socket = |n: roxmltree::Node| match child_text(n, "socketType").as_deref() {
        Some("SSL") => Some(Security::Tls),
        Some("STARTTLS") => Some(Security::Starttls),
        Some("plain") => Some(Security::None),
        _ => None,
    };
    let user = |n: roxmltree::Node| {
        child_text(n, "username").map(|u| u.replace("%EMAILLOCALPART%", local).replace("%EMAILADDRESS%", address))
    };
    let pop = server("incomingServer", "pop3")?;
    let smtp = provider.children().find(|n| n.has_tag_name("outgoingServer") && n.attribute("type") == Some("smtp"))?;
    let pop_host = child_text(pop, "hostname")?;
    let smtp_host = child_text(smtp, "hostname")?;
    let pop_security = socket(pop)?;
    let smtp_security = socket(smtp)?;
    let port = |n: roxmltree::Node| child_text(n, "port").and_then(|p| p.parse::<u16>().ok()).filter(|p| *p != 0);
    let smtp_auth = smtp
        .children()
        .filter(|c| c.has_tag_name("authentication"))
        .any(|c| c.text().is_some_and(|t| t.trim().starts_with("password")));
    let mut usernames = Vec::new();
    for u in [user(pop), Some(local.to_owned()), Some(address.to_owned())].into_iter().flatten() {
        if !u.is_empty() && !usernames.contains(&u) {
            usernames.push(u);
        }
    }
    Some(Proposal {
        source: Source::Autoconfig(String::new()),
        pop_port: port(pop)?,
        smtp_port: port(smtp)?,
        pop_host,
        pop_security,
        smtp_host,
        smtp_security,
        smtp_auth,
        usernames,
        pop_cleartext_only: false,
        window_minutes: None,
        ca_file: None,
    })
}

/// What a POP probe found on one host and port.
struct PopFound {
    security: Security,
    cleartext_only: bool,
}

/// What an SMTP probe found.
struct SmtpFound {
    security: Security,
    auth: bool,
}

async fn probe(
    domain: &str,
    usernames: Vec<String>,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Proposal, NotFound> {
    let trust = TrustAnchors::load(options.ca_file.as_deref()).ok();
    let mut tried = Vec::new();
    let mut pop = None;
    // A server that only offers cleartext is kept in case nothing better answers.
    let mut fallback = None;
    'hosts: for host in ["pop", "mail", "pop3"].map(|h| format!("{h}.{domain}")) {
        for &(port, security) in &options.pop_ports {
            progress(Progress::Probing { host: host.clone(), port });
            tried.push(format!("{host}:{port}"));
            let Some(found) = probe_pop(&host, port, security, trust.as_ref(), options.step_timeout).await else {
                continue;
            };
            if found.cleartext_only {
                fallback.get_or_insert((host.clone(), port, found));
                continue;
            }
            pop = Some((host.clone(), port, found));
            break 'hosts;
        }
    }
    let Some((pop_host, pop_port, pop_found)) = pop.or(fallback) else {
        return Err(NotFound::NoPop { domain: domain.to_owned(), tried: tried.join(", ") });
    };
    tried.clear();
    // The POP server's own name first: most POP-before-SMTP servers are one machine.
    let mut smtp_hosts = vec![pop_host.clone()];
    for h in ["smtp", "mail"].map(|h| format!("{h}.{domain}")) {
        if !smtp_hosts.contains(&h) {
            smtp_hosts.push(h);
        }
    }
    for host in smtp_hosts {
        for &(port, security) in &options.smtp_ports {
            progress(Progress::Probing { host: host.clone(), port });
            tried.push(format!("{host}:{port}"));
            let Some(found) = probe_smtp(&host, port, security, trust.as_ref(), options.step_timeout).await else {
                continue;
            };
            return Ok(Proposal {
                source: Source::Probe,
                pop_host,
                pop_port,
                pop_security: pop_found.security,
                smtp_host: host,
                smtp_port: port,
                smtp_security: found.security,
                // On 587/465 the server wants AUTH; on 25 POP before SMTP is what popsend is for.
                smtp_auth: found.auth && found.security != Security::None,
                usernames,
                pop_cleartext_only: pop_found.cleartext_only,
                window_minutes: None,
                ca_file: options.ca_file.clone(),
            });
        }
    }
    Err(NotFound::NoSmtp { domain: domain.to_owned(), tried: tried.join(", ") })
}

/// Connects (and for `Tls`, handshakes) within `timeout` each.
async fn open(
    host: &str,
    port: u16,
    tls: bool,
    trust: Option<&TrustAnchors>,
    timeout: Duration,
) -> Option<net::BoxStream> {
    let addrs = net::resolve(host, port, timeout).await.ok()?;
    let (tcp, _) = net::connect(&addrs, timeout).await.ok()?;
    if tls { net::start_tls(trust?, host, tcp, timeout).await.ok() } else { Some(Box::new(tcp)) }
}

async fn line<R: AsyncBufRead + Unpin>(r: &mut R, timeout: Duration) -> Option<Vec<u8>> {
    tokio::time::timeout(timeout, reply::read_line(r)).await.ok()?.ok()
}

/// POP3: the greeting (an APOP stamp?) and CAPA (STLS?), then QUIT. No password.
async fn probe_pop(
    host: &str,
    port: u16,
    security: Security,
    trust: Option<&TrustAnchors>,
    timeout: Duration,
) -> Option<PopFound> {
    let stream = open(host, port, security == Security::Tls, trust, timeout).await?;
    let mut r = BufReader::new(stream);
    let greeting = parse_status(&line(&mut r, timeout).await?).ok().filter(|g| g.ok)?;
    let apop = apop_timestamp(&greeting.text).is_some();
    r.get_mut().write_all(b"CAPA\r\n").await.ok()?;
    let caps = match parse_status(&line(&mut r, timeout).await?) {
        Ok(s) if s.ok => {
            Capabilities::parse(&tokio::time::timeout(timeout, reply::read_multiline(&mut r)).await.ok()?.ok()?)
        }
        _ => Capabilities::default(),
    };
    let _ = r.get_mut().write_all(b"QUIT\r\n").await;
    Some(match security {
        Security::Tls => PopFound { security, cleartext_only: false },
        // STLS offered: use it (and check it works by the test that follows).
        _ if caps.stls => PopFound { security: Security::Starttls, cleartext_only: false },
        _ => PopFound { security: Security::None, cleartext_only: !apop },
    })
}

/// SMTP: the greeting and EHLO (STARTTLS? AUTH?), then QUIT. No password, no mail.
async fn probe_smtp(
    host: &str,
    port: u16,
    security: Security,
    trust: Option<&TrustAnchors>,
    timeout: Duration,
) -> Option<SmtpFound> {
    let stream = open(host, port, security == Security::Tls, trust, timeout).await?;
    let mut r = BufReader::new(stream);
    let (code, _) = smtp_reply(&mut r, timeout).await?;
    if code != 220 {
        return None;
    }
    r.get_mut().write_all(b"EHLO popsend.invalid\r\n").await.ok()?;
    let (code, lines) = smtp_reply(&mut r, timeout).await?;
    let _ = r.get_mut().write_all(b"QUIT\r\n").await;
    if code != 250 {
        return None;
    }
    let has = |word: &str| {
        lines.iter().any(|l| l.split_ascii_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case(word)))
    };
    match security {
        // Asked for STARTTLS where the server has none: not this port (cleartext is tried on 25).
        Security::Starttls if !has("STARTTLS") => None,
        _ => Some(SmtpFound { security, auth: has("AUTH") }),
    }
}

/// One SMTP reply (its code and the text of each line), at most 64 lines.
async fn smtp_reply<R: AsyncBufRead + Unpin>(r: &mut R, timeout: Duration) -> Option<(u16, Vec<String>)> {
    let mut lines = Vec::new();
    for _ in 0..64 {
        let mut buf = Vec::new();
        tokio::time::timeout(timeout, (&mut *r).take(4096).read_until(b'\n', &mut buf)).await.ok()?.ok()?;
        let text = String::from_utf8_lossy(&buf).trim_end().to_owned();
        let code = text.get(..3)?.parse::<u16>().ok()?;
        let last = text.as_bytes().get(3) != Some(&b'-');
        lines.push(text.get(4..).unwrap_or_default().to_owned());
        if last {
            return Some((code, lines));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const THUNDERBIRD_FORMAT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.ac.jp">
    <domain>example.ac.jp</domain>
    <displayName>Example University</displayName>
    <incomingServer type="imap">
      <hostname>imap.example.ac.jp</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.example.ac.jp</hostname><port>995</port><socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.ac.jp</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%</username><authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>"#;

    #[test]
    fn an_autoconfig_file_gives_the_pop_and_smtp_servers() {
        let p = parse_autoconfig(THUNDERBIRD_FORMAT, "taro", "taro@example.ac.jp").unwrap();
        assert_eq!((p.pop_host.as_str(), p.pop_port, p.pop_security), ("pop.example.ac.jp", 995, Security::Tls));
        assert_eq!(
            (p.smtp_host.as_str(), p.smtp_port, p.smtp_security, p.smtp_auth),
            ("smtp.example.ac.jp", 587, Security::Starttls, true)
        );
        assert_eq!(p.usernames, ["taro", "taro@example.ac.jp"]);
        // No POP3 server in it (IMAP only): not a proposal for popsend.
        let imap_only = THUNDERBIRD_FORMAT.replace("type=\"pop3\"", "type=\"exchange\"");
        assert_eq!(parse_autoconfig(&imap_only, "taro", "taro@example.ac.jp"), None);
        assert_eq!(parse_autoconfig("<html>404</html>", "taro", "taro@example.ac.jp"), None);
        assert_eq!(parse_autoconfig("not xml <", "t", "t@x.jp"), None);
    }

    #[test]
    fn a_preset_matches_its_domain_and_subdomains_only() {
        let mut p: Preset = toml::from_str("id = \"u\"\nname = \"U\"\npop_host = \"mail.u.ac.jp\"\nsmtp_port = 25\ndomains = [\"u.ac.jp\"]\nwindow_minutes = 5.0").unwrap();
        let names = vec!["t".to_owned()];
        assert!(from_presets("u.ac.jp", std::slice::from_ref(&p), &names).is_some());
        let found = from_presets("st.u.ac.jp", std::slice::from_ref(&p), &names).unwrap();
        assert_eq!(
            (found.pop_host.as_str(), found.pop_port, found.smtp_port, found.window_minutes),
            ("mail.u.ac.jp", 110, 25, Some(5.0))
        );
        assert!(from_presets("nu.ac.jp", std::slice::from_ref(&p), &names).is_none());
        p.domains.clear();
        assert!(from_presets("u.ac.jp", &[p], &names).is_none());
    }

    #[test]
    fn addresses_are_split_or_refused() {
        assert_eq!(split("Taro@Example.AC.JP").unwrap(), ("Taro", "example.ac.jp".to_owned()));
        for bad in ["taro", "@x.jp", "taro@localhost", "taro@x jp"] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }

    /// Issue 23: a file is believed for other domains' servers only if it came over HTTPS at
    /// every step: a redirect to plain HTTP (or through it) makes it a plain-HTTP file.
    #[test]
    fn a_redirect_off_https_is_judged_as_plain_http() {
        let p = parse_autoconfig(THUNDERBIRD_FORMAT, "taro", "taro@example.ac.jp").unwrap();
        let elsewhere = Proposal {
            pop_host: "mail.attacker.example".into(),
            smtp_host: "mail.attacker.example".into(),
            ..p.clone()
        };
        let s = |v: &[&str]| v.iter().map(|u| u.to_string()).collect::<Vec<_>>();
        let https =
            s(&["https://autoconfig.example.ac.jp/mail/config-v1.1.xml", "https://www.example.ac.jp/config.xml"]);
        assert!(trusted_autoconfig(&https, &elsewhere, "example.ac.jp"));
        for chain in [
            s(&["https://autoconfig.example.ac.jp/mail/config-v1.1.xml", "http://autoconfig.example.ac.jp/config.xml"]),
            s(&["https://autoconfig.example.ac.jp/a", "http://x.example/b", "https://mail.attacker.example/c"]),
            s(&["http://autoconfig.example.ac.jp/a"]),
            vec![],
        ] {
            assert!(!trusted_autoconfig(&chain, &elsewhere, "example.ac.jp"), "{chain:?}");
        }
        // Plain HTTP naming the domain's own servers is still believed (as before).
        assert!(p.pop_host.ends_with("example.ac.jp"));
        assert!(trusted_autoconfig(&s(&["http://autoconfig.example.ac.jp/a"]), &p, "example.ac.jp"));
    }
}
