//! Localized text: Fluent files under `i18n/<lang>/popsend.ftl`, embedded in the binary, Japanese
//! as the reference and fallback. The language follows `POPSEND_LANG`, else the OS. `fl!` checks
//! message IDs at compile time. Holds no other logic.

use std::sync::LazyLock;

use i18n_embed::fluent::{FluentLanguageLoader, fluent_language_loader};
use i18n_embed::{DesktopLanguageRequester, LanguageLoader as _};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "i18n/"]
struct Localizations;

pub static LOADER: LazyLock<FluentLanguageLoader> = LazyLock::new(|| {
    let loader = fluent_language_loader!();
    loader.load_fallback_language(&Localizations).expect("the Japanese messages are embedded");
    loader
});

/// Looks up a message: `fl!("id")` or `fl!("id", name = value, …)`.
#[macro_export]
macro_rules! fl {
    ($id:literal) => {{ i18n_embed_fl::fl!($crate::text::i18n::LOADER, $id) }};
    ($id:literal, $($args:tt)*) => {{ i18n_embed_fl::fl!($crate::text::i18n::LOADER, $id, $($args)*) }};
}

/// Chooses the language: `requested` (e.g. from `POPSEND_LANG`) if given, else the OS's.
pub fn init(requested: Option<&str>) {
    let wanted: Vec<i18n_embed::unic_langid::LanguageIdentifier> = match requested.and_then(|r| r.parse().ok()) {
        Some(lang) => vec![lang],
        None => DesktopLanguageRequester::requested_languages(),
    };
    // An unknown language leaves Japanese, the fallback, in place.
    let _ = i18n_embed::select(&*LOADER, &Localizations, &wanted);
    // egui and terminals show Unicode bidi isolation marks as boxes or noise.
    LOADER.set_use_isolating(false);
}

/// The language in use ("ja" or "en").
pub fn current() -> String {
    LOADER.current_languages().first().map(|l| l.language.as_str().to_owned()).unwrap_or_else(|| "ja".into())
}

/// The languages shipped, for tests and the settings view.
pub fn available() -> Vec<String> {
    LOADER.available_languages(&Localizations).map(|v| v.iter().map(|l| l.to_string()).collect()).unwrap_or_default()
}

