//! The byte streams under lettre's connection: `Bounded` caps every read from the server and
//! can be cut at once (nothing read or written after), and `TlsOverTcp` carries implicit TLS.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use lettre::transport::smtp::client::AsyncTokioStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The most bytes read from the server between two writes (one reply, or one TLS handshake
/// flight). RFC 5321 replies are a few hundred bytes; EHLO a few dozen lines.
pub const MAX_REPLY_BYTES: usize = 256 * 1024;

/// The stream under lettre: counts what is read since the last write and fails the read past
/// `MAX_REPLY_BYTES`, so an endless reply ends in an error instead of filling memory (lettre reads
/// a whole line into a `String` before it checks the length). Once `cut`, it neither reads nor
/// writes: the way to leave a DATA phase whose message must not go (the server discards a
/// message whose connection ends before the final dot).
pub struct Bounded<S> {
    inner: S,
    read_since_write: usize,
    limit: usize,
    pub(super) cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Whether the server has sent a byte yet.
    pub(super) heard: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<S> Bounded<S> {
    pub fn new(inner: S) -> Bounded<S> {
        Bounded {
            inner,
            read_since_write: 0,
            limit: MAX_REPLY_BYTES,
            cut: Default::default(),
            heard: Default::default(),
        }
    }

    fn is_cut(&self) -> bool {
        self.cut.load(std::sync::atomic::Ordering::SeqCst)
    }
}

pub(super) fn cut_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection closed by popsend")
}

impl<S: AsyncRead + Unpin> AsyncRead for Bounded<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        if self.read_since_write >= self.limit {
            return Poll::Ready(Err(io::Error::other(format!(
                "the server sent more than {} KiB without waiting for us",
                self.limit / 1024
            ))));
        }
        // Never read past the limit in one go either.
        let room = self.limit - self.read_since_write;
        let mut limited = buf.take(room);
        let poll = Pin::new(&mut self.inner).poll_read(cx, &mut limited);
        let n = limited.filled().len();
        if let Poll::Ready(Ok(())) = &poll {
            // SAFETY: `limited` wrote `n` initialised bytes into `buf`'s unfilled part.
            unsafe { buf.assume_init(n) };
            buf.advance(n);
            self.read_since_write += n;
            if n > 0 {
                self.heard.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Bounded<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if self.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &poll
            && *n > 0
        {
            self.read_since_write = 0;
        }
        poll
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl fmt::Debug for Bounded<TcpStream> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bounded({:?})", self.inner.peer_addr().ok())
    }
}

impl AsyncTokioStream for Bounded<TcpStream> {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

/// Implicit TLS done by us (so the certificate error is ours to word), handed to lettre.
pub(super) struct TlsOverTcp {
    pub(super) inner: async_native_tls::TlsStream<Bounded<TcpStream>>,
    pub(super) peer: SocketAddr,
}

impl fmt::Debug for TlsOverTcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsOverTcp({})", self.peer)
    }
}

impl AsyncTokioStream for TlsOverTcp {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

impl AsyncRead for TlsOverTcp {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsOverTcp {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
