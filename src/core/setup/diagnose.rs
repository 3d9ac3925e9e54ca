//! 接続テスト: checks a configuration one step at a time — the name resolves, the POP port
//! answers, TLS (a trusted certificate), the POP login, the SMTP port (and, where it does not
//! answer, whether the server's other ports (587/465) answer, offer STARTTLS and SMTP AUTH, and
//! relay after the login), EHLO/STARTTLS/AUTH, relaying after the login
//! (MAIL FROM, RCPT TO an outside address, RSET: nothing is sent), and the window. Each step's
//! result is typed; wording is elsewhere (`words`). It sends no message and never shows the
//! password.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use crate::problem::classify::{chain, classify};
use crate::problem::kind::Kind;
use crate::protocol::net::{self, Family, NetError, TrustAnchors};
use crate::protocol::pop3::{self, Pop3Error};
use crate::protocol::smtp::{self, SmtpError};
use crate::sending::knowledge;
use crate::setup::account::{Config, Security};
use crate::system::clock::Clock;
use crate::system::secrets::Password;

/// The outside address the relay probe names in RCPT TO (a reserved domain; nothing is sent).
pub const PROBE_RCPT: &str = "popsend-relay-test@example.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepId {
    Resolve,
    PopPort,
    Tls,
    PopLogin,
    SmtpPort,
    Smtp,
    Relay,
    Window,
}

impl StepId {
    pub const ALL: [StepId; 8] = [
        StepId::Resolve,
        StepId::PopPort,
        StepId::Tls,
        StepId::PopLogin,
        StepId::SmtpPort,
        StepId::Smtp,
        StepId::Relay,
        StepId::Window,
    ];
}

/// What one step found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Ok,
    /// Not run: an earlier step failed, or it does not apply.
    Skipped(Skip),
    /// The step failed; the kind is the one the send path would report for the same error.
    Failed(Kind),
    /// The relay probe: relaying itself was allowed, but the server then refused the probe's
    /// outside address for another reason (a recipient policy checked after the relay check).
    /// Passed: the student's real recipients are not that address.
    RelayAllowed,
    /// The SMTP port does not answer; `alternatives` lists the server's other ports that do, and
    /// what each offers.
    /// `automatic`: the send path tries them by itself (`[smtp] other_ports` is not empty).
    SmtpPortSilent {
        port: u16,
        alternatives: Vec<OtherPortFound>,
        automatic: bool,
    },
}

/// One of the server's other ports, as 接続テスト found it (issue 24: what the send path would
/// do there from this network).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherPortFound {
    pub port: u16,
    /// TLS from the first byte (465).
    pub implicit_tls: bool,
    /// The connection was encrypted (implicit TLS, or STARTTLS offered and done).
    pub encrypted: bool,
    /// Its EHLO offers SMTP AUTH (PLAIN or LOGIN).
    pub auth: bool,
    /// It relays to an outside address after the POP login (`None`: not asked, no login).
    pub relays: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    EarlierStepFailed,
    NoTls,
    LoginSkipped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    pub id: StepId,
    pub finding: Finding,
    /// Technical detail (addresses, ports, the method used); never the password.
    pub detail: String,
    /// The server's own reply, when it gave one.
    pub reply: Option<String>,
}

impl StepResult {
    pub fn passed(&self) -> bool {
        matches!(self.finding, Finding::Ok | Finding::RelayAllowed)
    }
}

pub struct Options {
    /// Probe relaying without logging in first (shows whether the server needs POP before SMTP).
    pub skip_login: bool,
    /// The other ports looked at when the SMTP port does not answer (`None`: the config's
    /// `[smtp] other_ports`, or 587 and 465 where it keeps the configured port only).
    pub alternatives: Option<Vec<crate::setup::account::OtherPort>>,
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options { skip_login: false, alternatives: None, timeout: Duration::from_secs(10) }
    }
}

