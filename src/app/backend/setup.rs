//! The first-run assistant's requests: finding the servers for an address, trying unsaved
//! settings with 接続テスト (one user name after another, and the port that works from this
//! network), and the last step that saves and queues the test mail. It must not write the
//! settings before the student chooses to.

use super::saving::save_and_tell;
use super::worker::{Shared, build};
use super::{Discovery, Handed, Problem, Request, Saved};
use crate::app::form::Form;
use crate::core::message::drafts::Unsent;
use crate::core::problem::kind::{Described, Kind};
use crate::core::protocol::net::TrustAnchors;
use crate::core::sending::knowledge;
use crate::core::sending::outbox::Outbox;
use crate::core::setup::account::{Config, Paths};
use crate::core::setup::diagnose::{self, StepResult};
use crate::core::setup::discover;
use crate::core::setup::presets::{self};
use crate::core::system::clock::{Clock, SystemClock};
use crate::core::system::secrets::Password;

/// The first-run assistant's requests that need no session: finding the servers and trying
/// unsaved settings. Returns the other requests.
pub(super) async fn assistant(r: Request, paths: &Paths, shared: &Shared) -> Option<Request> {
    match r {
        Request::Discover(address) => {
            shared.publish(|v| {
                v.discovery = Some(Discovery { address: address.clone(), progress: Vec::new(), result: None })
            });
            let (presets, _) = presets::load(&paths.config_file);
            let result = discover::find(&address, &presets, &shared.hooks.discovery, &mut |p| {
                shared.publish(|v| {
                    if let Some(d) = v.discovery.as_mut() {
                        d.progress.push(p);
                    }
                })
            })
            .await;
            shared.publish(|v| {
                if let Some(d) = v.discovery.as_mut() {
                    d.result = Some(result);
                }
            });
        }
        Request::TryAccount { form, usernames, password } => {
            try_account(*form, usernames, &password, &knowledge::Store::new(&paths.data_dir), shared).await
        }
        other => return Some(other),
    }
    None
}

/// 接続テスト with unsaved settings, once per user name until one is not refused.
async fn try_account(
    mut form: Form,
    usernames: Vec<String>,
    password: &Password,
    store: &knowledge::Store,
    shared: &Shared,
) {
    let clock = SystemClock;
    let mut candidates = usernames.into_iter().filter(|u| !u.trim().is_empty()).peekable();
    // The settings were switched to what works from this network: the same user name again.
    let (mut switched, mut again) = (false, false);
    loop {
        if !std::mem::take(&mut again)
            && let Some(u) = candidates.next()
        {
            form.smtp_username = if form.smtp_username.is_empty() { String::new() } else { u.clone() };
            form.pop_username = u;
        }
        shared.publish(|v| v.diagnosis = Some((true, Vec::new())));
        let steps = match form.to_config() {
            Ok(config) => match TrustAnchors::load(config.tls.ca_file.as_deref()) {
                Ok(trust) => {
                    diagnose::run(
                        &config,
                        Some(password),
                        &trust,
                        &clock,
                        store,
                        &diagnose::Options::default(),
                        &mut |r: &StepResult| {
                            let r = r.clone();
                            shared.publish(|v| {
                                if let Some((_, steps)) = v.diagnosis.as_mut() {
                                    steps.push(r);
                                }
                            });
                        },
                    )
                    .await
                }
                Err(e) => {
                    shared.problem(Problem::Failed(Described::of(&e)));
                    Vec::new()
                }
            },
            Err(errors) => {
                shared.hand(Handed::Saved(Saved::Invalid(errors)));
                Vec::new()
            }
        };
        let refused = steps
            .iter()
            .any(|s| s.id == diagnose::StepId::PopLogin && s.finding == diagnose::Finding::Failed(Kind::WrongPassword));
        if refused && candidates.peek().is_some() {
            continue;
        }
        // Issue 24: the SMTP port does not answer from this network (OP25B at home) but another
        // port of the server takes mail after the POP login: the assistant proposes what works
        // from here, and tests it, once.
        if !switched && let Some(offer) = crate::app::diagnose::switch_offer(&steps).filter(|o| o.relays == Some(true))
        {
            crate::app::diagnose::switch_to(&mut form, offer);
            (switched, again) = (true, true);
            continue;
        }
        let passed =
            !steps.is_empty() && steps.iter().all(|s| s.passed() || matches!(s.finding, diagnose::Finding::Skipped(_)));
        let form = Box::new(form);
        shared.publish(|v| v.diagnosis = Some((false, steps)));
        shared.hand(Handed::Trial(form, passed));
        return;
    }
}

/// The assistant's last step: save as 「保存」 does, and put `test_mail` in the outbox (the
/// restarted engine sends it). True when saved.
pub(super) async fn finish_setup(
    paths: &Paths,
    form: &Form,
    password: Password,
    test_mail: Option<Box<Unsent>>,
    typed: &mut super::saving::Typed,
    shared: &Shared,
) -> bool {
    if !save_and_tell(paths, form, Some(password), typed, shared, || {}).await {
        return false;
    }
    if let Some(draft) = test_mail {
        // Through the account just set up (the assistant may have added one to others).
        let queued = Config::load(&paths.config_file).map_err(|e| Described::of(&e)).and_then(|config| {
            let account =
                config.every(paths).into_iter().nth(form.editing).unwrap_or_else(|| config.every(paths).swap_remove(0));
            let (out, subject, to) =
                build(&account.config, &draft, None, SystemClock.now()).map_err(|e| Described::of(&e))?;
            let outbox = Outbox::open(&account.data_dir).map_err(|e| Described::of(&e))?;
            outbox.enqueue(&out, &subject, &to, SystemClock.now()).map(|_| ()).map_err(|e| Described::of(&e))
        });
        if let Err(e) = queued {
            shared.problem(Problem::Failed(e));
        }
    }
    true
}
