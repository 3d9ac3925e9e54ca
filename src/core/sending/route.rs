//! Which port of the SMTP server to send by, from the network the computer is on now. A provider
//! that blocks outgoing port 25 (OP25B, nearly every Japanese home and mobile line) leaves the
//! configured port silent at home while the same server takes mail on 587 or 465: the send path
//! tries those too (`candidates`), and the port that worked is remembered for this network
//! (`network`, kept in the state file by `knowledge::Knowledge`), so the next send from home goes there
//! at once while on campus the configured port stays in use. Pure choices and words; it opens no
//! connection and never names another host.

use std::net::{IpAddr, SocketAddr};

use crate::protocol::net::NetError;
use crate::protocol::smtp::SmtpError;
use crate::setup::account::Config;

/// How a session reaches the SMTP server: the configured port and settings, or another port of
/// the same host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub port: u16,
    pub via: Via,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `[smtp]` as configured (its security, its AUTH user name).
    Configured,
    /// A port of `[smtp] other_ports`: implicit TLS (`tls`) or STARTTLS where offered; SMTP AUTH
    /// with the account's password (`auth`) only over TLS, where relaying after the POP login
    /// was refused.
    Other { tls: bool, auth: bool },
}

impl Route {
    pub fn configured(config: &Config) -> Route {
        Route { port: config.smtp_port(), via: Via::Configured }
    }

    pub fn is_configured(&self) -> bool {
        self.via == Via::Configured
    }

    /// The same port, now with SMTP AUTH (relaying after the POP login was refused there).
    pub fn with_auth(self) -> Route {
        match self.via {
            Via::Other { tls, .. } => Route { via: Via::Other { tls, auth: true }, ..self },
            Via::Configured => self,
        }
    }

    /// How the state file writes it: `587 starttls -`, `465 tls auth`, `25 configured -`.
    pub fn word(&self) -> String {
        match self.via {
            Via::Configured => format!("{} configured -", self.port),
            Via::Other { tls, auth } => {
                format!("{} {} {}", self.port, if tls { "tls" } else { "starttls" }, if auth { "auth" } else { "-" })
            }
        }
    }

    pub fn parse(word: &str) -> Option<Route> {
        let mut parts = word.split(' ');
        let port = parts.next()?.parse().ok().filter(|p| *p != 0)?;
        let via = match (parts.next()?, parts.next()?) {
            ("configured", "-") => Via::Configured,
            (tls @ ("tls" | "starttls"), auth @ ("auth" | "-")) => {
                Via::Other { tls: tls == "tls", auth: auth == "auth" }
            }
            _ => return None,
        };
        parts.next().is_none().then_some(Route { port, via })
    }
}

/// The order to try: what worked from this network before (`remembered`) first, then the
/// configured port, then `[smtp] other_ports` in their order. A remembered route that the config
/// no longer allows (the port list changed, the SMTP port changed) is not used.
pub fn candidates(config: &Config, remembered: Option<Route>) -> Vec<Route> {
    let configured = Route::configured(config);
    let mut out = vec![configured];
    for p in &config.smtp.other_ports {
        if p.port != configured.port && !out.iter().any(|r| r.port == p.port) {
            out.push(Route { port: p.port, via: Via::Other { tls: p.tls, auth: false } });
        }
    }
    if let Some(r) = remembered
        && let Some(i) = out.iter().position(|c| c.port == r.port && (c.is_configured() == r.is_configured()))
    {
        // The config says how the port is reached (TLS from the first byte or not); what was
        // remembered adds only whether it took SMTP AUTH.
        let c = out.remove(i);
        let via = match (c.via, r.via) {
            (Via::Other { tls, .. }, Via::Other { auth, .. }) => Via::Other { tls, auth },
            (via, _) => via,
        };
        out.insert(0, Route { via, ..c });
    }
    out
}

