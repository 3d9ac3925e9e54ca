//! The desktop the window's worker reaches besides the mail servers and its own files: the OS
//! keyring, the login entry (「ログイン時に起動する」), the file dialog, and starting popsend again
//! when the window closes. One trait, so the tests put a stand-in in its place (`Isolated`): no
//! test reads or writes the user's keyring, touches their login entries or home, or starts a
//! process. No window code and no mail here.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use crate::core::setup::account::{Paths, PopSection};
use crate::core::system::secrets::{self, Password, SecretError, Source};

pub trait Platform: Send + Sync {
    /// The POP password: `POPSEND_PASSWORD`, `password_command`, the keyring, then the password
    /// file at `file` if the student made one.
    /// `env`: `POPSEND_PASSWORD` counts (the first account's only).
    fn password(&self, pop: &PopSection, file: &std::path::Path, env: bool) -> Result<(Password, Source), SecretError>;
    /// Keeps `password` for `user` at `host` in the keyring.
    fn keep_password(&self, user: &str, host: &str, password: &Password) -> Result<(), SecretError>;
    /// Whether this data folder's login entry is there.
    fn login_entry(&self, paths: &Paths) -> bool;
    /// Puts this data folder's login entry in place, or removes it.
    fn set_login_entry(&self, on: bool, paths: &Paths) -> std::io::Result<()>;
    /// The system's file dialog; `None` when nothing was chosen, `Err` when there is none.
    fn pick_files(&self) -> Result<Option<Vec<PathBuf>>, String>;
    /// The system's save dialog, offering `name`; `None` when nothing was chosen.
    fn pick_save(&self, name: &str) -> Result<Option<PathBuf>, String>;
    /// Starts popsend with `args` for the same files, detached; a password that lives only in
    /// this session goes in the child's environment (never on its command line).
    fn start(&self, paths: &Paths, typed: Option<&Password>, args: &[&str]) -> std::io::Result<()>;
}

/// The real desktop.
pub struct Desktop;

impl Platform for Desktop {
    fn password(&self, pop: &PopSection, file: &std::path::Path, env: bool) -> Result<(Password, Source), SecretError> {
        secrets::resolve_as(pop, file, env)
    }

    fn keep_password(&self, user: &str, host: &str, password: &Password) -> Result<(), SecretError> {
        secrets::store_in_keyring(user, host, password)
    }

    fn login_entry(&self, paths: &Paths) -> bool {
        crate::core::system::autostart::is_set(paths)
    }

    fn set_login_entry(&self, on: bool, paths: &Paths) -> std::io::Result<()> {
        let exe = std::env::current_exe()?;
        crate::core::system::autostart::set(on, &exe, paths)
    }

    fn pick_files(&self) -> Result<Option<Vec<PathBuf>>, String> {
        std::panic::catch_unwind(|| rfd::FileDialog::new().pick_files())
            .map_err(|_| "no file dialog on this desktop".to_owned())
    }

    fn pick_save(&self, name: &str) -> Result<Option<PathBuf>, String> {
        std::panic::catch_unwind(|| rfd::FileDialog::new().set_file_name(name).save_file())
            .map_err(|_| "no file dialog on this desktop".to_owned())
    }

    fn start(&self, paths: &Paths, typed: Option<&Password>, args: &[&str]) -> std::io::Result<()> {
        let exe = std::env::current_exe()?;
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("--config").arg(&paths.config_file).arg("--data-dir").arg(&paths.data_dir).args(args);
        cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        if let Some(p) = typed {
            cmd.env(secrets::ENV_VAR, p.expose());
        }
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.spawn().map(drop)
    }
}

/// For the tests: a keyring in memory (or, `without_keyring`, none at all, as on a desktop with
/// no secret service), login entries in memory, no file dialog, and the processes it would start
/// written down instead of started.
#[derive(Default)]
pub struct Isolated {
    no_keyring: bool,
    keyring: Mutex<HashMap<(String, String), Password>>,
    entries: Mutex<HashSet<PathBuf>>,
    started: Mutex<Vec<Vec<String>>>,
}

impl Isolated {
    pub fn new() -> Isolated {
        Isolated::default()
    }

    /// No keyring on this machine: keeping a password fails as it does without a secret service.
    pub fn without_keyring() -> Isolated {
        Isolated { no_keyring: true, ..Isolated::default() }
    }

    /// The arguments of each popsend it was asked to start.
    pub fn started(&self) -> Vec<Vec<String>> {
        self.started.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn unavailable() -> SecretError {
        SecretError::KeyringUnavailable { detail: "no keyring in the tests".into() }
    }
}

impl Platform for Isolated {
    fn password(&self, pop: &PopSection, file: &std::path::Path, env: bool) -> Result<(Password, Source), SecretError> {
        secrets::resolve_for(
            pop,
            &|user, host| {
                if self.no_keyring {
                    return Err(Isolated::unavailable());
                }
                let kept = self.keyring.lock().ok().and_then(|k| k.get(&(user.to_owned(), host.to_owned())).cloned());
                kept.ok_or_else(|| SecretError::NotFound { account: format!("{user}@{host}") })
            },
            file,
            env,
        )
    }

    fn keep_password(&self, user: &str, host: &str, password: &Password) -> Result<(), SecretError> {
        if self.no_keyring {
            return Err(Isolated::unavailable());
        }
        self.keyring
            .lock()
            .map_err(|_| Isolated::unavailable())?
            .insert((user.to_owned(), host.to_owned()), password.clone());
        Ok(())
    }

    fn login_entry(&self, paths: &Paths) -> bool {
        self.entries.lock().is_ok_and(|e| e.contains(&paths.data_dir))
    }

    fn set_login_entry(&self, on: bool, paths: &Paths) -> std::io::Result<()> {
        let mut e = self.entries.lock().map_err(|_| std::io::Error::other("poisoned"))?;
        if on {
            e.insert(paths.data_dir.clone());
        } else {
            e.remove(&paths.data_dir);
        }
        Ok(())
    }

    fn pick_files(&self) -> Result<Option<Vec<PathBuf>>, String> {
        Ok(None)
    }

    fn pick_save(&self, _name: &str) -> Result<Option<PathBuf>, String> {
        Ok(None)
    }

    fn start(&self, paths: &Paths, _typed: Option<&Password>, args: &[&str]) -> std::io::Result<()> {
        let mut line = vec![
            "--config".to_owned(),
            paths.config_file.display().to_string(),
            "--data-dir".to_owned(),
            paths.data_dir.display().to_string(),
        ];
        line.extend(args.iter().map(|a| (*a).to_owned()));
        self.started.lock().map_err(|_| std::io::Error::other("poisoned"))?.push(line);
        Ok(())
    }
}
