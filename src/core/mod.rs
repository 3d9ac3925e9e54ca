//! The UI-free core: configuration, networking, the POP3 client, SMTP, message building, the relay
//! window and the send path. Nothing here prints, reads the terminal or knows about egui; results
//! and errors are typed values (classified once, by `problem::classify`) that the CLI and the window turn
//! into localized text.

/// The one application id: the desktop file's and metainfo's name on Linux, the Wayland app id,
/// the macOS bundle id and the Windows ProgID's stem (`packaging/` uses the same string).
pub const APP_ID: &str = "io.github.popsend.popsend";

pub mod message;
pub mod problem;
pub mod protocol;
pub mod sending;
pub mod setup;
pub mod system;

pub use problem::kind::Severity;

/// The async runtime every part of popsend runs on: one thread (the command's, or the window's
/// worker), with timers and I/O. Failing means the system is out of threads or descriptors.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// Text from a server or a file, made safe to show on a terminal or in a window: C0 and C1
/// control characters (ESC, BEL, …), DEL and the bidirectional overrides become U+FFFD, so a
/// reply cannot retitle a terminal, clear a screen or reorder what the user reads. Tabs become
/// spaces.
pub fn display_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '\u{fffd}',
            // Bidi embeddings, overrides, isolates and marks: they turn the text around it.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// Text for a terminal, several lines long: `display_safe` for each line, the line breaks and
/// tabs (columns) kept. The command line prints every line through it.
pub fn terminal_safe(text: &str) -> String {
    text.split('\n')
        .map(|line| line.split('\t').map(display_safe).collect::<Vec<_>>().join("\t"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_safe_neutralises_terminal_controls() {
        let hostile = "550 no\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\u{202e}txt.exe\u{7f}";
        let shown = super::display_safe(hostile);
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert!(!shown.contains('\u{202e}'));
        assert!(!super::display_safe("a\u{200f}b\u{061c}c\u{200e}").contains(['\u{200f}', '\u{061c}', '\u{200e}']));
        assert!(shown.starts_with("550 no\u{fffd}]0;owned"));
        assert_eq!(super::display_safe("正常な\t返事"), "正常な 返事");
    }

    #[test]
    fn terminal_safe_keeps_lines_and_columns_only() {
        let shown = super::terminal_safe("1\t<id\u{1b}]0;x\u{7}@h>\r\n2\tok\u{202e}\n");
        assert_eq!(shown, "1\t<id\u{fffd}]0;x\u{fffd}@h>\u{fffd}\n2\tok\u{fffd}\n");
    }
}
