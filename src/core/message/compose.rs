//! Builds the message to send: a `Draft` (what the user wrote) becomes raw RFC 5322 bytes plus
//! the SMTP envelope, with lettre's builder. Subject and names are RFC 2047 encoded; attachment
//! names carry both RFC 2231 `filename*` and the RFC 2047 `name=` that Outlook reads; Message-ID
//! and Date are fixed here, once. Bcc goes only into the envelope. Header injection (any control
//! character in a header field) is refused. Attachments are read with a size limit, from regular
//! files only. Headers are built in time linear in the number of recipients. Reads attachment
//! files; does no network I/O.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use lettre::Address;
use lettre::address::Envelope;
use lettre::message::header::{self, ContentType};
use lettre::message::{Attachment, Mailbox, Mailboxes, MultiPart, SinglePart};

/// The most a message's attachments may hold together, unless the caller says otherwise: more
/// than almost any server accepts (25 MB is a common limit; base64 adds a third).
pub const DEFAULT_MAX_ATTACHMENTS: u64 = 20 * 1024 * 1024;

/// How the text of a message (subject, names, body) is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
pub enum Charset {
    /// UTF-8: every character, what today's mail programs expect.
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// ISO-2022-JP (RFC 1468): the Japanese mail convention, for recipients whose systems expect
    /// it; half-width katakana are made full-width, and characters outside JIS X 0208 are refused.
    #[serde(rename = "iso-2022-jp")]
    Iso2022Jp,
}

impl Charset {
    pub fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "utf-8",
            Charset::Iso2022Jp => "iso-2022-jp",
        }
    }
}

/// What the user wrote.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub from_address: String,
    pub from_name: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<PathBuf>,
    pub charset: Charset,
}

/// Limits on what a message may carry.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The attachments together, in bytes (before encoding).
    pub attachments: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { attachments: DEFAULT_MAX_ATTACHMENTS }
    }
}

impl Draft {
    /// The recipients as the outbox lists them: To, then Cc (never Bcc).
    pub fn listed_recipients(&self) -> String {
        self.to.iter().chain(&self.cc).cloned().collect::<Vec<_>>().join(", ")
    }
}

/// A message ready for SMTP: its bytes and its envelope (what is stored in the outbox and sent).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub raw: Vec<u8>,
    pub envelope: Envelope,
    /// With angle brackets.
    pub message_id: String,
}

#[derive(Debug)]
pub enum ComposeError {
    /// A field holds a CR or LF: it could inject headers.
    LineBreak {
        field: &'static str,
    },
    /// A field holds another control character (U+0000–U+001F, U+007F), which no header may carry.
    ControlCharacter {
        field: &'static str,
        code: u32,
    },
    /// The attachments together are larger than the limit.
    TooLarge {
        path: PathBuf,
        limit: u64,
    },
    BadAddress {
        field: &'static str,
        value: String,
        reason: String,
    },
    NoRecipient,
    Attachment {
        path: PathBuf,
        reason: String,
    },
    Build {
        reason: String,
    },
    /// ISO-2022-JP was asked for and these characters (each once) are outside it.
    Unencodable {
        chars: Vec<char>,
    },
}

impl fmt::Display for ComposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComposeError::LineBreak { field } => write!(f, "{field}: contains a line break (CR or LF)"),
            ComposeError::ControlCharacter { field, code } => {
                write!(f, "{field}: contains the control character U+{code:04X}")
            }
            ComposeError::TooLarge { path, limit } => write!(
                f,
                "{}: cannot attach: the attachments would be larger than {} MB together",
                path.display(),
                limit / (1024 * 1024)
            ),
            ComposeError::BadAddress { field, value, reason } => {
                write!(f, "{field}: {value:?} is not a mail address: {reason}")
            }
            ComposeError::NoRecipient => f.write_str("no recipient (To, Cc or Bcc)"),
            ComposeError::Attachment { path, reason } => write!(f, "{}: cannot attach: {reason}", path.display()),
            ComposeError::Build { reason } => write!(f, "cannot build the message: {reason}"),
            ComposeError::Unencodable { chars } => {
                let list: Vec<String> = chars.iter().map(|c| format!("{c} (U+{:04X})", *c as u32)).collect();
                write!(f, "ISO-2022-JP cannot carry: {}", list.join(", "))
            }
        }
    }
}

