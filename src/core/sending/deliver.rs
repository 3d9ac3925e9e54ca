//! The send path (DESIGN.md §3, steps 3–7) for a batch of built messages: resolve once and pin
//! one address family for POP and SMTP; log in over POP (unless the window may be reused) while
//! the SMTP connection opens; send no MAIL FROM before the login's `+OK`; send every message over
//! one SMTP session; on relay refusal reconnect / log in again once, then give up with a clear
//! error. Where the configured SMTP port does not answer (a provider's OP25B), the other ports
//! of the same host (`route`) are tried beside it after a short head start, and the one that
//! worked is remembered for this network; one that refuses relaying after the login but offers
//! SMTP AUTH over TLS gets the account's password. It records the window start in the state
//! file. It does not store messages (the outbox does, later) and does not print.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lettre::address::Envelope;

use crate::problem::classify::classify;
use crate::problem::kind::Severity;
use crate::protocol::net::{self, Family, NetError, TrustAnchors};
use crate::protocol::pop3::{self, Login, Pop3Error};
use crate::protocol::smtp::{self, Session, SmtpError};
use crate::sending::knowledge::{self, LastLogin};
use crate::sending::relay::RelayWindow;
use crate::sending::route::{self, Route, Via};
use crate::setup::account::{Config, Security};
use crate::system::clock::Clock;
use crate::system::secrets::Password;

use crate::message::compose::Outgoing;
use crate::problem::run_error::RunError;

/// What happened to one message.
#[derive(Debug)]
pub enum Outcome {
    Sent,
    /// The server refused this message for good (unknown recipient, too large, …).
    Failed(SmtpError),
    /// Not sent this time: the server refused this message for now (`Some`), or the run stopped
    /// before it (`None`; the run's error, if any, is `Report::stopped`).
    Deferred(Option<SmtpError>),
}

/// Told about each message as the run goes, so a store can record every outcome at once.
pub trait Progress {
    /// Just before the message's MAIL FROM (once per message, however often it is retried).
    /// `Stop`: the message may not go (its `sending` mark could not be written, so a crash or a
    /// later run could not tell it went): the run stops there, before its MAIL FROM. `Skip`: it
    /// is no longer waiting (deleted, or taken back for editing, since the batch was read).
    fn sending(&mut self, _index: usize) -> Mark {
        Mark::Go
    }
    /// The message's outcome, as soon as it is known (not called for messages never reached).
    fn outcome(&mut self, _index: usize, _outcome: &Outcome) {}
    /// The server took the message for these recipients, in a transaction of its own (it takes
    /// only so many at a time); the others follow. Not called when one transaction took all.
    fn delivered_to(&mut self, _index: usize, _rcpts: &[lettre::Address]) {}
}

/// Whether a message may go, once its `sending` mark was tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Go,
    Skip,
    Stop,
}

/// For callers that need no progress.
pub struct NoProgress;
impl Progress for NoProgress {}

/// The result of a run: each message's outcome (same order as given), the logins made, and
/// what stopped the run early, if anything.
#[derive(Debug)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
    pub logins: Vec<Login>,
    pub stopped: Option<RunError>,
    /// The window as it stands after the run (from this run's login or a reused one).
    pub window: Option<RelayWindow>,
    /// A port other than the configured one took the mail, for the first time from this
    /// network: said once (the next sends from here go there without a word).
    pub learned: Option<Learned>,
    /// How the messages sent went (the port in use from this network), when any was sent.
    pub route: Option<Route>,
}

/// The port a run found, where the configured one did not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Learned {
    pub port: u16,
    pub configured: u16,
    /// It relays only with SMTP AUTH (the account's password, over TLS).
    pub auth: bool,
}

/// The race `open_any` won: the session and its route, the ports that failed, and the ports
/// still waiting for an answer when it won.
struct Raced {
    session: Session,
    route: Route,
    failed: Vec<u16>,
    waiting: Vec<u16>,
}

/// How long the configured (or remembered) port has to answer before the next port is tried
/// beside it (Happy Eyeballs, RFC 8305, over ports instead of address families).
const HEAD_START: Duration = Duration::from_secs(2);

