use std::sync::Mutex;

use super::*;

type Stored = Mutex<Vec<(Option<String>, Vec<String>, Vec<u8>)>>;

/// Runs a session with `script` (lines the client sends, all at once: pipelined) and returns
/// the server's replies and what was stored.
async fn session(script: &str, login: Option<&LocalLogin>, limits: &Limits) -> (String, Stored) {
    let stored: Stored = Mutex::new(Vec::new());
    let store = |from: Option<&str>, to: &[String], raw: &[u8], _: &str| {
        let mut s = stored.lock().unwrap();
        s.push((from.map(str::to_owned), to.to_vec(), raw.to_vec()));
        Ok(super::Stored::New { id: s.len() as i64, account: 0 })
    };
    let (client, server) = tokio::io::duplex(1 << 20);
    let (mut cr, mut cw) = tokio::io::split(client);
    let script = script.to_owned();
    let writer = async move {
        cw.write_all(script.as_bytes()).await.unwrap();
        // The client goes away after its script (a drop, unless it said QUIT).
        cw.shutdown().await.unwrap();
    };
    let reader = async move {
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut cr, &mut out).await.unwrap();
        out
    };
    let ((), (), replies) = tokio::join!(serve(server, limits, login, &store, None), writer, reader);
    (replies, stored)
}

fn login() -> LocalLogin {
    LocalLogin {
        user: "popsend".into(),
        password: crate::system::secrets::Password::new("local-secret".into()),
        renewed: false,
    }
}

fn plain(user: &str, pass: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pass}"))
}

#[tokio::test]
async fn a_pipelined_session_stores_the_message_as_sent_dot_unstuffed() {
    let l = login();
    let script = format!(
        "EHLO mutt.local\r\nAUTH PLAIN {}\r\nMAIL FROM:<taro@example.ac.jp> SIZE=100\r\nRCPT TO:<a@example.net>\r\nRCPT TO:<bcc@example.org>\r\nDATA\r\nSubject: hi\r\n\r\n..leading dot\r\nend\r\n.\r\nQUIT\r\n",
        plain("popsend", "local-secret")
    );
    let (replies, stored) = session(&script, Some(&l), &Limits::default()).await;
    assert!(replies.contains("250-AUTH PLAIN LOGIN") && replies.contains("235 2.7.0"), "{replies}");
    assert!(
        replies.contains("250 2.0.0 queued in popsend's outbox as #1") && replies.ends_with("221 2.0.0 bye\r\n"),
        "{replies}"
    );
    let stored = stored.into_inner().unwrap();
    assert_eq!(stored.len(), 1);
    let (from, to, raw) = &stored[0];
    assert_eq!(from.as_deref(), Some("taro@example.ac.jp"));
    assert_eq!(to, &["a@example.net", "bcc@example.org"]);
    assert_eq!(raw, b"Subject: hi\r\n\r\n.leading dot\r\nend\r\n");
}

#[tokio::test]
async fn nothing_goes_without_the_local_login() {
    let l = login();
    let script = format!(
        "EHLO x\r\nMAIL FROM:<a@b.jp>\r\nAUTH PLAIN {}\r\nAUTH LOGIN\r\n{}\r\n{}\r\nMAIL FROM:<a@b.jp>\r\nQUIT\r\n",
        plain("popsend", "wrong"),
        base64::engine::general_purpose::STANDARD.encode("popsend"),
        base64::engine::general_purpose::STANDARD.encode("local-secret")
    );
    let (replies, stored) = session(&script, Some(&l), &Limits::default()).await;
    let codes: Vec<&str> = replies.lines().map(|l| &l[..3]).collect();
    assert_eq!(
        codes,
        ["220", "250", "250", "250", "250", "250", "250", "250", "530", "535", "334", "334", "235", "250", "221"],
        "{replies}"
    );
    assert!(stored.into_inner().unwrap().is_empty());
}

/// Issue 13: a taken port says who holds it — another popsend (its greeting), another
/// program (its greeting, made safe), or something that says nothing.
#[tokio::test]
async fn a_taken_port_names_its_holder() {
    // Another popsend: a real server on the port.
    let listeners = bind(0).await.unwrap();
    let port = listeners[0].local_addr().unwrap().port();
    let store: std::sync::Arc<StoreFn> = std::sync::Arc::new(|_: Option<&str>, _: &[String], _: &[u8], _: &str| {
        Ok(super::Stored::New { id: 1, account: 0 })
    });
    let server = tokio::spawn(accept(listeners, Limits::default(), None, store, None, std::future::pending()));
    assert_eq!(holder(port).await, Holder::Popsend);
    assert!(bind(port).await.is_err());
    server.abort();
    // Another program with a greeting that carries a control character.
    let other = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = other.local_addr().unwrap().port();
    let greeter = tokio::spawn(async move {
        loop {
            let (mut s, _) = other.accept().await.unwrap();
            let _ = s.write_all(b"220 mx.example ESMTP Postfix\x1b[2J\r\n").await;
        }
    });
    match holder(port).await {
        Holder::Other(g) => assert!(g.starts_with("220 mx.example ESMTP Postfix") && !g.contains('\x1b'), "{g:?}"),
        h => panic!("{h:?}"),
    }
    greeter.abort();
    // Silent: it accepts and says nothing within the second.
    let mute = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = mute.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    assert_eq!(holder(port).await, Holder::Silent);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(mute);
}