/// What identifies the network this computer is on, seen from `server`: the local address the
/// system would send from, cut to its network (IPv4 /24, IPv6 /64), e.g. `192.168.1.0/24` at
/// home and `133.1.2.0/24` on campus. No packet is sent (a UDP socket only asks for a route).
/// `None` when there is no route to it at all.
pub fn network(server: SocketAddr) -> Option<String> {
    let any: SocketAddr = match server {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = std::net::UdpSocket::bind(any).ok()?;
    socket.connect(server).ok()?;
    Some(network_of(socket.local_addr().ok()?.ip()))
}

fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Whether an SMTP error means the port did not answer as a mail server would: refused, no
/// answer to the connection, or not a byte from the server (reset, closed or silent before the
/// greeting). These are what OP25B looks like; a server that said anything (a 421 greeting, an
/// endless line), a certificate, a refused AUTH or a refused sender are not (they are told as
/// they are, and no other port is tried for them).
pub fn silent(e: &SmtpError) -> bool {
    matches!(
        e,
        SmtpError::Net(NetError::Refused { .. } | NetError::Timeout { .. } | NetError::Unreachable { .. })
            | SmtpError::NoGreeting(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::smtp::Stage;

    fn config(extra: &str) -> Config {
        Config::parse(&format!("[account]\naddress = \"a@example.ac.jp\"\n[pop]\nhost = \"mail.example.ac.jp\"\nusername = \"a\"\n[smtp]\n{extra}"), std::path::Path::new("c.toml")).unwrap()
    }

    #[test]
    fn the_configured_port_comes_first_unless_another_worked_here() {
        let c = config("");
        let ports = |rs: Vec<Route>| rs.iter().map(|r| r.word()).collect::<Vec<_>>();
        assert_eq!(ports(candidates(&c, None)), ["25 configured -", "587 starttls -", "465 tls -"]);
        let home = Route { port: 587, via: Via::Other { tls: false, auth: true } };
        assert_eq!(ports(candidates(&c, Some(home))), ["587 starttls auth", "25 configured -", "465 tls -"]);
        // The state file cannot turn a STARTTLS port into a TLS one: the config says how.
        let odd = Route { port: 587, via: Via::Other { tls: true, auth: false } };
        assert_eq!(ports(candidates(&c, Some(odd))), ["587 starttls -", "25 configured -", "465 tls -"]);
        // Campus: what worked there is the configured port.
        assert_eq!(
            ports(candidates(&c, Some(Route::configured(&c)))),
            ["25 configured -", "587 starttls -", "465 tls -"]
        );
        // `[]`: the configured port only; a remembered port the config no longer has is not used.
        let only = config("other_ports = []\n");
        assert_eq!(ports(candidates(&only, Some(home))), ["25 configured -"]);
        // The configured port is 587 already: not tried twice.
        let sub = config("port = 587\nsecurity = \"starttls\"\n");
        assert_eq!(ports(candidates(&sub, None)), ["587 configured -", "465 tls -"]);
    }

    #[test]
    fn routes_round_trip_through_their_words() {
        for r in [
            Route { port: 25, via: Via::Configured },
            Route { port: 587, via: Via::Other { tls: false, auth: false } },
            Route { port: 465, via: Via::Other { tls: true, auth: true } },
        ] {
            assert_eq!(Route::parse(&r.word()), Some(r));
        }
        for bad in ["", "0 configured -", "587", "587 starttls", "587 ssl -", "587 tls auth extra", "x tls -"] {
            assert_eq!(Route::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_network_is_the_local_addresss_prefix() {
        assert_eq!(network_of("192.168.1.23".parse().unwrap()), "192.168.1.0/24");
        assert_eq!(network_of("2001:db8:1:2:3:4:5:6".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(network("127.0.0.1:25".parse().unwrap()).as_deref(), Some("127.0.0.0/24"));
    }

    #[test]
    fn only_a_port_that_does_not_answer_is_silent() {
        let addr: SocketAddr = "192.0.2.1:25".parse().unwrap();
        assert!(silent(&SmtpError::Net(NetError::Refused { addr })));
        assert!(silent(&SmtpError::Net(NetError::Timeout { addr })));
        assert!(silent(&SmtpError::NoGreeting(Box::new(SmtpError::Timeout { stage: Stage::Greeting }))));
        assert!(silent(&SmtpError::NoGreeting(Box::new(SmtpError::Broken {
            stage: Stage::Greeting,
            detail: "reset".into()
        }))));
        // It spoke: a busy server, or one that talks without end, is not a blocked port.
        assert!(!silent(&SmtpError::Rejected {
            stage: Stage::Greeting,
            code: 421,
            reply: "421 4.3.2 Service not available".into()
        }));
        assert!(!silent(&SmtpError::Broken { stage: Stage::Greeting, detail: "more than 256 KiB".into() }));
        assert!(!silent(&SmtpError::Net(NetError::Tls { host: "h".into(), detail: "untrusted".into() })));
        assert!(!silent(&SmtpError::Rejected { stage: Stage::Auth, code: 535, reply: "535 no".into() }));
        assert!(!silent(&SmtpError::Rejected {
            stage: Stage::RcptTo("x".into()),
            code: 554,
            reply: "554 Relay access denied".into()
        }));
    }
}
