//! 「ログイン時に起動する」: an entry in the OS's list of programs started at login that runs
//! `popsend serve --at-login` with this window's config and data folder, so mail that waited
//! while popsend was closed goes out without opening the window. With `[submission] enabled` it
//! stays, taking mail from the user's other programs until a window opens (which it steps aside
//! for); without, it ends once the outbox is empty. An XDG autostart entry on Linux, the `Run` key under HKCU on Windows, a
//! LaunchAgent on macOS: one entry for each data folder (the default folder's keeps the name it
//! always had), with absolute paths. It writes or removes that one entry and nothing else; it
//! never starts anything itself.

use std::io;
use std::path::{Path, PathBuf};

use crate::setup::account::Paths;

/// The arguments the entry starts popsend with (after the program itself). The entry runs in
/// another folder than this process: paths are made absolute.
pub fn arguments(paths: &Paths) -> Vec<String> {
    vec![
        "--config".into(),
        absolute(&paths.config_file).display().to_string(),
        "--data-dir".into(),
        absolute(&paths.data_dir).display().to_string(),
        "serve".into(),
        "--at-login".into(),
    ]
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// Puts the entry in place (`enabled`) or removes it, for the program `exe`. A path that is not
/// text (not UTF-8: it would be written altered, naming another file) or has a line break cannot
/// be written into an entry faithfully: it is refused, naming it.
pub fn set(enabled: bool, exe: &Path, paths: &Paths) -> io::Result<()> {
    if enabled
        && let Some(bad) =
            [exe, paths.config_file.as_path(), paths.data_dir.as_path()].into_iter().find(|p| p.to_str().is_none())
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a path that is not text cannot go in the login entry: {}",
                crate::display_safe(&bad.display().to_string())
            ),
        ));
    }
    if enabled
        && let Some(bad) =
            std::iter::once(exe.display().to_string()).chain(arguments(paths)).find(|a| a.contains(['\n', '\r']))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a path with a line break cannot go in the login entry: {}", crate::display_safe(&bad)),
        ));
    }
    imp::set(enabled, exe, paths)
}

/// Whether this data folder's entry is there (what 設定 shows).
pub fn is_set(paths: &Paths) -> bool {
    imp::is_set(paths)
}

/// What tells this data folder's entry from another's: nothing for the default folder (the
/// name every earlier version used), else `-` and a hash of its absolute path.
pub fn suffix(paths: &Paths) -> String {
    let default = Paths::resolve(None, None).data_dir;
    let dir = absolute(&paths.data_dir);
    if dir == absolute(&default) {
        return String::new();
    }
    // FNV-1a: the same name for the same folder in every version of popsend.
    let hash = dir
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    format!("-{:08x}", hash as u32)
}

/// One argument of a desktop entry's `Exec` key (Desktop Entry Specification, "The Exec key"):
/// quoted, with `"`, `` ` ``, `$` and `\` escaped inside the quotes, `%` doubled, and then the
/// string-value escaping of the file format on top (a backslash written twice).
pub fn exec_arg(arg: &str) -> String {
    let mut quoted = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '%' => quoted.push_str("%%"),
            // A line break would end the key and start another: never in a path popsend wrote,
            // but a path is whatever the user chose.
            '\n' | '\r' => quoted.push(' '),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted.replace('\\', "\\\\")
}

/// The XDG autostart entry's text (a path with a line break: see `set`).
pub fn desktop_entry(exe: &Path, paths: &Paths) -> String {
    let exec: Vec<String> =
        std::iter::once(exe.display().to_string()).chain(arguments(paths)).map(|a| exec_arg(&a)).collect();
    format!(
        "[Desktop Entry]\nType=Application\nName=popsend (background sending)\nName[ja]=popsend (バックグラウンド送信)\n\
         Comment=Sends the mail waiting in popsend's outbox, and takes mail from other programs when that is on\nComment[ja]=送信トレイで待っているメールを送ります (ほかのメールソフトからの受け付けがオンなら、受け付けも続けます)\n\
         Exec={}\nIcon={}\nTerminal=false\nNoDisplay=true\nX-GNOME-Autostart-enabled=true\n",
        exec.join(" "),
        crate::APP_ID,
    )
}

