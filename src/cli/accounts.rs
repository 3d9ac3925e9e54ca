//! The commands that cover every account when there are several and `--account` names none:
//! `status`, `queue` and `sent` (with the account in each line), `flush` (each account's queue
//! in turn), `watch` (every account's engine side by side, so one account's wrong password or
//! dead server never holds another's mail) and `serve` (one submission server for them all).
//! Each account is what `Config::every` gives; the work itself is the single-account code's. It
//! must not decide which account a message is: the sender does (`smtpd::routed_store`).

use std::io::Write as _;
use std::sync::atomic::AtomicBool;

use crate::core::protocol::net::TrustAnchors;
use crate::core::sending::deliver::Deliverer;
use crate::core::sending::engine;
use crate::core::sending::host::Host;
use crate::core::sending::knowledge;
use crate::core::sending::outbox::{Outbox, Status};
use crate::core::setup::account::Account;
use crate::core::system::clock::SystemClock;
use crate::core::system::secrets::{self, Password};
use crate::fl;

use super::explain::{self, EXIT_FAILED, EXIT_OK, Failed};
use super::{background, outbox_view};

fn heading(a: &Account) {
    say!("{}", fl!("account-heading", account = a.label()));
}

/// `status`: each account's relay window and counts, under its name.
pub(super) fn status(every: &[Account]) -> Result<u8, Failed> {
    let clock = SystemClock;
    let mut code = EXIT_OK;
    for a in every {
        heading(a);
        super::status(&a.config, &knowledge::Store::new(&a.data_dir), &clock);
        match Outbox::open(&a.data_dir) {
            Ok(ob) => code = code.max(outbox_view::counts_line(&ob)?),
            Err(e) => {
                tell_raw!("{}", explain::failure(&e).render());
                code = EXIT_FAILED;
            }
        }
    }
    Ok(code)
}

/// `queue` / `sent`: every account's messages, newest first, each line starting with the account.
pub(super) fn list(every: &[Account], states: &[Status]) -> Result<u8, Failed> {
    let mut rows = Vec::new();
    for a in every {
        let ob = Outbox::open(&a.data_dir).map_err(|e| explain::failure(&e))?;
        let listed = ob.list(states, usize::MAX >> 1).map_err(|e| explain::failure(&e))?;
        rows.extend(listed.into_iter().map(|r| (a.label(), r)));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.created));
    if rows.is_empty() {
        say!("{}", if states.contains(&Status::Sent) { fl!("sent-empty") } else { fl!("queue-empty") });
    }
    let mut out = String::new();
    for (label, r) in &rows {
        out += &format!("{}\t{}\n", crate::core::display_safe(label), outbox_view::one_line(r));
    }
    say_raw!("{out}");
    Ok(EXIT_OK)
}

/// An account with what sending needs. A password that cannot be found is said (under the
/// account's name) and leaves `None`: that account's mail waits, the others' goes. Certificates
/// that cannot be read leave the account out, said likewise.
struct Ready {
    account: Account,
    password: Option<Password>,
    trust: TrustAnchors,
    store: knowledge::Store,
}

fn ready(every: &[Account]) -> (Vec<Ready>, bool) {
    let mut out = Vec::new();
    let mut all = true;
    for a in every {
        let trust = match TrustAnchors::load(a.config.tls.ca_file.as_deref()) {
            Ok(t) => t,
            Err(e) => {
                heading(a);
                tell_raw!("{}", explain::failure(&e).render());
                all = false;
                continue;
            }
        };
        // POPSEND_PASSWORD is the first account's: never sent to another's server.
        let password = match secrets::resolve_as(&a.config.pop, &a.password_file, a.index == 0) {
            Ok((p, _)) => Some(p),
            Err(e) => {
                heading(a);
                tell_raw!("{}", explain::failure(&e).render());
                all = false;
                None
            }
        };
        out.push(Ready { account: a.clone(), password, trust, store: knowledge::Store::new(&a.data_dir) });
    }
    (out, all)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failed> {
    crate::core::runtime().map_err(|e| explain::simple(fl!("err-runtime", detail = e.to_string()), EXIT_FAILED))
}

/// `flush`: each account's queue in turn; the exit code is the worst of them.
pub(super) fn flush(every: &[Account]) -> Result<u8, Failed> {
    let (ready, all) = ready(every);
    let runtime = runtime()?;
    let clock = SystemClock;
    let mut code = if all { EXIT_OK } else { EXIT_FAILED };
    for r in &ready {
        heading(&r.account);
        let d = Deliverer::new(&r.account.config, r.password.as_ref(), &r.trust, &r.store, &clock);
        let ob = Outbox::open(&r.account.data_dir).map_err(|e| explain::failure(&e))?;
        match runtime.block_on(engine::flush(&ob, &d, true)) {
            Ok(flushed) => code = code.max(outbox_view::report_flush(&flushed, &clock)),
            Err(e) => {
                tell_raw!("{}", explain::failure(&e).render());
                code = EXIT_FAILED;
            }
        }
    }
    Ok(code)
}

/// Every ready account's outbox, deliverer and host, built in turn (each borrows the last).
macro_rules! hosts {
    ($ready:expr, $clock:expr, $stop:expr, $outboxes:ident, $deliverers:ident, $hosts:ident) => {
        let $outboxes = $ready
            .iter()
            .map(|r| Outbox::open(&r.account.data_dir).map_err(|e| explain::failure(&e)))
            .collect::<Result<Vec<_>, _>>()?;
        let $deliverers: Vec<Deliverer> = $ready
            .iter()
            .map(|r| {
                let mut d = Deliverer::new(&r.account.config, r.password.as_ref(), &r.trust, &r.store, $clock);
                d.stop = Some($stop);
                d
            })
            .collect();
        let $hosts: Vec<Host> = $ready
            .iter()
            .zip(&$outboxes)
            .zip(&$deliverers)
            .map(|((r, ob), d)| Host::new(&r.account.data_dir, ob, d))
            .collect();
    };
}

/// `watch`: every account's engine at once, until Ctrl-C (or, with `until_empty`, until nothing
/// waits in any of them).
pub(super) fn watch(every: &[Account], until_empty: bool) -> Result<u8, Failed> {
    let (ready, all) = ready(every);
    let runtime = runtime()?;
    let clock = SystemClock;
    let stop = AtomicBool::new(false);
    hosts!(ready, &clock, &stop, outboxes, deliverers, hosts);
    let channels = hosts.iter().map(|_| tokio::sync::mpsc::channel(16)).collect();
    let code = runtime.block_on(background::watch_all(&hosts, &stop, until_empty, channels, std::future::pending()))?;
    Ok(if all { code } else { code.max(EXIT_FAILED) })
}

/// `serve`: the submission server for every account (a message goes through the account its
/// sender is), beside every account's engine; the data folder claimed as `serve` claims it.
pub(super) fn serve(
    every: &[Account],
    root: &crate::core::setup::account::Paths,
    at_login: bool,
) -> Result<u8, Failed> {
    let Some(folder) = super::claim_for_server(root)? else { return Ok(EXIT_FAILED) };
    let (ready, all) = ready(every);
    let runtime = runtime()?;
    let clock = SystemClock;
    let stop = AtomicBool::new(false);
    hosts!(ready, &clock, &stop, outboxes, deliverers, hosts);
    let code = runtime.block_on(background::serve(&hosts, root, folder, &stop, at_login, false))?;
    Ok(if all { code } else { code.max(EXIT_FAILED) })
}
