//! `mailto:` URLs (RFC 6068), as a browser hands them to a mail program: the recipients of the
//! path and the `to`, `cc`, `bcc`, `subject` and `body` fields, percent-decoded as UTF-8. Other
//! fields (`from`, `in-reply-to`, any header a web page would like to set) are ignored: a link
//! never chooses more than what the student then sees in 作成. A subject's line breaks become
//! spaces, so a link cannot add a header. Pure: it opens nothing and sends nothing.

use std::fmt;

/// The longest URL taken (browsers cut far earlier; this bounds what a page can hand over).
pub const MAX_URL: usize = 64 * 1024;

/// What a `mailto:` URL asks to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailto {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: String,
    /// Line breaks as `\n`.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailtoError {
    NotMailto,
    TooLong,
    /// A `%` not followed by two hex digits, at this byte offset.
    BadPercent(usize),
    /// The decoded bytes of this part are not UTF-8.
    NotUtf8(&'static str),
}

impl fmt::Display for MailtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailtoError::NotMailto => f.write_str("not a mailto: URL"),
            MailtoError::TooLong => write!(f, "the mailto: URL is longer than {} KiB", MAX_URL / 1024),
            MailtoError::BadPercent(at) => write!(f, "the mailto: URL has a broken %-escape at position {at}"),
            MailtoError::NotUtf8(part) => write!(f, "the mailto: URL's {part} is not UTF-8"),
        }
    }
}

impl std::error::Error for MailtoError {}

/// Percent-decodes `s` (RFC 3986); `+` stays `+` (RFC 6068 §5: it is not a space in mailto).
fn decode(s: &str, offset: usize, part: &'static str) -> Result<String, MailtoError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(v) if b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() => out.push(v),
                _ => return Err(MailtoError::BadPercent(offset + i)),
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| MailtoError::NotUtf8(part))
}

/// Addresses of a comma-separated list, trimmed, empty ones dropped.
fn addresses(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned)
}

/// Parses a `mailto:` URL (the scheme's case is ignored; a `#fragment` is dropped).
pub fn parse(url: &str) -> Result<Mailto, MailtoError> {
    if url.len() > MAX_URL {
        return Err(MailtoError::TooLong);
    }
    let url = url.trim();
    let rest = match url.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &url[7..],
        _ => return Err(MailtoError::NotMailto),
    };
    let rest = rest.split('#').next().unwrap_or("");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut m = Mailto::default();
    m.to.extend(addresses(&decode(path, 7, "address")?));
    // Byte offsets into the URL as given, for the error's position.
    let mut field_start = 7 + path.len() + 1;
    for field in query.split('&') {
        let (name, value) = field.split_once('=').unwrap_or((field, ""));
        let value_offset = field_start + name.len() + 1;
        let name = decode(name, field_start, "field name")?.to_ascii_lowercase();
        field_start += field.len() + 1;
        match name.as_str() {
            "to" => m.to.extend(addresses(&decode(value, value_offset, "address")?)),
            "cc" => m.cc.extend(addresses(&decode(value, value_offset, "address")?)),
            "bcc" => m.bcc.extend(addresses(&decode(value, value_offset, "address")?)),
            // One subject line: a link cannot start a header of its own.
            "subject" => m.subject = decode(value, value_offset, "subject")?.replace(['\r', '\n'], " "),
            "body" => m.body = decode(value, value_offset, "body")?.replace("\r\n", "\n"),
            _ => {}
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_6068_examples() {
        assert_eq!(parse("mailto:chris@example.com").unwrap().to, vec!["chris@example.com"]);
        let m = parse("mailto:infobot@example.com?subject=current-issue").unwrap();
        assert_eq!(m.subject, "current-issue");
        let m = parse("mailto:infobot@example.com?body=send%20current-issue%0D%0Asend%20index").unwrap();
        assert_eq!(m.body, "send current-issue\nsend index");
        let m = parse("mailto:?to=joe@example.com&cc=bob@example.com&body=hello").unwrap();
        assert_eq!(
            (m.to, m.cc, m.body.as_str()),
            (vec!["joe@example.com".into()], vec!["bob@example.com".into()], "hello")
        );
        let m = parse("mailto:joe@example.com,bob@example.com?bcc=x@example.com").unwrap();
        assert_eq!(m.to.len(), 2);
        assert_eq!(m.bcc, vec!["x@example.com"]);
        // + is not a space in mailto.
        assert_eq!(parse("mailto:a@b.jp?subject=1+1").unwrap().subject, "1+1");
    }

    #[test]
    fn japanese_in_utf8_and_headers_a_link_may_not_set() {
        let m = parse(
            "MAILTO:%E5%A4%AA%E9%83%8E@example.jp?Subject=%E3%83%AC%E3%83%9D%E3%83%BC%E3%83%88&from=evil@x.jp&X-Evil=1",
        )
        .unwrap();
        assert_eq!(m.to, vec!["太郎@example.jp"]);
        assert_eq!(m.subject, "レポート");
        let m = parse("mailto:a@b.jp?subject=hi%0D%0ABcc:%20victim@x.jp").unwrap();
        assert_eq!(m.subject, "hi  Bcc: victim@x.jp");
        assert!(m.bcc.is_empty());
    }

    #[test]
    fn bad_urls_name_the_problem() {
        assert_eq!(parse("http://x"), Err(MailtoError::NotMailto));
        assert_eq!(parse("mailto:a@b.jp?subject=%E3%8"), Err(MailtoError::BadPercent(25)));
        assert_eq!(parse("mailto:a@b.jp?subject=%ZZ"), Err(MailtoError::BadPercent(22)));
        assert_eq!(parse("mailto:a%2"), Err(MailtoError::BadPercent(8)));
        assert_eq!(parse("mailto:a@b.jp?body=%FF"), Err(MailtoError::NotUtf8("body")));
        assert_eq!(parse(&format!("mailto:a@b.jp?body={}", "x".repeat(MAX_URL))), Err(MailtoError::TooLong));
        assert_eq!(parse("mailto:a@b.jp#frag?subject=x").unwrap().subject, "");
    }
}
