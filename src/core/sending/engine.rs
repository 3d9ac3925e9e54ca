//! The engine: flushes the outbox through the send path and applies the retry policy, writing
//! each outcome to the outbox as it happens; and `watch`, one explicit loop that flushes when a
//! message is due, when the network changes, when an offline server answers again, and on
//! commands, until it is told to stop. Time comes from the injected clock. It prints nothing:
//! it reports `Event`s to its caller (the CLI, or the window's backend).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use crate::message::compose::Outgoing;
use crate::problem::classify::classify;
use crate::problem::kind::Kind;
use crate::problem::run_error::RunError;
use crate::protocol::net;
use crate::sending::deliver::{Deliverer, Mark, Outcome, Progress, Report};
use crate::sending::outbox::{Counts, Described, Due, Outbox, OutboxError, Pause};
use crate::sending::relay::RelayWindow;
use crate::sending::retry::{self, Decision};

/// What one flush did.
#[derive(Debug, Default)]
pub struct Flushed {
    pub sent: Vec<(i64, String)>,
    pub failed: Vec<(i64, String, Described)>,
    /// Messages still queued after the flush (due later, or paused).
    pub left_queued: usize,
    pub stopped: Option<RunError>,
    /// The queue is paused (now or from before) and sends nothing until the settings change.
    pub paused: Option<Pause>,
    pub next_attempt: Option<SystemTime>,
    pub logins: Vec<crate::protocol::pop3::Login>,
    pub window: Option<RelayWindow>,
    /// Another popsend process was sending: this one sent nothing.
    pub busy: bool,
    /// Messages the server took in several transactions (it accepts only so many recipients
    /// at a time): id and the number of transactions so far.
    pub split: Vec<(i64, usize)>,
    /// Another SMTP port than the configured one took the mail, found now (said once).
    pub learned: Option<crate::sending::deliver::Learned>,
    /// The SMTP port the messages went by (設定 shows it when it is not the configured one).
    pub route: Option<crate::sending::route::Route>,
}

fn jitter(id: i64, attempts: u32) -> u64 {
    (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(attempts).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// Writes each outcome to the outbox the moment it is known.
struct Recorder<'a> {
    outbox: &'a Outbox,
    due: &'a [Due],
    now: SystemTime,
    tried: Vec<bool>,
    flushed: &'a mut Flushed,
    error: Option<OutboxError>,
}

impl Recorder<'_> {
    fn keep(&mut self, r: Result<(), OutboxError>) {
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
    }
}

impl Progress for Recorder<'_> {
    fn sending(&mut self, i: usize) -> Mark {
        match self.outbox.mark_sending(self.due[i].id) {
            Ok(true) => {
                self.tried[i] = true;
                Mark::Go
            }
            Ok(false) => Mark::Skip,
            Err(e) => {
                self.keep(Err(e));
                Mark::Stop
            }
        }
    }

    fn delivered_to(&mut self, i: usize, rcpts: &[lettre::Address]) {
        let id = self.due[i].id;
        match self.flushed.split.iter_mut().find(|(m, _)| *m == id) {
            Some((_, n)) => *n += 1,
            None => self.flushed.split.push((id, 1)),
        }
        let rcpts: Vec<String> = rcpts.iter().map(|a| a.to_string()).collect();
        let r = self.outbox.remove_recipients(id, &rcpts);
        self.keep(r);
    }

    fn outcome(&mut self, i: usize, outcome: &Outcome) {
        let due = &self.due[i];
        let r = match outcome {
            Outcome::Sent => {
                self.flushed.sent.push((due.id, due.outgoing.message_id.clone()));
                self.outbox.mark_sent(due.id, self.now)
            }
            Outcome::Failed(e) => {
                let le = Described::of(e);
                self.flushed.failed.push((due.id, due.outgoing.message_id.clone(), le.clone()));
                self.outbox.mark_failed(due.id, &le)
            }
            Outcome::Deferred(Some(e)) => {
                let next = self.now + retry::backoff(due.attempts.saturating_add(1), jitter(due.id, due.attempts));
                self.outbox.mark_deferred(due.id, next, &Described::of(e), true)
            }
            Outcome::Deferred(None) => Ok(()),
        };
        self.keep(r);
    }
}

