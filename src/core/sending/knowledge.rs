//! What popsend remembers between runs, in a small state file in the data folder: the last POP
//! login (so a restart still knows the relay window) and each server's habits (the login method
//! that worked, EHLO, size limit, the SMTP port that works from each network). A damaged file is
//! an empty one; nothing here logs in or sends.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sending::relay::RelayWindow;

/// What is remembered about the last login (and the server's habits) between runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Knowledge {
    /// The last successful login: when, to which server, from which family.
    pub last_login: Option<LastLogin>,
    /// SMTP servers that decide relaying at connect time, so the SMTP connection must be opened
    /// only after the POP login ("host:port").
    pub sequential: Vec<String>,
    /// The POP login method that last worked, per server ("host:port", method code).
    pub methods: Vec<(String, String)>,
    /// The message size each SMTP server announced in its last EHLO ("host:port", bytes); the
    /// submission server announces no more than that.
    pub smtp_sizes: Vec<(String, usize)>,
    /// SMTP servers whose EHLO is known ("host:port", whether it offered PIPELINING): the next
    /// connection does not ask again.
    pub smtp_ehlo: Vec<(String, bool)>,
    /// The port that worked for each SMTP server ("host:port" as configured) from each network
    /// (`route::network`): the next send from there goes to it at once.
    pub smtp_routes: Vec<(String, String, crate::sending::route::Route)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastLogin {
    pub at: SystemTime,
    /// "host:port" of the POP server.
    pub server: String,
    pub peer: IpAddr,
}

impl Knowledge {
    /// The window of the last login to `server`, if there was one.
    pub fn window(&self, server: &str, length: Duration) -> Option<RelayWindow> {
        let l = self.last_login.as_ref().filter(|l| l.server == server)?;
        Some(RelayWindow { opened: l.at, length })
    }

    pub fn needs_sequential(&self, smtp_server: &str) -> bool {
        self.sequential.iter().any(|s| s == smtp_server)
    }

    /// What the last login to `pop_server` learned: the method that worked, and the server's
    /// capabilities when they were asked (`"user capa=user,pipelining"`; older files have the
    /// method alone).
    pub fn login_for(&self, pop_server: &str) -> Option<crate::protocol::pop3::Remembered> {
        let (_, value) = self.methods.iter().find(|(s, _)| s == pop_server)?;
        let mut words = value.split(' ');
        let method = crate::protocol::pop3::Method::from_code(words.next()?)?;
        let caps = words.next().and_then(crate::protocol::pop3::Capabilities::from_word);
        Some(crate::protocol::pop3::Remembered { method, caps })
    }

    /// Forgets `pop_server`'s capabilities (the method stays first): the next login asks CAPA.
    /// True when they were known.
    pub fn forget_pop_caps(&mut self, pop_server: &str) -> bool {
        match self.login_for(pop_server) {
            Some(r) if r.caps.is_some() => {
                self.methods.retain(|(s, _)| s != pop_server);
                self.methods.push((pop_server.to_owned(), r.method.code().to_owned()));
                true
            }
            _ => false,
        }
    }

    /// Remembers what worked with `pop_server`. `caps` `None` (the login did not ask) keeps the
    /// capabilities known for the same method.
    pub fn set_login(
        &mut self,
        pop_server: &str,
        method: crate::protocol::pop3::Method,
        caps: Option<&crate::protocol::pop3::Capabilities>,
    ) {
        let caps =
            caps.cloned().or_else(|| self.login_for(pop_server).filter(|r| r.method == method).and_then(|r| r.caps));
        let value = match caps {
            Some(c) => format!("{} {}", method.code(), c.to_word()),
            None => method.code().to_owned(),
        };
        self.methods.retain(|(s, _)| s != pop_server);
        self.methods.push((pop_server.to_owned(), value));
    }

    /// The SIZE `smtp_server` announced last time, if it did.
    pub fn size_for(&self, smtp_server: &str) -> Option<usize> {
        self.smtp_sizes.iter().find(|(s, _)| s == smtp_server).map(|(_, n)| *n)
    }

    /// Remembers what `smtp_server` announced (`None`: no SIZE). True when it changed.
    pub fn set_size(&mut self, smtp_server: &str, size: Option<usize>) -> bool {
        if self.size_for(smtp_server) == size {
            return false;
        }
        self.smtp_sizes.retain(|(s, _)| s != smtp_server);
        if let Some(n) = size {
            self.smtp_sizes.push((smtp_server.to_owned(), n));
        }
        true
    }