/// Issue 13: told to stop (a window takes over), the server closes its port at once, and a
/// client already in a session still hears its answer and has its message kept.
#[tokio::test]
async fn stopping_closes_the_port_and_lets_a_session_in_progress_finish() {
    let listeners = bind(0).await.unwrap();
    let port = listeners[0].local_addr().unwrap().port();
    let stored = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = stored.clone();
    let store: std::sync::Arc<StoreFn> =
        std::sync::Arc::new(move |_: Option<&str>, _: &[String], _: &[u8], _: &str| {
            Ok(super::Stored::New {
                id: count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) as i64 + 1,
                account: 0,
            })
        });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(accept(listeners, Limits::default(), None, store, None, async move {
        let _ = stop_rx.await;
    }));
    let mut client = tokio::io::BufReader::new(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    let mut line = String::new();
    let mut reply = async |client: &mut tokio::io::BufReader<tokio::net::TcpStream>, send: &str| {
        client.get_mut().write_all(send.as_bytes()).await.unwrap();
        line.clear();
        loop {
            let start = line.len();
            tokio::io::AsyncBufReadExt::read_line(client, &mut line).await.unwrap();
            if line.as_bytes().get(start + 3) != Some(&b'-') {
                return line.clone();
            }
        }
    };
    assert!(reply(&mut client, "").await.starts_with("220"));
    for (send, code) in [
        ("EHLO me\r\n", "250"),
        ("MAIL FROM:<a@example.jp>\r\n", "250"),
        ("RCPT TO:<b@example.jp>\r\n", "250"),
        ("DATA\r\n", "354"),
    ] {
        let got = reply(&mut client, send).await;
        assert!(got.lines().last().unwrap_or_default().starts_with(code), "{send:?}: {got}");
    }
    // A window takes over while the message is being written.
    stop_tx.send(()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "the port stayed open");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!server.is_finished(), "the server ended before the session in progress");
    assert!(reply(&mut client, "Subject: x\r\n\r\nbody\r\n.\r\n").await.starts_with("250"));
    assert!(reply(&mut client, "QUIT\r\n").await.starts_with("221"));
    tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("the server did not end after its last session")
        .unwrap();
    assert_eq!(stored.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// Issue 13: the server listens on loopback addresses only (127.0.0.1, and ::1 where there is
/// IPv6), never on every interface.
#[tokio::test]
async fn it_binds_loopback_only() {
    let listeners = bind(0).await.unwrap();
    assert!(!listeners.is_empty());
    for l in &listeners {
        let at = l.local_addr().unwrap();
        assert!(at.ip().is_loopback(), "listening on {at}");
    }
}

/// Issue 13: the submission server announces (and keeps to) no more than the upstream
/// server's SIZE, less room for the headers popsend adds; SIZE 0 (no limit) and no SIZE
/// leave popsend's own.
#[tokio::test]
async fn the_upstream_size_is_announced_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::sending::knowledge::Store::new(dir.path());
    let limits = Limits { upstream: Some((dir.path().to_owned(), "smtp.example:587".into())), ..Limits::default() };
    let own = Limits::default().max_message;
    let script = |size: usize| format!("EHLO x\r\nMAIL FROM:<a@b.jp> SIZE={size}\r\nQUIT\r\n");

    let (replies, _) = session(&script(2000), None, &limits).await;
    assert!(replies.contains(&format!("250-SIZE {own}\r\n")), "nothing known: {replies}");

    let mut state = crate::sending::knowledge::Knowledge::default();
    state.set_size("smtp.example:587", Some(3000));
    store.save(&state).unwrap();
    let (replies, _) = session(&script(2000), None, &limits).await;
    assert!(replies.contains("250-SIZE 1976\r\n") && replies.contains("552 5.3.4 larger than 1976 bytes"), "{replies}");
    let body = "x".repeat(1000);
    let (replies, stored) = session(&format!("EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\nSubject: big\r\n\r\n{body}\r\n{body}\r\n.\r\nQUIT\r\n"), None, &limits).await;
    assert!(replies.contains("552 5.3.4") && stored.into_inner().unwrap().is_empty(), "{replies}");

    // Another server's size does not apply; SIZE 0 is no limit.
    state.set_size("smtp.example:587", Some(0));
    state.set_size("other:25", Some(3000));
    store.save(&state).unwrap();
    let (replies, _) = session(&script(2000), None, &limits).await;
    assert!(replies.contains(&format!("250-SIZE {own}\r\n")) && !replies.contains("552"), "{replies}");
}