/// Sends every due message in one run. `force`: the user asked (「今すぐ送信」, `flush`,
/// `retry`): every queued message is due, and a pause is lifted.
pub async fn flush(outbox: &Outbox, d: &Deliverer<'_>, force: bool) -> Result<Flushed, OutboxError> {
    let now = d.clock.now();
    let mut flushed = Flushed::default();
    let Some(_lock) = outbox.try_send_lock()? else {
        flushed.busy = true;
        flushed.left_queued = outbox.counts()?.queued;
        flushed.next_attempt = outbox.next_due()?;
        return Ok(flushed);
    };
    // A sender that died since this outbox was opened left its message `sending`.
    outbox.recover()?;
    if let Some(p) = outbox.paused()? {
        if force || p.config != d.config.fingerprint {
            outbox.resume()?;
        } else {
            flushed.left_queued = outbox.counts()?.queued;
            flushed.paused = Some(p);
            return Ok(flushed);
        }
    }
    if d.password.is_none() {
        // Nothing is tried without a password: no login, no attempt counted, no pause written.
        flushed.stopped = Some(RunError::NoPassword);
        flushed.left_queued = outbox.counts()?.queued;
        return Ok(flushed);
    }
    let expired = Described::local(Kind::Expired, "queued for more than 5 days");
    outbox.expire(now - retry::MAX_AGE, &expired)?;

    if force {
        // The user asked: everything waiting goes now, whatever its backoff said.
        outbox.wake_all(now)?;
    }
    // In batches of at most BATCH_BYTES of messages, so a queue of large messages never has to
    // fit in memory at once; each batch is one run (one login, one SMTP session).
    loop {
        let (mut due, more) = outbox.due_batch(now, BATCH_BYTES)?;
        if due.is_empty() {
            break;
        }
        // The bytes move to the run; the rows keep what recording needs.
        let messages: Vec<Outgoing> = due
            .iter_mut()
            .map(|d| Outgoing {
                envelope: d.outgoing.envelope.clone(),
                message_id: d.outgoing.message_id.clone(),
                raw: std::mem::take(&mut d.outgoing.raw),
            })
            .collect();
        let mut rec =
            Recorder { outbox, due: &due, now, tried: vec![false; due.len()], flushed: &mut flushed, error: None };
        let report = d.deliver(&messages, &mut rec).await;
        drop(messages);
        let tried = std::mem::take(&mut rec.tried);
        if let Some(e) = rec.error.take() {
            return Err(e);
        }
        settle(outbox, &due, &tried, &report, now, d.config.fingerprint.as_str(), &mut flushed)?;
        flushed.logins.extend(report.logins);
        flushed.window = report.window;
        flushed.learned = flushed.learned.or(report.learned);
        flushed.route = report.route.or(flushed.route);
        let stopped = report.stopped.is_some() || d.stop.is_some_and(|s| s.load(Ordering::SeqCst));
        flushed.stopped = report.stopped;
        if stopped || !more {
            break;
        }
    }
    flushed.left_queued = outbox.counts()?.queued;
    flushed.next_attempt = outbox.next_due()?;
    Ok(flushed)
}