    /// What `smtp_server`'s EHLO said last time, if it is known.
    pub fn smtp_extras(&self, smtp_server: &str) -> Option<crate::protocol::smtp::Extras> {
        let (_, pipelining) = self.smtp_ehlo.iter().find(|(s, _)| s == smtp_server)?;
        Some(crate::protocol::smtp::Extras { size: self.size_for(smtp_server), pipelining: *pipelining })
    }

    /// Remembers what `smtp_server`'s EHLO said. True when it changed.
    pub fn set_smtp_extras(&mut self, smtp_server: &str, extras: crate::protocol::smtp::Extras) -> bool {
        let size_changed = self.set_size(smtp_server, extras.size);
        if self.smtp_extras(smtp_server).is_some_and(|known| known.pipelining == extras.pipelining) {
            return size_changed;
        }
        self.smtp_ehlo.retain(|(s, _)| s != smtp_server);
        self.smtp_ehlo.push((smtp_server.to_owned(), extras.pipelining));
        true
    }

    /// Forgets `smtp_server`'s EHLO (the next connection asks again). True when it was known.
    pub fn forget_smtp_extras(&mut self, smtp_server: &str) -> bool {
        let before = self.smtp_ehlo.len();
        self.smtp_ehlo.retain(|(s, _)| s != smtp_server);
        self.smtp_ehlo.len() != before
    }

    /// The port that worked for `smtp_server` from `network`, if one was remembered.
    pub fn route_for(&self, smtp_server: &str, network: &str) -> Option<crate::sending::route::Route> {
        self.smtp_routes.iter().find(|(s, n, _)| s == smtp_server && n == network).map(|(_, _, r)| *r)
    }

    /// Remembers the port that worked for `smtp_server` from `network`. True when it changed.
    pub fn set_route(&mut self, smtp_server: &str, network: &str, route: crate::sending::route::Route) -> bool {
        if self.route_for(smtp_server, network) == Some(route) {
            return false;
        }
        self.smtp_routes.retain(|(s, n, _)| !(s == smtp_server && n == network));
        self.smtp_routes.push((smtp_server.to_owned(), network.to_owned(), route));
        true
    }

    /// Forgets the port remembered for `smtp_server` from `network` (the configured one works
    /// there now). True when one was.
    pub fn forget_route(&mut self, smtp_server: &str, network: &str) -> bool {
        let before = self.smtp_routes.len();
        self.smtp_routes.retain(|(s, n, _)| !(s == smtp_server && n == network));
        self.smtp_routes.len() != before
    }

    /// A tiny line format: `key value`, unknown keys ignored, so older files still load.
    fn render(&self) -> String {
        let mut out = String::from("# popsend relay-window state\n");
        if let Some(l) = &self.last_login {
            let ms = l.at.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
            out += &format!("login_at_ms {ms}\nlogin_server {}\nlogin_peer {}\n", l.server, l.peer);
        }
        for s in &self.sequential {
            out += &format!("sequential {s}\n");
        }
        for (server, method) in &self.methods {
            out += &format!("pop_method {server} {method}\n");
        }
        for (server, size) in &self.smtp_sizes {
            out += &format!("smtp_size {server} {size}\n");
        }
        for (server, pipelining) in &self.smtp_ehlo {
            out += &format!("smtp_ehlo {server} {}\n", if *pipelining { "pipelining" } else { "-" });
        }
        for (server, network, route) in &self.smtp_routes {
            out += &format!("smtp_route {server} {network} {}\n", route.word());
        }
        out
    }

