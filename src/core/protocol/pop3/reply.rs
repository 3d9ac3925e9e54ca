//! POP3 reply parsing on bytes: status lines (`+OK` / `-ERR`, RFC 2449 response codes in
//! brackets), the greeting's APOP timestamp, multi-line bodies, a capped line reader that handles
//! EOF, and lossy decoding of server text (UTF-8, else Shift_JIS). No I/O policy lives here.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The longest line accepted from a server (RFC 1939 allows 512; servers add text).
pub const MAX_LINE: usize = 8 * 1024;
/// The most lines accepted in one multi-line reply (CAPA is a dozen).
pub const MAX_LINES: usize = 1000;

/// RFC 2449 / RFC 3206 extended response codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespCode {
    InUse,
    LoginDelay,
    SysTemp,
    SysPerm,
    Auth,
    Other(String),
}

impl RespCode {
    fn parse(s: &str) -> RespCode {
        // Hierarchical codes: "SYS/TEMP"; compare case-insensitively.
        match s.to_ascii_uppercase().as_str() {
            "IN-USE" => RespCode::InUse,
            "LOGIN-DELAY" => RespCode::LoginDelay,
            "SYS/TEMP" => RespCode::SysTemp,
            "SYS/PERM" => RespCode::SysPerm,
            "AUTH" => RespCode::Auth,
            _ => RespCode::Other(s.to_owned()),
        }
    }
}

/// One status line from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub ok: bool,
    pub code: Option<RespCode>,
    /// The text after the status (and code), decoded lossily.
    pub text: String,
    /// The whole line as the server sent it (decoded lossily), for showing to the user.
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not `+OK` or `-ERR`.
    NotAStatus(String),
}

/// Parses one status line (without CRLF).
pub fn parse_status(line: &[u8]) -> Result<Reply, ParseError> {
    let raw = decode_text(line);
    let (ok, rest) = if let Some(rest) = strip_prefix_ci(line, b"+OK") {
        (true, rest)
    } else if let Some(rest) = strip_prefix_ci(line, b"-ERR") {
        (false, rest)
    } else {
        return Err(ParseError::NotAStatus(raw));
    };
    // "+OKAY" is not "+OK": the status must end the line or be followed by a space.
    if !(rest.is_empty() || rest[0] == b' ') {
        return Err(ParseError::NotAStatus(raw));
    }
    let rest = decode_text(rest.strip_prefix(b" ").unwrap_or(rest));
    let (code, text) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((code, text)) if !code.is_empty() && !code.contains(' ') => {
            (Some(RespCode::parse(code)), text.trim_start().to_owned())
        }
        _ => (None, rest),
    };
    Ok(Reply { ok, code, text, raw })
}

fn strip_prefix_ci<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)).then(|| &line[prefix.len()..])
}

/// The `<...>` timestamp of an APOP-capable greeting (RFC 1939 §7), if present.
/// The first `<…>` holding an `@` counts: a greeting may carry other brackets before it
/// (`+OK <x> ready <1.2@host>`).
pub fn apop_timestamp(greeting_text: &str) -> Option<&str> {
    let mut rest = greeting_text;
    let mut offset = 0;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>')?;
        let ts = &rest[start..=end];
        // A timestamp is one msg-id: no space and no second '<' inside.
        if ts.contains('@') && !ts[1..].contains(['<', ' ']) {
            return Some(&greeting_text[offset + start..=offset + end]);
        }
        offset += start + 1;
        rest = &greeting_text[offset..];
    }
    None
}

/// Server text as a string: UTF-8 when it is, otherwise Shift_JIS (the usual legacy encoding of
/// Japanese servers), replacing what neither can decode.
pub fn decode_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes).0.into_owned(),
    }
}

#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    /// The peer closed the connection.
    Eof,
    /// A line longer than `MAX_LINE`, or a body with more than `MAX_LINES` lines.
    TooLong,
}

/// Reads one line, without its CRLF (or bare LF), never buffering more than `MAX_LINE` bytes.
pub async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().await.map_err(ReadError::Io)?;
        if buf.is_empty() {
            return Err(ReadError::Eof);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + take > MAX_LINE + 2 {
            return Err(ReadError::TooLong);
        }
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
    }
}