/// Everything a run needs; time and storage are injected.
pub struct Deliverer<'a> {
    pub config: &'a Config,
    /// `None`: none could be found; nothing logs in (no server sees an empty password).
    pub password: Option<&'a Password>,
    pub trust: &'a TrustAnchors,
    pub store: &'a knowledge::Store,
    pub clock: &'a dyn Clock,
    /// Limit for each protocol step.
    pub step_timeout: Duration,
    /// Wait before logging in again after a relay refusal (servers that watch logs lag).
    pub relay_retry_delay: Duration,
    /// Set from outside (Ctrl-C): finish the message in flight, start no other.
    pub stop: Option<&'a AtomicBool>,
}

/// The POP server as the state file names it.
fn pop_server(config: &Config) -> String {
    format!("{}:{}", config.pop.host, config.pop.port())
}

/// The key the working login method is remembered under: the server and how it is reached
/// (what works in cleartext is not what should be used over TLS).
fn method_key(config: &Config) -> String {
    format!("{}/{}", pop_server(config), config.pop.security.name())
}

/// The POP login exactly as the send path makes it (接続テスト uses it too), to `addrs` (one
/// address family), trying `remembered` first.
pub fn login_params<'a>(
    config: &'a Config,
    password: &'a Password,
    addrs: &'a [SocketAddr],
    trust: &'a TrustAnchors,
    step_timeout: Duration,
    remembered: Option<pop3::Remembered>,
) -> pop3::LoginParams<'a> {
    let p = &config.pop;
    pop3::LoginParams {
        host: &p.host,
        addrs,
        security: p.security,
        username: &p.username,
        password: password.expose(),
        auth: p.auth,
        allow_plaintext_password: p.allow_plaintext_password,
        trust,
        step_timeout,
        remembered,
    }
}

/// A login opened the relay window: the state file keeps when and from where (the countdown and
/// reuse read it), and the method that worked, tried first next time (no APOP attempt doomed to
/// fail, one password fewer). Not being able to write it costs one extra login later, nothing
/// more.
pub fn record_login(store: &knowledge::Store, config: &Config, login: &Login) {
    let mut state = store.load();
    state.last_login = Some(LastLogin { at: login.at, server: pop_server(config), peer: login.peer.ip() });
    state.set_login(&method_key(config), login.method, login.capabilities.as_ref());
    let _ = store.save(&state);
}

/// The SMTP server as the state file names it ("host:port").
pub fn smtp_server(config: &Config) -> String {
    format!("{}:{}", config.smtp_host(), config.smtp_port())
}

struct Target {
    pop: Vec<SocketAddr>,
    smtp: Vec<SocketAddr>,
}

/// One message's send as the session sees it: the recipients a partial transaction took, and
/// the message that may follow behind its final dot (marked `sending` first, as every message is
/// before its MAIL FROM goes).
struct Turn<'a, 'm> {
    progress: &'a mut dyn Progress,
    index: usize,
    /// Recipients of this send's envelope: a transaction that took fewer is a part.
    total: usize,
    taken: Vec<lettre::Address>,
    next: Option<&'m Outgoing>,
    /// Set from outside (Ctrl-C): no other message starts.
    stop: Option<&'a AtomicBool>,
    marked: &'a mut Option<(usize, Mark)>,
}

impl<'m> smtp::Carry<'m> for Turn<'_, 'm> {
    fn delivered(&mut self, rcpts: &[lettre::Address]) {
        if rcpts.len() < self.total {
            self.progress.delivered_to(self.index, rcpts);
            self.taken.extend_from_slice(rcpts);
        }
    }

    fn next(&mut self) -> Option<smtp::Message<'m>> {
        let next = self.next.filter(|_| !self.stop.is_some_and(|s| s.load(Ordering::SeqCst)))?;
        let i = self.index + 1;
        // Marked once: this message may be sent again in this run (relay refused, reconnect).
        let mark = *self.marked.get_or_insert_with(|| (i, self.progress.sending(i)));
        (mark == (i, Mark::Go)).then_some(smtp::Message { token: i, envelope: &next.envelope, raw: &next.raw })
    }
}