    /// Parses the file; a line whose value is out of range or malformed is left out, and its
    /// number (1-based) returned, so the caller can warn. The file is input: it never panics.
    pub fn parse_checked(text: &str) -> (Knowledge, Vec<usize>) {
        let (mut at, mut server, mut peer) = (None, None, None);
        let mut state = Knowledge::default();
        let mut ignored = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let Some((key, value)) = line.split_once(' ') else { continue };
            let ok = match key {
                "login_at_ms" => {
                    at = value
                        .parse::<u64>()
                        .ok()
                        .filter(|ms| *ms <= MAX_MS)
                        .map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
                    at.is_some()
                }
                "login_server" => {
                    server = Some(value.to_owned());
                    true
                }
                "login_peer" => {
                    peer = value.parse().ok();
                    peer.is_some()
                }
                "sequential" => {
                    state.sequential.push(value.to_owned());
                    true
                }
                "pop_method" => match value.split_once(' ') {
                    Some((server, method)) => {
                        state.methods.push((server.to_owned(), method.to_owned()));
                        true
                    }
                    None => false,
                },
                "smtp_size" => match value.split_once(' ').map(|(s, n)| (s, n.parse::<usize>())) {
                    Some((server, Ok(n))) => {
                        state.smtp_sizes.push((server.to_owned(), n));
                        true
                    }
                    _ => false,
                },
                "smtp_route" => {
                    let mut parts = value.splitn(3, ' ');
                    match (parts.next(), parts.next(), parts.next().and_then(crate::sending::route::Route::parse)) {
                        (Some(server), Some(network), Some(route)) => {
                            state.smtp_routes.push((server.to_owned(), network.to_owned(), route));
                            true
                        }
                        _ => false,
                    }
                }
                "smtp_ehlo" => match value.split_once(' ') {
                    Some((server, flag @ ("pipelining" | "-"))) => {
                        state.smtp_ehlo.push((server.to_owned(), flag == "pipelining"));
                        true
                    }
                    _ => false,
                },
                _ => true,
            };
            if !ok {
                ignored.push(i + 1);
            }
        }
        if let (Some(at), Some(server), Some(peer)) = (at, server, peer) {
            state.last_login = Some(LastLogin { at, server, peer });
        }
        (state, ignored)
    }
}

/// The last millisecond of the year 9999: later login times come from a damaged file.
const MAX_MS: u64 = 253_402_300_799_999;

/// The state file in the data dir.
pub struct Store {
    path: PathBuf,
}

