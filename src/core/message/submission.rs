//! A message another mail program hands over as it is (`popsend sendmail`, as mutt, git
//! send-email and scripts call sendmail): its envelope from what the program said (recipients
//! given, or with `-t` those of To/Cc/Bcc), a missing Date, Message-ID or From added, Bcc and
//! Resent-Bcc taken out of the headers (always, as sendmail and Postfix do), line ends made CRLF —
//! and nothing else in the message changed (no re-encoding, 8-bit header bytes kept, so a
//! signature still holds). Pure bytes work; reads nothing, sends nothing.

use std::time::SystemTime;

use lettre::Address;
use lettre::address::Envelope;
use lettre::message::Mailboxes;

use crate::message::compose::{ComposeError, Outgoing};

/// The most a handed-over message may be.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// What the program said besides the message.
#[derive(Debug, Clone, Default)]
pub struct Handover<'a> {
    /// The envelope sender (`-f`); the account's address when `None`.
    pub from: Option<&'a str>,
    /// The sender's name for an added From header (`-F`).
    pub full_name: Option<&'a str>,
    /// Recipients given as arguments.
    pub recipients: &'a [String],
    /// `-t`: the recipients are also those of To, Cc and Bcc (and Bcc leaves the headers).
    pub from_headers: bool,
}

/// The message as the outbox keeps it, and its subject and listed recipients for 送信トレイ.
#[derive(Debug)]
pub struct Prepared {
    pub outgoing: Outgoing,
    pub subject: String,
    pub to: String,
}

/// One header field: its name and its whole value (folded lines joined, as text: see
/// `header_text`), and where its bytes are.
struct Field {
    name: String,
    value: String,
    start: usize,
    end: usize,
}

/// A header line's bytes as text. UTF-8 (RFC 6532) as it is; other 8-bit bytes (a program that
/// writes Shift_JIS or Latin-1 into a header, against RFC 5322) are read as Shift_JIS, the
/// likeliest here, for 送信トレイ and for finding addresses only: the message's bytes are kept.
fn header_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes).0.into_owned(),
    }
}

/// The header fields of `head` (CRLF lines).
fn fields(head: &[u8]) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    let mut at = 0;
    for line in head.split_inclusive(|b| *b == b'\n') {
        let start = at;
        at += line.len();
        let text = header_text(line);
        let text = text.trim_end_matches("\r\n");
        if text.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.value.push(' ');
                last.value.push_str(text.trim());
                last.end = at;
            }
            continue;
        }
        if let Some((name, value)) = text.split_once(':') {
            out.push(Field { name: name.trim().to_ascii_lowercase(), value: value.trim().to_owned(), start, end: at });
        }
    }
    out
}

fn bad(reason: impl Into<String>) -> ComposeError {
    ComposeError::Build { reason: reason.into() }
}

