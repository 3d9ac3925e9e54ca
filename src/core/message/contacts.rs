//! The address book (アドレス帳): names and addresses the student keeps, in `contacts.toml` in the
//! data folder (0600), and what other programs export of theirs — vCard (Thunderbird, iPhone,
//! Gmail's "vCard" export) and CSV (Thunderbird, Gmail, Outlook), in UTF-8 or in Shift_JIS as
//! Japanese Outlook writes it. An entry whose address 作成 would refuse is left out and counted,
//! never guessed at. Reads and writes only that file; nothing here talks to a server.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::message::drafts::address_fault;

/// One person: a name (may be empty) and a mail address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default)]
    pub name: String,
    pub address: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    #[serde(default, rename = "contact")]
    contacts: Vec<Contact>,
}

fn file(data_dir: &Path) -> PathBuf {
    data_dir.join("contacts.toml")
}

/// The address book (empty when there is none yet; an unreadable one is an error, not empty).
pub fn load(data_dir: &Path) -> std::io::Result<Vec<Contact>> {
    match std::fs::read_to_string(file(data_dir)) {
        Ok(t) => toml::from_str::<File>(&t).map(|f| f.contacts).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", file(data_dir).display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Writes the address book whole.
pub fn save(data_dir: &Path, contacts: &[Contact]) -> std::io::Result<()> {
    let text = toml::to_string(&File { contacts: contacts.to_vec() })
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    crate::system::files::write_atomic(&file(data_dir), text.as_bytes())
}

/// `found` added to `book`, each address once (any case): a name fills an empty one. Returns how
/// many were new.
pub fn merge(book: &mut Vec<Contact>, found: Vec<Contact>) -> usize {
    let mut added = 0;
    for c in found {
        match book.iter_mut().find(|b| b.address.eq_ignore_ascii_case(&c.address)) {
            Some(b) if b.name.is_empty() => b.name = c.name,
            Some(_) => {}
            None => {
                book.push(c);
                added += 1;
            }
        }
    }
    added
}

/// What an import found: the contacts, and how many entries were left out (no usable address).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    pub contacts: Vec<Contact>,
    pub skipped: usize,
}

/// Reads an exported address book: vCard or CSV, told apart by their content; UTF-8 (with or
/// without a BOM) or, failing that, Shift_JIS.
pub fn import(bytes: &[u8]) -> Imported {
    // A BOM says the encoding (UTF-16 from Windows, UTF-8 from Excel); else UTF-8 if it is,
    // else Shift_JIS as Japanese Outlook writes.
    let text = match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, bom)) => encoding.decode_without_bom_handling(&bytes[bom..]).0.into_owned(),
        None => match std::str::from_utf8(bytes) {
            Ok(t) => t.to_owned(),
            Err(_) => encoding_rs::SHIFT_JIS.decode(bytes).0.into_owned(),
        },
    };
    if text.to_ascii_uppercase().contains("BEGIN:VCARD") { vcard(&text) } else { csv(&text) }
}

fn keep(out: &mut Imported, name: &str, address: &str) {
    let address = address.trim();
    if address.is_empty() || address_fault(address).is_some() {
        out.skipped += 1;
    } else {
        out.contacts.push(Contact { name: name.trim().to_owned(), address: address.to_owned() });
    }
}

/// vCard 2.1/3.0/4.0: FN (or N) and every EMAIL of each card; folded lines unfolded.
fn vcard(text: &str) -> Imported {
    let mut out = Imported::default();
    // Unfold (RFC 6350 3.2): a line starting with a space or tab continues the one before.
    // vCard 2.1's quoted-printable values go on after a line that ends in "=".
    let mut lines: Vec<String> = Vec::new();
    for l in text.lines() {
        let soft_break = lines.last().is_some_and(|last: &String| {
            last.ends_with('=')
                && last.split(':').next().unwrap_or("").to_ascii_uppercase().contains("QUOTED-PRINTABLE")
        });
        match (l.strip_prefix([' ', '\t']), lines.last_mut()) {
            // A soft break, folded as well or not.
            (rest, Some(last)) if soft_break => {
                last.pop();
                last.push_str(rest.unwrap_or(l));
            }
            (Some(rest), Some(last)) => last.push_str(rest),
            _ => lines.push(l.to_owned()),
        }
    }
    let (mut name, mut n, mut emails) = (String::new(), String::new(), Vec::<String>::new());
    for l in &lines {
        let Some((key, value)) = l.split_once(':') else { continue };
        let value = decoded(key, value);
        let value = value.as_str();
        let prop = key.split(';').next().unwrap_or("").to_ascii_uppercase();
        // A group prefix ("item1.EMAIL") is allowed.
        let prop = prop.rsplit('.').next().unwrap_or("").to_owned();
        match prop.as_str() {
            "BEGIN" => (name, n, emails) = (String::new(), String::new(), Vec::new()),
            "FN" => name = unescape(value),
            // N is family;given;…: shown as a Japanese name reads, family first.
            "N" => n = value.split(';').take(2).map(unescape).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" "),
            "EMAIL" => emails.push(value.trim().to_owned()),
            "END" => {
                let shown = if name.is_empty() { &n } else { &name };
                if emails.is_empty() {
                    out.skipped += 1;
                }
                for e in &emails {
                    keep(&mut out, shown, e);
                }
            }
            _ => {}
        }
    }
    out
}

