//! Where the password comes from: the environment variable `POPSEND_PASSWORD`, else the first
//! line printed by the account's `password_command`, else the OS keyring. The password lives in a
//! `Password` whose Debug and Display print nothing of it; errors never contain it, nor the
//! command's output.

use std::fmt;
use std::process::Command;

pub const ENV_VAR: &str = "POPSEND_PASSWORD";
pub const KEYRING_SERVICE: &str = "popsend";

/// A password. Its Debug/Display are redacted.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(s: String) -> Password {
        Password(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// Where a password was found (shown to the user; never the password).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Env,
    Command,
    Keyring,
}

#[derive(Debug)]
pub enum SecretError {
    /// The command could not run, failed, or printed nothing.
    Command { command: String, problem: String },
    /// No env var, no command, and the keyring has no entry.
    NotFound { account: String },
    /// No keyring service on this machine (no Secret Service, no session bus, …).
    KeyringUnavailable { detail: String },
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::Command { command, problem } => write!(f, "password_command `{command}`: {problem}"),
            SecretError::NotFound { account } => write!(
                f,
                "no password for {account}: set {ENV_VAR}, [pop] password_command, or store it in the keyring (service \"{KEYRING_SERVICE}\")"
            ),
            SecretError::KeyringUnavailable { detail } => write!(
                f,
                "the OS keyring is not available ({detail}); set {ENV_VAR} or [pop] password_command instead"
            ),
        }
    }
}

impl std::error::Error for SecretError {}

/// The keyring entry name: "user@host".
pub fn keyring_account(username: &str, host: &str) -> String {
    format!("{username}@{host}")
}

/// Finds the password, in the documented order.
pub fn resolve(password_command: Option<&str>, username: &str, host: &str) -> Result<(Password, Source), SecretError> {
    if let Ok(p) = std::env::var(ENV_VAR)
        && !p.is_empty() {
            return Ok((Password(p), Source::Env));
        }
    if let Some(cmd) = password_command {
        return run_command(cmd).map(|p| (p, Source::Command));
    }
    let account = keyring_account(username, host);
    let entry = keyring::Entry::new(KEYRING_SERVICE, &account).map_err(keyring_error)?;
    match entry.get_password() {
        Ok(p) => Ok((Password(p), Source::Keyring)),
        Err(keyring::Error::NoEntry) => Err(SecretError::NotFound { account }),
        Err(e) => Err(keyring_error(e)),
    }
}

/// Stores the password in the OS keyring.
pub fn store_in_keyring(username: &str, host: &str, password: &Password) -> Result<(), SecretError> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, &keyring_account(username, host)).map_err(keyring_error)?;
    entry.set_password(password.expose()).map_err(keyring_error)
}

fn keyring_error(e: keyring::Error) -> SecretError {
    // The keyring's errors describe the store, never the secret. "No default store" only says
    // that the store could not start; its own error says why (no Secret Service, no D-Bus…).
    let detail = match (&e, keyring::Entry::store_status()) {
        (keyring::Error::NoDefaultStore, Err(why)) => why.to_string(),
        _ => e.to_string(),
    };
    SecretError::KeyringUnavailable { detail }
}

fn run_command(cmd: &str) -> Result<Password, SecretError> {
    let bad = |problem: String| SecretError::Command { command: cmd.to_owned(), problem };
    #[cfg(windows)]
    let output = Command::new("cmd").args(["/C", cmd]).output();
    #[cfg(not(windows))]
    let output = Command::new("sh").args(["-c", cmd]).output();
    let output = output.map_err(|e| bad(format!("cannot run: {e}")))?;
    if !output.status.success() {
        // stderr may be shown (it is the command's complaint); stdout never is.
        let err = String::from_utf8_lossy(&output.stderr);
        let err = err.lines().next().unwrap_or("").trim();
        return Err(bad(format!("failed ({}){}", output.status, if err.is_empty() { String::new() } else { format!(": {err}") })));
    }
    let stdout = String::from_utf8(output.stdout).map_err(|_| bad("printed something that is not UTF-8".into()))?;
    let first = stdout.lines().next().unwrap_or("").trim_end_matches('\r');
    if first.is_empty() {
        return Err(bad("printed no password".into()));
    }
    Ok(Password(first.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let p = Password::new("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[cfg(unix)]
    #[test]
    fn command_first_line_only() {
        let p = run_command("printf 'sekrit\\nsecond\\n'").unwrap();
        assert_eq!(p.expose(), "sekrit");
    }

    #[cfg(unix)]
    #[test]
    fn command_failures_never_show_stdout() {
        // The output (42xyz) is not in the command text, so it can only leak through the error.
        let e = run_command("echo $((6*7))xyz; exit 3").unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains("failed"), "{shown}");
        assert!(!shown.contains("42xyz"), "{shown}");
        let e = run_command("true").unwrap_err();
        assert!(e.to_string().contains("printed no password"));
    }
}