/// Messages the run did not get to (or stopped on) get the decision for the run's error.
fn settle(
    outbox: &Outbox,
    due: &[Due],
    tried: &[bool],
    report: &Report,
    now: SystemTime,
    fingerprint: &str,
    flushed: &mut Flushed,
) -> Result<(), OutboxError> {
    let Some(err) = &report.stopped else {
        // Stopped on request: untried messages simply stay due.
        return Ok(());
    };
    let le = Described::of(err);
    let pause = retry::decide(le.kind, 1, now, 0) == Decision::Pause;
    // The run's failure stopped these together: they retry together (one connection, not one
    // per message, while the server stays out of reach). The jitter is the run's, so it spreads
    // clients, not the messages of one client.
    let run = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    for (i, d) in due.iter().enumerate() {
        if !matches!(report.outcomes[i], Outcome::Deferred(None)) {
            continue;
        }
        // Paused messages stay due: they go as soon as the pause lifts.
        let next = match retry::decide(le.kind, d.attempts.saturating_add(1), now, jitter(run, d.attempts)) {
            Decision::RetryAt(at) => at,
            Decision::Pause => now,
        };
        outbox.mark_deferred(d.id, next, &le, tried[i])?;
    }
    if pause {
        let p = Pause { error: le, config: fingerprint.to_owned() };
        outbox.pause(&p)?;
        flushed.paused = Some(p);
    }
    Ok(())
}

/// What the engine is told from outside (the GUI's buttons, the CLI's signals).
///
/// A changed configuration is not a command: the owner stops the engine (`Shutdown`) and starts
/// it again with the new `Deliverer`; a pause made under the old settings lifts by itself, since
/// it is keyed to the config's fingerprint.
#[derive(Debug)]
pub enum Command {
    /// Store a built message (subject and recipients as listed); it goes out with the next flush.
    Enqueue {
        outgoing: Box<Outgoing>,
        subject: String,
        to: String,
        draft: Option<String>,
        /// 送信予約: not before this time.
        send_at: Option<SystemTime>,
    },
    /// 「編集」: take a waiting message out of the outbox; its draft comes back as `Event::Edited`.
    Edit(i64),
    /// 「今すぐ送信」: every waiting message, now, lifting a pause.
    FlushNow,
    /// 「再送」 for one message, then a flush.
    Retry(i64),
    /// 「削除」 (the UI has asked for confirmation).
    Delete(i64),
    /// 「POP 認証」: open the relay window now.
    LoginNow,
    NetworkChanged,
    /// The state file changed outside the engine (接続テスト logged in): a new snapshot.
    Refresh,
    Shutdown,
}

/// What the engine is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Idle,
    LoggingIn,
    /// Sending a batch of this many messages.
    Sending(usize),
}

/// Everything a view needs to draw the engine's state; sent after every change.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub counts: Counts,
    pub window: Option<RelayWindow>,
    /// `Some(false)` after a run found the server unreachable; `Some(true)` after one reached it.
    pub online: Option<bool>,
    pub activity: Activity,
    pub paused: Option<Pause>,
    pub next_attempt: Option<SystemTime>,
}

/// What the engine reports.
#[derive(Debug)]
pub enum Event {
    Flushed(Flushed),
    LoggedIn(crate::protocol::pop3::Login),
    LoginFailed(RunError),
    /// Messages waiting for the network were made due at once.
    Woken(usize),
    Snapshot(Snapshot),
    Error(OutboxError),
    /// A message taken out for editing, with its draft and its 送信予約 time (`None`: it could not
    /// be taken).
    Edited(i64, Option<(String, Option<SystemTime>)>),
    /// A message handed over (`Command::Enqueue`) could not be stored: its Message-ID and draft
    /// go back to whoever asked, so it is not lost.
    NotQueued {
        message_id: String,
        draft: Option<String>,
        error: OutboxError,
    },
}

/// The most message bytes one run holds in memory; a larger queue goes in several runs.
pub const BATCH_BYTES: u64 = 64 * 1024 * 1024;

/// How often `watch` looks for messages another process queued, and probes an offline server.
pub const POLL: Duration = Duration::from_secs(5);
pub const OFFLINE_PROBE: Duration = Duration::from_secs(15);

/// How long `watch` waits after the n-th outbox error in a row: 30 s, doubling, at most 10 min.
fn local_backoff(n: u32) -> Duration {
    Duration::from_secs(30u64.saturating_mul(1 << n.saturating_sub(1).min(5)).min(600))
}