/// SMTP smuggling (CVE-2023-51764 and kin): a bare CR, or a lone dot beside a bare LF, is
/// refused, so `\n.\n` and its kin can never end one message and start another (here or at
/// the next server); the refused message is not stored.
#[tokio::test]
async fn bare_line_ends_are_refused_and_nothing_is_stored() {
    for smuggled in [
        "Subject: a\r\n\r\nbody\n.\nMAIL FROM:<x@evil.example>\r\n.\r\n",
        "Subject: a\r\n\r\nbody\n.\r\nMAIL FROM:<x@evil.example>\r\n.\r\n",
        "Subject: a\r\n\r\nbody\r\n.\nMAIL FROM:<x@evil.example>\r\n.\r\n",
        "Subject: a\r\n\r\nbody\r.\rmore\r\n.\r\n",
        "Subject: a\r\n\r\nbody\rmore\r\n.\r\n",
    ] {
        let script = format!("EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\n{smuggled}QUIT\r\n");
        let (replies, stored) = session(&script, None, &Limits::default()).await;
        assert!(replies.contains("550 5.6.0"), "{replies}");
        assert!(stored.into_inner().unwrap().is_empty(), "{smuggled:?}");
    }
}

/// Lines that end in a bare LF (Python's `smtplib.sendmail` with bytes sends them so) are
/// taken and stored with CRLF, as Postfix 3.9 takes them; only <CRLF>.<CRLF> ends the message.
#[tokio::test]
async fn bare_lf_lines_are_stored_with_crlf() {
    let script =
        "EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\nSubject: lf\n\n..dot\nbody\r\n.\r\nQUIT\r\n";
    let (replies, stored) = session(script, None, &Limits::default()).await;
    assert!(replies.contains("250 2.0.0 queued"), "{replies}");
    assert_eq!(stored.into_inner().unwrap()[0].2, b"Subject: lf\r\n\r\n.dot\r\nbody\r\n");
}

/// Issue 13: a program that did not hear the answer (popsend was stopped between storing and
/// saying 250) hands the same message over again: while the first copy waits, or after it
/// was sent, it is not stored twice. A different envelope, different bytes or a message
/// without its own Message-ID is a new message.
#[tokio::test]
async fn the_same_message_handed_over_again_is_kept_once() {
    use crate::sending::outbox::{Outbox, Status};
    let dir = tempfile::tempdir().unwrap();
    let outbox = std::sync::Arc::new(std::sync::Mutex::new(Outbox::open(dir.path()).unwrap()));
    let store = outbox_store(outbox.clone(), "taro@example.ac.jp".into(), 0, || {});
    let message = |to: &str, body: &str, id: bool| {
        let mid = if id { "Message-ID: <r1@thunderbird.local>\r\n" } else { "" };
        format!(
            "EHLO x\r\nMAIL FROM:<taro@example.ac.jp>\r\nRCPT TO:<{to}>\r\nDATA\r\nDate: Mon, 30 Nov 2026 10:00:00 +0900\r\n{mid}Subject: s\r\n\r\n{body}\r\n.\r\nQUIT\r\n"
        )
    };
    let hand = async |script: String| {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (mut cr, mut cw) = tokio::io::split(client);
        let limits = Limits::default();
        let (_, replies) = tokio::join!(serve(server, &limits, None, &*store, None), async {
            cw.write_all(script.as_bytes()).await.unwrap();
            let mut out = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut cr, &mut out).await.unwrap();
            out
        });
        replies
    };
    let rows = || outbox.lock().unwrap().list(&[Status::Queued, Status::Sent], 100).unwrap().len();
    assert!(
        hand(message("hanako@example.net", "hi", true)).await.contains("250 2.0.0 queued in popsend's outbox as #1")
    );
    let again = hand(message("hanako@example.net", "hi", true)).await;
    assert!(again.contains("250 2.0.0 already in popsend's outbox as #1"), "{again}");
    assert_eq!(rows(), 1);
    outbox.lock().unwrap().mark_sent(1, std::time::SystemTime::now()).unwrap();
    let again = hand(message("hanako@example.net", "hi", true)).await;
    assert!(again.contains("250 2.0.0 already sent (popsend #1)"), "{again}");
    assert_eq!(rows(), 1);
    for other in [
        message("jiro@example.net", "hi", true),
        message("hanako@example.net", "changed", true),
        message("hanako@example.net", "hi", false),
        message("hanako@example.net", "hi", false),
    ] {
        assert!(hand(other).await.contains("250 2.0.0 queued in popsend's outbox"));
    }
    assert_eq!(rows(), 5);
}

