//! The message being written, as the compose view holds it, and its one saved copy
//! (`draft.toml` in the data folder) so an unsent draft survives closing the window or a crash.
//! Turns it into a `compose::Draft` for sending. Reads and writes only that file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::compose::Draft;

/// What the user has typed: recipients as typed (comma- or 、-separated), subject, body, and the
/// files to attach.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Unsent {
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<PathBuf>,
}

/// Splits "a@x, b@y、c@z" into addresses.
pub fn split_addresses(s: &str) -> Vec<String> {
    s.split([',', '、', ';']).map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect()
}

/// The entries of an address field that are not mail addresses (checked as the user types).
pub fn bad_addresses(field: &str) -> Vec<String> {
    split_addresses(field).into_iter().filter(|a| a.parse::<lettre::Address>().is_err()).collect()
}

impl Unsent {
    pub fn is_empty(&self) -> bool {
        *self == Unsent::default()
    }

    /// The draft to build (the sender is filled in from the config by whoever sends it).
    pub fn draft(&self) -> Draft {
        Draft {
            to: split_addresses(&self.to),
            cc: split_addresses(&self.cc),
            bcc: split_addresses(&self.bcc),
            subject: self.subject.clone(),
            body: self.body.clone(),
            attachments: self.attachments.clone(),
            ..Draft::default()
        }
    }

    /// As stored with a queued message, so 「編集」 can bring it back.
    pub fn to_text(&self) -> String {
        toml::to_string(self).expect("a draft always serializes")
    }

    pub fn from_text(text: &str) -> Option<Unsent> {
        toml::from_str(text).ok()
    }
}

fn file(data_dir: &Path) -> PathBuf {
    data_dir.join("draft.toml")
}

/// The saved draft, if any (an unreadable one is reported, not silently dropped).
pub fn load(data_dir: &Path) -> std::io::Result<Option<Unsent>> {
    match std::fs::read_to_string(file(data_dir)) {
        Ok(t) => Unsent::from_text(&t)
            .map(Some)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: not a draft", file(data_dir).display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Saves the draft; an empty one removes the file.
pub fn save(data_dir: &Path, d: &Unsent) -> std::io::Result<()> {
    if d.is_empty() {
        return match std::fs::remove_file(file(data_dir)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    crate::core::files::write_atomic(&file(data_dir), d.to_text().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_survives_and_an_empty_one_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let d = Unsent { to: "a@example.net、b@example.net".into(), body: "本文\n二行目".into(), attachments: vec!["/tmp/レポート.pdf".into()], ..Unsent::default() };
        save(dir.path(), &d).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(d.clone()));
        assert_eq!(d.draft().to, vec!["a@example.net", "b@example.net"]);
        assert_eq!(bad_addresses("a@example.net, taro at example"), vec!["taro at example"]);
        save(dir.path(), &Unsent::default()).unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
    }

    #[test]
    fn a_damaged_draft_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("draft.toml"), "to = [").unwrap();
        assert!(load(dir.path()).is_err());
    }
}