/// Where recovering from relay refusals stands in one run; `on_refusal` and `on_sent` are its
/// only changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recovery {
    /// SMTP was opened while the POP login ran: a refusal may mean the server judged relaying at
    /// connect time, before the login had finished.
    OpenedEarly,
    /// Connected again after the login finished: a message taken now teaches that this server
    /// needs the login first (remembered, so the next run opens SMTP after it).
    Reconnected,
    /// Nothing tried yet about a refusal (logged in in this run, or reusing the window).
    Plain,
    /// Logged in again once after a refusal: a further refusal is the port's, not the window's.
    Relogged,
}

/// What a relay refusal calls for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Reconnect,
    /// The reused window was not good any more: the first login of this run.
    LoginNow,
    /// Log in again, after a pause (servers that watch their logs lag).
    LoginAgain,
    /// The other ports, then SMTP AUTH over TLS, then the refusal stands.
    OtherPorts,
}

impl Recovery {
    fn start(opened_early: bool) -> Recovery {
        if opened_early { Recovery::OpenedEarly } else { Recovery::Plain }
    }

    /// A relay refusal; `logged_in`: this run has logged in.
    fn on_refusal(self, logged_in: bool) -> (Recovery, Step) {
        match self {
            Recovery::OpenedEarly => (Recovery::Reconnected, Step::Reconnect),
            _ if !logged_in => (Recovery::Plain, Step::LoginNow),
            Recovery::Plain | Recovery::Reconnected => (Recovery::Relogged, Step::LoginAgain),
            Recovery::Relogged => (Recovery::Relogged, Step::OtherPorts),
        }
    }

    /// A message was taken: and whether that taught that the server needs the login first.
    fn on_sent(self) -> (Recovery, bool) {
        match self {
            Recovery::Reconnected => (Recovery::Plain, true),
            other => (other, false),
        }
    }
}

impl<'a> Deliverer<'a> {
    pub fn new(
        config: &'a Config,
        password: impl Into<Option<&'a Password>>,
        trust: &'a TrustAnchors,
        store: &'a knowledge::Store,
        clock: &'a dyn Clock,
    ) -> Self {
        Deliverer {
            config,
            password: password.into(),
            trust,
            store,
            clock,
            step_timeout: Duration::from_secs(30),
            relay_retry_delay: Duration::from_secs(2),
            stop: None,
        }
    }

    fn pop_server(&self) -> String {
        pop_server(self.config)
    }

    fn smtp_server(&self) -> String {
        smtp_server(self.config)
    }

    fn window_length(&self) -> Duration {
        Duration::from_secs(self.config.relay.window_seconds)
    }

    /// The relay window of the last login, as remembered.
    pub fn current_window(&self) -> Option<RelayWindow> {
        self.store.load().window(&self.pop_server(), self.window_length())
    }

    /// The network changed: the window opened from the old address is not ours any more. Not
    /// being able to write the state costs one extra login later, nothing more.
    pub fn forget_window(&self) {
        let _ = self.store.forget_login();
    }

    /// POP login only (the `auth` command): opens the window.
    pub async fn login_only(&self) -> Result<Login, RunError> {
        let password = self.password.ok_or(RunError::NoPassword)?;
        let pop = net::resolve(&self.config.pop.host, self.config.pop.port(), self.step_timeout)
            .await
            .map_err(RunError::Net)?;
        self.login(password, &pop).await.map_err(RunError::Pop3)
    }

    async fn login(&self, password: &Password, addrs: &[SocketAddr]) -> Result<Login, Pop3Error> {
        let remembered = self.store.load().login_for(&method_key(self.config));
        let fast = remembered.as_ref().is_some_and(|r| r.caps.is_some());
        let params = login_params(self.config, password, addrs, self.trust, self.step_timeout, remembered);
        let login = match pop3::login(&params, self.clock).await {
            Ok(login) => login,
            // Gone by what was remembered and failed other than on the password (a server that
            // stopped answering USER and PASS in one write, say): ask it with CAPA next time.
            Err(e) => {
                if fast && !e.is_bad_credentials() {
                    let mut state = self.store.load();
                    if state.forget_pop_caps(&method_key(self.config)) {
                        let _ = self.store.save(&state);
                    }
                }
                return Err(e);
            }
        };
        record_login(self.store, self.config, &login);
        Ok(login)
    }

