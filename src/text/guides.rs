//! 設定ガイド: per-client setup guides as data (`assets/guides/<lang>.toml`, embedded), in the
//! language in use, with a search over names and keywords. Japanese is the reference; English has
//! the same clients and sections (a test checks). No I/O, no UI.

use serde::Deserialize;

static JA: &str = include_str!("../../assets/guides/ja.toml");
static EN: &str = include_str!("../../assets/guides/en.toml");

/// Which era a client belongs to: the reference notice's (2000) or today's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Era {
    Reference,
    Today,
    /// Not a client: what an error code or a server's reply means, and what to do.
    Errors,
    /// Not a client: POP before SMTP explained for a newcomer, in one screen.
    Basics,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guide {
    pub id: String,
    pub name: String,
    pub era: Era,
    /// Extra words the search finds the client by (katakana names, abbreviations).
    #[serde(default)]
    pub search: String,
    /// Where the facts come from (a document, a standard, the program's own UI text).
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(rename = "section")]
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub id: String,
    pub title: String,
    pub steps: Vec<String>,
}

#[derive(Deserialize)]
struct File {
    client: Vec<Guide>,
}

/// Every guide in `lang` ("en", else Japanese), in the file's order: the basics, today's programs, the 2000-era ones, the error pages.
pub fn all(lang: &str) -> Vec<Guide> {
    let text = if lang == "en" { EN } else { JA };
    toml::from_str::<File>(text).expect("the embedded guides are valid").client
}

impl Guide {
    /// Whether every word of `query` appears in the name, id or keywords (case-insensitive).
    pub fn matches(&self, query: &str) -> bool {
        let hay = format!("{} {} {}", self.name, self.id, self.search).to_lowercase();
        query.split_whitespace().all(|w| hay.contains(&w.to_lowercase()))
    }

    /// The guide as plain text: the name, then each section with numbered steps.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n", self.name);
        for s in &self.sections {
            out += &format!("\n  {}\n", s.title);
            for (i, step) in s.steps.iter().enumerate() {
                out += &format!("    {}. {step}\n", i + 1);
            }
        }
        if !self.sources.is_empty() {
            out += &format!("\n  {}\n", crate::fl!("guide-sources", sources = self.sources.join("; ")));
        }
        out
    }
}

/// The page that explains a failure of this kind (its codes, the servers' words, what to do).
pub fn page_for(kind: crate::core::problem::kind::Kind) -> Option<&'static str> {
    use crate::core::problem::kind::Kind;
    match kind {
        Kind::RelayDenied | Kind::MessageRefused | Kind::Recipient => Some("error-relay-refused"),
        Kind::SmtpAuthRequired => Some("error-auth-required"),
        Kind::Port25Blocked | Kind::Offline | Kind::ConnectionRefused | Kind::Timeout | Kind::Dropped => {
            Some("error-cannot-connect")
        }
        Kind::WrongPassword | Kind::PopRefused | Kind::ApopRefused => Some("error-pop-login"),
        _ => None,
    }
}

