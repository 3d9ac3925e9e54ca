//! Reaching a server: name resolution with a timeout, address-family pinning (POP and SMTP must
//! come from the same family, because the server authorises one IP address), TCP connect with a
//! timeout, and the TLS connector with the account's extra trusted CA. Knows no mail protocol.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use async_native_tls::{Certificate, TlsConnector};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Every socket popsend talks through: TCP, or TLS over TCP.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}
pub type BoxStream = Box<dyn Stream>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: &SocketAddr) -> Family {
        if addr.is_ipv4() { Family::V4 } else { Family::V6 }
    }
}

/// Why a server could not be reached (as opposed to what it answered). The operating system's
/// own error, where there is one, is the `source` (shown after it in 詳細).
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The name did not resolve: offline, or a typo in the host name.
    #[error("{host}: name does not resolve")]
    Resolve { host: String, source: io::Error },
    /// The name resolved, but not to an address of the family the other connection used.
    #[error("{host}: no {} address (the POP login used {})", fam(*.family), fam(*.family))]
    NoAddressInFamily { host: String, family: Family },
    #[error("{addr}: connection refused")]
    Refused { addr: SocketAddr },
    #[error("{addr}: no answer (timed out)")]
    Timeout { addr: SocketAddr },
    #[error("{addr}: unreachable")]
    Unreachable { addr: SocketAddr, source: io::Error },
    /// The certificate was not trusted (or does not name the host).
    #[error("{host}: TLS certificate not accepted: {detail}")]
    Tls { host: String, detail: String },
    /// The TLS handshake failed for another reason: the server does not speak TLS on this port
    /// (or answered STLS with `+OK` and went on in plaintext). Not a certificate problem.
    #[error("{host}: TLS handshake failed (the server does not speak TLS here?): {detail}")]
    TlsHandshake { host: String, detail: String },
    /// The server accepted TCP but did not finish the TLS handshake in time: temporary.
    #[error("{host}: the TLS handshake did not finish in time")]
    TlsTimeout { host: String },
    /// The extra CA file could not be used.
    #[error("{path}: cannot use as CA certificate: {detail}")]
    CaFile { path: String, detail: String },
}

fn fam(f: Family) -> &'static str {
    match f {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

/// Resolves `host:port` once; the order is the resolver's (usually the OS's preference).
pub async fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, NetError> {
    let lookup = tokio::net::lookup_host((host, port));
    let addrs = match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(addrs)) => addrs.collect::<Vec<_>>(),
        Ok(Err(source)) => return Err(NetError::Resolve { host: host.to_owned(), source }),
        Err(_) => {
            let source = io::Error::new(io::ErrorKind::TimedOut, "name lookup timed out");
            return Err(NetError::Resolve { host: host.to_owned(), source });
        }
    };
    if addrs.is_empty() {
        let source = io::Error::new(io::ErrorKind::NotFound, "no addresses");
        return Err(NetError::Resolve { host: host.to_owned(), source });
    }
    Ok(addrs)
}

/// The families present in `addrs`, in the order they first appear.
pub fn families(addrs: &[SocketAddr]) -> Vec<Family> {
    let mut out = Vec::new();
    for a in addrs {
        let f = Family::of(a);
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// Only the addresses of one family.
pub fn in_family(addrs: &[SocketAddr], family: Family) -> Vec<SocketAddr> {
    addrs.iter().copied().filter(|a| Family::of(a) == family).collect()
}

/// Connects to the first address that answers; reports the last failure when none does.
pub async fn connect(addrs: &[SocketAddr], timeout: Duration) -> Result<(TcpStream, SocketAddr), NetError> {
    let mut last = None;
    for &addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok((stream, addr));
            }
            Ok(Err(e)) => last = Some(classify_connect_error(addr, e)),
            Err(_) => last = Some(NetError::Timeout { addr }),
        }
    }
    // No address at all (a caller's filter left none) is a failure to reach, not a panic.
    Err(last.unwrap_or_else(|| {
        let source = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
        NetError::Resolve { host: String::new(), source }
    }))
}

pub fn classify_connect_error(addr: SocketAddr, e: io::Error) -> NetError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => NetError::Refused { addr },
        io::ErrorKind::TimedOut => NetError::Timeout { addr },
        _ => NetError::Unreachable { addr, source: e },
    }
}

/// The trust settings shared by POP and SMTP: the system roots plus, optionally, one CA file.
#[derive(Clone, Default)]
pub struct TrustAnchors {
    /// PEM bytes of the extra CA (`[tls] ca_file`), already checked to parse.
    pub extra_ca_pem: Option<Vec<u8>>,
}