    /// The SMTP server as the state file names it, by the port `route` goes to.
    fn server_at(&self, route: Route) -> String {
        format!("{}:{}", self.config.smtp_host(), route.port)
    }

    /// Opens SMTP by `route`, to `t`'s addresses at its port. No MAIL FROM is sent here.
    async fn open_route(&self, password: &Password, t: &Target, route: Route) -> Result<Session, SmtpError> {
        let s = &self.config.smtp;
        let addrs: Vec<SocketAddr> = t.smtp.iter().map(|a| SocketAddr::new(a.ip(), route.port)).collect();
        // Another port: STARTTLS where offered (or TLS from the first byte), and the account's
        // password only over TLS, whatever `allow_plaintext_password` says for the configured one.
        let user = s.username.as_deref().unwrap_or(&self.config.pop.username);
        let (security, tls_if_offered, auth, allow_plaintext_password) = match route.via {
            Via::Configured => {
                (s.security, false, s.username.as_deref().map(|u| (u, password.expose())), s.allow_plaintext_password)
            }
            Via::Other { tls, auth } => {
                (if tls { Security::Tls } else { Security::None }, !tls, auth.then(|| (user, password.expose())), false)
            }
        };
        let server = self.server_at(route);
        let params = smtp::SmtpParams {
            host: self.config.smtp_host(),
            addrs: &addrs,
            security,
            auth,
            allow_plaintext_password,
            tls_if_offered,
            // The AUTH user name may differ from the POP one: its SASL PLAIN form is redacted too.
            redactor: password.redactor(user),
            trust: self.trust,
            step_timeout: self.step_timeout,
            known: self.store.load().smtp_extras(&server),
        };
        let session = smtp::open(&params).await?;
        // What the server takes (for the submission server to announce) and whether it takes
        // command groups: the next connection skips asking. Written only on change.
        if session.fresh {
            let mut state = self.store.load();
            if state.set_smtp_extras(&server, session.extras) {
                let _ = self.store.save(&state);
            }
        }
        Ok(session)
    }

    /// Opens the first of `routes` that answers. The first goes alone for `HEAD_START`; then the
    /// next starts beside it, and so on, and a route that fails starts the next at once. The
    /// configured port failing otherwise than by silence (a certificate, a refused AUTH) when it
    /// goes first ends the race with its error: that is the student's setting to fix, not a
    /// blocked port. (A remembered port that fails so has only gone stale: the others are tried.)
    /// The losers are dropped (their connections closed); with the winner come the ports that
    /// failed, and those still waiting for an answer (slow, perhaps blocked: tried last if the
    /// winner will not relay). `Err`: every route's error, in the order they came.
    async fn open_any(
        &self,
        password: &Password,
        t: &Target,
        routes: &[Route],
    ) -> Result<Raced, Vec<(Route, SmtpError)>> {
        use futures_util::StreamExt as _;
        let start = |i: usize| {
            let route = routes[i];
            async move { (i, self.open_route(password, t, route).await) }
        };
        let mut running = futures_util::stream::FuturesUnordered::new();
        let mut failed = Vec::new();
        if routes.is_empty() {
            return Err(failed);
        }
        running.push(start(0));
        let mut next = 1;
        loop {
            tokio::select! {
                Some((i, result)) = running.next() => match result {
                    Ok(session) => {
                        let failed_ports: Vec<u16> = failed.iter().map(|(r, _): &(Route, SmtpError)| r.port).collect();
                        let waiting = routes[..next].iter().map(|r| r.port).filter(|p| *p != routes[i].port && !failed_ports.contains(p)).collect();
                        return Ok(Raced { session, route: routes[i], failed: failed_ports, waiting });
                    }
                    Err(e) => {
                        let settled = i == 0 && routes[0].is_configured() && !route::silent(&e);
                        failed.push((routes[i], e));
                        if settled {
                            return Err(failed);
                        }
                        if next < routes.len() {
                            running.push(start(next));
                            next += 1;
                        } else if running.is_empty() {
                            return Err(failed);
                        }
                    }
                },
                () = tokio::time::sleep(HEAD_START), if next < routes.len() => {
                    running.push(start(next));
                    next += 1;
                }
                else => return Err(failed),
            }
        }
    }

