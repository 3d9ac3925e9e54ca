//! Builds the message to send: a `Draft` (what the user wrote) becomes raw RFC 5322 bytes plus
//! the SMTP envelope, with lettre's builder. Subject and names are RFC 2047 encoded; attachment
//! names carry both RFC 2231 `filename*` and the RFC 2047 `name=` that Outlook reads; Message-ID
//! and Date are fixed here, once. Bcc goes only into the envelope. Header injection is refused.
//! Reads attachment files; does no network I/O.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use lettre::Address;
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

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
}

impl Draft {
    /// The recipients as the outbox lists them: To, then Cc (never Bcc).
    pub fn listed_recipients(&self) -> String {
        self.to.iter().chain(&self.cc).cloned().collect::<Vec<_>>().join(", ")
    }
}

/// A message ready for SMTP.
#[derive(Debug, Clone)]
pub struct Built {
    pub raw: Vec<u8>,
    pub envelope: Envelope,
    /// With angle brackets.
    pub message_id: String,
}

#[derive(Debug)]
pub enum ComposeError {
    /// A field holds a CR or LF: it could inject headers.
    LineBreak { field: &'static str },
    BadAddress { field: &'static str, value: String, reason: String },
    NoRecipient,
    Attachment { path: PathBuf, reason: String },
    Build { reason: String },
}

impl fmt::Display for ComposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComposeError::LineBreak { field } => write!(f, "{field}: contains a line break (CR or LF)"),
            ComposeError::BadAddress { field, value, reason } => write!(f, "{field}: {value:?} is not a mail address: {reason}"),
            ComposeError::NoRecipient => f.write_str("no recipient (To, Cc or Bcc)"),
            ComposeError::Attachment { path, reason } => write!(f, "{}: cannot attach: {reason}", path.display()),
            ComposeError::Build { reason } => write!(f, "cannot build the message: {reason}"),
        }
    }
}

impl std::error::Error for ComposeError {}

fn no_line_break(field: &'static str, value: &str) -> Result<(), ComposeError> {
    if value.contains(['\r', '\n']) { Err(ComposeError::LineBreak { field }) } else { Ok(()) }
}

/// Parses an address ("addr") or a mailbox ("addr" or "Name <addr>"), naming the field on error.
fn parse<T: std::str::FromStr<Err: fmt::Display>>(field: &'static str, value: &str) -> Result<T, ComposeError> {
    no_line_break(field, value)?;
    value.trim().parse::<T>().map_err(|e| ComposeError::BadAddress { field, value: value.to_owned(), reason: e.to_string() })
}

/// Builds the message. `now` becomes its Date.
pub fn build(d: &Draft, now: SystemTime) -> Result<Built, ComposeError> {
    no_line_break("Subject", &d.subject)?;
    if let Some(name) = &d.from_name {
        no_line_break("From", name)?;
    }
    let from_addr: Address = parse("From", &d.from_address)?;
    let from = Mailbox::new(d.from_name.clone().filter(|n| !n.is_empty()), from_addr.clone());
    let to = d.to.iter().map(|v| parse::<Mailbox>("To", v)).collect::<Result<Vec<_>, _>>()?;
    let cc = d.cc.iter().map(|v| parse::<Mailbox>("Cc", v)).collect::<Result<Vec<_>, _>>()?;
    let bcc = d.bcc.iter().map(|v| parse::<Mailbox>("Bcc", v)).collect::<Result<Vec<_>, _>>()?;
    if to.is_empty() && cc.is_empty() && bcc.is_empty() {
        return Err(ComposeError::NoRecipient);
    }

    let message_id = format!("<{}.popsend@{}>", uuid::Uuid::new_v4().simple(), from_addr.domain());
    let mut b = lettre::Message::builder()
        .from(from)
        .subject(d.subject.clone())
        .date(now)
        .message_id(Some(message_id.clone()))
        .user_agent(format!("popsend/{}", env!("CARGO_PKG_VERSION")));
    for m in &to {
        b = b.to(m.clone());
    }
    for m in &cc {
        b = b.cc(m.clone());
    }

    let text = SinglePart::plain(d.body.clone());
    let message = if d.attachments.is_empty() {
        b.singlepart(text)
    } else {
        let mut mixed = MultiPart::mixed().singlepart(text);
        for path in &d.attachments {
            mixed = mixed.singlepart(attachment(path)?);
        }
        b.multipart(mixed)
    }
    .map_err(|e| ComposeError::Build { reason: e.to_string() })?;

    // The envelope: every recipient, Bcc included; Bcc never appears in the headers because the
    // builder was not given it.
    let rcpts: Vec<Address> = to.iter().chain(&cc).chain(&bcc).map(|m| m.email.clone()).collect();
    let envelope = Envelope::new(Some(from_addr), rcpts).map_err(|e| ComposeError::Build { reason: e.to_string() })?;
    Ok(Built { raw: message.formatted(), envelope, message_id })
}

fn attachment(path: &Path) -> Result<SinglePart, ComposeError> {
    let bad = |reason: String| ComposeError::Attachment { path: path.to_owned(), reason };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| bad("the file name is not valid Unicode".into()))?
        .to_owned();
    no_line_break("attachment file name", &name)?;
    let content_type = ContentType::parse(&format!("{}; name=\"{}\"", mime_for(&name), rfc2047_words(&name)))
        .map_err(|e| bad(e.to_string()))?;
    Ok(Attachment::new(name).body(bytes, content_type))
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
        }
    }

    #[test]
    fn japanese_subject_and_names_survive_a_round_trip() {
        let built = build(&draft(), SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_780_000_000)).unwrap();
        let raw = String::from_utf8(built.raw.clone()).unwrap();
        assert!(raw.is_ascii(), "headers and body must be encoded");
        assert!(!raw.to_lowercase().contains("bcc"), "Bcc leaked into the headers");
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
}