/// Try now, then queue: the first flush after the nudge decides the answer — its 250, the
/// server's own 5xx (and popsend keeps no copy: the program has the message and the error),
/// or "queued" when the message did not go (offline, not tried in time). Exactly one side
/// owns the message when the session ends.
#[tokio::test]
async fn the_program_hears_the_servers_refusal_and_popsend_keeps_no_copy() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let outbox = Arc::new(std::sync::Mutex::new(crate::sending::outbox::Outbox::open(dir.path()).unwrap()));
    let store = outbox_store(outbox.clone(), "taro@example.ac.jp".into(), 0, || {});
    let script = "EHLO x\r\nMAIL FROM:<taro@example.ac.jp>\r\nRCPT TO:<nobody@example.net>\r\nDATA\r\nSubject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n";
    let refused = "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown";
    // What the engine's flush does with the message: refuse it, send it, not try it, or
    // never end in time.
    for (fate, expect, kept) in [
        ("refused", refused, false),
        ("sent", "250 2.0.0 sent", true),
        ("untried", "250 2.0.0 queued", true),
        ("never", "250 2.0.0 queued", true),
    ] {
        let (tx, _) = tokio::sync::broadcast::channel::<Fates>(4);
        let engine = tx.clone();
        let newest = Arc::new(std::sync::Mutex::new(0i64));
        let (seen, ob) = (newest.clone(), outbox.clone());
        let nudge: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            let id = ob.lock().unwrap().list(&[crate::sending::outbox::Status::Queued], 1).unwrap()[0].id;
            *seen.lock().unwrap() = id;
            let f = match fate {
                "refused" => Fates { sent: vec![], failed: vec![(id, refused.into())] },
                "sent" => Fates { sent: vec![id], failed: vec![] },
                "untried" => Fates::default(),
                _ => return,
            };
            let engine = engine.clone();
            tokio::spawn(async move {
                let _ = engine.send(f);
            });
        });
        let after = try_now(outbox.clone(), tx, nudge, Duration::from_millis(300));
        let (client, server) = tokio::io::duplex(1 << 16);
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(script.as_bytes()).await.unwrap();
        cw.shutdown().await.unwrap();
        let reader = async {
            let mut out = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut cr, &mut out).await.unwrap();
            out
        };
        let limits = Limits::default();
        let ((), replies) = tokio::join!(serve(server, &limits, None, &*store, Some(&*after)), reader);
        assert!(replies.contains(&format!("\r\n{expect}")), "{fate}: {replies}");
        let id = *newest.lock().unwrap();
        assert_eq!(outbox.lock().unwrap().get(id).unwrap().is_some(), kept, "{fate}: who owns the message");
        // The next case starts from an empty outbox.
        if kept {
            outbox.lock().unwrap().delete(id).unwrap();
        }
    }
}