    /// What a race that no route won means: after a POP login that worked, a configured port
    /// that stayed silent is a blocked port (OP25B), never "offline", and never a fault to pause
    /// for, whatever the other ports said (they are named in the detail); otherwise the configured
    /// port's error (or the first that came).
    fn no_route(&self, mut failed: Vec<(Route, SmtpError)>, logged_in: bool) -> RunError {
        let configured = failed.iter().position(|(r, _)| r.is_configured());
        if logged_in && configured.is_some_and(|i| route::silent(&failed[i].1)) {
            let ports = failed
                .iter()
                .map(|(r, e)| format!("{}: {}", r.port, crate::problem::classify::chain(e)))
                .collect::<Vec<_>>()
                .join("; ");
            let (_, last) = failed.swap_remove(configured.unwrap_or(0));
            return RunError::PortsSilent { host: self.config.smtp_host().to_owned(), ports, last };
        }
        match configured {
            Some(i) => RunError::Smtp(failed.swap_remove(i).1),
            None => match failed.into_iter().next() {
                Some((_, e)) => RunError::Smtp(e),
                None => RunError::Net(NetError::NoAddressInFamily {
                    host: self.config.smtp_host().to_owned(),
                    family: Family::V4,
                }),
            },
        }
    }

    /// Resolves both servers once and orders the address families both have.
    async fn resolve(&self) -> Result<Vec<Target>, RunError> {
        let pop = net::resolve(&self.config.pop.host, self.config.pop.port(), self.step_timeout)
            .await
            .map_err(RunError::Net)?;
        let smtp = net::resolve(self.config.smtp_host(), self.config.smtp_port(), self.step_timeout)
            .await
            .map_err(RunError::Net)?;
        let targets: Vec<Target> = net::families(&pop)
            .into_iter()
            .filter(|f| net::families(&smtp).contains(f))
            .map(|f| Target { pop: net::in_family(&pop, f), smtp: net::in_family(&smtp, f) })
            .collect();
        if targets.is_empty() {
            let family = Family::of(&pop[0]);
            return Err(RunError::Net(NetError::NoAddressInFamily {
                host: self.config.smtp_host().to_owned(),
                family,
            }));
        }
        Ok(targets)
    }

    /// Sends `messages`. Never panics on server behaviour; every message gets an outcome.
    pub async fn deliver(&self, messages: &[Outgoing], progress: &mut dyn Progress) -> Report {
        let mut report = Report {
            outcomes: Vec::new(),
            logins: Vec::new(),
            stopped: None,
            window: None,
            learned: None,
            route: None,
        };
        if let Err(e) = self.run(messages, &mut report, progress).await {
            report.stopped = Some(e);
        }
        while report.outcomes.len() < messages.len() {
            report.outcomes.push(Outcome::Deferred(None));
        }
        report.window = self.current_window();
        report
    }

    fn stopping(&self) -> bool {
        self.stop.is_some_and(|s| s.load(Ordering::SeqCst))
    }

