//! Provider presets: the built-in list (`assets/presets.toml`, embedded) and the user's own
//! (`presets.toml` beside the config file), and filling the settings form from one. Only server
//! fields are filled: the address, user name and password stay as the user typed them. Reading the
//! user's file is the only I/O here.

use std::path::Path;

use serde::Deserialize;

use crate::setup::account::Security;

static BUILTIN: &str = include_str!("../../../assets/presets.toml");

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub name_en: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub note_en: Option<String>,
    #[serde(default)]
    pub pop_host: Option<String>,
    #[serde(default)]
    pub pop_port: Option<u16>,
    #[serde(default)]
    pub pop_security: Option<Security>,
    /// The server has neither TLS nor APOP for everyone: the preset allows USER/PASS in the
    /// clear (a university's own preset says so; the built-in ones never do).
    #[serde(default)]
    pub pop_allow_plaintext: Option<bool>,
    #[serde(default)]
    pub smtp_host: Option<String>,
    #[serde(default)]
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub smtp_security: Option<Security>,
    /// SMTP AUTH with the POP user name.
    #[serde(default)]
    pub smtp_auth: Option<bool>,
    #[serde(default)]
    pub window_minutes: Option<f64>,
    /// Where the preset's facts come from (a server's own notice), for a preset that states any.
    #[serde(default)]
    pub sources: Vec<String>,
    /// The mail domains this preset is for (subdomains included): the first-run assistant
    /// chooses it from the address alone.
    #[serde(default)]
    pub domains: Vec<String>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    preset: Vec<Preset>,
}

/// The presets that ship with popsend.
pub fn builtin() -> Vec<Preset> {
    toml::from_str::<File>(BUILTIN).expect("assets/presets.toml is valid").preset
}

/// Presets in the file format (`[[preset]]` tables).
pub fn parse(text: &str) -> Result<Vec<Preset>, toml::de::Error> {
    toml::from_str::<File>(text).map(|f| f.preset)
}

/// The user's presets file beside `config_file`.
pub fn user_file(config_file: &Path) -> std::path::PathBuf {
    config_file.with_file_name("presets.toml")
}

/// The built-in presets followed by the user's (a missing file is none; a broken one is an
/// error naming the file, and the built-in ones still come back).
pub fn load(config_file: &Path) -> (Vec<Preset>, Option<String>) {
    let mut all = builtin();
    let path = user_file(config_file);
    match std::fs::read_to_string(&path) {
        Ok(text) => match parse(&text) {
            Ok(presets) => all.extend(presets),
            Err(e) => return (all, Some(format!("{}: {}", path.display(), e.message()))),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return (all, Some(format!("{}: {e}", path.display()))),
    }
    (all, None)
}

impl Preset {
    /// The name in the language asked for ("en" or anything else for Japanese).
    pub fn name_in(&self, lang: &str) -> &str {
        match (lang, &self.name_en) {
            ("en", Some(n)) => n,
            _ => &self.name,
        }
    }

    pub fn note_in(&self, lang: &str) -> Option<&str> {
        match (lang, &self.note_en) {
            ("en", Some(n)) => Some(n),
            _ => self.note.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_presets_follow_the_builtin_ones_and_a_broken_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            user_file(&config),
            "[[preset]]\nid = \"lab\"\nname = \"研究室\"\npop_host = \"pop.lab.example\"\n",
        )
        .unwrap();
        let (all, problem) = load(&config);
        assert_eq!(problem, None);
        assert_eq!(all.last().unwrap().id, "lab");
        std::fs::write(user_file(&config), "[[preset]]\nid = 3\n").unwrap();
        let (all, problem) = load(&config);
        assert_eq!(all.len(), builtin().len());
        assert!(problem.unwrap().contains("presets.toml"));
    }
}
