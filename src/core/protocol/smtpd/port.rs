//! The port: bound on loopback only, and when it is taken, who holds it (another popsend, another
//! program, another user of this computer, read from /proc/net/tcp on Linux); a connection's
//! owner, for the per-user cap.

/// How the server greets (and how `holder` knows another popsend).
pub(super) const GREETING: &str = "220 localhost popsend ESMTP";

/// Binds `port` on the loopback addresses only (127.0.0.1, and ::1 where the machine has IPv6).
/// An error says the port is taken (by another `popsend serve` or another program).
pub(super) async fn bind(port: u16) -> std::io::Result<Vec<tokio::net::TcpListener>> {
    let v4 = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let port = v4.local_addr()?.port();
    let mut out = vec![v4];
    match tokio::net::TcpListener::bind(("::1", port)).await {
        Ok(v6) => out.push(v6),
        // Taken on ::1 only: "localhost" often means ::1 first, so whoever holds it would get
        // what programs send (the local login and the mail). The port counts as taken.
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(e),
        // No IPv6 here: 127.0.0.1 alone.
        Err(_) => {}
    }
    Ok(out)
}

/// Who holds a port `bind` could not open, as far as its first line tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Another popsend's submission server (`popsend serve`, or a window with it on).
    Popsend,
    /// Another program, with its greeting (made safe to show, at most 120 characters).
    Other(String),
    /// Nothing answered on 127.0.0.1 within a second (or it says nothing first).
    Silent,
}

/// A port `listen` could not open: who holds it, and the system's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortTaken {
    pub holder: Holder,
    pub detail: String,
    /// Another user of this computer listens there (Linux: the socket's owner in /proc/net):
    /// what programs send to the port, the local login and the mail, goes to that user.
    pub other_user: Option<u32>,
}

/// `bind`, and when the port is taken, who holds it (`holder`): what `popsend serve` and the
/// window both say.
pub async fn listen(port: u16) -> Result<Vec<tokio::net::TcpListener>, PortTaken> {
    match bind(port).await {
        Ok(listeners) => Ok(listeners),
        Err(e) => Err(PortTaken {
            holder: holder(port).await,
            detail: e.to_string(),
            other_user: owner(port).filter(|uid| Some(*uid) != own_uid()),
        }),
    }
}

/// This process's user id, where there is one.
pub(super) fn own_uid() -> Option<u32> {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        Some(unsafe { libc::geteuid() })
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// One row of /proc/net/tcp (or tcp6): `sl local_address rem_address st … uid …`, addresses as
/// the kernel writes them (`proc_address`).
pub(super) struct ProcSocket<'a> {
    local: &'a str,
    remote: &'a str,
    state: &'a str,
    uid: Option<u32>,
}

pub(super) fn proc_sockets(table: &str) -> impl Iterator<Item = ProcSocket<'_>> {
    table.lines().skip(1).filter_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        Some(ProcSocket {
            local: cols.get(1)?,
            remote: cols.get(2)?,
            state: cols.get(3)?,
            uid: cols.get(7)?.parse().ok(),
        })
    })
}

/// The owner (user id) of the first socket `wanted` picks in `table`.
pub(super) fn table_owner(table: &str, wanted: &dyn Fn(&ProcSocket) -> bool) -> Option<u32> {
    proc_sockets(table).find(|s| wanted(s)).and_then(|s| s.uid)
}

/// The owner of the first socket of this computer `wanted` picks, as far as the system tells
/// another user: on Linux from /proc/net/tcp and tcp6; elsewhere not known (`None`).
pub(super) fn socket_owner(wanted: &dyn Fn(&ProcSocket) -> bool) -> Option<u32> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .find_map(|f| std::fs::read_to_string(f).ok().and_then(|t| table_owner(&t, wanted)))
}

/// Who listens on TCP `port` of this computer (its user id).
pub(super) fn owner(port: u16) -> Option<u32> {
    socket_owner(&|s| listens_on(s, port))
}

/// The user id of the process on the other end of a loopback connection (the client's socket:
/// local `peer`, remote `local`).
pub(super) fn peer_owner(peer: std::net::SocketAddr, local: std::net::SocketAddr) -> Option<u32> {
    socket_owner(&connects(peer, local))
}

/// The socket from `from` to `to`.
pub(super) fn connects(from: std::net::SocketAddr, to: std::net::SocketAddr) -> impl Fn(&ProcSocket) -> bool {
    let (from, to) = (proc_address(from), proc_address(to));
    move |s| s.local.eq_ignore_ascii_case(&from) && s.remote.eq_ignore_ascii_case(&to)
}

/// A socket listening (state 0A) on `port` (the hex after the address).
pub(super) fn listens_on(s: &ProcSocket, port: u16) -> bool {
    s.state == "0A" && s.local.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok()) == Some(port)
}

/// The owner of a socket listening on `port` in the text of /proc/net/tcp (or tcp6).
#[cfg(test)]
pub(super) fn listening_owner(table: &str, port: u16) -> Option<u32> {
    table_owner(table, &|s| listens_on(s, port))
}

/// The owner of the socket from `from` to `to` in the text of /proc/net/tcp (or tcp6).
#[cfg(test)]
pub(super) fn connection_owner(table: &str, from: std::net::SocketAddr, to: std::net::SocketAddr) -> Option<u32> {
    table_owner(table, &connects(from, to))
}

/// An address as /proc/net/tcp writes it: the bytes in network order read as native 32-bit
/// words, each in hex, then `:` and the port.
pub(super) fn proc_address(a: std::net::SocketAddr) -> String {
    let octets: Vec<u8> = match a.ip() {
        std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
        std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let words: String =
        octets.chunks(4).map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))).collect();
    format!("{words}:{:04X}", a.port())
}

/// Connects to 127.0.0.1:`port` (or ::1 where nothing answers there) and reads its greeting (at most 512 bytes, one second in all),
/// then says QUIT. Sends nothing else; never a login.
pub(super) async fn holder(port: u16) -> Holder {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let probe = async {
        let mut stream = match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => s,
            Err(_) => tokio::net::TcpStream::connect(("::1", port)).await.ok()?,
        };
        let mut buf = vec![0u8; 512];
        let mut got = 0;
        while got < buf.len() && !buf[..got].contains(&b'\n') {
            match stream.read(&mut buf[got..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        let _ = stream.write_all(b"QUIT\r\n").await;
        let line = String::from_utf8_lossy(&buf[..got]).lines().next().unwrap_or_default().trim().to_owned();
        (!line.is_empty()).then_some(line)
    };
    match tokio::time::timeout(std::time::Duration::from_secs(1), probe).await {
        Ok(Some(line)) if line.starts_with(GREETING) => Holder::Popsend,
        Ok(Some(line)) => Holder::Other(crate::display_safe(&line).chars().take(120).collect()),
        Ok(None) | Err(_) => Holder::Silent,
    }
}