    async fn run(
        &self,
        messages: &[Outgoing],
        report: &mut Report,
        progress: &mut dyn Progress,
    ) -> Result<(), RunError> {
        let password = self.password.ok_or(RunError::NoPassword)?;
        let targets = self.resolve().await?;
        let state = self.store.load();
        let now = self.clock.now();
        let margin = Duration::from_secs(self.config.relay.margin());
        // The window may be reused only from the family of the login that opened it (the server
        // authorised that address), and only if that family still resolves.
        let last_family = state.last_login.as_ref().map(|l| Family::of(&SocketAddr::new(l.peer, 0)));
        let reusable = self.config.relay.reuse_window
            && state.window(&self.pop_server(), self.window_length()).is_some_and(|w| w.usable(now, margin))
            && targets.iter().any(|t| Some(Family::of(&t.pop[0])) == last_family);

        // Pick the family: the last login's when reusing its window, else the resolver's order,
        // falling back to the next family when the first cannot be reached at all.
        let mut last_err = None;
        let mut opened = None;
        for target in &targets {
            if reusable && Some(Family::of(&target.pop[0])) != last_family {
                continue;
            }
            // The ports to try from the network this family goes out by: what worked from here
            // before, first.
            let network = target.smtp.first().and_then(|a| route::network(*a));
            let remembered = network.as_deref().and_then(|n| state.route_for(&self.smtp_server(), n));
            let routes = route::candidates(self.config, remembered);
            let sequential = state.needs_sequential(&self.server_at(routes[0]));
            match self.connect(password, target, &routes, reusable, sequential, report).await {
                Ok(raced) => {
                    opened = Some((target, raced, routes, network, remembered, sequential));
                    break;
                }
                Err(e) => {
                    let unreachable = classify(&e).unreachable();
                    last_err = Some(e);
                    if !unreachable {
                        break;
                    }
                }
            }
        }
        let Some((target, raced, routes, network, remembered, sequential)) = opened else {
            return Err(last_err.unwrap_or(RunError::Net(NetError::NoAddressInFamily {
                host: self.config.pop.host.clone(),
                family: Family::of(&targets[0].pop[0]),
            })));
        };

        // Opened before the login finished: the server may have judged relaying at connect time.
        let mut recovery = Recovery::start(!reusable && !sequential);
        let (mut session, mut route) = (raced.session, raced.route);
        // Ports not to try again in this run (they failed, or refused relaying), and ports that
        // had not answered when another won (tried last).
        let mut spent: Vec<u16> = raced.failed;
        let mut slow: Vec<u16> = raced.waiting;
        // A port that relays only with SMTP AUTH over TLS: the account's password goes there only
        // when no port takes the mail without it.
        let mut with_auth: Option<Route> = None;
        // A port that relays only with SMTP AUTH but offers it only without TLS: said if nothing
        // else takes the mail (the password is never sent in the clear).
        let mut cleartext_only: Option<SmtpError> = None;
        // The next message's mark, taken when its commands were about to go behind this one's dot.
        let mut marked: Option<(usize, Mark)> = None;
        for (index, msg) in messages.iter().enumerate() {
            let mark = match marked.take() {
                // Its commands may already be on the wire: it is in flight, a stop waits for it.
                Some((i, mark)) if i == index => mark,
                _ if self.stopping() => break,
                _ => progress.sending(index),
            };
            match mark {
                Mark::Go => {}
                Mark::Skip => {
                    report.outcomes.push(Outcome::Deferred(None));
                    continue;
                }
                Mark::Stop => break,
            }
            // The last message's connection was cut (a group whose message must not go): the
            // next one goes on a new connection, in the same window.
            if session.is_broken() {
                session = self.open_route(password, target, route).await.map_err(RunError::Smtp)?;
            }
            // What is left to send: recipients a partial transaction took are not sent again when
            // the message is retried in this run (relay refusal, reconnect).
            let mut envelope = msg.envelope.clone();
            loop {
                let mut turn = Turn {
                    progress: &mut *progress,
                    index,
                    total: envelope.to().len(),
                    taken: Vec::new(),
                    next: messages.get(index + 1),
                    stop: self.stop,
                    marked: &mut marked,
                };
                let message = smtp::Message { token: index, envelope: &envelope, raw: &msg.raw };
                let sent = session.send(message, &mut turn).await;
                let taken = turn.taken;
                if !taken.is_empty() {
                    let left: Vec<lettre::Address> =
                        envelope.to().iter().filter(|a| !taken.contains(a)).cloned().collect();
                    if let Ok(e) = Envelope::new(envelope.from().cloned(), left) {
                        envelope = e;
                    }
                }
                match sent {
                    Ok(()) => {
                        progress.outcome(index, &Outcome::Sent);
                        report.outcomes.push(Outcome::Sent);
                        let learned;
                        (recovery, learned) = recovery.on_sent();
                        if learned {
                            let mut state = self.store.load();
                            if !state.needs_sequential(&self.server_at(route)) {
                                state.sequential.push(self.server_at(route));
                                let _ = self.store.save(&state);
                            }
                        }
                        self.remember_route(network.as_deref(), remembered, route, report);
                        break;
                    }
                    Err(e) if e.is_relay_denied() => {
                        let mut next = route;
                        let step;
                        (recovery, step) = recovery.on_refusal(!report.logins.is_empty());
                        match step {
                            // Reconnect now that the login is done; remember if that was it.
                            Step::Reconnect => {}
                            // The reused window was not good any more: log in now.
                            Step::LoginNow => {
                                report.logins.push(self.login(password, &target.pop).await.map_err(RunError::Pop3)?)
                            }
                            Step::LoginAgain => {
                                tokio::time::sleep(self.relay_retry_delay).await;
                                report.logins.push(self.login(password, &target.pop).await.map_err(RunError::Pop3)?);
                            }
                            // Refused after a fresh login: the port itself may not be the
                            // server's (a provider that answers port 25 with its own relay), or it
                            // takes mail only with SMTP AUTH. The other ports, before the message
                            // fails; a port that wants the password, last, and over TLS only.
                            Step::OtherPorts => {
                                spent.push(route.port);
                                if let Via::Other { auth: false, .. } = route.via
                                    && session.offers_auth()
                                {
                                    if session.encrypted {
                                        with_auth.get_or_insert(route.with_auth());
                                    } else {
                                        cleartext_only.get_or_insert(SmtpError::CleartextAuthRefused);
                                    }
                                }
                                if let Some(r) = self
                                    .other_route(password, target, &routes, &mut spent, &mut slow, &mut session)
                                    .await
                                {
                                    route = r;
                                    continue;
                                }
                                let Some(auth) = with_auth.take() else {
                                    return Err(match cleartext_only.take() {
                                        Some(e) => RunError::Smtp(e),
                                        None => RunError::RelayDenied { refusal: e },
                                    });
                                };
                                next = auth;
                            }
                        }
                        session.quit_soon();
                        session = self.open_route(password, target, next).await.map_err(RunError::Smtp)?;
                        route = next;
                    }
                    Err(e) if e.is_per_message() && (!session.is_broken() || session.extras.pipelining) => {
                        self.doubt_smtp_extras(route, &e);
                        let outcome = match classify(&e).severity() {
                            Severity::Temporary => Outcome::Deferred(Some(e)),
                            _ => Outcome::Failed(e),
                        };
                        progress.outcome(index, &outcome);
                        report.outcomes.push(outcome);
                        break;
                    }
                    Err(e) => {
                        self.doubt_smtp_extras(route, &e);
                        return Err(RunError::Smtp(e));
                    }
                }
            }
        }
        // Nothing waits after the last 250.
        session.quit_soon();
        Ok(())
    }