/// What the engine is doing, or waiting for, with the data each needs. Every change of state is
/// in `Phase::next`; `watch` does the I/O around it.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Waiting for a message to fall due, a command or the network.
    Idle,
    /// A flush runs (`force`: the user asked). `failures`: outbox errors in a row before it.
    Sending { force: bool, failures: u32 },
    /// 「POP 認証」 runs.
    LoggingIn,
    /// The queue is paused under these settings (wrong password, untrusted certificate, …):
    /// nothing is sent until the user asks or the settings change.
    Paused(Pause),
    /// The outbox could not be written: nothing is tried before `until`.
    BackingOff { until: SystemTime, failures: u32 },
    /// Another popsend process holds the send lock: look again at `until`.
    HeldOff { until: SystemTime },
    /// No password was found: nothing is tried by itself (the window asks for one; a new one
    /// starts a new engine). What the user asks for still runs, and says so.
    NoPassword,
}

/// A job `watch` runs while it goes on reading commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Flush { force: bool },
    Login,
}

/// What happened, as far as the state is concerned.
#[derive(Debug)]
pub enum Occurred<'a> {
    Started(Job),
    Flushed(&'a Result<Flushed, OutboxError>),
    /// `no_password`: it did not run for want of a password.
    LoginEnded {
        no_password: bool,
    },
    /// Looked at the outbox: paused under these settings, or not.
    PauseSeen(Option<Pause>),
}

impl Phase {
    /// The one transition function: (state, what happened) → state. Pure; `now` for deadlines.
    pub fn next(self, occurred: Occurred<'_>, now: SystemTime) -> Phase {
        match (self, occurred) {
            (Phase::BackingOff { failures, .. }, Occurred::Started(Job::Flush { force })) => {
                Phase::Sending { force, failures }
            }
            (_, Occurred::Started(Job::Flush { force })) => Phase::Sending { force, failures: 0 },
            (_, Occurred::Started(Job::Login)) => Phase::LoggingIn,
            (Phase::Sending { .. }, Occurred::Flushed(Ok(f))) if matches!(f.stopped, Some(RunError::NoPassword)) => {
                Phase::NoPassword
            }
            (Phase::Sending { .. }, Occurred::Flushed(Ok(f))) if f.busy => Phase::HeldOff { until: now + POLL },
            (Phase::Sending { .. }, Occurred::Flushed(Ok(f))) => match &f.paused {
                Some(p) => Phase::Paused(p.clone()),
                None => Phase::Idle,
            },
            // The outbox cannot be written (disk full, read-only, locked): wait, longer each
            // time, instead of looping on it.
            (Phase::Sending { failures, .. }, Occurred::Flushed(Err(_))) => {
                let failures = failures.saturating_add(1);
                Phase::BackingOff { until: now + local_backoff(failures), failures }
            }
            (Phase::LoggingIn, Occurred::LoginEnded { no_password: true }) => Phase::NoPassword,
            (Phase::LoggingIn, Occurred::LoginEnded { .. }) => Phase::Idle,
            (Phase::Idle, Occurred::PauseSeen(Some(p))) => Phase::Paused(p),
            (Phase::Paused(_), Occurred::PauseSeen(None)) => Phase::Idle,
            (Phase::HeldOff { until }, _) if now >= until => Phase::Idle,
            (s, _) => s,
        }
    }

    /// The job to start now, if any: what the user asked for first (it lifts a pause, a
    /// backoff or a hold), else a flush when a message is due and nothing holds the engine back.
    /// Never a second job while one runs.
    pub fn job(&self, asked: Option<Job>, due: bool, now: SystemTime) -> Option<Job> {
        match self {
            Phase::Sending { .. } | Phase::LoggingIn => None,
            _ if asked.is_some() => asked,
            Phase::Paused(_) | Phase::NoPassword => None,
            Phase::BackingOff { until, .. } | Phase::HeldOff { until } if now < *until => None,
            _ => due.then_some(Job::Flush { force: false }),
        }
    }

