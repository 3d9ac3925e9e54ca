//! For the tests and the fuzz target (`examples/fuzz.rs`, target `smtpd`): a session fed bytes
//! in the pieces a test chooses, and an independent reading of what a DATA section must give.
//! Not used by popsend itself.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Limits, LocalLogin, Stored};

/// What one session did: every reply, and each message stored (sender, recipients, bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub replies: String,
    pub stored: Vec<(Option<String>, Vec<String>, Vec<u8>)>,
}

/// A client that has written `script` and is gone: each read returns at most up to the next
/// cut, so the server meets the bytes in exactly these pieces.
struct Pieces {
    script: Vec<u8>,
    cuts: Vec<usize>,
    at: usize,
    replies: Arc<Mutex<Vec<u8>>>,
}

impl AsyncRead for Pieces {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let at = self.at;
        let end = self.cuts.iter().copied().find(|c| *c > at).unwrap_or(self.script.len()).min(self.script.len());
        let n = (end - at).min(buf.remaining());
        buf.put_slice(&self.script[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Pieces {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.replies.lock().unwrap().extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Serves `script`, arriving cut at the offsets `cuts` (ascending), to its end.
pub async fn session(script: &[u8], cuts: &[usize], limits: &Limits, login: Option<&LocalLogin>) -> Outcome {
    let stored = Mutex::new(Vec::new());
    let store = |from: Option<&str>, to: &[String], raw: &[u8], _: &str| {
        let mut s = stored.lock().unwrap();
        s.push((from.map(str::to_owned), to.to_vec(), raw.to_vec()));
        Ok(Stored::New { id: s.len() as i64, account: 0 })
    };
    let replies = Arc::new(Mutex::new(Vec::new()));
    let client = Pieces { script: script.to_vec(), cuts: cuts.to_vec(), at: 0, replies: replies.clone() };
    super::serve(client, limits, login, &store, None).await;
    let replies = String::from_utf8_lossy(&replies.lock().unwrap()).into_owned();
    Outcome { replies, stored: stored.into_inner().unwrap() }
}

/// What a DATA section must give, read from the whole of it at once (not line by line as
/// the server does): where it ends, and the message stored or the refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// No <CRLF>.<CRLF>: the message never ends, nothing may be stored.
    Unended,
    /// It ends after `len` bytes (the final dot's line included); `Some` message to store, or
    /// `None` when it must be refused (a bare CR, a lone dot beside a bare LF, a line over 998
    /// characters, or too large).
    Ends { len: usize, message: Option<Vec<u8>> },
}

/// `data`: the bytes after the `354`.
pub fn expected(data: &[u8], max_message: usize) -> Expected {
    // The first CRLF . CRLF, the CRLF of `DATA` itself counting for the first line.
    let framed = [&b"\r\n"[..], data].concat();
    let Some(end) = framed.windows(5).position(|w| w == b"\r\n.\r\n") else { return Expected::Unended };
    // `content` is every line of the message with its ending.
    let content = &data[..end];
    let len = end + 3;
    let lines: Vec<&[u8]> = content.split_inclusive(|b| *b == b'\n').collect();
    let bare_cr = content.iter().enumerate().any(|(i, b)| *b == b'\r' && content.get(i + 1) != Some(&b'\n'));
    let text_len = |l: &[u8]| l.strip_suffix(b"\r\n").or_else(|| l.strip_suffix(b"\n")).unwrap_or(l).len();
    let too_long = lines.iter().any(|l| text_len(l) > 998);
    // A line that is only a dot, where either it or the line before ends in a bare LF.
    let lone_dot = lines.iter().enumerate().any(|(i, l)| {
        let bare = |l: &[u8]| l.ends_with(b"\n") && !l.ends_with(b"\r\n");
        (*l == b".\n" || *l == b".\r\n") && (bare(l) || (i > 0 && bare(lines[i - 1])))
    });
    let message: Vec<u8> = lines
        .iter()
        .flat_map(|l| {
            let text = l.strip_suffix(b"\r\n").or_else(|| l.strip_suffix(b"\n")).unwrap_or(l);
            let text = text.strip_prefix(b".").unwrap_or(text);
            [text, b"\r\n"].concat()
        })
        .collect();
    let ok = !bare_cr && !too_long && !lone_dot && message.len() <= max_message;
    Expected::Ends { len, message: ok.then_some(message) }
}