impl std::error::Error for ComposeError {}

/// A header field's text: no line break (header injection) and no other control character
/// (a raw U+000B or ESC in a Subject). Tab is allowed: it is folding white space.
fn no_line_break(field: &'static str, value: &str) -> Result<(), ComposeError> {
    if value.contains(['\r', '\n']) {
        return Err(ComposeError::LineBreak { field });
    }
    match value.chars().find(|c| c.is_control() && *c != '\t') {
        Some(c) => Err(ComposeError::ControlCharacter { field, code: c as u32 }),
        None => Ok(()),
    }
}

/// Parses an address ("addr") or a mailbox ("addr" or "Name <addr>"), naming the field on error.
fn parse<T: std::str::FromStr<Err: fmt::Display>>(field: &'static str, value: &str) -> Result<T, ComposeError> {
    no_line_break(field, value)?;
    value.trim().parse::<T>().map_err(|e| ComposeError::BadAddress {
        field,
        value: value.to_owned(),
        reason: e.to_string(),
    })
}

/// Builds the message with the default limits. `now` becomes its Date.
pub fn build(d: &Draft, now: SystemTime) -> Result<Outgoing, ComposeError> {
    build_with(d, now, Limits::default())
}

/// Builds the message. `now` becomes its Date.
pub fn build_with(d: &Draft, now: SystemTime, limits: Limits) -> Result<Outgoing, ComposeError> {
    no_line_break("Subject", &d.subject)?;
    if let Some(name) = &d.from_name {
        no_line_break("From", name)?;
    }
    let jis = d.charset == Charset::Iso2022Jp;
    // In ISO-2022-JP half-width katakana become full-width (the convention; many readers show
    // them as garbage otherwise).
    let text = |s: &str| if jis { crate::message::jis::fullwidth_kana(s) } else { s.to_owned() };
    let named = |mut m: Mailbox| {
        m.name = m.name.map(|n| text(&n));
        m
    };
    let from_addr: Address = parse("From", &d.from_address)?;
    let from = Mailbox::new(d.from_name.as_deref().filter(|n| !n.is_empty()).map(text), from_addr.clone());
    let to = d.to.iter().map(|v| parse::<Mailbox>("To", v).map(named)).collect::<Result<Vec<_>, _>>()?;
    let cc = d.cc.iter().map(|v| parse::<Mailbox>("Cc", v).map(named)).collect::<Result<Vec<_>, _>>()?;
    let bcc = d.bcc.iter().map(|v| parse::<Mailbox>("Bcc", v)).collect::<Result<Vec<_>, _>>()?;
    if to.is_empty() && cc.is_empty() && bcc.is_empty() {
        return Err(ComposeError::NoRecipient);
    }
    let (subject, body) = (text(&d.subject), text(&d.body));
    if jis {
        // Named before anything is built: never a silent `?` in what the recipient reads.
        let names = [&from].into_iter().chain(&to).chain(&cc).filter_map(|m| m.name.as_deref());
        let all: String = [subject.as_str(), body.as_str()].into_iter().chain(names).collect::<Vec<_>>().join("\n");
        let chars = crate::message::jis::unencodable(&all);
        if !chars.is_empty() {
            return Err(ComposeError::Unencodable { chars });
        }
    }

    // The envelope: every recipient once, Bcc included; Bcc never appears in the headers because
    // the builder is not given it.
    let mut seen = std::collections::HashSet::new();
    let rcpts: Vec<Address> = to
        .iter()
        .chain(&cc)
        .chain(&bcc)
        .map(|m| m.email.clone())
        .filter(|a| seen.insert(a.to_string().to_ascii_lowercase()))
        .collect();
    let envelope =
        Envelope::new(Some(from_addr.clone()), rcpts).map_err(|e| ComposeError::Build { reason: e.to_string() })?;

    let message_id = format!("<{}.popsend@{}>", uuid::Uuid::new_v4().simple(), from_addr.domain());
    let mut b = lettre::Message::builder()
        .from(from.clone())
        .subject(subject.clone())
        .date(now)
        .message_id(Some(message_id.clone()))
        .user_agent(format!("popsend/{}", env!("CARGO_PKG_VERSION")))
        // Our own envelope: lettre would otherwise parse the headers again for it.
        .envelope(envelope.clone());
    // Each header set once from the whole list: `.to(m)` per address re-parses the header it
    // grows, which made 10,000 recipients take minutes.
    if !to.is_empty() {
        b = b.header(header::To::from(Mailboxes::from(to.clone())));
    }
    if !cc.is_empty() {
        b = b.header(header::Cc::from(Mailboxes::from(cc.clone())));
    }
    if jis {
        // The same headers, their text as ISO-2022-JP encoded words instead of lettre's UTF-8.
        let raw = |name: &'static str, plain: String, encoded: String| {
            header::HeaderValue::dangerous_new_pre_encoded(header::HeaderName::new_from_ascii_str(name), plain, encoded)
        };
        b = b.raw_header(raw("Subject", subject.clone(), crate::message::jis::header_words(&subject)));
        for (name, list) in [("From", std::slice::from_ref(&from)), ("To", to.as_slice()), ("Cc", cc.as_slice())] {
            if !list.is_empty() {
                let plain = Mailboxes::from(list.to_vec()).to_string();
                b = b.raw_header(raw(name, plain, jis_mailboxes(list)));
            }
        }
    }

    let text = if jis {
        let bytes = crate::message::jis::body(&body);
        // 7-bit, as RFC 1468 asks (lettre would choose base64 past 76 characters a line, which
        // Japanese lines reach at 35 letters); base64 only for a line over RFC 5322's 998.
        let fits = bytes.split(|b| *b == b'\n').all(|line| line.len() <= 999);
        let encoded = if fits {
            lettre::message::Body::dangerous_pre_encoded(bytes, header::ContentTransferEncoding::SevenBit)
        } else {
            lettre::message::Body::new_with_encoding(bytes, header::ContentTransferEncoding::Base64).unwrap_or_else(
                |bytes| lettre::message::Body::dangerous_pre_encoded(bytes, header::ContentTransferEncoding::Base64),
            )
        };
        let charset = ContentType::parse("text/plain; charset=ISO-2022-JP")
            .map_err(|e| ComposeError::Build { reason: e.to_string() })?;
        SinglePart::builder().header(charset).body(encoded)
    } else {
        SinglePart::plain(body)
    };
    let message = if d.attachments.is_empty() {
        b.singlepart(text)
    } else {
        let mut mixed = MultiPart::mixed().singlepart(text);
        let mut budget = limits.attachments;
        for path in &d.attachments {
            mixed = mixed.singlepart(attachment(path, &mut budget, limits.attachments)?);
        }
        b.multipart(mixed)
    }
    .map_err(|e| ComposeError::Build { reason: e.to_string() })?;

    Ok(Outgoing { raw: message.formatted(), envelope, message_id })
}