    /// How long to wait with no command or network change: until the next due time or the
    /// state's deadline, at most the poll for messages other processes queue.
    fn wait(&self, next_due: Option<SystemTime>, now: SystemTime) -> Duration {
        let until = |t: SystemTime| t.duration_since(now).unwrap_or(Duration::ZERO);
        match self {
            Phase::BackingOff { until: t, .. } | Phase::HeldOff { until: t } => until(*t),
            Phase::Paused(_) | Phase::NoPassword => POLL,
            _ => next_due.map_or(POLL, |t| until(t).min(POLL)),
        }
    }

    fn activity(&self, waiting: usize) -> Activity {
        match self {
            Phase::Sending { .. } => Activity::Sending(waiting),
            Phase::LoggingIn => Activity::LoggingIn,
            _ => Activity::Idle,
        }
    }
}

/// What a running job gives back.
enum Done {
    Flushed(Box<Result<Flushed, OutboxError>>),
    Login(Result<crate::protocol::pop3::Login, RunError>),
}

type Running<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Done> + 'a>>;

/// The engine's loop. Runs until `Command::Shutdown` (or the channel closes): flushes due
/// messages, wakes network-bound ones on interface changes or when the POP server answers again,
/// and carries out commands — also while a flush or a login runs (a long send does not hold up
/// 削除, 編集 or a new message; 今すぐ送信 and 「POP 認証」 asked meanwhile run next). The flag in
/// `d.stop` lets a flush in progress finish its current message and stop.
pub async fn watch(
    outbox: &Outbox,
    d: &Deliverer<'_>,
    mut commands: mpsc::Receiver<Command>,
    mut on_event: impl FnMut(Event),
) {
    // Interface changes, where the platform can tell; polling and probing cover the rest.
    let mut ifs = if_watch::tokio::IfWatcher::new().ok();
    let mut network = Network::new(d.clock.now());
    let mut reach = Reach::Unknown;
    let mut state = if d.password.is_some() { Phase::Idle } else { Phase::NoPassword };
    let mut wanted = Wanted::Nothing;
    let mut job: Option<Running<'_>> = None;
    let snapshot = |state: &Phase, reach: Reach, on_event: &mut dyn FnMut(Event)| match take_snapshot(
        outbox,
        d,
        state,
        reach.online(),
    ) {
        Ok(s) => on_event(Event::Snapshot(s)),
        Err(e) => on_event(Event::Error(e)),
    };
    snapshot(&state, reach, &mut on_event);
    loop {
        let now = d.clock.now();
        if job.is_none() {
            if wanted == Wanted::Stop || d.stop.is_some_and(|s: &AtomicBool| s.load(Ordering::SeqCst)) {
                return;
            }
            // A queue paused under these settings waits for the user (FlushNow, Retry) or new
            // settings; its messages stay due, so without this the loop would spin.
            let paused = outbox.paused().ok().flatten().filter(|p| p.config == d.config.fingerprint);
            state = state.next(Occurred::PauseSeen(paused), now);
            let due = matches!(outbox.next_due(), Ok(Some(t)) if t <= now);
            if let Some(next) = state.job(wanted.job(), due, now) {
                wanted = Wanted::Nothing;
                state = state.next(Occurred::Started(next), now);
                job = Some(match next {
                    Job::Flush { force } => {
                        Box::pin(async move { Done::Flushed(Box::new(flush(outbox, d, force).await)) })
                    }
                    Job::Login => Box::pin(async move { Done::Login(d.login_only().await) }),
                });
                snapshot(&state, reach, &mut on_event);
            }
        }
        let wait = state.wait(outbox.next_due().ok().flatten(), now);
        // What this turn heard: an interface came or went (the relay window, per source address,
        // may be gone with it), the network may be back, something a view shows changed.
        let (mut address_changed, mut changed) = (false, false);
        tokio::select! {
            done = async { match job.as_mut() { Some(j) => j.await, None => std::future::pending().await } } => {
                job = None;
                changed = true;
                reach = reach.after(&done);
                match done {
                    Done::Flushed(result) => {
                        state = state.next(Occurred::Flushed(&result), d.clock.now());
                        match *result {
                            Ok(f) => on_event(Event::Flushed(f)),
                            Err(e) => on_event(Event::Error(e)),
                        }
                    }
                    Done::Login(result) => {
                        let no_password = matches!(result, Err(RunError::NoPassword));
                        state = state.next(Occurred::LoginEnded { no_password }, d.clock.now());
                        match result {
                            Ok(login) => on_event(Event::LoggedIn(login)),
                            Err(e) => on_event(Event::LoginFailed(e)),
                        }
                    }
                }
            }
            _ = d.clock.sleep(wait), if job.is_none() => {}
            cmd = commands.recv(), if wanted != Wanted::Stop => {
                changed = true;
                match cmd {
                    // A job in flight ends first (with `d.stop` set, after its current message).
                    None | Some(Command::Shutdown) => wanted = wanted.ask(Ask::Stop),
                    Some(Command::FlushNow) => wanted = wanted.ask(Ask::Flush),
                    Some(Command::LoginNow) => wanted = wanted.ask(Ask::Login),
                    Some(Command::NetworkChanged) => address_changed = true,
                    Some(Command::Refresh) => {}
                    Some(Command::Enqueue { outgoing, subject, to, draft, send_at }) => {
                        let now = d.clock.now();
                        if let Err(error) = outbox.enqueue_at(&outgoing, &subject, &to, draft.as_deref(), send_at, now)
                        {
                            on_event(Event::NotQueued { message_id: outgoing.message_id.clone(), draft, error });
                        }
                    }
                    Some(Command::Edit(id)) => match outbox.take_draft(id) {
                        Ok(draft) => on_event(Event::Edited(id, draft)),
                        Err(e) => on_event(Event::Error(e)),
                    },
                    Some(Command::Retry(id)) => match outbox.retry(id, d.clock.now()) {
                        Ok(_) => wanted = wanted.ask(Ask::Flush),
                        Err(e) => on_event(Event::Error(e)),
                    },
                    Some(Command::Delete(id)) => {
                        if let Err(e) = outbox.delete(id) {
                            on_event(Event::Error(e));
                        }
                    }
                }
            },
            Some(_) = async { match ifs.as_mut() { Some(w) => w.next().await, None => std::future::pending().await } } => {
                address_changed = network.interface_event(d.clock.now());
            }
        }
        if address_changed {
            d.forget_window();
        }
        let now = d.clock.now();
        // The probe only says the server answers again, which changes no address.
        let back = address_changed
            || (job.is_none() && network.probe_due(now) && waiting_for_network(outbox) && server_answers(d).await);
        if back && network.wake(now) {
            match outbox.wake(&network_kinds(), now) {
                Ok(0) => {}
                Ok(n) => {
                    changed = true;
                    on_event(Event::Woken(n));
                }
                Err(e) => on_event(Event::Error(e)),
            }
        }
        if changed {
            snapshot(&state, reach, &mut on_event);
        }
    }
}

