//! The engine's loop driven by commands, as the GUI will drive it: enqueue → it sends by itself;
//! login now; delete; shut down. Scripted peers; a real outbox file.

use std::cell::RefCell;
use std::path::Path;
use std::time::{Duration, SystemTime};

use popsend::core::message::compose::Outgoing;
use popsend::core::message::compose::{self, Draft};
use popsend::core::protocol::net::TrustAnchors;
use popsend::core::sending::deliver::Deliverer;
use popsend::core::sending::engine::{self, Activity, Command, Event};
use popsend::core::sending::knowledge;
use popsend::core::sending::outbox::Outbox;
use popsend::core::setup::account::Config;
use popsend::core::system::clock::TokioClock;
use popsend::core::system::secrets::Password;
use tokio::sync::mpsc;

use crate::scripted::{Peer, Pop, Smtp, pop, smtp};

fn outgoing() -> Box<Outgoing> {
    let d = Draft {
        from_address: "student@example.ac.jp".into(),
        to: vec!["a@example.net".into()],
        subject: "件名".into(),
        ..Draft::default()
    };
    let b = compose::build(&d, SystemTime::now()).unwrap();
    Box::new(b)
}

/// An account on freshly started scripted peers (POP answering PASS after `pass_delay`, SMTP
/// taking everything); the peers note what they hear.
fn scripted(pass_delay: Duration) -> (Config, Peer, Peer) {
    let pop = pop(Pop { delay: pass_delay, ..Pop::answering("+OK") });
    let smtp = smtp(Smtp::default());
    let (pop_port, smtp_port) = (pop.port, smtp.port);
    let text = format!(
        "[account]\naddress = \"student@example.ac.jp\"\n[pop]\nhost = \"127.0.0.1\"\nport = {pop_port}\nusername = \"s\"\nauth = \"user\"\nallow_plaintext_password = true\n[smtp]\nport = {smtp_port}\n"
    );
    (Config::parse(&text, Path::new("engine.toml")).unwrap(), pop, smtp)
}

