//! 「保存」: the form checked, the config file written, the password kept (keyring, or this
//! session only), the login entry set. The config is written first, so a keyring failure never
//! loses the settings. It must not start or stop the engine: the worker does, on its answer.

use std::sync::Arc;

use super::worker::Shared;
use super::{Handed, Saved};
use crate::app::form::Form;
use std::path::PathBuf;

use crate::core::setup::account::{Config, OtherAccount, Paths, account_dir};
use crate::core::system::secrets::{self, Password};

/// Passwords typed this session that no keyring would keep, each for its account: the first
/// account's (handed to a background `watch` or `serve` in its environment when the window
/// closes) and the others' by address. Memory only; gone when the window closes.
///
/// Also the account folders a 保存 leaves to move (`moves`: from, to) once the session's engines
/// have stopped.
#[derive(Default)]
pub(super) struct Typed {
    pub(super) first: Option<Password>,
    others: std::collections::HashMap<String, Password>,
    pub(super) moves: Vec<(PathBuf, PathBuf)>,
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
    let text = match form.to_toml() {
        Ok(t) => t,
        Err(errors) => return Saved::Invalid(errors),
    };
    let before = crate::core::setup::account::Config::load(&paths.config_file).ok();
    if let Err(e) = crate::core::system::files::write_atomic(&paths.config_file, text.as_bytes()) {
        return Saved::WriteFailed(format!("{}: {e}", paths.config_file.display()));
    }
    // An account (not the first) whose address changed takes its outbox along to the folder of
    // its new address, so what waits in it is still sent: moved once this session's engines
    // have stopped and let go of its files (`Typed::moves`).
    if let (Some(before), Ok(after)) = (before, form.to_config()) {
        typed.moves.extend(folder_moves(paths, &before, &after));
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

/// The folders to move for the accounts besides the first whose address changed: an account is
/// known by its POP user and server (or, with the same number of accounts, by its place), and
/// its folder goes to its new address's.
fn folder_moves(paths: &Paths, before: &Config, after: &Config) -> Vec<(PathBuf, PathBuf)> {
    let had = |address: &str, c: &Config| c.accounts.iter().any(|a| a.account.address.eq_ignore_ascii_case(address));
    let same_login = |a: &OtherAccount, b: &OtherAccount| {
        a.pop.username == b.pop.username && a.pop.host.eq_ignore_ascii_case(&b.pop.host)
    };
    let mut moves = Vec::new();
    for (i, old) in before.accounts.iter().enumerate() {
        if had(&old.account.address, after) {
            continue;
        }
        let candidates: Vec<&OtherAccount> =
            after.accounts.iter().filter(|n| !had(&n.account.address, before) && same_login(old, n)).collect();
        let new = match candidates.as_slice() {
            [one] => Some(*one),
            _ if before.accounts.len() == after.accounts.len() => {
                after.accounts.get(i).filter(|n| !had(&n.account.address, before))
            }
            _ => None,
        };
        if let Some(new) = new {
            moves.push((
                account_dir(&paths.data_dir, &old.account.address),
                account_dir(&paths.data_dir, &new.account.address),
            ));
        }
    }
    moves
}

/// Moves each folder of `moves` (none of this session's files are open any more); one that
/// cannot be moved is said, and its messages wait in the old folder.
pub(super) fn move_folders(moves: Vec<(PathBuf, PathBuf)>, shared: &Shared) {
    for (from, to) in moves {
        if !from.exists() {
            continue;
        }
        let moved = match to.exists() {
            true => Err(format!("{} exists", to.display())),
            false => std::fs::rename(&from, &to).map_err(|e| e.to_string()),
        };
        if let Err(why) = moved {
            shared.problem(super::Problem::FolderNotMoved(format!("{} → {}: {why}", from.display(), to.display())));
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

    /// Issue 28: an account whose address changed is known by its POP login (or its place), so its
    /// folder follows it, also when another account is removed in the same 保存; a new account
    /// or a removed one moves nothing.
    #[test]
    fn an_account_keeps_its_folder_when_its_address_changes() {
        let paths = Paths { config_file: "/c/config.toml".into(), data_dir: "/d".into() };
        let dir = |a: &str| account_dir(&paths.data_dir, a);
        let before = config(&[("lab@example.ne.jp", "lab"), ("club@example.ne.jp", "club")]);
        let renamed = config(&[("lab@example.ne.jp", "lab"), ("Circle@example.ne.jp", "club")]);
        assert_eq!(folder_moves(&paths, &before, &renamed), [(dir("club@example.ne.jp"), dir("circle@example.ne.jp"))]);
        let renamed_and_removed = config(&[("circle@example.ne.jp", "club")]);
        assert_eq!(
            folder_moves(&paths, &before, &renamed_and_removed),
            [(dir("club@example.ne.jp"), dir("circle@example.ne.jp"))]
        );
        assert!(folder_moves(&paths, &before, &config(&[("lab@example.ne.jp", "lab")])).is_empty());
        let added = config(&[("lab@example.ne.jp", "lab"), ("club@example.ne.jp", "club"), ("x@example.ne.jp", "x")]);
        assert!(folder_moves(&paths, &before, &added).is_empty());
    }
}