/// What the user asked of `watch` that has not started yet. `ask` is its one change (and a job
/// starting clears it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Nothing,
    Job(Job),
    /// Shutdown (or the commands ended): no job starts, the one in flight ends first.
    Stop,
}

/// A command's ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    /// 今すぐ送信, 再送.
    Flush,
    /// 「POP 認証」.
    Login,
    Stop,
}

impl Wanted {
    /// A stop stays; a flush asked replaces a login asked (it logs in too); a login asked does
    /// not replace a flush asked.
    fn ask(self, ask: Ask) -> Wanted {
        match (self, ask) {
            (Wanted::Stop, _) | (_, Ask::Stop) => Wanted::Stop,
            (_, Ask::Flush) => Wanted::Job(Job::Flush { force: true }),
            (Wanted::Nothing, Ask::Login) => Wanted::Job(Job::Login),
            (w, Ask::Login) => w,
        }
    }

    fn job(self) -> Option<Job> {
        match self {
            Wanted::Job(j) => Some(j),
            _ => None,
        }
    }
}

/// Whether the servers were reached, as the last job that tried found: `after` is its one
/// change. A run without a password tried nothing, and an outbox error reached nothing: what
/// was known stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Unknown,
    Reached,
    Unreachable,
}

impl Reach {
    fn after(self, done: &Done) -> Reach {
        let stopped = match done {
            Done::Flushed(result) => match result.as_ref() {
                Ok(f) => f.stopped.as_ref(),
                Err(_) => return self,
            },
            Done::Login(Ok(_)) => None,
            Done::Login(Err(e)) => Some(e),
        };
        match stopped {
            Some(RunError::NoPassword) => self,
            Some(e) if classify(e).unreachable() => Reach::Unreachable,
            _ => Reach::Reached,
        }
    }