/// A value as its parameters say: quoted-printable (vCard 2.1) in the CHARSET given (UTF-8 when
/// none), else as it is.
fn decoded(key: &str, value: &str) -> String {
    let params = key.to_ascii_uppercase();
    if !params.contains("QUOTED-PRINTABLE") {
        return value.to_owned();
    }
    let mut bytes = Vec::with_capacity(value.len());
    let raw = value.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (raw[i], raw.get(i + 1).copied().and_then(hex), raw.get(i + 2).copied().and_then(hex)) {
            (b'=', Some(h), Some(l)) => {
                bytes.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                bytes.push(b);
                i += 1;
            }
        }
    }
    let charset = params.split(';').find_map(|p| p.strip_prefix("CHARSET=")).unwrap_or("UTF-8");
    let encoding = encoding_rs::Encoding::for_label(charset.as_bytes()).unwrap_or(encoding_rs::UTF_8);
    encoding.decode_without_bom_handling(&bytes).0.into_owned()
}

fn unescape(v: &str) -> String {
    v.replace("\\,", ",").replace("\\;", ";").replace("\\n", " ").replace("\\\\", "\\").trim().to_owned()
}

/// CSV with a header row: the address from the first column whose name says mail (Primary
/// Email, E-mail Address, E-mail 1 - Value, 電子メール アドレス…), the name from Display Name /
/// Name / 表示名, else the family and given names.
fn csv(text: &str) -> Imported {
    let mut out = Imported::default();
    let mut rows = records(text).into_iter().filter(|r| r.iter().any(|f| !f.trim().is_empty()));
    let Some(header) = rows.next() else { return out };
    let lower: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let find = |names: &[&str]| lower.iter().position(|h| names.iter().any(|n| h == n));
    // The address column, not its label or type ("E-mail 1 - Label", "E-mail 1 - Type").
    let mail = lower.iter().position(|h| {
        (h.contains("mail") || h.contains("メール"))
            && !["type", "label", "種類", "表示", "ラベル"].iter().any(|not| h.contains(not))
    });
    let Some(mail) = mail else {
        out.skipped = rows.count();
        return out;
    };
    let display = find(&["display name", "name", "表示名", "名前"]);
    let (family, given) = (find(&["last name", "family name", "姓"]), find(&["first name", "given name", "名"]));
    for row in rows {
        let get = |i: Option<usize>| i.and_then(|i| row.get(i)).map(|s| s.trim().to_owned()).unwrap_or_default();
        let mut name = get(display);
        if name.is_empty() {
            name = [get(family), get(given)].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
        }
        // Gmail puts several addresses in one cell, " ::: " apart.
        let cell = get(Some(mail));
        let addresses: Vec<&str> = cell.split(":::").map(str::trim).filter(|a| !a.is_empty()).collect();
        if addresses.is_empty() {
            out.skipped += 1;
        }
        for a in addresses {
            keep(&mut out, &name, a);
        }
    }
    out
}

/// CSV records (RFC 4180): commas split fields, line ends split records, and quotes hold both
/// (a note over several lines stays in its cell) and doubled quotes.
fn records(text: &str) -> Vec<Vec<String>> {
    let (mut out, mut row, mut cur, mut quoted) = (Vec::new(), Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cur)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut cur));
                out.push(std::mem::take(&mut row));
            }
            (c, _) => cur.push(c),
        }
    }
    if !cur.is_empty() || !row.is_empty() {
        row.push(cur);
        out.push(row);
    }
    out
}

