//! The message being written, as the compose view holds it, and its one saved copy
//! (`draft.toml` in the data folder) so an unsent draft survives closing the window or a crash;
//! and the drafts the student put aside (「下書きに保存」), one file each in `drafts/`, listed
//! with the time they were kept. Turns a draft into a `compose::Draft` for sending. Reads and
//! writes only those files (0600, written whole or not at all).

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
    /// 差出人: the address of the account it goes from, where that is not the first account
    /// (empty: the first). Kept with a draft so it comes back from the same account.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
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

/// A draft put aside, as 作成's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Its name in `drafts/` (the time it was kept, in milliseconds, and a number if two share
    /// one).
    pub id: String,
    pub draft: Unsent,
    pub kept_at: std::time::SystemTime,
}

fn kept_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("drafts")
}

/// The drafts put aside, newest first, and the ids of those that cannot be read (reported, never
/// dropped without a word: their files stay until deleted with `remove_kept`).
pub fn kept(data_dir: &Path) -> (Vec<Kept>, Vec<String>) {
    let (mut out, mut unreadable) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(kept_dir(data_dir)) else { return (out, unreadable) };
    for e in entries.flatten() {
        let path = e.path();
        let Some(id) =
            path.file_stem().and_then(|s| s.to_str()).filter(|_| path.extension().is_some_and(|x| x == "toml"))
        else {
            continue;
        };
        let ms = id.split('-').next().and_then(|m| m.parse::<u64>().ok());
        match (std::fs::read_to_string(&path).ok().and_then(|t| Unsent::from_text(&t)), ms) {
            (Some(draft), Some(ms)) => out.push(Kept {
                id: id.to_owned(),
                draft,
                kept_at: std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
            }),
            _ => unreadable.push(id.to_owned()),
        }
    }
    out.sort_by(|a, b| b.kept_at.cmp(&a.kept_at).then(b.id.cmp(&a.id)));
    (out, unreadable)
}

/// Puts `d` aside at `now`; its id.
pub fn keep(data_dir: &Path, d: &Unsent, now: std::time::SystemTime) -> std::io::Result<String> {
    let ms = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
    let dir = kept_dir(data_dir);
    let text = d.to_text()?;
    for n in 0..1000 {
        let id = if n == 0 { format!("{ms}") } else { format!("{ms}-{n}") };
        let path = dir.join(format!("{id}.toml"));
        if !path.exists() {
            crate::system::files::write_atomic(&path, text.as_bytes())?;
            return Ok(id);
        }
    }
    Err(std::io::Error::other("too many drafts kept in one millisecond"))
}

/// Opens the draft `id` in 作成: it becomes the draft being written (`draft.toml`) before it
/// leaves the list, so a crash between the two leaves it in one place or both, never neither.
pub fn open_kept(data_dir: &Path, id: &str) -> std::io::Result<Option<Unsent>> {
    let Some(path) = kept_path(data_dir, id) else { return Ok(None) };
    let d = match std::fs::read_to_string(&path) {
        Ok(t) => Unsent::from_text(&t).ok_or_else(|| not_a_draft(&path))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    save(data_dir, &d)?;
    std::fs::remove_file(&path)?;
    Ok(Some(d))
}

fn not_a_draft(path: &Path) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: not a draft", path.display()))
}

/// The file of the draft `id`; `None` for an id this module did not make (digits and a dash,
/// never a path).
fn kept_path(data_dir: &Path, id: &str) -> Option<PathBuf> {
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit() || c == '-'))
        .then(|| kept_dir(data_dir).join(format!("{id}.toml")))
}

/// Deletes the draft `id`, readable or not (the student asked); false when it was not there.
pub fn remove_kept(data_dir: &Path, id: &str) -> std::io::Result<bool> {
    let Some(path) = kept_path(data_dir, id) else { return Ok(false) };
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Takes the draft `id` out of the list (deleted); `None` when it is not there.
pub fn take(data_dir: &Path, id: &str) -> std::io::Result<Option<Unsent>> {
    let Some(path) = kept_path(data_dir, id) else { return Ok(None) };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let d = Unsent::from_text(&text).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: not a draft", path.display()))
    })?;
    std::fs::remove_file(&path)?;
    Ok(Some(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drafts put aside come back newest first with their time, each once; two in one
    /// millisecond both stay; an id that is not one of ours reads nothing (no path escapes);
    /// a damaged file is named, not dropped.
    #[test]
    fn drafts_put_aside_are_listed_newest_first_and_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let t = |s: u64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000 + s);
        let d = |subject: &str| Unsent { to: "a@example.net".into(), subject: subject.into(), ..Unsent::default() };
        let a = keep(dir.path(), &d("一通目"), t(0)).unwrap();
        let b = keep(dir.path(), &d("二通目"), t(60)).unwrap();
        let c = keep(dir.path(), &d("三通目"), t(60)).unwrap();
        assert_ne!(b, c, "two drafts in one millisecond share a file");
        let (list, bad) = kept(dir.path());
        assert!(bad.is_empty());
        let subjects: Vec<&str> = list.iter().map(|k| k.draft.subject.as_str()).collect();
        assert_eq!(subjects, ["三通目", "二通目", "一通目"]);
        assert_eq!(list[2].kept_at, t(0));
        // Opened: the draft being written first, then out of the list.
        assert_eq!(open_kept(dir.path(), &a).unwrap().unwrap().subject, "一通目");
        assert_eq!(load(dir.path()).unwrap().unwrap().subject, "一通目", "not kept as the draft being written");
        assert_eq!(open_kept(dir.path(), &a).unwrap(), None, "opened twice");
        assert_eq!(take(dir.path(), "../draft").unwrap(), None);
        assert!(dir.path().join("draft.toml").exists(), "an id reached outside drafts/");
        std::fs::write(dir.path().join("drafts/123.toml"), "to = [").unwrap();
        let (list, bad) = kept(dir.path());
        assert_eq!((list.len(), bad), (2, vec!["123".to_owned()]));
        // A damaged one can still be deleted when the student asks.
        assert!(remove_kept(dir.path(), "123").unwrap());
        assert!(kept(dir.path()).1.is_empty());
    }

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