/// Reads the body of a multi-line reply up to the terminating ".", undoing dot-stuffing.
pub async fn read_multiline<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Vec<Vec<u8>>, ReadError> {
    let mut lines = Vec::new();
    loop {
        let line = read_line(reader).await?;
        if line == b"." {
            return Ok(lines);
        }
        if lines.len() >= MAX_LINES {
            return Err(ReadError::TooLong);
        }
        lines.push(match line.strip_prefix(b".") {
            Some(rest) => rest.to_vec(),
            None => line,
        });
    }
}

/// The server's capabilities (RFC 2449 CAPA).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub stls: bool,
    pub user: bool,
    pub sasl_plain: bool,
    /// `LOGIN-DELAY n`: the least number of seconds between logins.
    pub login_delay: Option<u64>,
    /// PIPELINING (RFC 2449): commands may be sent without waiting for each reply.
    pub pipelining: bool,
}

impl Capabilities {
    pub fn parse(lines: &[Vec<u8>]) -> Capabilities {
        let mut caps = Capabilities::default();
        for line in lines {
            let line = decode_text(line);
            let mut words = line.split_ascii_whitespace();
            match words.next().map(|w| w.to_ascii_uppercase()).as_deref() {
                Some("STLS") => caps.stls = true,
                Some("USER") => caps.user = true,
                Some("SASL") => caps.sasl_plain |= words.any(|m| m.eq_ignore_ascii_case("PLAIN")),
                // "LOGIN-DELAY 900" (may be followed by USER in the AUTHORIZATION state).
                Some("LOGIN-DELAY") => caps.login_delay = words.next().and_then(|n| n.parse().ok()),
                Some("PIPELINING") => caps.pipelining = true,
                _ => {}
            }
        }
        caps
    }