impl Store {
    pub fn new(data_dir: &Path) -> Store {
        Store { path: data_dir.join("relay-window") }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A missing or unreadable file is an empty state: the worst case is one extra login.
    pub fn load(&self) -> Knowledge {
        self.load_checked().0
    }

    /// `load`, with the numbers of the lines that were ignored (out of range, malformed).
    pub fn load_checked(&self) -> (Knowledge, Vec<usize>) {
        // Bounded: the file is a few lines; anything larger is not ours.
        use std::io::Read as _;
        let mut text = String::new();
        match std::fs::File::open(&self.path).map(|f| f.take(64 * 1024).read_to_string(&mut text)) {
            Ok(Ok(_)) => Knowledge::parse_checked(&text),
            _ => (Knowledge::default(), Vec::new()),
        }
    }

    /// Writes atomically (temporary file, then rename), so a crash never leaves half a file.
    /// Forgets the last login (the machine's address may have changed, and the server's window
    /// belongs to the old one). What is known about servers stays.
    pub fn forget_login(&self) -> std::io::Result<()> {
        let mut state = self.load();
        if state.last_login.take().is_none() {
            return Ok(());
        }
        self.save(&state)
    }

    pub fn save(&self, state: &Knowledge) -> std::io::Result<()> {
        crate::system::files::write_atomic(&self.path, state.render().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
    }

    #[test]
    fn state_round_trips_and_is_per_server() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert_eq!(store.load(), Knowledge::default());
        let state = Knowledge {
            last_login: Some(LastLogin { at: t(5), server: "pop.example:110".into(), peer: "::1".parse().unwrap() }),
            sequential: vec!["smtp.example:25".into()],
            methods: vec![("pop.example:110".into(), "user".into())],
            smtp_sizes: vec![("smtp.example:25".into(), 10_240_000)],
            smtp_ehlo: vec![("smtp.example:25".into(), true), ("other:587".into(), false)],
            smtp_routes: vec![(
                "smtp.example:25".into(),
                "192.168.1.0/24".into(),
                crate::sending::route::Route::parse("587 starttls -").unwrap(),
            )],
        };
        store.save(&state).unwrap();
        let back = store.load();
        assert_eq!(back, state);
        assert_eq!(back.window("pop.example:110", Duration::from_secs(600)).unwrap().opened, t(5));
        assert!(back.window("other:110", Duration::from_secs(600)).is_none());
        assert!(back.needs_sequential("smtp.example:25"));
        assert!(!back.needs_sequential("smtp.example:587"));
        assert_eq!(back.size_for("smtp.example:25"), Some(10_240_000));
        assert_eq!(back.size_for("smtp.example:587"), None);
        // Issue 24: the port that worked, per network: home's is not campus's.
        assert_eq!(back.route_for("smtp.example:25", "192.168.1.0/24").map(|r| r.port), Some(587));
        assert_eq!(back.route_for("smtp.example:25", "133.1.2.0/24"), None);
        let mut moved = back.clone();
        assert!(!moved.set_route(
            "smtp.example:25",
            "192.168.1.0/24",
            crate::sending::route::Route::parse("587 starttls -").unwrap()
        ));
        assert!(moved.set_route(
            "smtp.example:25",
            "192.168.1.0/24",
            crate::sending::route::Route::parse("587 starttls auth").unwrap()
        ));
        assert_eq!(moved.smtp_routes.len(), 1);
        // Issue 14: what the EHLO said, so the next connection need not ask.
        use crate::protocol::smtp::Extras;
        assert_eq!(back.smtp_extras("smtp.example:25"), Some(Extras { size: Some(10_240_000), pipelining: true }));
        assert_eq!(back.smtp_extras("other:587"), Some(Extras { size: None, pipelining: false }));
        assert_eq!(back.smtp_extras("smtp.example:587"), None);
        let mut changed = back.clone();
        assert!(!changed.set_smtp_extras("smtp.example:25", Extras { size: Some(10_240_000), pipelining: true }));
        assert!(changed.set_smtp_extras("smtp.example:25", Extras { size: Some(10_240_000), pipelining: false }));
        assert!(changed.forget_smtp_extras("smtp.example:25") && changed.smtp_extras("smtp.example:25").is_none());
        assert_eq!(changed.size_for("smtp.example:25"), Some(10_240_000), "the size stays for the submission server");
        // Issue 14: the POP method and what CAPA said, so the next login need not ask.
        use crate::protocol::pop3::{Capabilities, Method, Remembered};
        assert_eq!(
            back.login_for("pop.example:110"),
            Some(Remembered { method: Method::UserPass, caps: None }),
            "an older file's method alone"
        );
        let caps = Capabilities { user: true, pipelining: true, ..Capabilities::default() };
        changed.set_login("pop.example:110", Method::UserPass, Some(&caps));
        changed.set_login("pop.example:110", Method::UserPass, None);
        store.save(&changed).unwrap();
        let mut again = store.load();
        assert_eq!(
            again.login_for("pop.example:110"),
            Some(Remembered { method: Method::UserPass, caps: Some(caps.clone()) }),
            "a login that did not ask keeps what was known"
        );
        assert!(again.forget_pop_caps("pop.example:110") && !again.forget_pop_caps("pop.example:110"));
        assert_eq!(again.login_for("pop.example:110"), Some(Remembered { method: Method::UserPass, caps: None }));
        again.set_login("pop.example:110", Method::Apop, None);
        assert_eq!(again.login_for("pop.example:110"), Some(Remembered { method: Method::Apop, caps: None }));
        let mut changed = back.clone();
        assert!(!changed.set_size("smtp.example:25", Some(10_240_000)));
        assert!(changed.set_size("smtp.example:25", None));
        assert_eq!(changed.size_for("smtp.example:25"), None);
        assert_eq!(Knowledge::parse_checked("smtp_size smtp.example:25 many\n").1, vec![1]);
    }

    /// Issue 9, case 6: out-of-range values are ignored (and reported), never a panic.
    #[test]
    fn out_of_range_login_time_is_ignored() {
        let (s, ignored) =
            Knowledge::parse_checked("login_at_ms 18446744073709551615\nlogin_server pop:110\nlogin_peer 127.0.0.1\n");
        assert_eq!(s.last_login, None);
        assert_eq!(ignored, vec![1]);
        let (s, ignored) =
            Knowledge::parse_checked("login_at_ms 1700000000000\nlogin_server pop:110\nlogin_peer 999.1.1.1\n");
        assert_eq!(s.last_login, None);
        assert_eq!(ignored, vec![3]);
        let w = RelayWindow { opened: UNIX_EPOCH + Duration::from_millis(MAX_MS), length: Duration::from_secs(600) };
        assert_eq!(w.remaining(t(0)), Duration::ZERO);
    }

    #[test]
    fn garbage_file_is_an_empty_state() {
        assert_eq!(Knowledge::parse_checked("login_at_ms nope\nlogin_server x\n\0\0").0, Knowledge::default());
    }
}