/// Prepares `raw` for the outbox. `account` is the configured address, `now` the Date if none.
pub fn prepare(raw: &[u8], handed: &Handover<'_>, account: &str, now: SystemTime) -> Result<Prepared, ComposeError> {
    if raw.len() > MAX_MESSAGE {
        return Err(bad(format!("the message is larger than {} MB", MAX_MESSAGE / (1024 * 1024))));
    }
    // CRLF line ends, as SMTP wants them; a lone CR or LF becomes CRLF.
    let mut crlf = Vec::with_capacity(raw.len() + raw.len() / 32);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' if raw.get(i + 1) == Some(&b'\n') => {
                crlf.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => crlf.extend_from_slice(b"\r\n"),
            b => crlf.push(b),
        }
        i += 1;
    }
    // An mbox separator before the header (`From sender date`, `>From …`; git format-patch
    // writes one) is not part of the message, as Postfix's sendmail drops it.
    let mut crlf = crlf.as_slice();
    while crlf.starts_with(b"From ") || crlf.starts_with(b">From ") {
        let end = crlf.windows(2).position(|w| w == b"\r\n").map_or(crlf.len(), |p| p + 2);
        crlf = &crlf[end..];
    }
    // A first line that is no header field ("Name: value", white space allowed before the colon
    // as RFC 5322's obsolete syntax has it) means there is no header at all: everything is body.
    let first = crlf.split(|b| *b == b'\n').next().unwrap_or_default();
    let looks_like_field = first.iter().position(|b| *b == b':').is_some_and(|c| {
        let name = first[..c].trim_ascii_end();
        !name.is_empty() && name.iter().all(|b| b.is_ascii_graphic())
    });
    // Without a header, a Bcc or Resent-Bcc line among the first lines would go to every
    // recipient as text: refused, naming it, rather than guessed at.
    if !looks_like_field {
        let block = crlf.split(|b| *b == b'\n').take_while(|l| !l.trim_ascii().is_empty());
        if block
            .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
            .any(|l| l.starts_with("bcc") || l.starts_with("resent-bcc"))
        {
            return Err(bad(
                "the message's first line is not a header field, but a Bcc line follows: it would reach every recipient",
            ));
        }
    }
    let split = crlf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 2);
    let with_blank;
    let ended;
    let (head_bytes, body) = match split {
        _ if !looks_like_field => {
            with_blank = [&b"\r\n"[..], crlf].concat();
            (&b""[..], with_blank.as_slice())
        }
        Some(p) => (&crlf[..p], &crlf[p..]),
        // Headers only (no body); the last line ended, so nothing added runs into it.
        None if crlf.ends_with(b"\r\n") => (crlf, &b"\r\n"[..]),
        None => {
            ended = [crlf, b"\r\n"].concat();
            (ended.as_slice(), &b"\r\n"[..])
        }
    };
    // 8-bit bytes in the header are taken as they are (as Postfix takes them): the message goes
    // out unchanged and the receiving server judges it.
    let head = head_bytes;
    let fields = fields(head);
    let value = |name: &str| fields.iter().find(|f| f.name == name).map(|f| f.value.clone());

    let mut rcpts: Vec<Address> = Vec::new();
    let mut add = |list: &str, what: &'static str| -> Result<(), ComposeError> {
        let boxes: Mailboxes = list.parse().map_err(|e| ComposeError::BadAddress {
            field: what,
            value: list.to_owned(),
            reason: format!("{e}"),
        })?;
        for m in boxes {
            if !rcpts.iter().any(|a: &Address| AsRef::<str>::as_ref(a).eq_ignore_ascii_case(m.email.as_ref())) {
                rcpts.push(m.email);
            }
        }
        Ok(())
    };
    for r in handed.recipients {
        add(r, "recipient")?;
    }
    if handed.from_headers {
        for (name, what) in [("to", "To"), ("cc", "Cc"), ("bcc", "Bcc")] {
            for f in fields.iter().filter(|f| f.name == name && !f.value.is_empty()) {
                add(&f.value, what)?;
            }
        }
    }
    if rcpts.is_empty() {
        return Err(ComposeError::NoRecipient);
    }
    let sender = handed.from.unwrap_or(account);
    let from_addr: Address = sender.parse().map_err(|e| ComposeError::BadAddress {
        field: "From",
        value: sender.to_owned(),
        reason: format!("{e}"),
    })?;
    let envelope = Envelope::new(Some(from_addr.clone()), rcpts.clone()).map_err(|e| bad(e.to_string()))?;

    // The header as handed over, Bcc and Resent-Bcc out: they name who must not be seen, so no
    // recipient gets them, whether or not the recipients came from the headers (as sendmail and
    // Postfix do in every mode).
    let mut out_head: Vec<u8> = Vec::with_capacity(head.len() + 200);
    let mut at = 0;
    for f in fields.iter().filter(|f| f.name == "bcc" || f.name == "resent-bcc") {
        out_head.extend_from_slice(&head[at..f.start]);
        at = f.end;
    }
    out_head.extend_from_slice(&head[at..]);
    let mut push = |line: String| out_head.extend_from_slice(line.as_bytes());
    let message_id = match value("message-id") {
        Some(id) => id,
        None => {
            let id = format!("<{}.popsend@{}>", uuid::Uuid::new_v4().simple(), from_addr.domain());
            push(format!("Message-ID: {id}\r\n"));
            id
        }
    };
    if value("date").is_none() {
        let date = chrono::DateTime::<chrono::Utc>::from(now).to_rfc2822();
        push(format!("Date: {date}\r\n"));
    }
    if value("from").is_none() {
        let from = match handed.full_name.filter(|n| !n.trim().is_empty()) {
            Some(name) => format!("{} <{from_addr}>", crate::message::compose::rfc2047_words(name.trim())),
            None => from_addr.to_string(),
        };
        push(format!("From: {from}\r\n"));
    }
    let mut raw_out = out_head;
    raw_out.extend_from_slice(body);
    let listed = ["to", "cc"].iter().filter_map(|n| value(n)).collect::<Vec<_>>().join(", ");
    Ok(Prepared {
        outgoing: Outgoing { raw: raw_out, envelope, message_id },
        subject: decode_words(&value("subject").unwrap_or_default()),
        to: if listed.is_empty() {
            rcpts.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
        } else {
            decode_words(&listed)
        },
    })
}