#[tokio::test]
async fn limits_hold_and_a_drop_mid_message_keeps_nothing() {
    let limits = Limits { max_message: 20, max_recipients: 2, idle: Duration::from_secs(5), ..Limits::default() };
    let script = "EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<1@d.jp>\r\nRCPT TO:<2@d.jp>\r\nRCPT TO:<3@d.jp>\r\nDATA\r\nthis line is longer than twenty bytes\r\n.\r\nVRFY x\r\nMAIL FROM:<a@b.jp> SIZE=9999\r\nQUIT\r\n";
    let (replies, stored) = session(script, None, &limits).await;
    assert!(
        replies.contains("452 4.5.3") && replies.contains("552 5.3.4") && replies.contains("502 5.5.1"),
        "{replies}"
    );
    assert!(stored.into_inner().unwrap().is_empty());
    let (replies, stored) = session(
        "EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\nSubject: half\r\n",
        None,
        &Limits::default(),
    )
    .await;
    assert!(replies.contains("354"), "{replies}");
    assert!(stored.into_inner().unwrap().is_empty(), "a dropped message was kept");
    let long = format!("EHLO {}\r\nNOOP\r\nQUIT\r\n", "x".repeat(5000));
    let (replies, _) = session(&long, None, &Limits::default()).await;
    assert!(replies.contains("500 5.5.2 line too long") && replies.contains("250 2.0.0 ok"), "{replies}");
}
/// Issue 23: only <CRLF>.<CRLF> ends a message and nothing stored is altered, however the
/// bytes arrive. Each script of the corpus (long lines with a dot at their end at every offset
/// near the read buffer's size, lone dots there, CR/LF shapes, an over-long command line) is
/// fed whole, one byte at a time, cut at the buffer size and ±1, and at random places: every
/// way gives the same replies and the same stored messages, and that outcome is the one the
/// whole-buffer reading (`harness::expected`) says.
#[tokio::test]
async fn every_way_the_bytes_arrive_gives_the_same_outcome() {
    use harness::{Expected, expected, session};
    const BUF: usize = 8 * 1024;
    let preamble = "EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\n";
    let smuggled = "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n";
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    // A long line whose last character is a dot, ending at every offset around the buffer's
    // end and twice it: the read stops just before the dot in one of them.
    for around in [BUF, 2 * BUF] {
        for k in around - 6..around + 6 {
            let fill = k - preamble.len() - "Subject: a\r\n\r\n".len();
            let data = format!("Subject: a\r\n\r\n{}.\r\n{smuggled}", "x".repeat(fill));
            corpus.push(format!("{preamble}{data}.\r\nQUIT\r\n").into_bytes());
        }
    }
    // A lone dot (ending the message) and a stuffed one, at every offset around the buffer's end.
    for k in BUF - 6..BUF + 6 {
        let mut body = String::from("Subject: b\r\n\r\n");
        while preamble.len() + body.len() + 900 < k {
            body += &"y".repeat(898);
            body += "\r\n";
        }
        body += &"z".repeat(k - preamble.len() - body.len());
        corpus.push(format!("{preamble}{body}\r\n.\r\nNOOP\r\nQUIT\r\n").into_bytes());
        corpus.push(format!("{preamble}{body}\r\n..\r\nstill\r\n.\r\nQUIT\r\n").into_bytes());
    }
    // Lines at and over the limit; CR/LF shapes; a command line over its limit whose tail is a command.
    for data in [
        format!("Subject: c\r\n\r\n{}\r\n.\r\n", "w".repeat(998)),
        format!("Subject: c\r\n\r\n{}\r\n.\r\n", "w".repeat(999)),
        format!("Subject: c\r\n\r\n{}\n.\r\n", "w".repeat(998)),
        format!("Subject: c\r\n\r\n{}\nend\r\n.\r\n", "w".repeat(999)),
        format!("Subject: c\r\n\r\n{}\n.\n{smuggled}.\r\n", "w".repeat(5000)),
        "Subject: d\r\n\r\nbody\n.\nMAIL FROM:<x@evil.example>\r\n.\r\n".into(),
        "Subject: d\r\n\r\nbody\r\n.\nmore\r\n.\r\n".into(),
        "Subject: d\r\n\r\nbody\r.\rmore\r\n.\r\n".into(),
        "Subject: d\n\nbare LF lines\n..stuffed\r\n.\r\n".into(),
    ] {
        corpus.push(format!("{preamble}{data}QUIT\r\n").into_bytes());
    }
    // (The old reader dropped the first buffer's worth and ran the rest as a command.)
    corpus.push(format!("NOOP {}MAIL FROM:<evil@attacker.example>\r\nQUIT\r\n", "v".repeat(BUF - 5)).into_bytes());

    let limits = Limits::default();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for script in &corpus {
        let whole = session(script, &[], &limits, None).await;
        // What the first DATA must give, whatever the pieces.
        if let Some(start) = script.windows(6).position(|w| w == b"DATA\r\n").map(|p| p + 6) {
            match expected(&script[start..], limits.max_message) {
                Expected::Ends { message: Some(m), .. } => {
                    assert_eq!(whole.stored.first().map(|s| &s.2), Some(&m), "{:?}", whole.replies)
                }
                Expected::Ends { message: None, .. } => {
                    assert!(whole.replies.contains("\r\n55"), "refused: {}", whole.replies);
                    assert!(whole.stored.is_empty(), "stored {:?}", whole.stored);
                }
                Expected::Unended => assert!(whole.stored.is_empty()),
            }
        } else {
            // The over-long command line is refused whole: its tail is never a command.
            assert!(
                whole.replies.contains("500 5.5.2 line too long") && !whole.replies.contains("250 2.1.0"),
                "{}",
                whole.replies
            );
        }
        let n = script.len();
        let mut ways: Vec<Vec<usize>> = vec![
            (1..n).collect(),
            (BUF - 1..n).step_by(BUF - 1).collect(),
            (BUF..n).step_by(BUF).collect(),
            (BUF + 1..n).step_by(BUF + 1).collect(),
        ];
        for _ in 0..8 {
            let mut cuts: Vec<usize> = (0..1 + (rng % 12) as usize)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    (rng % n as u64) as usize
                })
                .collect();
            cuts.sort_unstable();
            ways.push(cuts);
        }
        for cuts in ways {
            let got = session(script, &cuts, &limits, None).await;
            assert_eq!(got, whole, "cut at {:?}…", &cuts[..cuts.len().min(8)]);
        }
    }
}

