//! The message being written, as the compose view holds it, and its one saved copy
//! (`draft.toml` in the data folder) so an unsent draft survives closing the window or a crash.
//! Turns it into a `compose::Draft` for sending. Reads and writes only that file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::message::compose::Draft;

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
    /// Any path the file system has, Unicode or not (a Shift_JIS file name on Linux is what
    /// these students have): see `stored_paths`.
    #[serde(with = "stored_paths")]
    pub attachments: Vec<PathBuf>,
}

/// Paths in the draft file: a Unicode path as its text; any other as its raw bytes (Unix) or
/// UTF-16 units (Windows), so that no file name can keep a draft from being saved.
mod stored_paths {
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Text(String),
        Bytes { os_bytes: Vec<u8> },
        Wide { os_wide: Vec<u16> },
    }

    fn store(p: &Path) -> Stored {
        if let Some(t) = p.to_str() {
            return Stored::Text(t.to_owned());
        }
        #[cfg(unix)]
        {
            Stored::Bytes { os_bytes: std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec() }
        }
        #[cfg(windows)]
        {
            Stored::Wide { os_wide: std::os::windows::ffi::OsStrExt::encode_wide(p.as_os_str()).collect() }
        }
        #[cfg(not(any(unix, windows)))]
        {
            Stored::Text(p.to_string_lossy().into_owned())
        }
    }

    fn restore(s: Stored) -> Option<PathBuf> {
        match s {
            Stored::Text(t) => Some(PathBuf::from(t)),
            #[cfg(unix)]
            Stored::Bytes { os_bytes } => {
                Some(PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(os_bytes)))
            }
            #[cfg(windows)]
            Stored::Wide { os_wide } => {
                Some(PathBuf::from(<std::ffi::OsString as std::os::windows::ffi::OsStringExt>::from_wide(&os_wide)))
            }
            // A path written on another kind of system: not a file here.
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    pub fn serialize<S: Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
        paths.iter().map(PathBuf::as_path).map(store).collect::<Vec<_>>().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
        Ok(Vec::<Stored>::deserialize(d)?.into_iter().filter_map(restore).collect())
    }
}

/// Splits "a@x, b@y、c@z" into addresses.
pub fn split_addresses(s: &str) -> Vec<String> {
    s.split([',', '、', ';']).map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect()
}

/// The entries of an address field that are not mail addresses (checked as the user types).
pub fn bad_addresses(field: &str) -> Vec<String> {
    split_addresses(field).into_iter().filter(|a| address_fault(a).is_some()).collect()
}

/// Why an entry of an address field is not a mail address, in terms a student can fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFault {
    /// Full-width letters or ＠ (typed with the Japanese input on).
    FullWidth,
    Space,
    NoAt,
    TwoAts,
    NothingBeforeAt,
    NothingAfterAt,
    /// A character a mail address cannot hold (a bracket, a comma inside, …).
    Other,
}

/// Why `entry` (one address) is not a mail address, or `None` if it is one.
pub fn address_fault(entry: &str) -> Option<AddressFault> {
    let entry = entry.trim();
    // Full-width forms (U+FF01..U+FF5E) and the ideographic space: the IME left on. An
    // internationalised address may be valid with them, but no student means one.
    if entry.chars().any(|c| matches!(c, '\u{FF01}'..='\u{FF5E}' | '\u{3000}')) {
        return Some(AddressFault::FullWidth);
    }
    if entry.parse::<lettre::Address>().is_ok() {
        return None;
    }
    Some(if entry.chars().any(char::is_whitespace) {
        AddressFault::Space
    } else {
        match entry.split_once('@') {
            None => AddressFault::NoAt,
            Some((_, rest)) if rest.contains('@') => AddressFault::TwoAts,
            Some(("", _)) => AddressFault::NothingBeforeAt,
            Some((_, "")) => AddressFault::NothingAfterAt,
            Some(_) => AddressFault::Other,
        }
    })
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

    /// As stored with a queued message, so 「編集」 can bring it back. Every field is text or a
    /// path in `stored_paths`' form, so this cannot fail; should TOML ever refuse, the error says so.
    pub fn to_text(&self) -> Result<String, std::io::Error> {
        toml::to_string(self).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("the draft cannot be written: {e}"))
        })
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
        Ok(t) => Unsent::from_text(&t).map(Some).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: not a draft", file(data_dir).display()))
        }),
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
    crate::system::files::write_atomic(&file(data_dir), d.to_text()?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_address_says_why() {
        use AddressFault::*;
        for (entry, fault) in [
            ("hanako@example.net", None),
            ("hanako＠example.net", Some(FullWidth)),
            ("ｈａｎａｋｏ@example.net", Some(FullWidth)),
            ("hanako @example.net", Some(Space)),
            ("hanako.example.net", Some(NoAt)),
            ("hanako@@example.net", Some(TwoAts)),
            ("a@b@example.net", Some(TwoAts)),
            ("@example.net", Some(NothingBeforeAt)),
            ("hanako@", Some(NothingAfterAt)),
            ("hana(ko)@example.net", Some(Other)),
        ] {
            assert_eq!(address_fault(entry), fault, "{entry}");
        }
    }

    /// A dropped file whose name is not UTF-8 (Shift_JIS bytes on Linux) no longer stops the
    /// draft from being saved (it used to panic the worker): it is stored and comes back as the
    /// same path, next to an ordinary one.
    #[cfg(unix)]
    #[test]
    fn a_draft_with_a_shift_jis_file_name_survives_a_restart() {
        use std::os::unix::ffi::OsStrExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("期末レポート.pdf");
        let odd = dir.path().join(std::ffi::OsStr::from_bytes(&sjis));
        let d = Unsent {
            subject: "提出".into(),
            attachments: vec![odd.clone(), "/tmp/普通.pdf".into()],
            ..Unsent::default()
        };
        save(dir.path(), &d).unwrap();
        let back = load(dir.path()).unwrap().unwrap();
        assert_eq!(back.attachments, vec![odd, PathBuf::from("/tmp/普通.pdf")]);
        assert_eq!(back, d);
        // The text kept with a queued message (for 編集) round-trips too.
        assert_eq!(Unsent::from_text(&d.to_text().unwrap()), Some(d));
    }

    #[test]
    fn a_draft_survives_and_an_empty_one_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let d = Unsent {
            to: "a@example.net、b@example.net".into(),
            body: "本文\n二行目".into(),
            attachments: vec!["/tmp/レポート.pdf".into()],
            ..Unsent::default()
        };
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