/// Runs every step in order, reporting each to `on_step` as it ends; returns them all.
pub async fn run(
    config: &Config,
    password: Option<&Password>,
    trust: &TrustAnchors,
    clock: &dyn Clock,
    store: &knowledge::Store,
    options: &Options,
    on_step: &mut dyn FnMut(&StepResult),
) -> Vec<StepResult> {
    let mut out: Vec<StepResult> = Vec::new();
    let mut done = |r: StepResult, out: &mut Vec<StepResult>| {
        on_step(&r);
        out.push(r);
    };
    let skip_rest =
        |from: usize, why: Skip, out: &mut Vec<StepResult>, done: &mut dyn FnMut(StepResult, &mut Vec<StepResult>)| {
            for id in &StepId::ALL[from..] {
                done(StepResult { id: *id, finding: Finding::Skipped(why), detail: String::new(), reply: None }, out);
            }
        };
    let t = options.timeout;
    let step = |id, finding, detail: String, reply: Option<String>| StepResult { id, finding, detail, reply };

    // 1. Names.
    let pop_host = config.pop.host.as_str();
    let smtp_host = config.smtp_host();
    let pop_addrs = net::resolve(pop_host, config.pop.port(), t).await;
    let smtp_addrs = net::resolve(smtp_host, config.smtp_port(), t).await;
    let (pop_addrs, smtp_addrs) = match (pop_addrs, smtp_addrs) {
        (Ok(p), Ok(s)) => {
            let show = |a: &[SocketAddr]| a.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>().join(", ");
            let detail = if pop_host == smtp_host {
                format!("{pop_host} → {}", show(&p))
            } else {
                format!("{pop_host} → {}; {smtp_host} → {}", show(&p), show(&s))
            };
            done(step(StepId::Resolve, Finding::Ok, detail, None), &mut out);
            (p, s)
        }
        (Err(e), _) | (_, Err(e)) => {
            done(step(StepId::Resolve, Finding::Failed(classify(&e)), chain(&e), None), &mut out);
            skip_rest(1, Skip::EarlierStepFailed, &mut out, &mut done);
            return out;
        }
    };

    // 2. The POP port. Its address family is then the only one used, for the login and for
    // SMTP, as the send path does: the server relays for the address that logged in, and on a
    // dual-stack network the other family would test a path the real send never takes.
    let family = match net::connect(&pop_addrs, t).await {
        Ok((_, peer)) => {
            done(step(StepId::PopPort, Finding::Ok, format!("{peer}"), None), &mut out);
            Family::of(&peer)
        }
        Err(e) => {
            done(step(StepId::PopPort, Finding::Failed(classify(&e)), chain(&e), None), &mut out);
            skip_rest(2, Skip::EarlierStepFailed, &mut out, &mut done);
            return out;
        }
    };
    let pop_addrs = net::in_family(&pop_addrs, family);
    let smtp_addrs = net::in_family(&smtp_addrs, family);

    // 3 + 4. TLS and the login, in one POP session.
    let mut login_at: Option<SystemTime> = None;
    if options.skip_login {
        let why = if config.pop.security == Security::None { Skip::NoTls } else { Skip::LoginSkipped };
        done(step(StepId::Tls, Finding::Skipped(why), String::new(), None), &mut out);
        done(step(StepId::PopLogin, Finding::Skipped(Skip::LoginSkipped), String::new(), None), &mut out);
    } else if let Some(password) = password {
        let p = &config.pop;
        // The send path's login; a test from scratch: what the settings give, not what worked
        // last time.
        let params = crate::sending::deliver::login_params(config, password, &pop_addrs, trust, t, None);
        let allowed = pop3::auth::allowed(p.auth, p.security != Security::None, p.allow_plaintext_password);
        match pop3::login(&params, clock).await {
            Ok(login) => {
                if config.pop.security == Security::None {
                    done(step(StepId::Tls, Finding::Skipped(Skip::NoTls), String::new(), None), &mut out);
                } else {
                    done(step(StepId::Tls, Finding::Ok, format!("{} ({})", p.host, p.security.name()), None), &mut out);
                }
                let detail = match login.refused_first {
                    Some(first) => format!("{} ({}; {} refused first)", p.username, login.method.name(), first.name()),
                    None => format!("{} ({})", p.username, login.method.name()),
                };
                done(step(StepId::PopLogin, Finding::Ok, detail, None), &mut out);
                // The relay window it opened is real: recorded like any other login.
                crate::sending::deliver::record_login(store, config, &login);
                login_at = Some(login.at);
            }
            Err(
                e @ (Pop3Error::Net(NetError::Tls { .. } | NetError::TlsHandshake { .. } | NetError::TlsTimeout { .. })
                | Pop3Error::StlsNotOffered),
            ) => {
                done(step(StepId::Tls, Finding::Failed(classify(&e)), chain(&e), None), &mut out);
                done(step(StepId::PopLogin, Finding::Skipped(Skip::EarlierStepFailed), String::new(), None), &mut out);
            }
            Err(e) => {
                if config.pop.security == Security::None {
                    done(step(StepId::Tls, Finding::Skipped(Skip::NoTls), String::new(), None), &mut out);
                } else {
                    done(step(StepId::Tls, Finding::Ok, format!("{} ({})", p.host, p.security.name()), None), &mut out);
                }
                let detail = format!("{} (the settings allow: {})", chain(&e), pop3::auth::names(&allowed));
                done(
                    step(StepId::PopLogin, Finding::Failed(classify(&e)), detail, e.server_reply().map(str::to_owned)),
                    &mut out,
                );
            }
        }
    } else {
        done(step(StepId::Tls, Finding::Skipped(Skip::EarlierStepFailed), String::new(), None), &mut out);
        done(step(StepId::PopLogin, Finding::Failed(Kind::NoPassword), String::new(), None), &mut out);
    }

    let redactor = password.map(|p| p.redactor(&config.pop.username)).unwrap_or_default();
    // 5. The SMTP port; where it does not answer, the ports with SMTP AUTH.
    let smtp_port = config.smtp_port();
    let smtp_reached = if smtp_addrs.is_empty() {
        Err(NetError::NoAddressInFamily { host: smtp_host.to_owned(), family })
    } else {
        match net::connect(&smtp_addrs, t).await {
            // A port that takes the connection and then says nothing (or closes it) is as
            // blocked as one that refuses it: the send path counts it so. (With TLS from the first
            // byte the server waits for the client: only the connection is checked.)
            Ok((mut stream, peer)) if config.smtp.security != Security::Tls => {
                use tokio::io::AsyncReadExt as _;
                let mut first = [0u8; 1];
                match tokio::time::timeout(t, stream.read(&mut first)).await {
                    Ok(Ok(n)) if n > 0 => Ok(peer),
                    _ => Err(NetError::Timeout { addr: peer }),
                }
            }
            reached => reached.map(|(_, peer)| peer),
        }
    };
    match smtp_reached {
        Ok(peer) => done(step(StepId::SmtpPort, Finding::Ok, format!("{peer}"), None), &mut out),
        Err(e) => {
            let mut alternatives = Vec::new();
            let ports = match &options.alternatives {
                Some(list) => list.clone(),
                None if config.smtp.other_ports.is_empty() => crate::setup::account::default_other_ports(),
                None => config.smtp.other_ports.clone(),
            };
            for other in ports.iter().filter(|p| p.port != smtp_port) {
                let addrs: Vec<SocketAddr> = smtp_addrs.iter().map(|a| SocketAddr::new(a.ip(), other.port)).collect();
                // As the send path opens it: TLS from the first byte, or STARTTLS where offered.
                let params = smtp::SmtpParams {
                    known: None,
                    host: smtp_host,
                    addrs: &addrs,
                    security: if other.tls { Security::Tls } else { Security::None },
                    auth: None,
                    allow_plaintext_password: false,
                    tls_if_offered: !other.tls,
                    redactor: redactor.clone(),
                    trust,
                    step_timeout: Duration::from_secs(5),
                };
                if let Ok(mut s) = smtp::open(&params).await {
                    // Relaying after the login, asked as step 7 asks it (nothing is sent).
                    let relays = match login_at {
                        Some(_) => Some(match s.probe_relay(&config.account.address, PROBE_RCPT).await {
                            Ok(()) => true,
                            Err(e @ SmtpError::Rejected { stage: smtp::Stage::RcptTo(_), .. }) => !e.is_relay_denied(),
                            Err(_) => false,
                        }),
                        None => None,
                    };
                    alternatives.push(OtherPortFound {
                        port: other.port,
                        implicit_tls: other.tls,
                        encrypted: s.encrypted,
                        auth: s.offers_auth(),
                        relays,
                    });
                    s.quit().await;
                }
            }
            let automatic = !config.smtp.other_ports.is_empty();
            done(
                step(
                    StepId::SmtpPort,
                    Finding::SmtpPortSilent { port: smtp_port, alternatives, automatic },
                    chain(&e),
                    None,
                ),
                &mut out,
            );
            skip_rest(5, Skip::EarlierStepFailed, &mut out, &mut done);
            return out;
        }
    }

    // 6. EHLO, STARTTLS and AUTH as configured.
    let params = smtp::SmtpParams {
        known: None,
        host: smtp_host,
        addrs: &smtp_addrs,
        security: config.smtp.security,
        auth: match (&config.smtp.username, password) {
            (Some(u), Some(p)) => Some((u.as_str(), p.expose())),
            _ => None,
        },
        allow_plaintext_password: config.smtp.allow_plaintext_password,
        tls_if_offered: false,
        redactor: redactor.clone(),
        trust,
        step_timeout: t,
    };
    let mut session = match smtp::open(&params).await {
        Ok(s) => {
            let auth = if config.smtp.username.is_some() { ", AUTH" } else { "" };
            done(
                step(StepId::Smtp, Finding::Ok, format!("EHLO {}{auth}", config.smtp.security.name()), None),
                &mut out,
            );
            s
        }
        Err(e) => {
            done(
                step(StepId::Smtp, Finding::Failed(classify(&e)), chain(&e), e.server_reply().map(str::to_owned)),
                &mut out,
            );
            skip_rest(6, Skip::EarlierStepFailed, &mut out, &mut done);
            return out;
        }
    };

    // 7. Relaying to an outside address, without sending anything. After a failed login the
    // answer would only repeat that failure (or reflect an older login): not asked.
    if login_at.is_none() && !options.skip_login {
        session.quit().await;
        skip_rest(6, Skip::EarlierStepFailed, &mut out, &mut done);
        return out;
    }
    let from = config.account.address.as_str();
    let relay = session.probe_relay(from, PROBE_RCPT).await;
    session.quit().await;
    match relay {
        Ok(()) => done(
            step(StepId::Relay, Finding::Ok, format!("MAIL FROM:<{from}> RCPT TO:<{PROBE_RCPT}> → 250"), None),
            &mut out,
        ),
        // A refusal of the outside address that is not a relay refusal (`550 5.7.0 …
        // Recipient address rejected` by a policy after the relay check): relaying was allowed.
        Err(e @ SmtpError::Rejected { stage: smtp::Stage::RcptTo(_), .. }) if !e.is_relay_denied() => {
            done(step(StepId::Relay, Finding::RelayAllowed, chain(&e), e.server_reply().map(str::to_owned)), &mut out)
        }
        Err(e) => {
            done(
                step(StepId::Relay, Finding::Failed(classify(&e)), chain(&e), e.server_reply().map(str::to_owned)),
                &mut out,
            );
            skip_rest(7, Skip::EarlierStepFailed, &mut out, &mut done);
            return out;
        }
    }

    // 8. The window: how long the server should keep relaying, and how much of it is used.
    match login_at {
        Some(at) => {
            let used = clock.now().duration_since(at).unwrap_or_default().as_secs();
            done(step(StepId::Window, Finding::Ok, format!("{used}/{}", config.relay.window_seconds), None), &mut out);
        }
        None => done(step(StepId::Window, Finding::Skipped(Skip::LoginSkipped), String::new(), None), &mut out),
    }
    out
}
