//! 「保存」: the form checked, the config file written, the password kept (keyring, or this
//! session only), the login entry set. The config is written first, so a keyring failure never
//! loses the settings. It must not start or stop the engine: the worker does, on its answer.

use std::sync::Arc;

use super::worker::Shared;
use super::{Handed, Saved};
use crate::app::form::Form;
use crate::core::setup::account::{Config, OtherAccount, Paths, folder_name};
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

    /// Forgets `a`'s (it is kept elsewhere now).
    pub(super) fn forget(&mut self, a: &crate::core::setup::account::Account) {
        match a.index {
            0 => self.first = None,
            _ => {
                self.others.remove(&a.config.account.address.to_lowercase());
            }
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
    let mut config = match form.to_config() {
        Ok(c) => c,
        Err(errors) => return Saved::Invalid(errors),
    };
    // An account (not the first) whose address changed keeps its folder, and with it what waits
    // in its outbox: the file says which folder is its (nothing is moved).
    if let Ok(before) = Config::load(&paths.config_file) {
        keep_folders(&before, &mut config, typed);
    }
    let text = crate::app::form::config_text(&config);
    if let Err(e) = crate::core::system::files::write_atomic(&paths.config_file, text.as_bytes()) {
        return Saved::WriteFailed(format!("{}: {e}", paths.config_file.display()));
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
        let file = config
            .every(paths)
            .into_iter()
            .nth(form.editing)
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

/// Each account besides the first whose address changed (known by its POP user and server, or,
/// with the same number of accounts, by its place) keeps the folder it had; a folder its address
/// names anyway is not written. A password typed this session follows the account.
fn keep_folders(before: &Config, after: &mut Config, typed: &mut Typed) {
    let had = |address: &str, accounts: &[OtherAccount]| {
        accounts.iter().any(|a| a.account.address.eq_ignore_ascii_case(address))
    };
    let same_login = |a: &OtherAccount, b: &OtherAccount| {
        a.pop.username == b.pop.username && a.pop.host.eq_ignore_ascii_case(&b.pop.host)
    };
    let same_count = before.accounts.len() == after.accounts.len();
    for (i, old) in before.accounts.iter().enumerate() {
        if had(&old.account.address, &after.accounts) {
            continue;
        }
        let renamed: Vec<usize> = (0..after.accounts.len())
            .filter(|&j| {
                !had(&after.accounts[j].account.address, &before.accounts) && same_login(old, &after.accounts[j])
            })
            .collect();
        let j = match renamed.as_slice() {
            [j] => Some(*j),
            _ if same_count && !had(&after.accounts[i].account.address, &before.accounts) => Some(i),
            _ => None,
        };
        if let Some(new) = j.and_then(|j| after.accounts.get_mut(j)) {
            new.folder.get_or_insert_with(|| old.folder());
            if let Some(p) = typed.others.remove(&old.account.address.to_lowercase()) {
                typed.others.insert(new.account.address.to_lowercase(), p);
            }
        }
    }
    for a in &mut after.accounts {
        if a.folder.as_deref().is_some_and(|f| folder_name(f) == folder_name(&a.account.address)) {
            a.folder = None;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(others: &[(&str, &str)]) -> Config {
        let mut text = String::from(
            "[account]\naddress = \"taro@example.ac.jp\"\n[pop]\nhost = \"pop.example.ac.jp\"\nusername = \"taro\"\n[smtp]\n",
        );
        for (address, user) in others {
            text += &format!(
                "[[accounts]]\n[accounts.account]\naddress = \"{address}\"\n[accounts.pop]\nhost = \"pop.example.ne.jp\"\nusername = \"{user}\"\n[accounts.smtp]\n"
            );
        }
        Config::parse(&text, std::path::Path::new("c.toml")).unwrap()
    }

    fn folders(c: &Config) -> Vec<String> {
        c.accounts.iter().map(OtherAccount::folder).collect()
    }

    /// Issue 28: an account whose address changed is known by its POP login (or its place), and
    /// keeps its folder (what waits in it stays its own), also when another account is removed
    /// in the same 保存; a new account, or one whose address comes back to its folder's, needs no
    /// `folder`.
    #[test]
    fn an_account_keeps_its_folder_when_its_address_changes() {
        let before = config(&[("lab@example.ne.jp", "lab"), ("club@example.ne.jp", "club")]);
        let mut typed = Typed::default();
        typed.others.insert("club@example.ne.jp".into(), Password::new("typed".into()));
        let mut renamed = config(&[("lab@example.ne.jp", "lab"), ("Circle@example.ne.jp", "club")]);
        keep_folders(&before, &mut renamed, &mut typed);
        assert_eq!(folders(&renamed), ["lab@example.ne.jp", "club@example.ne.jp"]);
        assert_eq!(renamed.accounts[1].folder.as_deref(), Some("club@example.ne.jp"));
        assert!(typed.others.contains_key("circle@example.ne.jp"), "the typed password did not follow");
        let mut renamed_and_removed = config(&[("circle@example.ne.jp", "club")]);
        keep_folders(&before, &mut renamed_and_removed, &mut Typed::default());
        assert_eq!(folders(&renamed_and_removed), ["club@example.ne.jp"]);
        let mut added =
            config(&[("lab@example.ne.jp", "lab"), ("club@example.ne.jp", "club"), ("x@example.ne.jp", "x")]);
        keep_folders(&before, &mut added, &mut Typed::default());
        assert!(added.accounts.iter().all(|a| a.folder.is_none()));
        // Renamed, then back: the folder is the address's again, and no `folder` is written.
        let mut back = config(&[("lab@example.ne.jp", "lab"), ("club@example.ne.jp", "club")]);
        back.accounts[1].folder = Some("club@example.ne.jp".into());
        keep_folders(&renamed, &mut back, &mut Typed::default());
        assert!(back.accounts[1].folder.is_none());
    }
}