/// Issue 23: a client that sends a byte now and then does not keep its slot. Without a login
/// it is closed at the login's deadline; logged in, a line must still arrive whole within the
/// idle time (the timer does not restart on every byte).
#[tokio::test(start_paused = true)]
async fn a_trickle_of_bytes_does_not_hold_a_connection() {
    use tokio::io::AsyncReadExt as _;
    let l = login();
    let limits = Limits { idle: Duration::from_secs(300), login_time: Duration::from_secs(30), ..Limits::default() };
    for logged_in in [false, true] {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (mut cr, mut cw) = tokio::io::split(client);
        let store = |_: Option<&str>, _: &[String], _: &[u8], _: &str| Ok(super::Stored::New { id: 1, account: 0 });
        let started = tokio::time::Instant::now();
        let trickle = async {
            if logged_in {
                cw.write_all(format!("AUTH PLAIN {}\r\n", plain("popsend", "local-secret")).as_bytes()).await.unwrap();
            }
            // One byte every 100 s of a line that never ends.
            for _ in 0..100 {
                if cw.write_all(b"N").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(100)).await;
            }
        };
        let mut replies = String::new();
        tokio::select! {
            () = serve(server, &limits, Some(&l), &store, None) => {}
            () = trickle => panic!("the connection was held for 10,000 s"),
        }
        let closed_after = started.elapsed();
        cr.read_to_string(&mut replies).await.unwrap();
        assert!(replies.trim_end().ends_with("421 4.4.2 closing: idle too long or connection gone"), "{replies}");
        let limit = if logged_in { limits.idle } else { limits.login_time };
        assert!(closed_after <= limit + Duration::from_secs(1), "logged in {logged_in}: closed after {closed_after:?}");
    }
}

/// Issue 23: each wrong local login costs a pause, and the third closes the connection, so
/// 2,000 guesses on one connection are three; a PLAIN answer with a part too many, or
/// another's authorization identity, is refused.
#[tokio::test(start_paused = true)]
async fn guessing_the_local_password_is_slow_and_plain_is_read_strictly() {
    let l = login();
    let guesses: String =
        (0..2000).map(|i| format!("AUTH PLAIN {}\r\n", plain("popsend", &format!("guess{i}")))).collect();
    let started = tokio::time::Instant::now();
    let (replies, _) = session(&format!("EHLO x\r\n{guesses}"), Some(&l), &Limits::default()).await;
    assert_eq!(replies.matches("535 5.7.8").count(), 3, "{replies}");
    assert!(replies.trim_end().ends_with("421 4.7.0 too many failed logins: closing"), "{replies}");
    assert!(started.elapsed() >= 3 * AUTH_DELAY, "{:?}", started.elapsed());

    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for (answer, code) in [
        (b64("\0popsend\0local-secret\0extra"), "535"),
        (b64("someone\0popsend\0local-secret"), "535"),
        (b64("popsend\0popsend\0local-secret"), "235"),
    ] {
        let (replies, _) = session(&format!("AUTH PLAIN {answer}\r\nQUIT\r\n"), Some(&l), &Limits::default()).await;
        assert!(replies.lines().nth(1).is_some_and(|r| r.starts_with(code)), "{answer}: {replies}");
    }
}

/// Issue 23: a login file others can read is not used as found: a new password, the file
/// back to 0600, and `renewed` says so; a private one is kept as it is.
#[cfg(unix)]
#[test]
fn a_login_file_others_can_read_is_renewed() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let first = local_login(dir.path()).unwrap();
    assert!(!first.renewed);
    let file = dir.path().join(LOGIN_FILE);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let again = local_login(dir.path()).unwrap();
    assert!(!again.renewed && again.password.expose() == first.password.expose());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let renewed = local_login(dir.path()).unwrap();
    assert!(renewed.renewed, "an open file was used as found");
    assert_ne!(renewed.password.expose(), first.password.expose());
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), renewed.password.expose());
}