/// The guides matching `query` (all of them for an empty query).
pub fn find<'a>(guides: &'a [Guide], query: &str) -> Vec<&'a Guide> {
    guides.iter().filter(|g| g.matches(query)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ten clients of the reference notice, by the names it gives them.
    const REFERENCE: [&str; 10] = [
        "Outlook Express 5.0 (Windows)",
        "Outlook Express 5.0 (Macintosh)",
        "Internet Mail (Windows)",
        "Outlook 2000 / Outlook 98 (Windows)",
        "Microsoft Exchange / Outlook 97 (Windows)",
        "Netscape Mail / Netscape Messenger (Windows)",
        "Becky! (Windows)",
        "Eudora Pro 4.0 (Windows)",
        "Eudora Pro 4.3 (Windows)",
        "Eudora Pro 4.3 (Macintosh)",
    ];

    #[test]
    fn every_reference_client_is_there_in_both_languages() {
        for lang in ["ja", "en"] {
            let guides = all(lang);
            let names: Vec<_> = guides.iter().filter(|g| g.era == Era::Reference).map(|g| g.name.as_str()).collect();
            assert_eq!(names, REFERENCE, "{lang}");
            for g in &guides {
                assert!(
                    !g.sections.is_empty() && g.sections.iter().all(|s| !s.steps.is_empty()),
                    "{lang} {} has an empty section",
                    g.id
                );
                // Issue 12: every sentence checkable — each guide says where its facts come from.
                assert!(g.sources.iter().any(|s| !s.trim().is_empty()), "{lang} {} has no source", g.id);
            }
        }
    }

    #[test]
    fn both_languages_have_the_same_clients_and_sections() {
        let ja = all("ja");
        let en = all("en");
        let shape = |gs: &[Guide]| {
            gs.iter()
                .map(|g| (g.id.clone(), g.era, g.sections.iter().map(|s| s.id.clone()).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&ja), shape(&en));
    }

    #[test]
    fn the_reference_guides_say_where_the_message_waits_what_to_change_and_how_to_send() {
        for g in all("ja").iter().filter(|g| g.era == Era::Reference) {
            let ids: Vec<_> = g.sections.iter().map(|s| s.id.as_str()).collect();
            assert_eq!(ids[0], "failed", "{}", g.id);
            assert!(ids.iter().any(|i| i.starts_with("send")), "{}", g.id);
        }
        let today: Vec<_> = all("ja").into_iter().filter(|g| g.era == Era::Today).map(|g| g.id).collect();
        assert_eq!(
            today,
            ["thunderbird", "outlook-classic", "new-outlook", "apple-mail", "becky-2", "iphone-mail", "android-gmail"]
        );
        // What is no longer true is said so: new Outlook cannot do POP before SMTP, Windows Mail
        // is retired; classic Outlook's log-on choice needs the authentication tick first.
        let ja = all("ja");
        let text = |id: &str| ja.iter().find(|g| g.id == id).unwrap().text();
        assert!(
            text("new-outlook").contains("POP before SMTP では送れません")
                && text("new-outlook").contains("2024 年 12 月 31 日")
        );
        let outlook = text("outlook-classic");
        assert!(
            outlook.find("まず「送信サーバー (SMTP) は認証が必要」").unwrap()
                < outlook.find("「メールを送信する前に受信メール サーバーにログオンする」を選び").unwrap()
        );
        let tb = text("thunderbird");
        assert!(
            tb.contains("「未送信メッセージを送信」")
                && tb.contains("「新着メッセージを受信」")
                && tb.contains("「後で送信」")
                && tb.contains("「新着メッセージがないか起動時に確認する」")
        );
    }

    /// Issue 12: the error pages are found by the codes and words students type, each says
    /// where its facts come from, and each kind that has one points at a page that exists.
    #[test]
    fn error_pages_are_found_by_code_and_have_sources() {
        use crate::core::problem::kind::Kind;
        for lang in ["ja", "en"] {
            let guides = all(lang);
            for (query, id) in [
                ("0x800CCC78", "error-relay-refused"),
                ("0x800CCC79", "error-relay-refused"),
                ("554", "error-relay-refused"),
                ("Relay access denied", "error-relay-refused"),
                ("530", "error-auth-required"),
                ("0x800CCC0E", "error-cannot-connect"),
                ("OP25B", "error-cannot-connect"),
                ("0x800CCC92", "error-pop-login"),
            ] {
                let found: Vec<_> = find(&guides, query).iter().map(|g| g.id.as_str()).collect();
                assert!(found.contains(&id), "{lang}: {query} finds {found:?}");
            }
            for g in guides.iter().filter(|g| g.era == Era::Errors) {
                assert!(!g.sources.is_empty(), "{lang}: {} has no source", g.id);
                assert_eq!(
                    g.sections.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
                    ["meaning", "next"],
                    "{lang}: {}",
                    g.id
                );
            }
            for kind in Kind::ALL {
                if let Some(id) = page_for(*kind) {
                    assert!(guides.iter().any(|g| g.id == id && g.era == Era::Errors), "{kind:?} → {id}");
                }
            }
        }
        assert_eq!(find(&all("ja"), "25番ポートブロック").len(), 1);
        assert!(find(&all("ja"), "サブミッションポート").iter().any(|g| g.id == "error-cannot-connect"));
    }

    #[test]
    fn search_finds_by_name_keyword_and_id() {
        let guides = all("ja");
        let becky: Vec<_> = find(&guides, "becky").iter().map(|g| g.id.as_str()).collect();
        assert_eq!(becky, ["becky-2", "becky"], "today's program first");
        assert_eq!(find(&guides, "ユードラ").len(), 3);
        assert_eq!(find(&guides, "thunderbird").len(), 1);
        assert_eq!(find(&guides, "becky-2").len(), 1, "an id finds its guide");
        assert_eq!(find(&guides, "").len(), guides.len());
    }
}