    /// After a refusal or a broken connection, the server's remembered EHLO (PIPELINING, SIZE)
    /// is asked again next time: it may have changed. Costs one round trip, once.
    fn doubt_smtp_extras(&self, route: Route, e: &SmtpError) {
        if matches!(e, SmtpError::TooLarge { .. } | SmtpError::Unsendable { .. }) {
            return;
        }
        let mut state = self.store.load();
        if state.forget_smtp_extras(&self.server_at(route)) {
            let _ = self.store.save(&state);
        }
    }

    /// Logs in (unless reusing the window) and opens SMTP by the first of `routes` that answers:
    /// overlapped, or one after the other for servers known to judge relaying at connect time.
    /// No MAIL FROM is sent here.
    async fn connect(
        &self,
        password: &Password,
        t: &Target,
        routes: &[Route],
        reusable: bool,
        sequential: bool,
        report: &mut Report,
    ) -> Result<Raced, RunError> {
        if reusable {
            return self.open_any(password, t, routes).await.map_err(|f| self.no_route(f, false));
        }
        if sequential {
            report.logins.push(self.login(password, &t.pop).await.map_err(RunError::Pop3)?);
            return self.open_any(password, t, routes).await.map_err(|f| self.no_route(f, true));
        }
        let (login, session) = tokio::join!(self.login(password, &t.pop), self.open_any(password, t, routes));
        let login = login.map_err(RunError::Pop3)?;
        report.logins.push(login);
        session.map_err(|f| self.no_route(f, true))
    }