/// Mailboxes as an address header's value with ISO-2022-JP names, one per line.
fn jis_mailboxes(list: &[Mailbox]) -> String {
    list.iter()
        .map(|m| match &m.name {
            Some(name) if !name.is_ascii() => {
                format!("{} <{}>", crate::message::jis::header_words(name), m.email)
            }
            _ => m.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",\r\n ")
}

fn attachment(path: &Path, budget: &mut u64, limit: u64) -> Result<SinglePart, ComposeError> {
    let bytes = read_limited(path, budget, limit)?;
    let bad = |reason: String| ComposeError::Attachment { path: path.to_owned(), reason };
    let name = attachment_name(path).ok_or_else(|| bad("the path has no file name".into()))?;
    no_line_break("attachment file name", &name)?;
    let content_type = ContentType::parse(&format!("{}; name=\"{}\"", mime_for(&name), rfc2047_words(&name)))
        .map_err(|e| bad(e.to_string()))?;
    Ok(Attachment::new(name).body(bytes, content_type))
}

/// The name the recipient sees: the file name as it is when it is Unicode; otherwise (Linux, a
/// file copied from a Japanese Windows or an old archive) decoded as Shift_JIS when that reads
/// cleanly, else with U+FFFD for the bytes that are not UTF-8.
pub fn attachment_name(path: &Path) -> Option<String> {
    let name = path.file_name()?;
    if let Some(n) = name.to_str() {
        return Some(n.to_owned());
    }
    let bytes = name.as_encoded_bytes();
    let (decoded, _, errors) = encoding_rs::SHIFT_JIS.decode(bytes);
    Some(if errors { String::from_utf8_lossy(bytes).into_owned() } else { decoded.into_owned() })
}

/// Reads a regular file of at most `budget` bytes (and takes its size off the budget). A device
/// (`/dev/zero`), a pipe or a folder is refused before reading; a file that grows while it is
/// read stops at the budget.
pub fn read_limited(path: &Path, budget: &mut u64, limit: u64) -> Result<Vec<u8>, ComposeError> {
    use std::io::Read as _;
    let bad = |reason: String| ComposeError::Attachment { path: path.to_owned(), reason };
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let meta = file.metadata().map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    if meta.len() > *budget {
        return Err(ComposeError::TooLarge { path: path.to_owned(), limit });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(*budget + 1).read_to_end(&mut bytes).map_err(|e| bad(e.to_string()))?;
    if bytes.len() as u64 > *budget {
        return Err(ComposeError::TooLarge { path: path.to_owned(), limit });
    }
    *budget -= bytes.len() as u64;
    Ok(bytes)
}

/// The file name as RFC 2047 encoded words (UTF-8, base64), split so each word stays under 75
/// characters; a plain ASCII name without quotes or backslashes is left as it is.
pub fn rfc2047_words(name: &str) -> String {
    if name.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        return name.to_owned();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in name.chars() {
        // 45 bytes of UTF-8 -> 60 base64 characters + 12 of "=?UTF-8?B?" and "?=".
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    words.push(chunk);
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(w)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn mime_for(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "txt" => "text/plain",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "csv" => "text/csv",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    fn draft() -> Draft {
        Draft {
            from_address: "taro@example.ac.jp".into(),
            from_name: Some("山田 太郎".into()),
            to: vec!["Hanako <hanako@example.net>".into()],
            cc: vec!["jiro@example.org".into()],
            bcc: vec!["secret@example.com".into()],
            subject: "レポート提出のお知らせ".into(),
            body: "先生\n\nレポートを添付します。\n".into(),
            attachments: vec![],
            charset: Charset::Utf8,
        }
    }

    /// Issue 12: ISO-2022-JP headers and body that an independent parser reads back exactly,
    /// half-width katakana made full-width; characters it cannot carry are named, nothing built.
    #[test]
    fn iso_2022_jp_reads_back_and_refuses_what_it_cannot_carry() {
        let mut d = draft();
        d.charset = Charset::Iso2022Jp;
        d.to = vec!["花子 <hanako@example.net>".into()];
        d.subject = "期末ﾚﾎﾟｰﾄの提出について（情報科学概論・第３回）".repeat(2);
        d.body = "先生\n\nｶﾞｲﾀﾞﾝｽの資料を添付します。\n¥1,000 - よろしくお願いします。\n".into();
        let built = build(&d, SystemTime::UNIX_EPOCH).unwrap();
        assert!(built.raw.is_ascii(), "ISO-2022-JP is 7-bit");
        let text = String::from_utf8(built.raw.clone()).unwrap();
        assert!(text.contains("Subject: =?ISO-2022-JP?B?"), "{text}");
        assert!(text.to_ascii_lowercase().contains("content-type: text/plain; charset=iso-2022-jp"), "{text}");
        assert!(text.lines().all(|l| l.len() <= 998));
        // The words decode back (an independent parser reads the delivered message in
        // `real_servers::iso_2022_jp_goes_through_postfix_and_decodes_identically`).
        let header = |name: &str| {
            let start = text.find(&format!("\r\n{name}: ")).unwrap() + name.len() + 4;
            let end = start + text[start..].find("\r\n").unwrap();
            let mut end = end;
            while text[end + 2..].starts_with(' ') {
                end = end + 2 + text[end + 2..].find("\r\n").unwrap();
            }
            text[start..end].to_owned()
        };
        let words = header("Subject");
        let decoded: String = words
            .split("\r\n ")
            .map(|w| {
                let b64 = w.strip_prefix("=?ISO-2022-JP?B?").and_then(|w| w.strip_suffix("?=")).unwrap();
                let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
                encoding_rs::ISO_2022_JP.decode(&bytes).0.into_owned()
            })
            .collect();
        assert_eq!(decoded, "期末レポートの提出について（情報科学概論・第３回）".repeat(2));
        assert!(header("To").ends_with("<hanako@example.net>") && header("To").starts_with("=?ISO-2022-JP?B?"));

        d.subject = "①番の件".into();
        d.body = "㈱より 😀".into();
        match build(&d, SystemTime::UNIX_EPOCH) {
            Err(ComposeError::Unencodable { chars }) => assert_eq!(chars, vec!['①', '㈱', '😀']),
            other => panic!("{other:?}"),
        }
        d.charset = Charset::Utf8;
        assert!(build(&d, SystemTime::UNIX_EPOCH).is_ok(), "UTF-8 carries them");
    }

    #[test]
    fn japanese_subject_and_names_survive_a_round_trip() {
        let built = build(&draft(), SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_780_000_000)).unwrap();
        let raw = String::from_utf8(built.raw.clone()).unwrap();
        assert!(raw.is_ascii(), "headers and body must be encoded");
        // Not a bare "bcc" search: the random boundary and Message-ID may hold those letters.
        let leaked = raw.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")) || raw.contains("secret@");
        assert!(!leaked, "Bcc leaked into the headers");
        let m = MessageParser::default().parse(&built.raw).unwrap();
        assert_eq!(m.subject(), Some("レポート提出のお知らせ"));
        assert_eq!(m.from().unwrap().first().unwrap().name(), Some("山田 太郎"));
        assert_eq!(m.body_text(0).unwrap().replace("\r\n", "\n"), "先生\n\nレポートを添付します。\n");
        assert_eq!(m.message_id(), Some(built.message_id.trim_matches(['<', '>'])));
        assert!(built.message_id.ends_with("@example.ac.jp>"));
        assert!(m.date().is_some());
        let rcpts: Vec<String> = built.envelope.to().iter().map(|a| a.to_string()).collect();
        assert_eq!(rcpts, vec!["hanako@example.net", "jiro@example.org", "secret@example.com"]);
        assert_eq!(built.envelope.from().unwrap().to_string(), "taro@example.ac.jp");
    }

    #[test]
    fn japanese_attachment_name_in_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("期末レポート_山田太郎_最終版の提出用ファイル.pdf");
        std::fs::write(&path, b"%PDF-1.4 test").unwrap();
        let mut d = draft();
        d.attachments.push(path);
        let built = build(&d, SystemTime::now()).unwrap();
        let raw = String::from_utf8(built.raw.clone()).unwrap();
        assert!(raw.contains("filename*"), "RFC 2231 form missing:\n{raw}");
        assert!(raw.contains("name=\"=?UTF-8?B?"), "RFC 2047 name= form missing:\n{raw}");
        let m = MessageParser::default().parse(&built.raw).unwrap();
        let a = m.attachment(0).unwrap();
        assert_eq!(a.attachment_name(), Some("期末レポート_山田太郎_最終版の提出用ファイル.pdf"));
        assert_eq!(a.contents(), b"%PDF-1.4 test");
        // Outlook's reading: Content-Type name= alone.
        let ct_name = a.content_type().unwrap().attribute("name").unwrap();
        assert_eq!(ct_name, "期末レポート_山田太郎_最終版の提出用ファイル.pdf");
    }

    /// A file whose name is Shift_JIS bytes (not UTF-8), as a file from a Japanese Windows keeps
    /// on Linux: it is attached, named as the student reads it, in both header forms.
    #[cfg(unix)]
    #[test]
    fn a_shift_jis_file_name_is_sent_under_its_japanese_name() {
        use std::os::unix::ffi::OsStrExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("レポート.txt");
        let path = dir.path().join(std::ffi::OsStr::from_bytes(&sjis));
        assert!(path.to_str().is_none(), "the test needs a name that is not UTF-8");
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(attachment_name(&path).as_deref(), Some("レポート.txt"));
        let mut d = draft();
        d.attachments.push(path);
        let built = build(&d, SystemTime::now()).unwrap();
        let m = MessageParser::default().parse(&built.raw).unwrap();
        let a = m.attachment(0).unwrap();
        assert_eq!(a.attachment_name(), Some("レポート.txt"));
        assert_eq!(a.content_type().unwrap().attribute("name"), Some("レポート.txt"));
        assert_eq!(a.contents(), b"hello");
    }

    #[test]
    fn encoded_words_stay_short() {
        let w = rfc2047_words(&"あ".repeat(100));
        for word in w.split(' ') {
            assert!(word.len() <= 75, "{word}");
        }
        assert_eq!(rfc2047_words("report.pdf"), "report.pdf");
    }

    #[test]
    fn header_injection_is_refused() {
        let mut d = draft();
        d.subject = "hello\r\nBcc: victim@example.com".into();
        assert!(matches!(build(&d, SystemTime::now()), Err(ComposeError::LineBreak { field: "Subject" })));
        let mut d = draft();
        d.to = vec!["a@example.net\nX-Evil: 1".into()];
        assert!(matches!(build(&d, SystemTime::now()), Err(ComposeError::LineBreak { field: "To" })));
        let mut d = draft();
        d.from_name = Some("Taro\rX: y".into());
        assert!(matches!(build(&d, SystemTime::now()), Err(ComposeError::LineBreak { field: "From" })));
    }

    #[test]
    fn bad_input_names_the_thing() {
        let mut d = draft();
        d.to = vec!["not-an-address".into()];
        let e = build(&d, SystemTime::now()).unwrap_err();
        assert!(e.to_string().starts_with("To: \"not-an-address\""), "{e}");
        let mut d = draft();
        d.to.clear();
        d.cc.clear();
        d.bcc.clear();
        assert!(matches!(build(&d, SystemTime::now()), Err(ComposeError::NoRecipient)));
        let mut d = draft();
        d.attachments.push("/nonexistent/レポート.pdf".into());
        let e = build(&d, SystemTime::now()).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/レポート.pdf: cannot attach"), "{e}");
    }

    /// Issue 9, case 14: no control character goes raw into a header.
    #[test]
    fn control_characters_in_headers_are_refused() {
        let mut d = draft();
        d.subject = "レポート\u{b}提出".into();
        let e = build(&d, SystemTime::now()).unwrap_err();
        assert!(matches!(e, ComposeError::ControlCharacter { field: "Subject", code: 0xb }), "{e:?}");
        assert_eq!(e.to_string(), "Subject: contains the control character U+000B");
        let mut d = draft();
        d.from_name = Some("Taro\u{1b}[2J".into());
        assert!(matches!(build(&d, SystemTime::now()), Err(ComposeError::ControlCharacter { field: "From", .. })));
        let mut d = draft();
        d.subject = "tab\tis fine".into();
        build(&d, SystemTime::now()).unwrap();
    }

    /// Issue 9, case 7: an endless file is refused before it is read; a large one by its size.
    #[test]
    fn attachments_are_read_with_a_limit() {
        let mut d = draft();
        d.attachments.push("/dev/zero".into());
        let e = build(&d, SystemTime::now()).unwrap_err();
        assert!(e.to_string().starts_with("/dev/zero: cannot attach: not a regular file"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
        std::fs::write(&a, vec![1u8; 600]).unwrap();
        std::fs::write(&b, vec![2u8; 600]).unwrap();
        let mut d = draft();
        d.attachments = vec![a.clone(), b.clone()];
        let e = build_with(&d, SystemTime::now(), Limits { attachments: 1000 }).unwrap_err();
        assert!(matches!(&e, ComposeError::TooLarge { path, .. } if *path == b), "{e:?}");
        d.attachments = vec![a];
        build_with(&d, SystemTime::now(), Limits { attachments: 1000 }).unwrap();
    }

    /// Issue 9, cases 8 and 16: many recipients build in linear time; each address once.
    #[test]
    fn many_recipients_build_quickly_and_once_each() {
        let mut d = draft();
        d.to = (0..10_000).map(|i| format!("student{i}@example.net")).collect();
        d.cc = vec!["Student0@example.net".into(), "jiro@example.org".into()];
        d.bcc = vec!["jiro@example.org".into()];
        let started = std::time::Instant::now();
        let built = build(&d, SystemTime::now()).unwrap();
        // Not a timing assertion: a report. It took 557 s before the fix.
        eprintln!("10,000 recipients built in {:?}", started.elapsed());
        assert_eq!(built.envelope.to().len(), 10_001);
        let m = MessageParser::default().parse(&built.raw).unwrap();
        assert_eq!(m.to().unwrap().iter().count(), 10_000);
        assert_eq!(m.cc().unwrap().iter().count(), 2);
    }
}