/// Issue 23: the owner of a listening port is read from the system's table, so a port taken
/// by another user of this computer (who would collect the local login and the mail) is told
/// apart from one of the student's own programs.
#[tokio::test]
async fn the_owner_of_a_taken_port_is_known() {
    let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:0A1A 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 4242 1\n   1: 0100007F:0A1B 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1002        0 4243 1\n";
    assert_eq!(listening_owner(table, 0x0a1a), Some(1001));
    assert_eq!(listening_owner(table, 0x0a1b), None, "an established connection is not a listener");
    assert_eq!(listening_owner(table, 25), None);
    #[cfg(target_os = "linux")]
    {
        let mine = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = mine.local_addr().unwrap().port();
        assert_eq!(owner(port), own_uid());
        let taken = listen(port).await.unwrap_err();
        assert_eq!(taken.other_user, None, "the student's own program is not another user");
    }
}
/// Issue 23 (review): ::1 held by someone else makes the port taken, not silently skipped:
/// "localhost" often means ::1 first, and its holder would get the local login and the mail.
#[tokio::test]
async fn a_port_held_on_ipv6_loopback_alone_is_taken() {
    let squatter = std::net::TcpListener::bind(("::1", 0)).expect("this machine has ::1");
    let port = squatter.local_addr().unwrap().port();
    let e = bind(port).await.expect_err("bound beside another holder of ::1");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    let taken = listen(port).await.unwrap_err();
    assert_eq!(taken.other_user, None, "the student's own socket");
    drop(squatter);
    assert_eq!(bind(port).await.unwrap().len(), 2, "both loopback addresses once free");
}

/// Issue 23 (review): a web page's request (a browser posting text to the port) is closed at
/// once, and MAIL needs EHLO or HELO first, so a form's text is never a mail session.
#[tokio::test]
async fn a_web_page_is_not_a_mail_program() {
    let post = "POST / HTTP/1.1\r\nHost: 127.0.0.1:2525\r\nContent-Type: text/plain\r\n\r\nx=\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nSubject: web\r\n\r\nhi\r\n.\r\n";
    let (replies, stored) = session(post, None, &Limits::default()).await;
    assert!(
        replies.trim_end().ends_with("421 4.7.0 this is a mail server: closing") && replies.lines().count() == 2,
        "{replies}"
    );
    assert!(stored.into_inner().unwrap().is_empty());
    let (replies, stored) =
        session("MAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n", None, &Limits::default()).await;
    assert!(replies.contains("503 5.5.1 EHLO or HELO first") && stored.into_inner().unwrap().is_empty(), "{replies}");
}

/// Issue 23 (review): a client that never reads its replies does not hold its slot past the
/// write deadline (its socket buffers full, every reply blocked).
#[tokio::test(start_paused = true)]
async fn a_client_that_does_not_read_is_closed() {
    let (client, server) = tokio::io::duplex(64);
    let (_cr, mut cw) = tokio::io::split(client);
    let store = |_: Option<&str>, _: &[String], _: &[u8], _: &str| Ok(super::Stored::New { id: 1, account: 0 });
    let started = tokio::time::Instant::now();
    let l = login();
    let flood = async {
        loop {
            if cw.write_all(b"EHLO x\r\n").await.is_err() {
                return;
            }
        }
    };
    let limits = Limits::default();
    tokio::select! {
        () = serve(server, &limits, Some(&l), &store, None) => {}
        () = flood => {}
    }
    assert!(started.elapsed() <= WRITE_TIME + Duration::from_secs(1), "held for {:?}", started.elapsed());
}

/// Issue 23 (review): AUTH LOGIN with the user name in the command, and a cancelled AUTH
/// (`*`), which is no wrong password.
#[tokio::test]
async fn auth_login_takes_an_initial_response_and_a_cancel_is_not_a_failure() {
    let l = login();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let script =
        format!("EHLO x\r\nAUTH PLAIN\r\n*\r\nAUTH LOGIN {}\r\n{}\r\nQUIT\r\n", b64("popsend"), b64("local-secret"));
    let (replies, _) = session(&script, Some(&l), &Limits::default()).await;
    assert!(
        replies.contains("501 5.7.0 authentication cancelled")
            && !replies.contains("535")
            && replies.contains("235 2.7.0"),
        "{replies}"
    );
}

/// Issue 23 (review): a message popsend cannot take as it is (here a Bcc line under a first
/// line that is no header field) is refused for good (5xx), so the program stops retrying
/// and shows why; nothing is stored.
#[tokio::test]
async fn a_message_that_cannot_be_taken_is_refused_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = std::sync::Arc::new(std::sync::Mutex::new(crate::sending::outbox::Outbox::open(dir.path()).unwrap()));
    let store = outbox_store(outbox.clone(), "taro@example.ac.jp".into(), 0, || {});
    let script = "EHLO x\r\nMAIL FROM:<taro@example.ac.jp>\r\nRCPT TO:<a@example.net>\r\nDATA\r\n: x\r\nBcc: hidden@example.org\r\n\r\nbody\r\n.\r\nQUIT\r\n";
    let out = harness_with(script, &*store).await;
    assert!(out.contains("554 5.6.0 the message cannot be taken") && out.contains("Bcc"), "{out}");
    assert!(outbox.lock().unwrap().list(&[crate::sending::outbox::Status::Queued], 10).unwrap().is_empty());
}