    /// One word for the state file: `capa=stls,user,sasl-plain,pipelining,login-delay:900` (the
    /// flags present).
    pub fn to_word(&self) -> String {
        let mut flags: Vec<String> = [
            (self.stls, "stls"),
            (self.user, "user"),
            (self.sasl_plain, "sasl-plain"),
            (self.pipelining, "pipelining"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| (*name).to_owned())
        .collect();
        if let Some(n) = self.login_delay {
            flags.push(format!("login-delay:{n}"));
        }
        format!("capa={}", flags.join(","))
    }

    /// The word `to_word` made; `None` for anything else (an unknown flag included: a file from
    /// a newer popsend is asked again rather than half understood).
    pub fn from_word(word: &str) -> Option<Capabilities> {
        let mut caps = Capabilities::default();
        for flag in word.strip_prefix("capa=")?.split(',').filter(|f| !f.is_empty()) {
            match flag {
                "stls" => caps.stls = true,
                "user" => caps.user = true,
                "sasl-plain" => caps.sasl_plain = true,
                "pipelining" => caps.pipelining = true,
                other => caps.login_delay = Some(other.strip_prefix("login-delay:")?.parse().ok()?),
            }
        }
        Some(caps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_and_err() {
        let r = parse_status(b"+OK Dovecot ready.").unwrap();
        assert!(r.ok);
        assert_eq!(r.text, "Dovecot ready.");
        assert_eq!(r.code, None);
        let r = parse_status(b"-ERR").unwrap();
        assert!(!r.ok);
        assert_eq!(r.text, "");
        let r = parse_status(b"+ok lowercase").unwrap();
        assert!(r.ok);
    }

    #[test]
    fn response_codes() {
        let r = parse_status(b"-ERR [IN-USE] Mailbox locked by another session").unwrap();
        assert_eq!(r.code, Some(RespCode::InUse));
        assert_eq!(r.text, "Mailbox locked by another session");
        assert_eq!(r.raw, "-ERR [IN-USE] Mailbox locked by another session");
        for (line, code) in [
            (&b"-ERR [LOGIN-DELAY] wait"[..], RespCode::LoginDelay),
            (b"-ERR [SYS/TEMP] try later", RespCode::SysTemp),
            (b"-ERR [SYS/PERM] gone", RespCode::SysPerm),
            (b"-ERR [AUTH] Authentication failed.", RespCode::Auth),
            (b"-ERR [X-FOO/BAR] hm", RespCode::Other("X-FOO/BAR".into())),
        ] {
            assert_eq!(parse_status(line).unwrap().code, Some(code));
        }
        // A bracket that is not a code stays text.
        let r = parse_status(b"-ERR [not a code] x").unwrap();
        assert_eq!(r.code, None);
    }

    #[test]
    fn malformed_status_lines() {
        assert!(matches!(parse_status(b"HELLO"), Err(ParseError::NotAStatus(_))));
        assert!(matches!(parse_status(b"+OKAY"), Err(ParseError::NotAStatus(_))));
        assert!(matches!(parse_status(b""), Err(ParseError::NotAStatus(_))));
        assert!(matches!(parse_status(b"220 smtp.example ESMTP"), Err(ParseError::NotAStatus(_))));
    }

    #[test]
    fn shift_jis_text_is_decoded() {
        // "-ERR パスワードが違います" in Shift_JIS.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("-ERR パスワードが違います");
        let r = parse_status(&sjis).unwrap();
        assert_eq!(r.text, "パスワードが違います");
        // Bytes that are neither still give a string.
        let r = parse_status(b"-ERR \xff\xfe\xfd").unwrap();
        assert!(!r.ok);
    }

    #[test]
    fn apop_timestamp_from_greeting() {
        assert_eq!(
            apop_timestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>"),
            Some("<1896.697170952@dbc.mtview.ca.us>")
        );
        assert_eq!(apop_timestamp("Dovecot ready."), None);
        assert_eq!(apop_timestamp("ready <no-at-sign>"), None);
        // Issue 9, case 16: an earlier bracket does not hide the stamp.
        assert_eq!(apop_timestamp("<x> <1.2@host>"), Some("<1.2@host>"));
        assert_eq!(apop_timestamp("ready <a b@c> <3.4@h>"), Some("<3.4@h>"));
        assert_eq!(apop_timestamp("<<5@h>"), Some("<5@h>"));
        assert_eq!(apop_timestamp("<x> <unclosed@h"), None);
    }

    #[tokio::test]
    async fn multiline_with_dot_stuffing() {
        let mut input: &[u8] = b"STLS\r\n..dotted\r\nUSER\n.\r\n+OK next\r\n";
        let lines = read_multiline(&mut input).await.unwrap();
        assert_eq!(lines, vec![b"STLS".to_vec(), b".dotted".to_vec(), b"USER".to_vec()]);
        assert_eq!(read_line(&mut input).await.unwrap(), b"+OK next");
    }

    #[tokio::test]
    async fn eof_and_oversized_lines() {
        let mut input: &[u8] = b"+OK no newline";
        assert!(matches!(read_line(&mut input).await, Err(ReadError::Eof)));
        let mut input: &[u8] = b"";
        assert!(matches!(read_line(&mut input).await, Err(ReadError::Eof)));
        let long = vec![b'A'; MAX_LINE + 100];
        let mut input: &[u8] = &long;
        assert!(matches!(read_line(&mut input).await, Err(ReadError::TooLong)));
        let mut body = Vec::new();
        for _ in 0..MAX_LINES + 1 {
            body.extend_from_slice(b"X\r\n");
        }
        body.extend_from_slice(b".\r\n");
        let mut input: &[u8] = &body;
        assert!(matches!(read_multiline(&mut input).await, Err(ReadError::TooLong)));
    }

    #[test]
    fn capabilities() {
        let lines: Vec<Vec<u8>> = ["TOP", "UIDL", "RESP-CODES", "STLS", "USER", "SASL PLAIN LOGIN", "LOGIN-DELAY 300"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        let c = Capabilities::parse(&lines);
        assert!(c.stls && c.user && c.sasl_plain && !c.pipelining);
        assert_eq!(c.login_delay, Some(300));
        assert_eq!(Capabilities::from_word(&c.to_word()), Some(c.clone()));
        let p = Capabilities::parse(&[b"USER".to_vec(), b"PIPELINING".to_vec()]);
        assert!(p.pipelining && p.user);
        assert_eq!(p.to_word(), "capa=user,pipelining");
        assert_eq!(Capabilities::from_word("capa="), Some(Capabilities::default()));
        for bad in ["user", "capa=user,quantum", "capa=login-delay:x"] {
            assert_eq!(Capabilities::from_word(bad), None, "{bad}");
        }
        let c = Capabilities::parse(&[b"SASL LOGIN CRAM-MD5".to_vec()]);
        assert!(!c.sasl_plain && !c.stls);
    }
}
