//! What the packages rely on in the program: the login entry it writes is one the desktop takes.
//! (The package files themselves are checked by packaging/validate.sh, run by tests/run.sh.)

use std::path::PathBuf;

use popsend::core::setup::account::Paths;
use popsend::core::system::autostart;

/// The XDG autostart entry popsend writes for 「ログイン時に起動する」 passes the desktop's own
/// validator, with the awkward paths students have (spaces, Japanese, `%`, `$`).
#[test]
fn the_login_entry_is_a_valid_desktop_entry() {
    let validator = which("desktop-file-validate")
        .expect("desktop-file-validate is missing: apt-get install desktop-file-utils (tests/run.sh does)");
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths {
        config_file: PathBuf::from("/home/山田 太郎/設定/config.toml"),
        data_dir: PathBuf::from("/home/山田 太郎/100% \"mail\" $HOME"),
    };
    let file = dir.path().join(format!("{}-watch.desktop", popsend::APP_ID));
    std::fs::write(&file, autostart::desktop_entry(std::path::Path::new("/opt/popsend/bin/popsend"), &paths)).unwrap();
    let out = std::process::Command::new(validator).arg(&file).output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it says what it starts.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"serve\" \"--at-login\""), "{text}");
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|f| f.is_file()))
}

/// The window's icon (embedded from this file) decodes to the size it was drawn at.
#[test]
fn the_window_icon_decodes() {
    let png = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/icons/png/popsend-128.png")).unwrap();
    let icon = eframe::icon_data::from_png_bytes(&png).unwrap();
    assert_eq!((icon.width, icon.height, icon.rgba.len()), (128, 128, 128 * 128 * 4));
    // Not blank: the envelope's white and the clock's orange are there.
    assert!(icon.rgba.chunks(4).any(|p| p == [255, 255, 255, 255]));
}