/// Text made safe inside an XML element.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The macOS LaunchAgent's property list.
pub fn launch_agent(exe: &Path, paths: &Paths) -> String {
    let args: String = std::iter::once(exe.display().to_string())
        .chain(arguments(paths))
        .map(|a| format!("    <string>{}</string>\n", xml(&a)))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n  <key>Label</key>\n  <string>{}.watch{}</string>\n  <key>ProgramArguments</key>\n  <array>\n{args}  </array>\n\
         \x20 <key>RunAtLoad</key>\n  <true/>\n  <key>ProcessType</key>\n  <string>Background</string>\n</dict>\n</plist>\n",
        crate::APP_ID,
        suffix(paths)
    )
}

/// Writes `text` to `file` (atomically, private) or removes it.
#[cfg_attr(windows, allow(dead_code))]
fn put(file: &Path, text: Option<String>) -> io::Result<()> {
    match text {
        Some(t) => crate::system::files::write_atomic(file, t.as_bytes()),
        None => match std::fs::remove_file(file) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
}

/// Where this data folder's entry lives on this OS (`None`: no home folder).
#[cfg_attr(windows, allow(dead_code))]
pub fn entry_file(paths: &Paths) -> Option<PathBuf> {
    let base = directories::BaseDirs::new()?;
    let suffix = suffix(paths);
    if cfg!(target_os = "macos") {
        Some(base.home_dir().join("Library/LaunchAgents").join(format!("{}.watch{suffix}.plist", crate::APP_ID)))
    } else {
        Some(base.config_dir().join("autostart").join(format!("{}-watch{suffix}.desktop", crate::APP_ID)))
    }
}

#[cfg(not(windows))]
mod imp {
    use super::*;

    fn no_home() -> io::Error {
        io::Error::new(io::ErrorKind::NotFound, "no home folder to put the login entry in")
    }

    pub(super) fn set(enabled: bool, exe: &Path, paths: &Paths) -> io::Result<()> {
        let file = entry_file(paths).ok_or_else(no_home)?;
        let text = if cfg!(target_os = "macos") { launch_agent(exe, paths) } else { desktop_entry(exe, paths) };
        put(&file, enabled.then_some(text))
    }

    pub(super) fn is_set(paths: &Paths) -> bool {
        entry_file(paths).is_some_and(|f| f.exists())
    }
}

#[cfg(windows)]
mod imp {
    use super::*;
    use winreg::RegKey;
    use winreg::enums::{HKEY_CURRENT_USER, KEY_READ, KEY_SET_VALUE};

    const RUN: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";

    /// The Run value's name: "popsend", and the folder's suffix.
    fn value(paths: &Paths) -> String {
        format!("popsend{}", suffix(paths))
    }

    /// One argument of a Windows command line (the quoting `CommandLineToArgvW` undoes).
    fn quote(arg: &str) -> String {
        let mut out = String::from("\"");
        let mut backslashes = 0;
        for c in arg.chars() {
            match c {
                '\\' => backslashes += 1,
                '"' => {
                    out.push_str(&"\\".repeat(backslashes * 2 + 1));
                    out.push('"');
                    backslashes = 0;
                }
                c => {
                    out.push_str(&"\\".repeat(backslashes));
                    out.push(c);
                    backslashes = 0;
                }
            }
        }
        out.push_str(&"\\".repeat(backslashes * 2));
        out.push('"');
        out
    }

    pub(super) fn set(enabled: bool, exe: &Path, paths: &Paths) -> io::Result<()> {
        let (run, _) = RegKey::predef(HKEY_CURRENT_USER).create_subkey(RUN)?;
        if enabled {
            let line: Vec<String> =
                std::iter::once(exe.display().to_string()).chain(arguments(paths)).map(|a| quote(&a)).collect();
            run.set_value(value(paths), &line.join(" "))
        } else {
            match run.delete_value(value(paths)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        }
    }

    pub(super) fn is_set(paths: &Paths) -> bool {
        RegKey::predef(HKEY_CURRENT_USER)
            .open_subkey_with_flags(RUN, KEY_READ | KEY_SET_VALUE)
            .and_then(|k| k.get_value::<String, _>(value(paths)))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Paths {
        Paths {
            config_file: PathBuf::from("/home/太郎/My Mail/config.toml"),
            data_dir: PathBuf::from("/home/太郎/100%$data"),
        }
    }

    #[test]
    fn exec_arguments_are_quoted_as_the_spec_says() {
        assert_eq!(exec_arg("/usr/bin/popsend"), "\"/usr/bin/popsend\"");
        assert_eq!(exec_arg("a b"), "\"a b\"");
        // `$` escaped for the Exec parser, then its backslash doubled for the file format.
        assert_eq!(exec_arg("100%$x"), "\"100%%\\\\$x\"");
        assert_eq!(exec_arg("a\"b"), "\"a\\\\\"b\"");
        assert!(!exec_arg("a\nb").contains('\n'));
    }

    #[test]
    fn the_entries_start_watch_with_this_windows_files() {
        let exe = Path::new("/opt/popsend/bin/popsend");
        let d = desktop_entry(exe, &paths());
        let exec = d.lines().find(|l| l.starts_with("Exec=")).unwrap();
        assert_eq!(
            exec,
            "Exec=\"/opt/popsend/bin/popsend\" \"--config\" \"/home/太郎/My Mail/config.toml\" \"--data-dir\" \"/home/太郎/100%%\\\\$data\" \"serve\" \"--at-login\""
        );
        assert!(d.contains("NoDisplay=true") && d.contains("Name[ja]="));
        let p = launch_agent(exe, &paths());
        assert!(
            p.contains("<string>/home/太郎/100%$data</string>")
                && p.contains("<string>--at-login</string>")
                && p.contains("<true/>")
        );
        assert!(p.contains(&format!("<string>{}.watch{}</string>", crate::APP_ID, suffix(&paths()))));
    }

    /// Issue 23: each data folder has its own entry (the default folder the old name), relative
    /// paths are written absolute, and a path with a line break is refused, not bent into a space.
    #[test]
    fn each_folder_has_its_own_entry_with_absolute_paths() {
        let default = Paths::resolve(None, None);
        assert_eq!(suffix(&default), "");
        let a = paths();
        let b = Paths { data_dir: PathBuf::from("/home/太郎/other data"), ..paths() };
        assert!(suffix(&a).len() == 9 && suffix(&a) != suffix(&b), "{} {}", suffix(&a), suffix(&b));
        assert_eq!(suffix(&a), suffix(&paths()), "the same folder, the same entry");
        assert!(launch_agent(Path::new("/p"), &a).contains(&format!("{}.watch{}</string>", crate::APP_ID, suffix(&a))));

        let relative = Paths { config_file: PathBuf::from("c.toml"), data_dir: PathBuf::from("data") };
        let args = arguments(&relative);
        let here = std::env::current_dir().unwrap();
        assert_eq!(args[1], here.join("c.toml").display().to_string());
        assert_eq!(args[3], here.join("data").display().to_string());

        let broken = Paths { data_dir: PathBuf::from("/tmp/a\nExec=evil"), ..paths() };
        let e = set(true, Path::new("/usr/bin/popsend"), &broken).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("line break"), "{e}");
        // A path that is not UTF-8 would be written altered (another file): refused too.
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt as _;
            let odd = Paths { data_dir: PathBuf::from(std::ffi::OsStr::from_bytes(b"/tmp/caf\xe9")), ..paths() };
            let e = set(true, Path::new("/usr/bin/popsend"), &odd).unwrap_err();
            assert!(e.kind() == io::ErrorKind::InvalidInput && e.to_string().contains("not text"), "{e}");
        }
    }
}
