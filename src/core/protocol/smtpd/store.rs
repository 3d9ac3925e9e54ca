//! Where a handed-over message goes: into the outbox (committed and synced before the program
//! hears 250, one copy when a program hands the same message over again), then the engine is
//! woken and the session waits for the message's fate in the next flush.

use std::time::Duration;

use super::*;

/// The store `accept` needs, into `outbox` (a connection of the server's own): the message as
/// the program sent it (`submission::prepare`), committed before the program hears 250; then
/// `nudge` wakes the engine to send it.
/// `index` is the account's (`Account::index`), given back with each stored message.
pub fn outbox_store(
    outbox: std::sync::Arc<std::sync::Mutex<crate::sending::outbox::Outbox>>,
    account: String,
    index: usize,
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
            Ok(Stored::New { id, account: index })
        },
    )
}

/// Several accounts behind one server: each message goes to the store of the account whose
/// address (`addresses[i]`, for `stores[i]`) is its envelope sender, or else its From line; one
/// that is neither is refused (550) naming the addresses there are, and nothing is stored.
/// `any_sender` (the file has one account only): every message is that account's, whatever its
/// sender, as before there were several.
pub fn routed_store(
    addresses: Vec<String>,
    stores: Vec<std::sync::Arc<StoreFn>>,
    any_sender: bool,
) -> std::sync::Arc<StoreFn> {
    std::sync::Arc::new(move |from: Option<&str>, to: &[String], raw: &[u8], client: &str| {
        let i = match (stores.len(), any_sender) {
            (1, true) => 0,
            _ => {
                let of = |a: &str| addresses.iter().position(|x| x.eq_ignore_ascii_case(a.trim()));
                from.and_then(of)
                    .or_else(|| header_from(raw).as_deref().and_then(of))
                    .ok_or_else(|| NotStored::UnknownSender(addresses.join(", ")))?
            }
        };
        stores[i](from, to, raw, client)
    })
}

/// The address of the From line of `raw`'s header (folded lines joined), if it has one.
pub fn header_from(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let header = text.split("\r\n\r\n").next().unwrap_or("").split("\n\n").next().unwrap_or("");
    let mut value: Option<String> = None;
    for line in header.lines() {
        let line = line.trim_end_matches('\r');
        match &mut value {
            Some(v) if line.starts_with([' ', '\t']) => v.push_str(line),
            Some(_) => break,
            None => {
                if let Some((name, rest)) = line.split_once(':')
                    && name.trim().eq_ignore_ascii_case("from")
                {
                    value = Some(rest.to_owned());
                }
            }
        }
    }
    let v = value?;
    let address = match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.as_str(),
    };
    Some(address.trim().to_owned()).filter(|a| a.contains('@'))
}

/// `after` for several accounts: each stored message is tried by its account's `after`.
pub fn routed_after(afters: Vec<std::sync::Arc<AfterFn>>) -> std::sync::Arc<AfterFn> {
    std::sync::Arc::new(move |account: usize, id: i64| match afters.get(account) {
        Some(after) => after(account, id),
        None => Box::pin(async { Verdict::Queued }),
    })
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
    std::sync::Arc::new(move |_account: usize, id: i64| {
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