impl TrustAnchors {
    pub fn load(ca_file: Option<&Path>) -> Result<TrustAnchors, NetError> {
        let Some(path) = ca_file else { return Ok(TrustAnchors::default()) };
        let bad = |detail: String| NetError::CaFile { path: path.display().to_string(), detail };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        Certificate::from_pem(&pem).map_err(|e| bad(e.to_string()))?;
        Ok(TrustAnchors { extra_ca_pem: Some(pem) })
    }

    pub fn connector(&self) -> TlsConnector {
        let mut c = TlsConnector::new();
        if let Some(pem) = &self.extra_ca_pem {
            // Checked in `load`.
            if let Ok(cert) = Certificate::from_pem(pem) {
                c = c.add_root_certificate(cert);
            }
        }
        c
    }
}

/// Wraps `stream` in TLS, verifying the certificate against `host`. Never falls back to cleartext.
pub async fn start_tls<S: Stream + 'static>(
    trust: &TrustAnchors,
    host: &str,
    stream: S,
    timeout: Duration,
) -> Result<BoxStream, NetError> {
    let connector = trust.connector();
    let handshake = connector.connect(host, stream);
    match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(tls)) => Ok(Box::new(tls)),
        Ok(Err(e)) => Err(tls_failure(host, e.to_string())),
        Err(_) => Err(NetError::TlsTimeout { host: host.to_owned() }),
    }
}

/// A failed handshake: a certificate problem, or something else (plaintext where TLS was due).
/// native-tls has no typed errors; every platform's verifier names the certificate.
pub fn tls_failure(host: &str, detail: String) -> NetError {
    let d = detail.to_ascii_lowercase();
    let host = host.to_owned();
    if ["certificate", "verify", "self signed", "self-signed", "hostname", "unknown ca", "expired", "trust"]
        .iter()
        .any(|w| d.contains(w))
    {
        NetError::Tls { host, detail }
    } else {
        NetError::TlsHandshake { host, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_keep_resolver_order() {
        let a: Vec<SocketAddr> =
            vec!["[::1]:25".parse().unwrap(), "127.0.0.1:25".parse().unwrap(), "[::2]:25".parse().unwrap()];
        assert_eq!(families(&a), vec![Family::V6, Family::V4]);
        assert_eq!(in_family(&a, Family::V4), vec!["127.0.0.1:25".parse::<SocketAddr>().unwrap()]);
    }

    #[tokio::test]
    async fn refused_is_offline() {
        // Bind then drop, so the port is very likely closed.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = connect(&[addr], Duration::from_secs(2)).await.unwrap_err();
        assert!(matches!(e, NetError::Refused { .. }), "{e:?}");
        assert!(crate::problem::classify::classify(&e).unreachable());
    }

    #[tokio::test]
    async fn unknown_name_is_a_resolve_error() {
        let e = resolve("no-such-host.invalid", 110, Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(e, NetError::Resolve { .. }), "{e:?}");
    }

    /// Issue 9, case 12: a server that accepts TCP and never finishes the handshake is a timeout
    /// (temporary), and one that answers in plaintext is not a certificate problem.
    #[tokio::test]
    async fn stalled_or_plaintext_handshakes_are_not_certificate_faults() {
        use tokio::io::AsyncWriteExt as _;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (silent, _) = l.accept().await.unwrap();
            let (mut chatty, _) = l.accept().await.unwrap();
            chatty.write_all(b"+OK this is plaintext, not TLS\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop((silent, chatty));
        });
        let trust = TrustAnchors::default();
        let (tcp, _) = connect(&[addr], Duration::from_secs(2)).await.unwrap();
        let e = start_tls(&trust, "localhost", tcp, Duration::from_millis(300)).await.err().unwrap();
        assert!(matches!(e, NetError::TlsTimeout { .. }), "{e:?}");
        assert_eq!(crate::problem::classify::classify(&e).severity(), crate::Severity::Temporary);
        let (tcp, _) = connect(&[addr], Duration::from_secs(2)).await.unwrap();
        let e = start_tls(&trust, "localhost", tcp, Duration::from_secs(3)).await.err().unwrap();
        assert!(matches!(e, NetError::TlsHandshake { .. }), "{e:?}");
        assert!(!e.to_string().contains("certificate"), "{e}");
        server.abort();
    }

    #[test]
    fn certificate_words_are_certificate_faults() {
        let e = tls_failure("h", "error:0A000086:SSL routines::certificate verify failed".into());
        assert!(matches!(e, NetError::Tls { .. }));
        let e = tls_failure("h", "error:0A00010B:SSL routines::wrong version number".into());
        assert!(matches!(e, NetError::TlsHandshake { .. }));
    }
}