    fn online(self) -> Option<bool> {
        match self {
            Reach::Unknown => None,
            Reach::Reached => Some(true),
            Reach::Unreachable => Some(false),
        }
    }
}

/// When the network last seemed to come back, and when the POP server was last probed for it.
struct Network {
    /// The interface watcher first reports every address the machine already has, as it learns
    /// them: those are not changes (taken as changes, each woke the queue and cost an attempt).
    settled: SystemTime,
    last_wake: Option<SystemTime>,
    last_probe: SystemTime,
}

impl Network {
    fn new(now: SystemTime) -> Network {
        Network {
            settled: now + Duration::from_secs(3),
            last_wake: None,
            // The first probe comes at once: started again once the network is back (a
            // restart, a login), what waits for the network goes now rather than after the
            // first interval.
            last_probe: now.checked_sub(OFFLINE_PROBE).unwrap_or(std::time::UNIX_EPOCH),
        }
    }

    /// An interface came or went: a change, once the first report is over.
    fn interface_event(&self, now: SystemTime) -> bool {
        now >= self.settled
    }

    /// Whether to probe the POP server now: at most once per `OFFLINE_PROBE`.
    fn probe_due(&mut self, now: SystemTime) -> bool {
        let due = now.duration_since(self.last_probe).unwrap_or(Duration::ZERO) >= OFFLINE_PROBE;
        if due {
            self.last_probe = now;
        }
        due
    }

    /// The network seems back: whether to wake what waits for it. Several interfaces change at
    /// once on a reconnect: one wake for the burst (2 s).
    fn wake(&mut self, now: SystemTime) -> bool {
        if self.last_wake.is_some_and(|w| now.duration_since(w).unwrap_or(Duration::ZERO) < Duration::from_secs(2)) {
            return false;
        }
        self.last_wake = Some(now);
        true
    }
}

fn take_snapshot(
    outbox: &Outbox,
    d: &Deliverer<'_>,
    state: &Phase,
    online: Option<bool>,
) -> Result<Snapshot, OutboxError> {
    let counts = outbox.counts()?;
    Ok(Snapshot {
        counts,
        window: d.current_window(),
        online,
        // 「送信中 (n 通)」: what this run may send, not what waits for a later time.
        activity: state.activity(outbox.count_due(d.clock.now())? + counts.sending),
        paused: outbox.paused()?,
        next_attempt: outbox.next_due()?,
    })
}

fn network_kinds() -> Vec<Kind> {
    Kind::ALL.iter().copied().filter(|k| k.network_may_cure()).collect()
}

fn waiting_for_network(outbox: &Outbox) -> bool {
    outbox.any_queued_with(&network_kinds()).unwrap_or(false)
}

