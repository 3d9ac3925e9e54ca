//! Where a handed-over message goes: into the outbox (committed and synced before the program
//! hears 250, one copy when a program hands the same message over again), then the engine is
//! woken and the session waits for the message's fate in the next flush.

use std::time::Duration;

use super::*;

/// The store `accept` needs, into `outbox` (a connection of the server's own): the message as
/// the program sent it (`submission::prepare`), committed before the program hears 250; then
/// `nudge` wakes the engine to send it.
pub fn outbox_store(
    outbox: std::sync::Arc<std::sync::Mutex<crate::sending::outbox::Outbox>>,
    account: String,
    nudge: impl Fn() + Send + Sync + 'static,
) -> std::sync::Arc<StoreFn> {
    use crate::message::submission::{self, Handover};
    // Synced before 250: the program deletes its copy when it hears it.
    let synced = outbox.lock().map(|o| o.sync_every_commit().is_ok()).unwrap_or(false);
    std::sync::Arc::new(
        move |from: Option<&str>, to: &[String], raw: &[u8], client: &str| -> Result<Stored, NotStored> {
            let failed = |e: String| NotStored::Failed(e);
            if !synced {
                return Err(failed("the outbox cannot be made to sync each message to disk".into()));
            }
            let handed = Handover { from, full_name: None, recipients: to, from_headers: false };
            let now = std::time::SystemTime::now();
            let p = submission::prepare(raw, &handed, &account, now).map_err(|e| NotStored::Refused(e.to_string()))?;
            let outbox = outbox.lock().map_err(|_| failed("the outbox is not usable".to_owned()))?;
            // Handed over again (a program that lost the answer tries again): one copy is enough.
            let since = now.checked_sub(AGAIN_WITHIN).unwrap_or(std::time::UNIX_EPOCH);
            if let Some((id, sent)) = outbox.earlier_copy(&p.outgoing, since).map_err(|e| failed(e.to_string()))? {
                return Ok(Stored::Again { id, sent });
            }
            // The program's own name for itself, as much as a list line has room for.
            let via: String = if client.is_empty() { "?".into() } else { client.chars().take(64).collect() };
            let id =
                outbox.enqueue_via(&p.outgoing, &p.subject, &p.to, &via, now).map_err(|e| failed(e.to_string()))?;
            nudge();
            Ok(Stored::New(id))
        },
    )
}

/// How long a message handed over is recognised when the same program hands it over again.
pub(super) const AGAIN_WITHIN: Duration = Duration::from_secs(24 * 3600);

/// `after` for the server: wakes the engine with `nudge` and waits (at most `wait`) for the
/// first flush that ends; the message's fate in it is the verdict. A permanent refusal is taken
/// out of the outbox, since the program keeps the message and the error.
pub fn try_now(
    outbox: std::sync::Arc<std::sync::Mutex<crate::sending::outbox::Outbox>>,
    flushed: tokio::sync::broadcast::Sender<Fates>,
    nudge: std::sync::Arc<dyn Fn() + Send + Sync>,
    wait: Duration,
) -> std::sync::Arc<AfterFn> {
    std::sync::Arc::new(move |id: i64| {
        // Listening before the nudge: the flush cannot end unseen.
        let mut rx = flushed.subscribe();
        nudge();
        let outbox = outbox.clone();
        Box::pin(async move {
            let fates = loop {
                match tokio::time::timeout(wait, rx.recv()).await {
                    Ok(Ok(f)) => break f,
                    Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                    _ => return Verdict::Queued,
                }
            };
            if fates.sent.contains(&id) {
                return Verdict::Sent;
            }
            match fates.failed.into_iter().find(|(i, _)| *i == id) {
                Some((_, reply)) => {
                    if let Ok(ob) = outbox.lock() {
                        let _ = ob.delete(id);
                    }
                    Verdict::Refused { reply }
                }
                None => Verdict::Queued,
            }
        })
    })
}

/// What one flush did, by outbox number: sent, and refused for good (with the server's reply).
#[derive(Debug, Clone, Default)]
pub struct Fates {
    pub sent: Vec<i64>,
    pub failed: Vec<(i64, String)>,
}

impl Fates {
    pub fn of(f: &crate::sending::engine::Flushed) -> Fates {
        Fates {
            sent: f.sent.iter().map(|(id, _)| *id).collect(),
            failed: f
                .failed
                .iter()
                .map(|(id, _, e)| (*id, e.reply.clone().unwrap_or_else(|| e.detail.clone())))
                .collect(),
        }
    }
}
