//! The local login other programs use: user name `popsend` and a password generated once and
//! kept in a 0600 file in the data folder; a file others could read is not trusted.

use super::*;

/// The file the local login is kept in, in the data folder (0600).
pub const LOGIN_FILE: &str = "submission-login";

/// The local user name, and the password generated once and kept in the data folder (a file
/// only this user can read, like the outbox; never the account's password). As ssh does with a
/// key, a file others could read (or write) is not trusted: its password may be known, so a new
/// one is made, the file is put back to 0600, and `renewed` says so (the programs that use the old
/// one must be given the new one).
pub fn local_login(data_dir: &std::path::Path) -> std::io::Result<LocalLogin> {
    let path = data_dir.join(LOGIN_FILE);
    let exposed = opened_to_others(&path);
    let (password, renewed) = match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 16 && !exposed => (text.trim().to_owned(), false),
        Ok(_) | Err(_) => {
            let fresh = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            // A new file: `write_atomic` makes it 0600 (a leftover temporary is removed first,
            // so its mode cannot carry over).
            let mut tmp = path.clone().into_os_string();
            tmp.push(".tmp");
            let _ = std::fs::remove_file(&tmp);
            crate::system::files::write_atomic(&path, format!("{fresh}\n").as_bytes())?;
            (fresh, exposed)
        }
    };
    Ok(LocalLogin { user: "popsend".into(), password: crate::system::secrets::Password::new(password), renewed })
}

/// Whether others than this user may read or write `path` (Unix permissions; on Windows the data
/// folder's own ACL, inherited from the user's profile, is what protects it).
pub(super) fn opened_to_others(path: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}