    /// After a relay refusal by the port in use (already in `spent`): the session on the next
    /// of `routes` not spent that answers (ports that were `slow` to answer last), in place of
    /// `session`; `None` when none is left. The ports it tried that failed are spent too.
    async fn other_route(
        &self,
        password: &Password,
        t: &Target,
        routes: &[Route],
        spent: &mut Vec<u16>,
        slow: &mut Vec<u16>,
        session: &mut Session,
    ) -> Option<Route> {
        let mut left: Vec<Route> = routes.iter().filter(|r| !spent.contains(&r.port)).copied().collect();
        left.sort_by_key(|r| slow.contains(&r.port));
        match self.open_any(password, t, &left).await {
            Ok(raced) => {
                spent.extend(raced.failed);
                slow.extend(raced.waiting);
                std::mem::replace(session, raced.session).quit_soon();
                Some(raced.route)
            }
            Err(failed) => {
                spent.extend(failed.iter().map(|(r, _)| r.port));
                None
            }
        }
    }

    /// A message went by `used`: remembered for `network` when it is not what was (so the next
    /// send from here goes there at once); a port other than the configured one, found now, is
    /// reported once (`Report::learned`). A network where the configured port works keeps no line.
    fn remember_route(&self, network: Option<&str>, remembered: Option<Route>, used: Route, report: &mut Report) {
        report.route = Some(used);
        let Some(network) = network else { return };
        if remembered == Some(used) || (remembered.is_none() && used.is_configured()) {
            return;
        }
        let mut state = self.store.load();
        let changed = if used.is_configured() {
            state.forget_route(&self.smtp_server(), network)
        } else {
            state.set_route(&self.smtp_server(), network, used)
        };
        if changed {
            let _ = self.store.save(&state);
        }
        if let Via::Other { auth, .. } = used.via
            && report.learned.is_none()
        {
            report.learned = Some(Learned { port: used.port, configured: self.config.smtp_port(), auth });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Recovery, Step};

    /// Issue 26: the relay-refusal recovery as one enum. Opened early: reconnect, and a message
    /// taken then teaches "login first". Reusing a window: log in now. Then once more after a
    /// pause, then the other ports, however many refusals follow.
    #[test]
    fn relay_refusals_go_reconnect_login_again_then_other_ports() {
        let early = Recovery::start(true);
        assert_eq!(early.on_sent(), (Recovery::OpenedEarly, false), "a success teaches nothing before a refusal");
        let (r, step) = early.on_refusal(true);
        assert_eq!((r, step), (Recovery::Reconnected, Step::Reconnect));
        assert_eq!(r.on_sent(), (Recovery::Plain, true), "taken after reconnecting: the server needs the login first");
        let (r, step) = r.on_refusal(true);
        assert_eq!((r, step), (Recovery::Relogged, Step::LoginAgain), "refused again after reconnecting");
        assert_eq!(r.on_refusal(true), (Recovery::Relogged, Step::OtherPorts));
        assert_eq!(r.on_sent(), (Recovery::Relogged, false));
        // A reused window: the first refusal logs in, the second logs in again, then ports.
        let reused = Recovery::start(false);
        let (r, step) = reused.on_refusal(false);
        assert_eq!((r, step), (Recovery::Plain, Step::LoginNow));
        let (r, step) = r.on_refusal(true);
        assert_eq!((r, step), (Recovery::Relogged, Step::LoginAgain));
        assert_eq!(r.on_refusal(true).1, Step::OtherPorts);
    }
}