/// A header value with its RFC 2047 encoded words (`=?UTF-8?B?…?=`, `=?ISO-2022-JP?B?…?=`, Q
/// too) decoded, for 送信トレイ only: the message's bytes are never changed. A word that does not
/// decode (unknown charset, bad base64) is shown as it is.
pub fn decode_words(value: &str) -> String {
    use base64::Engine as _;
    let decode = |word: &str| -> Option<String> {
        let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
        let mut parts = inner.splitn(3, '?');
        let (charset, how, text) = (parts.next()?, parts.next()?, parts.next()?);
        // RFC 2231 adds a language after '*'.
        let encoding = encoding_rs::Encoding::for_label(charset.split('*').next()?.as_bytes())?;
        let bytes = match how {
            "B" | "b" => {
                use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
                STANDARD.decode(text).or_else(|_| STANDARD_NO_PAD.decode(text)).ok()?
            }
            "Q" | "q" => {
                let mut out = Vec::new();
                let mut it = text.bytes();
                while let Some(b) = it.next() {
                    match b {
                        b'_' => out.push(b' '),
                        b'=' => {
                            let hex = [it.next()?, it.next()?];
                            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
                        }
                        b => out.push(b),
                    }
                }
                out
            }
            _ => return None,
        };
        let (text, _, bad) = encoding.decode(&bytes);
        (!bad).then(|| text.into_owned())
    };
    let mut out = String::new();
    // Whitespace between two encoded words is not shown (RFC 2047 §6.2).
    let mut pending_space = String::new();
    let mut last_was_word = false;
    let mut rest = value;
    while !rest.is_empty() {
        let space_len = rest.len() - rest.trim_start().len();
        let (space, after) = rest.split_at(space_len);
        let token_len = after.find(char::is_whitespace).unwrap_or(after.len());
        let (token, tail) = after.split_at(token_len);
        rest = tail;
        pending_space.push_str(space);
        if token.is_empty() {
            continue;
        }
        match decode(token) {
            Some(text) => {
                if !last_was_word {
                    out.push_str(&pending_space);
                }
                out.push_str(&text);
                last_was_word = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(token);
                last_was_word = false;
            }
        }
        pending_space.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = "From: Taro <taro@example.ac.jp>\nTo: hanako@example.net\nCc: Jiro <jiro@example.org>\nBcc: secret@example.com\nSubject: =?UTF-8?B?44Os44Od44O844OI?=\nX-Signed: keep me\n\nbody line\n.leading dot\n";

    /// 送信トレイ shows a handed-over message's subject and names decoded; the bytes stay.
    #[test]
    fn encoded_words_are_decoded_for_the_list_only() {
        assert_eq!(decode_words("=?UTF-8?B?44Os44Od44O844OI?= 9"), "レポート 9");
        assert_eq!(decode_words("=?utf-8?b?44Os44Od?=\r\n =?utf-8?b?44O844OI?="), "レポート", "folded words join");
        assert_eq!(decode_words("=?ISO-2022-JP?B?GyRCJWwlXSE8JUgbKEI=?="), "レポート");
        assert_eq!(decode_words("=?iso-8859-1?Q?caf=E9_au_lait?="), "café au lait");
        assert_eq!(decode_words("Re: =?x-unknown?B?AAAA?= plain"), "Re: =?x-unknown?B?AAAA?= plain");
        assert_eq!(decode_words("=?UTF-8?B?not base64!?="), "=?UTF-8?B?not base64!?=");
        assert_eq!(decode_words("plain subject"), "plain subject");
        let handed = Handover { from_headers: true, ..Handover::default() };
        let p = prepare(MESSAGE.as_bytes(), &handed, "taro@example.ac.jp", t0()).unwrap();
        assert_eq!(p.subject, "レポート");
        assert!(String::from_utf8_lossy(&p.outgoing.raw).contains("Subject: =?UTF-8?B?44Os44Od44O844OI?=\r\n"));
    }

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn with_t_the_headers_give_the_recipients_and_bcc_leaves() {
        let handed = Handover { from_headers: true, ..Handover::default() };
        let p = prepare(MESSAGE.as_bytes(), &handed, "taro@example.ac.jp", t0()).unwrap();
        let to: Vec<String> = p.outgoing.envelope.to().iter().map(|a| a.to_string()).collect();
        assert_eq!(to, ["hanako@example.net", "jiro@example.org", "secret@example.com"]);
        let text = String::from_utf8(p.outgoing.raw.clone()).unwrap();
        assert!(!text.contains("Bcc") && !text.contains("secret@example.com"), "{text}");
        // Nothing else changed: every other header and the body, byte for byte (CRLF).
        for kept in [
            "From: Taro <taro@example.ac.jp>\r\n",
            "Subject: =?UTF-8?B?44Os44Od44O844OI?=\r\n",
            "X-Signed: keep me\r\n",
            "\r\n\r\nbody line\r\n.leading dot\r\n",
        ] {
            assert!(text.contains(kept), "{kept:?} in {text:?}");
        }
        assert!(text.contains("Message-ID: <") && text.contains("Date: "), "{text}");
        assert_eq!(p.outgoing.envelope.from().unwrap().to_string(), "taro@example.ac.jp");
        assert_eq!(p.to, "hanako@example.net, Jiro <jiro@example.org>");
    }

    #[test]
    fn without_t_only_the_arguments_and_the_headers_stay() {
        let rcpts = vec!["list@example.net".to_owned()];
        let handed = Handover { recipients: &rcpts, from: Some("bounce@example.ac.jp"), ..Handover::default() };
        let p = prepare(MESSAGE.as_bytes(), &handed, "taro@example.ac.jp", t0()).unwrap();
        let to: Vec<String> = p.outgoing.envelope.to().iter().map(|a| a.to_string()).collect();
        assert_eq!(to, ["list@example.net"]);
        assert_eq!(p.outgoing.envelope.from().unwrap().to_string(), "bounce@example.ac.jp");
        // Issue 23: Bcc leaves the headers without -t too (it would show every recipient who
        // was meant to be hidden), and Resent-Bcc with it; nothing else is touched.
        let resent = MESSAGE.replace("X-Signed", "Resent-Bcc: hidden@example.org\nX-Signed");
        let p = prepare(resent.as_bytes(), &handed, "taro@example.ac.jp", t0()).unwrap();
        let text = String::from_utf8(p.outgoing.raw).unwrap();
        assert!(
            !text.contains("secret@example.com")
                && !text.contains("hidden@example.org")
                && !text.to_ascii_lowercase().contains("bcc:"),
            "{text}"
        );
        assert!(
            text.contains("Cc: Jiro <jiro@example.org>\r\nSubject: ") && text.contains("X-Signed: keep me\r\n"),
            "{text}"
        );
    }

    /// Issue 23: a header with bytes that are not UTF-8 (a program writing Shift_JIS or Latin-1
    /// raw) is taken as 8-bit data, byte for byte, not refused as "not text"; the list shows it
    /// read as Shift_JIS.
    #[test]
    fn eight_bit_header_bytes_are_kept_as_they_are() {
        let rcpts = vec!["a@example.net".to_owned()];
        let handed = Handover { recipients: &rcpts, ..Handover::default() };
        // 「レポート」 in Shift_JIS, and a Latin-1 é.
        let raw = b"Subject: \x83\x8c\x83\x7c\x81\x5b\x83\x67\nX-Note: caf\xe9\nBcc: b@example.net\n\nbody\n";
        let p = prepare(raw, &handed, "taro@example.ac.jp", t0()).unwrap();
        assert_eq!(p.subject, "レポート");
        let out = &p.outgoing.raw;
        assert!(
            out.starts_with(b"Subject: \x83\x8c\x83\x7c\x81\x5b\x83\x67\r\nX-Note: caf\xe9\r\n"),
            "{:?}",
            String::from_utf8_lossy(out)
        );
        assert!(!out.windows(4).any(|w| w == b"Bcc:") && out.ends_with(b"\r\n\r\nbody\r\n"));
    }

    #[test]
    fn what_is_missing_is_added_and_a_given_message_id_is_kept() {
        let handed = Handover { full_name: Some("山田 太郎"), from_headers: true, ..Handover::default() };
        let p = prepare(b"To: a@example.net\nMessage-ID: <given@example>\n\nhi\n", &handed, "taro@example.ac.jp", t0())
            .unwrap();
        let text = String::from_utf8(p.outgoing.raw.clone()).unwrap();
        assert_eq!(p.outgoing.message_id, "<given@example>");
        assert_eq!(text.matches("Message-ID").count(), 1);
        assert!(text.contains("From: =?UTF-8?B?") && text.contains("<taro@example.ac.jp>"), "{text}");
        assert!(text.contains("Date: Fri, 15 Jan 2027"), "{text}");
    }

    /// A message with no header at all (a script piping plain text) is all body: its first line
    /// does not turn into a header.
    #[test]
    fn plain_text_without_a_header_is_all_body() {
        let rcpts = vec!["a@example.net".to_owned()];
        let handed = Handover { recipients: &rcpts, ..Handover::default() };
        let p = prepare(b"hello there\nsecond line\n", &handed, "taro@example.ac.jp", t0()).unwrap();
        let text = String::from_utf8(p.outgoing.raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("Message-ID: <") && !head.contains("hello"), "{text:?}");
        assert_eq!(body, "hello there\r\nsecond line\r\n");
    }

    #[test]
    fn no_recipient_or_a_bad_address_is_an_error_naming_it() {
        let handed = Handover::default();
        assert!(matches!(
            prepare(b"Subject: x\n\nhi\n", &handed, "taro@example.ac.jp", t0()),
            Err(ComposeError::NoRecipient)
        ));
        let rcpts = vec!["not an address".to_owned()];
        let handed = Handover { recipients: &rcpts, ..Handover::default() };
        assert!(matches!(
            prepare(b"Subject: x\n\nhi\n", &handed, "taro@example.ac.jp", t0()),
            Err(ComposeError::BadAddress { .. })
        ));
    }
    /// Issue 23 (review): an mbox `From ` line before the header (git format-patch writes one)
    /// is dropped and the header read, so Bcc still leaves it; white space before a field's
    /// colon still makes a header; a header with no final line break gets one before what
    /// popsend adds.
    #[test]
    fn the_header_is_found_behind_an_mbox_line_and_old_syntax() {
        let rcpts = vec!["a@example.net".to_owned()];
        let handed = Handover { recipients: &rcpts, ..Handover::default() };
        for raw in [
            &b"From me@x Mon Sep 17 00:00:00 2001\nTo: prof@example.net\nBcc: secret@example.org\nSubject: s\n\nbody\n"
                [..],
            b">From x\nFrom x\nBcc: secret@example.org\nSubject: s\n\nbody\n",
            b"Bcc : secret@example.org\nSubject: s\n\nbody\n",
        ] {
            let p = prepare(raw, &handed, "taro@example.ac.jp", t0()).unwrap();
            let text = String::from_utf8(p.outgoing.raw).unwrap();
            assert!(
                !text.contains("secret@example.org") && !text.contains("From me@x") && text.contains("Subject: s\r\n"),
                "{text:?}"
            );
        }
        let e = prepare(b": x\nBcc: secret@example.org\n\nbody\n", &handed, "taro@example.ac.jp", t0()).unwrap_err();
        assert!(e.to_string().contains("Bcc"), "{e}");
        let p = prepare(b"To: b@example.net\nSubject: s", &handed, "taro@example.ac.jp", t0()).unwrap();
        let text = String::from_utf8(p.outgoing.raw).unwrap();
        assert!(text.starts_with("To: b@example.net\r\nSubject: s\r\nMessage-ID: <"), "{text:?}");
    }
}
