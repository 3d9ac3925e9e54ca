//! Reading one command or message line, bounded: a line over the limit is read to its end and
//! dropped whole (never returned in pieces, however the bytes arrive), and a line must come
//! within the idle time.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// One line as `read_line` found it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// A whole line with its ending (CRLF, or a bare LF).
    Text(Vec<u8>),
    /// A line longer than the limit, read to its end and dropped whole: whether it ended in CRLF
    /// (only after one may a lone dot end a message).
    TooLong { crlf: bool },
    /// The end of the stream, the idle time passed, or the line's deadline.
    Closed,
}

/// Reads one line ending in LF of at most `limit` bytes (its ending included). A longer line is
/// read to its end and reported as `TooLong`, never in pieces: however the bytes arrive (one at a
/// time, or a read ending inside the line), no part of a line ever comes back as a line of its
/// own. `Closed` when the stream ends, when nothing arrives for `idle`, or at `deadline` (a whole
/// line must arrive by then, so a byte now and then does not hold the connection).
pub(super) async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    idle: Duration,
    deadline: tokio::time::Instant,
    limit: usize,
) -> Line {
    let mut buf = Vec::new();
    let mut over = false;
    // The last byte of the line before its LF, across pieces.
    let mut tail = 0u8;
    loop {
        let wait = idle.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        let chunk = match tokio::time::timeout(wait, r.fill_buf()).await {
            Ok(Ok(chunk)) if !chunk.is_empty() => chunk,
            _ => return Line::Closed,
        };
        let (used, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let text_end = if done { used - 1 } else { used };
        if text_end > 0 {
            tail = chunk[text_end - 1];
        }
        if !over && buf.len() + used > limit {
            over = true;
            buf = Vec::new();
        }
        if !over {
            buf.extend_from_slice(&chunk[..used]);
        }
        r.consume(used);
        if done {
            return if over { Line::TooLong { crlf: tail == b'\r' } } else { Line::Text(buf) };
        }
    }
}
