//! The outbox as the command line shows it: `queue`, `sent`, `show`, `retry`, `delete`, the
//! summary after a flush, and the exit code a flush (or one sent message) earns. Wording from
//! `i18n`; storage through `core::outbox`. No network.

use std::io::Write as _;
use std::time::SystemTime;

use crate::core::sending::engine::Flushed;
use crate::core::sending::outbox::{Outbox, Row, Status};
use crate::core::system::clock::Clock;
use crate::fl;
use crate::text::words::{reason, state_name};

use super::explain::{self, EXIT_FAILED, EXIT_OK, EXIT_TEMPORARY, Failed};
use super::{local_time, window_line};

fn outbox_error(e: crate::core::sending::outbox::OutboxError) -> Failed {
    explain::failure(&e)
}

/// One message as a tab-separated line. What was stored came from a user or a server: each such
/// field goes through `display_safe`, so no stored control character reaches the terminal.
pub(super) fn one_line(r: &Row) -> String {
    use crate::core::display_safe as safe;
    let mut line = format!(
        "#{}\t{}\t{}\t{}\t{} {}\t{} {}",
        r.id,
        state_name(r.state),
        safe(&r.to),
        safe(&r.subject),
        fl!("col-created"),
        local_time(r.created),
        fl!("col-attempts"),
        r.attempts,
    );
    match r.state {
        Status::Queued => line += &format!("\t{} {}", fl!("col-next"), local_time(r.next_attempt)),
        Status::Sent => line += &format!("\t{} {}", fl!("col-sent"), r.sent_at.map(local_time).unwrap_or_default()),
        _ => {}
    }
    if let Some(via) = &r.via {
        line += &format!("\t{}", fl!("gui-via", program = safe(via)));
    }
    if let Some(e) = &r.last_error {
        line += &format!("\t{}: {}", fl!("col-reason"), reason(e.kind));
        if let Some(reply) = &e.reply {
            line += &format!(" [{}]", safe(reply));
        }
    }
    line
}

/// `queue` / `sent`: one line per message, newest first.
pub fn list(ob: &Outbox, states: &[Status]) -> Result<u8, Failed> {
    let rows = ob.list(states, usize::MAX >> 1).map_err(outbox_error)?;
    if rows.is_empty() {
        say!("{}", if states.contains(&Status::Sent) { fl!("sent-empty") } else { fl!("queue-empty") });
    }
    let mut out = String::new();
    for r in &rows {
        out += &one_line(r);
        out.push('\n');
    }
    say_raw!("{out}");
    Ok(EXIT_OK)
}

/// `show ID`: state, reason and the message's header block.
pub fn show(ob: &Outbox, id: i64) -> Result<u8, Failed> {
    let Some((row, raw)) = ob.get(id).map_err(outbox_error)? else {
        return Err(explain::simple(fl!("no-such-message", id = id), EXIT_FAILED));
    };
    say!("{}", one_line(&row));
    if let Some(e) = &row.last_error {
        say!("  {}", fl!("detail", detail = crate::core::display_safe(&e.detail)));
    }
    say!();
    let text = String::from_utf8_lossy(&raw);
    let headers = text.split("\r\n\r\n").next().unwrap_or("");
    for line in headers.split("\r\n") {
        say!("{}", crate::core::display_safe(line));
    }
    Ok(EXIT_OK)
}

pub fn delete(ob: &Outbox, id: i64) -> Result<u8, Failed> {
    if ob.delete(id).map_err(outbox_error)? {
        say!("{}", fl!("delete-ok", id = id));
        Ok(EXIT_OK)
    } else {
        Err(explain::simple(fl!("no-such-message", id = id), EXIT_FAILED))
    }
}

pub fn retry(ob: &Outbox, id: i64, now: SystemTime) -> Result<(), Failed> {
    if ob.retry(id, now).map_err(outbox_error)? {
        say!("{}", fl!("retry-ok", id = id));
        Ok(())
    } else {
        Err(explain::simple(fl!("no-such-message", id = id), EXIT_FAILED))
    }
}

pub fn counts_line(ob: &Outbox) -> Result<u8, Failed> {
    let c = ob.counts().map_err(outbox_error)?;
    say!(
        "{} {} / {} {} / {} {}",
        fl!("state-queued"),
        c.queued + c.sending,
        fl!("state-failed"),
        c.failed,
        fl!("state-sent"),
        c.sent
    );
    Ok(EXIT_OK)
}

/// Prints what a flush did; returns the flush's exit code: 1 when a message failed or the queue
/// is paused, 75 when messages are left queued, else 0.
pub fn report_flush(f: &Flushed, clock: &dyn Clock) -> u8 {
    for login in &f.logins {
        say!("{}", fl!("login-ok", method = login.method.name(), server = login.peer.to_string()));
    }
    for (id, msgid) in &f.sent {
        say!("{}", fl!("sent-id", id = id.to_string(), msgid = msgid.as_str()));
    }
    if let Some(learned) = &f.learned {
        say!("{}", crate::text::words::route_learned(learned));
    }
    for (id, parts) in &f.split {
        say!("{}", fl!("sent-in-parts", id = id.to_string(), parts = parts.to_string()));
    }
    for (id, msgid, e) in &f.failed {
        say!("{}", fl!("failed-id", id = id.to_string(), msgid = msgid.as_str()));
        tell_raw!("{}", explain::described(e).render());
    }
    if let Some(w) = &f.window {
        say!("{}", window_line(w, clock.now()));
    }
    if let Some(e) = &f.stopped {
        tell_raw!("{}", explain::failure(e).render());
    }
    if let Some(p) = &f.paused {
        if f.stopped.is_none() {
            tell!("{}", fl!("paused", reason = reason(p.error.kind)));
        }
        tell!("  {}", fl!("paused-hint"));
    }
    if f.busy {
        say!("{}", fl!("busy"));
    }
    if f.left_queued > 0 {
        match (&f.paused, f.next_attempt) {
            (Some(_), _) => say!("{}", fl!("left-queued-paused", count = f.left_queued)),
            (None, Some(at)) => say!("{}", fl!("left-queued", count = f.left_queued, at = local_time(at))),
            (None, None) => {}
        }
    } else if f.sent.is_empty() && f.failed.is_empty() && f.stopped.is_none() && !f.busy {
        say!("{}", fl!("nothing-due"));
    }
    if !f.failed.is_empty() || f.paused.is_some() {
        EXIT_FAILED
    } else if f.left_queued > 0 {
        EXIT_TEMPORARY
    } else {
        EXIT_OK
    }
}

/// `send`'s exit code: what became of message `id`.
pub fn fate(ob: &Outbox, id: i64, f: &Flushed) -> u8 {
    match ob.get(id).ok().flatten().map(|(r, _)| r.state) {
        Some(Status::Sent) => EXIT_OK,
        Some(Status::Failed) => EXIT_FAILED,
        _ if f.paused.is_some() => EXIT_FAILED,
        _ => EXIT_TEMPORARY,
    }
}
