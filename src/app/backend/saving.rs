//! 「保存」: the form checked, the config file written, the password kept (keyring, or this
//! session only), the login entry set. The config is written first, so a keyring failure never
//! loses the settings. It must not start or stop the engine: the worker does, on its answer.

use std::sync::Arc;

use super::worker::Shared;
use super::{Handed, Saved};
use crate::app::form::Form;
use crate::core::setup::account::{Config, Paths, account_dir};
use crate::core::system::secrets::{self, Password};

/// Passwords typed this session that no keyring would keep, each for its account: the first
/// account's (handed to a background `watch` or `serve` in its environment when the window
/// closes) and the others' by address. Memory only; gone when the window closes.
#[derive(Default)]
pub(super) struct Typed {
    pub(super) first: Option<Password>,
    others: std::collections::HashMap<String, Password>,
}

impl Typed {
    /// The password typed for `a` this session, if any.
    pub(super) fn of(&self, a: &crate::core::setup::account::Account) -> Option<Password> {
        match a.index {
            0 => self.first.clone(),
            _ => self.others.get(&a.config.account.address.to_lowercase()).cloned(),
        }
    }

    /// Keeps (or with `None` forgets) the password of the account `form` edits.
    fn set(&mut self, form: &Form, password: Option<Password>) {
        match (form.editing, password) {
            (0, p) => self.first = p,
            (_, Some(p)) => {
                self.others.insert(form.address.trim().to_lowercase(), p);
            }
            (_, None) => {
                self.others.remove(&form.address.trim().to_lowercase());
            }
        }
    }
}

/// 「保存」: validates the form, writes the file, keeps the password. The config is written first,
/// so a keyring failure never loses the settings.
pub(super) async fn save(
    paths: &Paths,
    form: &Form,
    password: Option<Password>,
    typed: &mut Typed,
    platform: Arc<dyn crate::app::platform::Platform>,
) -> Saved {
    let text = match form.to_toml() {
        Ok(t) => t,
        Err(errors) => return Saved::Invalid(errors),
    };
    let before = crate::core::setup::account::Config::load(&paths.config_file).ok();
    if let Err(e) = crate::core::system::files::write_atomic(&paths.config_file, text.as_bytes()) {
        return Saved::WriteFailed(format!("{}: {e}", paths.config_file.display()));
    }
    // An account (not the first) whose address changed takes its outbox along to the folder of
    // its new address, so what waits in it is still sent.
    if let (Some(before), Ok(after)) = (before, form.to_config()) {
        follow_addresses(paths, &before, &after);
    }
    // The password before the login entry: once the file is written the engine restarts on it
    // (and a pause for a refused password is lifted), so the new password must be in place
    // whatever happens to the login entry.
    let mut not_kept = None;
    if let Some(password) = password {
        let (host, user) = (form.pop_host.trim().to_owned(), form.pop_username.trim().to_owned());
        // The keyring may wait on the desktop (an unlock prompt): off the runtime, so the engine
        // and the other buttons go on meanwhile.
        let (kept, platform, keyring_user, keyring_host) =
            (password.clone(), platform.clone(), user.clone(), host.clone());
        let stored = tokio::task::spawn_blocking(move || platform.keep_password(&keyring_user, &keyring_host, &kept))
            .await
            .unwrap_or_else(|e| Err(secrets::SecretError::KeyringUnavailable { detail: e.to_string() }));
        // No keyring: where the student chose the password file, it follows the new password
        // (for this account), so an old one is never sent again.
        let file = form
            .to_config()
            .ok()
            .and_then(|c| c.every(paths).into_iter().nth(form.editing))
            .map_or_else(|| secrets::password_file(&paths.config_file), |a| a.password_file);
        let stored = stored.or_else(|e| match file.exists() {
            true => secrets::keep_in_file(&file, &user, &host, &password).map_err(|_| e),
            false => Err(e),
        });
        match stored {
            Ok(()) => typed.set(form, None),
            Err(e) => {
                typed.set(form, Some(password));
                not_kept = Some(e.to_string());
            }
        }
    }
    // Changed only when asked: a test or a second data folder leaves the user's login alone.
    if form.autostart != platform.login_entry(paths)
        && let Err(e) = platform.set_login_entry(form.autostart, paths)
    {
        return Saved::AutostartFailed(e.to_string());
    }
    not_kept.map_or(Saved::Done, Saved::PasswordNotKept)
}

/// Moves the folder of each account besides the first whose address changed in place (the same
/// number of accounts before and after; a removed account's folder stays where it is).
fn follow_addresses(paths: &Paths, before: &Config, after: &Config) {
    if before.accounts.len() != after.accounts.len() {
        return;
    }
    for (old, new) in before.accounts.iter().zip(&after.accounts) {
        let (from, to) =
            (account_dir(&paths.data_dir, &old.account.address), account_dir(&paths.data_dir, &new.account.address));
        if from != to && from.exists() && !to.exists() {
            // Losing it only leaves the old folder's messages unsent until the address is back.
            let _ = std::fs::rename(&from, &to);
        }
    }
}

/// `save`, and the result to the UI. True when the config was written (the engine restarts).
pub(super) async fn save_and_tell(
    paths: &Paths,
    form: &Form,
    password: Option<Password>,
    typed: &mut Typed,
    shared: &Shared,
    then: impl FnOnce(),
) -> bool {
    let saved = save(paths, form, password, typed, shared.hooks.platform.clone()).await;
    let written = !matches!(saved, Saved::Invalid(_) | Saved::WriteFailed(_));
    if written {
        then();
    }
    // Said last: once the window hears 保存's answer, everything saving does has been done.
    shared.hand(Handed::Saved(saved));
    written
}