async fn harness_with(script: &str, store: Store<'_>) -> String {
    let (client, server) = tokio::io::duplex(1 << 16);
    let (mut cr, mut cw) = tokio::io::split(client);
    let limits = Limits::default();
    let (_, replies) = tokio::join!(serve(server, &limits, None, store, None), async {
        cw.write_all(script.as_bytes()).await.unwrap();
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut cr, &mut out).await.unwrap();
        out
    });
    replies
}

/// Issue 23 (review): the owner of a loopback connection's client end is read from the
/// system's table, and another user gets at most `MAX_PER_STRANGER` connections, however
/// often they reconnect; the student's own are not counted.
#[tokio::test]
async fn another_user_gets_a_few_connections_only() {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let to = listener.local_addr().unwrap();
    let client = tokio::net::TcpStream::connect(to).await.unwrap();
    let from = client.local_addr().unwrap();
    #[cfg(target_os = "linux")]
    assert_eq!(peer_owner(from, to), own_uid(), "this test's own connection");
    // The table as Linux writes it for 127.0.0.1:0xD431 → 127.0.0.1:0x0A1A, user 65534.
    let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n   0: 0100007F:D431 0100007F:0A1A 01 00000000:00000000 00:00000000 00000000 65534\n";
    if cfg!(target_endian = "little") {
        assert_eq!(
            connection_owner(table, "127.0.0.1:54321".parse().unwrap(), "127.0.0.1:2586".parse().unwrap()),
            Some(65534)
        );
    }
    let counts: StrangerCounts = Default::default();
    let first = Strangers::enter(&counts, Some(65534)).unwrap();
    let _second = Strangers::enter(&counts, Some(65534)).unwrap();
    assert!(Strangers::enter(&counts, Some(65534)).is_none(), "a third from the same user");
    assert!(Strangers::enter(&counts, None).is_some(), "the student's own");
    drop(first);
    assert!(Strangers::enter(&counts, Some(65534)).is_some(), "a place freed is a place again");
    drop((client, listener));
}

/// Issue 28: with several accounts a message goes to the account its envelope sender is, else
/// the one its From line names (folded, with a name, any case); one that is neither is refused
/// with 550 naming the accounts, and no store sees it. With one account every message is its own.
#[test]
fn several_accounts_are_told_apart_by_the_sender() {
    assert_eq!(
        header_from(b"Subject: x\r\nFrom: =?UTF-8?B?5bGx55Sw?=\r\n <Lab@Example.ac.jp>\r\n\r\nFrom: no@x.jp\r\n")
            .as_deref(),
        Some("Lab@Example.ac.jp")
    );
    assert_eq!(header_from(b"from: taro@example.ac.jp\n\nbody").as_deref(), Some("taro@example.ac.jp"));
    assert_eq!(header_from(b"Subject: no sender\r\n\r\nFrom: taro@example.ac.jp\r\n"), None);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let store_of = |i: usize| -> std::sync::Arc<StoreFn> {
        let seen = seen.clone();
        std::sync::Arc::new(move |_: Option<&str>, _: &[String], _: &[u8], _: &str| {
            seen.lock().unwrap().push(i);
            Ok(super::Stored::New { id: 1, account: i })
        })
    };
    let addresses = vec!["taro@example.ac.jp".to_owned(), "lab@example.ac.jp".to_owned()];
    let routed = routed_store(addresses.clone(), vec![store_of(0), store_of(1)], false);
    let raw = b"From: Lab <LAB@example.ac.jp>\r\n\r\nhi\r\n";
    assert_eq!(routed(Some("TARO@example.ac.jp"), &[], raw, ""), Ok(super::Stored::New { id: 1, account: 0 }));
    assert_eq!(routed(Some("bounce@lists.example.org"), &[], raw, ""), Ok(super::Stored::New { id: 1, account: 1 }));
    assert_eq!(routed(None, &[], raw, ""), Ok(super::Stored::New { id: 1, account: 1 }));
    let unknown = routed(Some("x@example.org"), &[], b"From: x@example.org\r\n\r\n", "");
    assert_eq!(unknown, Err(NotStored::UnknownSender("taro@example.ac.jp, lab@example.ac.jp".into())));
    assert_eq!(*seen.lock().unwrap(), [0, 1, 1], "a store saw the unknown sender's message");
    let one = routed_store(addresses[..1].to_vec(), vec![store_of(0)], true);
    assert!(one(Some("x@example.org"), &[], b"\r\n", "").is_ok(), "one account takes every sender, as before");
    // One account served of several (`serve --account`): the others' mail is not its own.
    let one_of_two = routed_store(addresses[..1].to_vec(), vec![store_of(0)], false);
    assert!(matches!(one_of_two(Some("lab@example.ac.jp"), &[], b"\r\n", ""), Err(NotStored::UnknownSender(_))));
}