/// The address book as vCard 3.0, for other programs.
pub fn export_vcard(contacts: &[Contact]) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace(',', "\\,").replace(';', "\\;");
    contacts
        .iter()
        .map(|c| {
            let name = if c.name.is_empty() { &c.address } else { &c.name };
            format!("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{}\r\nEMAIL:{}\r\nEND:VCARD\r\n", esc(name), c.address)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, address: &str) -> Contact {
        Contact { name: name.into(), address: address.into() }
    }

    #[test]
    fn vcards_from_thunderbird_and_phones_are_read() {
        let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:山田 太郎\r\nN:山田;太郎;;;\r\nEMAIL;TYPE=INTERNET:yamada@example.ac.jp\r\nitem1.EMAIL;type=pref:taro@example.net\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:4.0\r\nN:佐藤;花子;;;\r\nEMAIL:hana\r\n ko@example.org\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:No Mail\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:Typo\r\nEMAIL:typo＠example.com\r\nEND:VCARD\r\n";
        let got = import(text.as_bytes());
        assert_eq!(
            got.contacts,
            [
                c("山田 太郎", "yamada@example.ac.jp"),
                c("山田 太郎", "taro@example.net"),
                c("佐藤 花子", "hanako@example.org")
            ]
        );
        assert_eq!(got.skipped, 2, "the card without mail and the full-width typo");
        // vCard 2.1 from older phones: quoted-printable names, in UTF-8 or Shift_JIS, over lines.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("鈴木");
        let qp: String = sjis.iter().map(|b| format!("={b:02X}")).collect();
        let v21 = format!(
            "BEGIN:VCARD\r\nVERSION:2.1\r\nFN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=B1=B1=E7=94=B0=\r\n =E5=A4=AA=E9=83=8E\r\nEMAIL;INTERNET:yamada@example.ac.jp\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nFN;CHARSET=SHIFT_JIS;ENCODING=QUOTED-PRINTABLE:{qp}\r\nEMAIL:suzuki@example.jp\r\nEND:VCARD\r\n"
        );
        assert_eq!(
            import(v21.as_bytes()).contacts,
            [c("山田太郎", "yamada@example.ac.jp"), c("鈴木", "suzuki@example.jp")]
        );
    }

    #[test]
    fn csv_from_thunderbird_gmail_and_japanese_outlook_is_read() {
        let thunderbird = "First Name,Last Name,Display Name,Nickname,Primary Email,Secondary Email\n太郎,山田,山田 太郎,,yamada@example.ac.jp,\n,,\"Sato, Hanako\",,hanako@example.org,\n";
        let got = import(thunderbird.as_bytes());
        assert_eq!(got.contacts, [c("山田 太郎", "yamada@example.ac.jp"), c("Sato, Hanako", "hanako@example.org")]);
        let gmail = "\u{feff}Name,Given Name,Family Name,E-mail 1 - Label,E-mail 1 - Value,Notes\n鈴木 一郎,一郎,鈴木,* Home,ichiro@example.com ::: suzuki@example.jp,\"ゼミ\n2 行目のメモ, カンマも\"\n名無し,,,,,\n";
        let got = import(gmail.as_bytes());
        assert_eq!(got.contacts, [c("鈴木 一郎", "ichiro@example.com"), c("鈴木 一郎", "suzuki@example.jp")]);
        assert_eq!(got.skipped, 1);
        let outlook = "名,姓,電子メール アドレス,電子メール 表示名\n次郎,田中,tanaka@example.ac.jp,田中 次郎\n";
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(outlook);
        let got = import(&sjis);
        assert_eq!(got.contacts, [c("田中 次郎", "tanaka@example.ac.jp")]);
        // UTF-16 with its BOM, as some Windows exports are.
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain(outlook.encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(import(&utf16).contacts, [c("田中 次郎", "tanaka@example.ac.jp")]);
    }

    #[test]
    fn the_book_is_kept_merged_and_exported() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_empty());
        let mut book = vec![c("", "a@example.net")];
        assert_eq!(merge(&mut book, vec![c("Aさん", "A@example.net"), c("B", "b@example.net")]), 1);
        assert_eq!(book, [c("Aさん", "a@example.net"), c("B", "b@example.net")]);
        save(dir.path(), &book).unwrap();
        assert_eq!(load(dir.path()).unwrap(), book);
        let back = import(export_vcard(&book).as_bytes());
        assert_eq!((back.contacts, back.skipped), (book, 0));
    }
}