/// Runs `watch` over `ob` (state in `dir`) while `drive` sends it commands, then shuts it down;
/// a hang fails the test after `limit` of tokio's time (which a paused test's runtime skips
/// through). The engine's one time source follows tokio's. Returns every event.
async fn with_engine(
    config: &Config,
    ob: &Outbox,
    dir: &Path,
    password: Option<&Password>,
    limit: Duration,
    drive: impl AsyncFnOnce(&Deliverer<'_>, &mpsc::Sender<Command>, &RefCell<Vec<Event>>),
) -> Vec<Event> {
    let trust = TrustAnchors::default();
    let store = knowledge::Store::new(dir);
    let clock = TokioClock::new();
    let d = Deliverer::new(config, password, &trust, &store, &clock);
    let (tx, rx) = mpsc::channel(8);
    let events = RefCell::new(Vec::new());
    let engine = engine::watch(ob, &d, rx, |e| events.borrow_mut().push(e));
    let driver = async {
        drive(&d, &tx, &events).await;
        tx.send(Command::Shutdown).await.unwrap();
    };
    tokio::time::timeout(limit, async { tokio::join!(engine, driver) }).await.expect("the engine did not stop");
    events.into_inner()
}

#[tokio::test]
async fn commands_drive_the_engine_and_snapshots_follow() {
    let (config, _pop, _smtp) = scripted(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(dir.path()).unwrap();
    let password = Password::new("pw".into());
    let events = with_engine(&config, &ob, dir.path(), Some(&password), Duration::from_secs(30), async |d, tx, events| {
        let wait_for = |pred: &dyn Fn(&Event) -> bool| events.borrow().iter().any(pred);
        tx.send(Command::Enqueue { outgoing: outgoing(), subject: "件名".into(), to: "a@example.net".into(), draft: None, send_at: None }).await.unwrap();
        for _ in 0..100 {
            if wait_for(&|e| matches!(e, Event::Flushed(f) if f.sent.len() == 1)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(wait_for(&|e| matches!(e, Event::Flushed(f) if f.sent.len() == 1)), "the enqueued message was not sent by itself");
        assert!(wait_for(&|e| matches!(e, Event::Snapshot(s) if s.activity == Activity::Sending(1))));
        assert!(wait_for(&|e| matches!(e, Event::Snapshot(s) if s.counts.sent == 1 && s.activity == Activity::Idle && s.window.is_some() && s.online == Some(true))));

        tx.send(Command::LoginNow).await.unwrap();
        for _ in 0..100 {
            if wait_for(&|e| matches!(e, Event::LoggedIn(_))) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(wait_for(&|e| matches!(e, Event::LoggedIn(_))), "LoginNow did not log in");

        // The network changes: the window opened from the old address is forgotten.
        assert!(d.current_window().is_some());
        tx.send(Command::NetworkChanged).await.unwrap();
        for _ in 0..100 {
            if d.current_window().is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(d.current_window().is_none(), "the relay window survived a network change");
        assert!(wait_for(&|e| matches!(e, Event::Snapshot(s) if s.window.is_none() && s.counts.sent == 1)), "no snapshot without the window");

        let id = ob.list(&[popsend::core::sending::outbox::Status::Sent], 1).unwrap()[0].id;
        tx.send(Command::Delete(id)).await.unwrap();
        for _ in 0..100 {
            if ob.get(id).unwrap().is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ob.get(id).unwrap().is_none(), "Delete did not delete");
    })
    .await;
    assert!(events.iter().any(|e| matches!(e, Event::Snapshot(s) if s.counts.sent == 0 && s.counts.queued == 0)));
}

/// A queue paused under the current settings (e.g. a wrong password) keeps its messages due but
/// must not be flushed again and again: the loop waits for a command. Before the fix it spun at
/// 100 % CPU and never read its commands, so this runs on its own thread with a deadline. Ten
/// minutes of the engine's time pass in no time: the runtime's clock is paused, and the engine's
/// clock follows it.
#[test]
fn a_paused_queue_waits_instead_of_spinning() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        let flushes = rt.block_on(async {
            let text = "[account]\naddress = \"student@example.ac.jp\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"s\"\n[smtp]\nport = 1\n";
            let config = Config::parse(text, Path::new("paused.toml")).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let ob = Outbox::open(dir.path()).unwrap();
            let out = outgoing();
            ob.enqueue(&out, "件名", "a@example.net", SystemTime::now()).unwrap();
            let error = popsend::core::problem::kind::Described { kind: popsend::core::problem::kind::Kind::WrongPassword, reply: Some("-ERR [AUTH] no".into()), detail: String::new() };
            ob.pause(&popsend::core::sending::outbox::Pause { error, config: config.fingerprint.clone() }).unwrap();
            let password = Password::new("pw".into());
            let trust = TrustAnchors::default();
            let store = knowledge::Store::new(dir.path());
            let clock = TokioClock::new();
            let d = Deliverer::new(&config, &password, &trust, &store, &clock);
            let (tx, rx) = mpsc::channel(8);
            let flushes = RefCell::new(0usize);
            let engine = engine::watch(&ob, &d, rx, |e| {
                if matches!(e, Event::Flushed(_)) {
                    *flushes.borrow_mut() += 1;
                }
            });
            let driver = async {
                tokio::time::sleep(Duration::from_secs(600)).await;
                tx.send(Command::Shutdown).await.unwrap();
            };
            tokio::join!(engine, driver);
            flushes.into_inner()
        });
        let _ = done_tx.send(flushes);
    });
    let flushes = done_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the engine never read its Shutdown command (busy loop on a paused queue)");
    assert!(flushes <= 1, "{flushes} flushes of a paused queue in ten minutes");
}

/// Commands are read while a flush runs: a message deleted or taken back for editing during the
/// POP login (the batch was already read) does not go, and 編集 answers before the flush ends.
#[tokio::test]
async fn commands_are_heard_while_a_flush_runs_and_a_withdrawn_message_does_not_go() {
    let (config, _pop, smtp) = scripted(Duration::from_millis(1500));
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(dir.path()).unwrap();
    let now = SystemTime::now();
    let a = ob.enqueue(&outgoing(), "A", "a@example.net", now).unwrap();
    let b = ob.enqueue(&outgoing(), "B", "a@example.net", now).unwrap();
    let c = ob.enqueue_with_draft(&outgoing(), "C", "a@example.net", Some("to = \"a@example.net\"\n"), now).unwrap();
    let password = Password::new("pw".into());
    let events =
        with_engine(&config, &ob, dir.path(), Some(&password), Duration::from_secs(30), async |_, tx, events| {
            let position = |pred: &dyn Fn(&Event) -> bool| events.borrow().iter().position(pred);
            for _ in 0..100 {
                if position(&|e| matches!(e, Event::Snapshot(s) if matches!(s.activity, Activity::Sending(_))))
                    .is_some()
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(
                position(&|e| matches!(e, Event::Snapshot(s) if matches!(s.activity, Activity::Sending(_)))).is_some(),
                "no flush started"
            );
            tx.send(Command::Delete(b)).await.unwrap();
            tx.send(Command::Edit(c)).await.unwrap();
            for _ in 0..200 {
                if position(&|e| matches!(e, Event::Flushed(_))).is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let edited =
                position(&|e| matches!(e, Event::Edited(id, Some(_)) if *id == c)).expect("編集 got no answer");
            let flushed = position(&|e| matches!(e, Event::Flushed(_))).expect("the flush did not end");
            assert!(edited < flushed, "編集 waited for the flush to end");
        })
        .await;
    let sent: Vec<i64> = events
        .iter()
        .flat_map(|e| match e {
            Event::Flushed(f) => f.sent.iter().map(|(id, _)| *id).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(sent, vec![a], "only the message still waiting goes");
    assert_eq!(smtp.noted("message"), 1);
    assert!(ob.get(b).unwrap().is_none() && ob.get(c).unwrap().is_none());
}

/// Without a password nothing logs in — no server sees an empty password, no attempt is
/// counted, no pause is written — and 今すぐ送信 says why instead of trying. Ten minutes of the
/// engine's time (its polls, its probes) pass in no time: the runtime's clock is paused.
#[tokio::test(start_paused = true)]
async fn without_a_password_nothing_logs_in_and_asking_says_why() {
    let (config, pop, smtp) = scripted(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(dir.path()).unwrap();
    let id = ob.enqueue(&outgoing(), "件名", "a@example.net", SystemTime::now()).unwrap();
    let events = with_engine(&config, &ob, dir.path(), None, Duration::from_secs(3600), async |d, tx, events| {
        let before = d.clock.now();
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert!(
            d.clock.now().duration_since(before).unwrap() >= Duration::from_secs(600),
            "the engine's clock did not follow"
        );
        assert!(
            !events.borrow().iter().any(|e| matches!(e, Event::Flushed(_))),
            "it tried by itself without a password"
        );
        tx.send(Command::FlushNow).await.unwrap();
        tx.send(Command::LoginNow).await.unwrap();
        for _ in 0..100 {
            if events.borrow().iter().any(|e| matches!(e, Event::LoginFailed(_))) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(events.iter().any(|e| matches!(e, Event::Flushed(f) if matches!(f.stopped, Some(popsend::core::problem::run_error::RunError::NoPassword)))), "{events:?}");
    assert!(
        events.iter().any(|e| matches!(e, Event::LoginFailed(popsend::core::problem::run_error::RunError::NoPassword))),
        "{events:?}"
    );
    assert_eq!((pop.connections(), smtp.connections()), (0, 0), "a server was contacted");
    let (row, _) = ob.get(id).unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (popsend::core::sending::outbox::Status::Queued, 0));
    assert_eq!(ob.paused().unwrap(), None);
}

/// 送信予約: a timed message is not sent before its time, not even by a forced flush (今すぐ送信),
/// and is sent by a flush at its time — on pinned clocks, against scripted servers that note
/// every MAIL FROM.
#[tokio::test]
async fn a_timed_message_is_not_sent_before_its_time_and_is_at_it() {
    use popsend::core::system::clock::FixedClock;
    let (config, _pop, smtp) = scripted(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(dir.path()).unwrap();
    let now = SystemTime::now();
    let at = now + Duration::from_secs(3600);
    let id = ob.enqueue_at(&outgoing(), "予約", "a@example.net", None, Some(at), now).unwrap();
    let password = Password::new("pw".into());
    let trust = TrustAnchors::default();
    let store = knowledge::Store::new(dir.path());
    for (clock, forced) in
        [(FixedClock(now), false), (FixedClock(now), true), (FixedClock(at - Duration::from_secs(1)), true)]
    {
        let d = Deliverer::new(&config, Some(&password), &trust, &store, &clock);
        let f = engine::flush(&ob, &d, forced).await.unwrap();
        assert!(f.sent.is_empty(), "sent early (forced: {forced}): {f:?}");
        assert_eq!(smtp.noted("MAIL"), 0);
    }
    let clock = FixedClock(at);
    let d = Deliverer::new(&config, Some(&password), &trust, &store, &clock);
    let f = engine::flush(&ob, &d, false).await.unwrap();
    assert_eq!(f.sent.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [id], "{f:?}");
    assert_eq!(smtp.noted("message"), 1);
}