/// A cheap reachability probe: does the POP port accept a TCP connection? (No login.)
async fn server_answers(d: &Deliverer<'_>) -> bool {
    let p = &d.config.pop;
    let Ok(addrs) = net::resolve(&p.host, p.port(), Duration::from_secs(5)).await else { return false };
    let addrs: Vec<SocketAddr> = addrs.into_iter().take(4).collect();
    net::connect(&addrs, Duration::from_secs(5)).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::kind::{Described, Kind};

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn pause() -> Pause {
        Pause { error: Described::local(Kind::WrongPassword, "-ERR"), config: "f".into() }
    }

    fn outbox_error() -> Result<Flushed, OutboxError> {
        Err(OutboxError { path: "outbox.sqlite".into(), detail: "database or disk is full".into() })
    }

    /// After outbox errors the engine waits 30 s, 60 s, … at most 10 min; a success resets it,
    /// and the user asking goes ahead at once.
    #[test]
    fn outbox_errors_back_off_and_never_loop() {
        let mut now = t0();
        let mut s = Phase::Idle;
        let mut waits = Vec::new();
        for _ in 0..7 {
            assert_eq!(s.job(None, true, now), Some(Job::Flush { force: false }), "{s:?}");
            s = s.next(Occurred::Started(Job::Flush { force: false }), now);
            assert_eq!(s.job(None, true, now), None, "a second job while one runs");
            s = s.next(Occurred::Flushed(&outbox_error()), now);
            let Phase::BackingOff { until, .. } = s else { panic!("{s:?}") };
            waits.push(until.duration_since(now).unwrap().as_secs());
            // Still due, but nothing starts before the deadline…
            assert_eq!(s.job(None, true, now), None);
            assert_eq!(s.job(None, true, until - Duration::from_secs(1)), None);
            assert_eq!(
                s.wait(Some(now), now),
                until.duration_since(now).unwrap(),
                "due messages cut the backoff short"
            );
            // …and it starts at the deadline, with the count kept.
            now = until;
        }
        assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(
            s.job(Some(Job::Flush { force: true }), true, now),
            Some(Job::Flush { force: true }),
            "the user asking waits for nothing"
        );
        s = s.next(Occurred::Started(Job::Flush { force: false }), now);
        s = s.next(Occurred::Flushed(&Ok(Flushed::default())), now);
        assert_eq!(s, Phase::Idle);
        s = s.next(Occurred::Started(Job::Flush { force: false }), now);
        s = s.next(Occurred::Flushed(&outbox_error()), now);
        assert_eq!(
            s,
            Phase::BackingOff { until: now + Duration::from_secs(30), failures: 1 },
            "a success resets the count"
        );
    }

    /// A pause holds everything until the user asks or it lifts; another process sending holds
    /// the engine for one poll.
    #[test]
    fn a_pause_and_a_busy_outbox_hold_the_engine_back() {
        let now = t0();
        let s = Phase::Idle.next(Occurred::PauseSeen(Some(pause())), now);
        assert_eq!(s, Phase::Paused(pause()));
        assert_eq!(s.job(None, true, now), None, "a paused queue flushed by itself");
        assert_eq!(s.wait(Some(now), now), POLL, "a paused queue with due messages spun");
        assert_eq!(s.job(Some(Job::Login), true, now), Some(Job::Login));
        assert_eq!(s.clone().next(Occurred::PauseSeen(None), now), Phase::Idle);
        let flushed = Ok(Flushed { paused: Some(pause()), ..Flushed::default() });
        assert_eq!(
            Phase::Sending { force: false, failures: 0 }.next(Occurred::Flushed(&flushed), now),
            Phase::Paused(pause())
        );

        let busy = Ok(Flushed { busy: true, ..Flushed::default() });
        let s = Phase::Sending { force: false, failures: 0 }.next(Occurred::Flushed(&busy), now);
        assert_eq!(s, Phase::HeldOff { until: now + POLL });
        assert_eq!(s.job(None, true, now), None);
        assert_eq!(s.clone().next(Occurred::PauseSeen(None), now + POLL), Phase::Idle);
        let s = Phase::LoggingIn;
        assert_eq!(s.job(Some(Job::Flush { force: true }), true, now), None, "a flush beside a login");
        assert_eq!(s.next(Occurred::LoginEnded { no_password: false }, now), Phase::Idle);
    }
}