/// The message IDs of one language's file, for the parity test.
pub fn message_ids(lang: &str) -> Vec<String> {
    let Some(file) = Localizations::get(&format!("{lang}/popsend.ftl")) else { return Vec::new() };
    let text = String::from_utf8_lossy(&file.data).into_owned();
    let mut ids: Vec<String> = text
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        .filter_map(|l| l.split_once('=').map(|(id, _)| id.trim().to_owned()))
        .collect();
    ids.sort();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: one term per idea (i18n/GLOSSARY.md). A word the glossary avoids appears in no
    /// Japanese message or guide, outside 「」 (another program's own labels stay as they are).
    #[test]
    fn the_glossary_is_followed() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let glossary = std::fs::read_to_string(root.join("i18n/GLOSSARY.md")).unwrap();
        let avoided: Vec<String> = glossary
            .lines()
            .filter(|l| l.starts_with('|') && !l.contains("---") && !l.contains("avoid"))
            .filter_map(|l| l.trim_end_matches('|').rsplit('|').next().map(str::trim).map(str::to_owned))
            .flat_map(|cell| cell.split('、').map(|a| a.trim().to_owned()).collect::<Vec<_>>())
            .filter(|a| !a.is_empty())
            .collect();
        assert!(avoided.len() >= 8, "{avoided:?}");
        // Text outside 「」 and outside comments.
        let outside_quotes = |text: &str| -> String {
            let mut depth = 0;
            let mut out = String::new();
            for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
                for c in line.chars() {
                    match c {
                        '「' => depth += 1,
                        '」' => depth = 0.max(depth - 1),
                        c if depth == 0 => out.push(c),
                        _ => {}
                    }
                }
                out.push('\n');
            }
            out
        };
        for file in ["i18n/ja/popsend.ftl", "assets/guides/ja.toml", "assets/presets.toml"] {
            let text = outside_quotes(&std::fs::read_to_string(root.join(file)).unwrap());
            for term in &avoided {
                let (word, not_before_bar) = match term.strip_suffix("[^ー]") {
                    Some(w) => (w, true),
                    None => (term.as_str(), false),
                };
                let bad =
                    text.match_indices(word).any(|(i, _)| !not_before_bar || !text[i + word.len()..].starts_with('ー'));
                assert!(!bad, "{file} uses 「{word}」 (the glossary says otherwise)");
            }
        }
    }

    /// Issue 12: no English words inside Japanese sentences. Every ASCII word of a Japanese
    /// message (placeholders aside) is a protocol or product name, a code, or a config key or
    /// command the user types — each on this list, which a new word must be added to knowingly.
    #[test]
    fn japanese_messages_hold_no_stray_english() {
        const ALLOWED: &[&str] = &[
            // protocols, codes, acronyms
            "APOP",
            "AUTH",
            "8BITMIME",
            "EHLO",
            "ID",
            "IP",
            "IPv4",
            "IPv4/IPv6",
            "IPv6",
            "ISO-2022-JP",
            "ISP",
            "CPU",
            "OK",
            "OP25B",
            "OS",
            "POP",
            "POP3",
            "SMTP",
            "SMTPUTF8",
            "SSL/TLS",
            "STARTTLS",
            "STLS",
            "STLS/POP3S",
            "TLS",
            "URL",
            "USER/PASS",
            "UTF-8",
            "Cc",
            "Bcc",
            "Cc/Bcc",
            "To",
            "From",
            "Ctrl-C",
            "Delete",
            "Enter",
            "OpenGL",
            "README",
            "PC",
            "PC",
            // names: the technique, products
            "before",
            "Becky",
            "Outlook",
            "Gmail",
            "iPhone",
            "vCard",
            "vcf",
            "CSV",
            "popsend",
            "mailto",
            "sendmail",
            "mutt",
            "git",
            "send-email",
            // what the user types: config sections, keys and values, commands, files, search examples
            "account",
            "allow_plaintext_password",
            "at",
            "dark",
            "light",
            "gl",
            "cpu",
            "password",
            "contacts.toml",
            "Linux",
            "macOS",
            "auth",
            "auto",
            "body-file",
            "ca_file",
            "charset",
            "en",
            "flush",
            "guide",
            "help",
            "host",
            "id",
            "iso-2022-jp",
            "ja",
            "name",
            "password_command",
            "pop",
            "popsend/config.toml",
            "port",
            "preset",
            "queue",
            "security",
            "send",
            "sent",
            "show",
            "smtp",
            "starttls",
            "tls",
            "true",
            "username",
            "utf-8",
            "becky",
            "thunderbird",
            "POPSEND_PASSWORD",
            "oi",
            "address",
            "localhost",
            "VPN",
            "submission",
            "serve",
            "submission-login",
            "Thunderbird",
            "require_auth",
            "false",
        ];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("i18n/ja/popsend.ftl")).unwrap();
        let mut stray = Vec::new();
        for line in text.lines().filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase())) {
            let Some((id, value)) = line.split_once(" = ") else { continue };
            // Placeholders out (`{ $name }`, `{"…"}`), and what 「」 quotes as it is (a label, a
            // command to type).
            let mut plain = String::new();
            let (mut depth, mut quoted) = (0, 0);
            for c in value.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    '「' => quoted += 1,
                    '」' => quoted -= 1,
                    c if depth == 0 && quoted == 0 => plain.push(c),
                    _ => {}
                }
            }
            // The glossary's spacing: a half-width space between Japanese and half-width letters
            // or digits (the app's own name aside, which is written as one word).
            let japanese = |c: char| matches!(c, '\u{3041}'..='\u{309F}' | '\u{30A0}'..='\u{30FA}' | '\u{30FC}' | '\u{4E00}'..='\u{9FFF}');
            let chars: Vec<char> = plain.replace("POP送信ヘルパー", "").chars().collect();
            if chars.windows(2).any(|w| {
                (japanese(w[0]) && w[1].is_ascii_alphanumeric()) || (w[0].is_ascii_alphanumeric() && japanese(w[1]))
            }) {
                stray.push(format!("{id}: no space between Japanese and half-width text"));
            }
            let words = plain.split(|c: char| !(c.is_ascii_alphanumeric() || "_./+-".contains(c)));
            for w in words
                .map(|w| w.trim_matches(|c: char| ".-/+".contains(c)))
                .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
            {
                if !ALLOWED.contains(&w) {
                    stray.push(format!("{id}: {w}"));
                }
            }
        }
        assert!(stray.is_empty(), "English inside Japanese messages: {stray:?}");
        // Nor the English dash: Japanese punctuation or brackets instead.
        let dashed: Vec<&str> = text.lines().filter(|l| !l.starts_with('#') && l.contains(['—', '–'])).collect();
        assert!(dashed.is_empty(), "English dashes in Japanese messages: {dashed:?}");
    }

    /// No message is left behind when the code stops using it.
    #[test]
    fn every_message_is_used() {
        fn sources(dir: &std::path::Path, out: &mut String) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push_str(&std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        let mut code = String::new();
        sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut code);
        let unused: Vec<String> =
            message_ids("ja").into_iter().filter(|id| !code.contains(&format!("\"{id}\""))).collect();
        assert!(unused.is_empty(), "messages no code uses: {unused:?}");
    }

    #[test]
    fn both_languages_have_the_same_ids() {
        let ja = message_ids("ja");
        let en = message_ids("en");
        assert!(ja.len() > 20, "ja has too few messages: {}", ja.len());
        let only_ja: Vec<_> = ja.iter().filter(|id| !en.contains(id)).collect();
        let only_en: Vec<_> = en.iter().filter(|id| !ja.contains(id)).collect();
        assert!(only_ja.is_empty() && only_en.is_empty(), "only in ja: {only_ja:?}; only in en: {only_en:?}");
    }
}
