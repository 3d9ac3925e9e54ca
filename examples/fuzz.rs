//! A seeded mutation fuzzer for what popsend reads from servers, files and users: the POP3 reply
//! parser and line reader, SMTP replies and their classification, the config file, the relay-
//! window state file, `mailto:` URLs, message building, and the local submission server's session
//! (one DATA in, at most one message out, its bytes unchanged, however the bytes arrive). Stable toolchain, no network, no extra crates:
//! seeds per target, mutated (bit flips, byte edits, dictionary splices, duplication, truncation),
//! each input run under `catch_unwind` with the properties popsend promises checked (no panic,
//! no control character shown, no password left after redaction, no header injection).
//!
//! `cargo run --example fuzz -- TARGET SECONDS [SEED]` prints executions and findings;
//! a finding is written to `tests/fuzz/findings/` and becomes a unit test. `tests/fuzz/run.sh`
//! runs every target; `fuzz TARGET replay FILE` shows why a saved input fails. It asserts
//! nothing itself: it reports.

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use popsend::core::message::compose::{self, Draft};
use popsend::core::protocol::pop3::reply;
use popsend::core::protocol::smtp;
use popsend::core::sending::knowledge;
use popsend::core::setup::account::Config;
use popsend::core::system::secrets::Redactor;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

const DICT: &[&[u8]] = &[
    b"+OK",
    b"-ERR",
    b"[IN-USE]",
    b"[AUTH]",
    b"[SYS/TEMP]",
    b"[LOGIN-DELAY]",
    b"<1.2@host>",
    b"\r\n",
    b"\n",
    b"\r",
    b".\r\n",
    b"250-",
    b"250 ",
    b"452 4.5.3 ",
    b"550 5.7.1 ",
    b"relay",
    b"Relaying denied",
    b"\x1b[2J",
    b"\x07",
    b"\x00",
    b"\xff\xfe",
    "日本語".as_bytes(),
    b"\x82\xa0",
    b"Hunter2",
    b"SHVudGVyMg==",
    b"=",
    b"\"",
    b"[pop]",
    b"[smtp]",
    b"[account]",
    b"port = ",
    b"host = ",
    b"18446744073709551615",
    b"-1",
    b"login_at_ms ",
    b"login_peer ",
    b"::1",
    b"@",
    b"<",
    b">",
    b"\t",
    b"\\u0000",
    b"'''",
    b"\"\"\"",
    b"=?UTF-8?B?",
    "\u{202e}".as_bytes(),
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    *input = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(6) {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 => input.insert(rng.below(len + 1), rng.next() as u8),
            2 if len > 0 => {
                input.remove(rng.below(len));
            }
            3 => {
                let word = DICT[rng.below(DICT.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, word.iter().copied());
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(64)).min(len);
                let chunk = input[a..b].to_vec();
                let at = rng.below(input.len() + 1);
                input.splice(at..at, chunk);
            }
            5 if len > 0 => input.truncate(rng.below(len)),
            _ => {
                let other = &seeds[rng.below(seeds.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, other.iter().copied());
            }
        }
    }
    input.truncate(64 * 1024);
}

/// The check run on each input: panics on a broken promise.
type Check = Box<dyn Fn(&[u8])>;

/// One target: its seeds and its check.
struct Target {
    name: &'static str,
    seeds: Vec<Vec<u8>>,
    run: Check,
}

fn no_controls(what: &str, s: &str) {
    assert!(!s.chars().any(|c| c.is_control()), "{what} shows a control character: {s:?}");
}

fn targets() -> Vec<Target> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let redactor = Redactor::new("taro", "Hunter2");
    let redactor2 = redactor.clone();
    let timed = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    vec![
        Target {
            name: "pop3",
            seeds: vec![
                b"+OK Dovecot ready. <1896.697170952@dbc.mtview.ca.us>\r\n".to_vec(),
                b"-ERR [IN-USE] Mailbox locked\r\n".to_vec(),
                b"+OK\r\nSASL PLAIN LOGIN\r\nUSER\r\nLOGIN-DELAY 900\r\nSTLS\r\n..x\r\n.\r\n".to_vec(),
                b"-ERR bad command: PASS Hunter2\r\n".to_vec(),
                b"+OK \x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd\r\n".to_vec(),
            ],
            run: Box::new(move |input| {
                let first = input.split(|b| *b == b'\n').next().unwrap_or(b"");
                if let Ok(r) = reply::parse_status(first) {
                    let _ = reply::apop_timestamp(&r.text);
                    if let Some(ts) = reply::apop_timestamp(&r.text) {
                        assert!(ts.starts_with('<') && ts.ends_with('>') && ts.contains('@'), "stamp {ts:?}");
                    }
                    let shown = popsend::core::display_safe(&redactor.apply(&r.raw));
                    no_controls("a POP3 reply", &shown);
                    assert!(!shown.to_ascii_lowercase().contains("hunter2"), "the password survived: {shown:?}");
                }
                let mut reader = input;
                let body = runtime.block_on(reply::read_multiline(&mut reader));
                if let Ok(lines) = body {
                    assert!(lines.len() <= reply::MAX_LINES);
                    let _ = reply::Capabilities::parse(&lines);
                }
                let mut reader = input;
                if let Ok(line) = runtime.block_on(reply::read_line(&mut reader)) {
                    assert!(line.len() <= reply::MAX_LINE + 2);
                }
            }),
        },
        Target {
            name: "smtp",
            seeds: vec![
                b"250-mail.example.ac.jp\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n".to_vec(),
                b"554 5.7.1 <a@example.net>: Relay access denied\r\n".to_vec(),
                b"452 4.5.3 Error: too many recipients\r\n".to_vec(),
                b"535 5.7.8 Error: authentication failed: SHVudGVyMg==\r\n".to_vec(),
                b"550 5.7.1 you must get POP/APOP authorization\r\n".to_vec(),
            ],
            run: Box::new(move |input| {
                let text = String::from_utf8_lossy(input);
                if let Ok(r) = text.parse::<lettre::transport::smtp::response::Response>() {
                    let code: u16 = r.code().into();
                    let message = r.message().collect::<Vec<_>>().join(" ");
                    let reply = format!("{code} {message}");
                    let _ = smtp::is_relay_refusal(code, &reply);
                    let _ = smtp::is_policy_refusal(code, &reply);
                    if smtp::is_too_many_recipients(code, &reply) {
                        assert_eq!(code, 452);
                    }
                }
                let shown = smtp::bounded_text(&redactor2.apply(&text));
                no_controls("an SMTP reply", &shown);
                assert!(!shown.to_ascii_lowercase().contains("hunter2"), "the password survived: {shown:?}");
                assert!(!shown.contains("SHVudGVyMg=="), "base64 survived");
                assert!(shown.chars().count() <= 1001);
            }),
        },
        Target {
            name: "config",
            seeds: vec![
                b"[account]\naddress = \"taro@example.ac.jp\"\n[pop]\nhost = \"mail.example.ac.jp\"\nusername = \"taro\"\n[smtp]\n".to_vec(),
                b"[account]\naddress = \"Hunter2-as-address\"\n[pop]\nhost = \"h\"\nusername = \"u\"\nport = \"Hunter2pw1\"\nauth = \"Hunter2pw2\"\n[smtp]\nallow_plaintext_password = \"Hunter2pw3\"\n".to_vec(),
                b"[account]\naddress = \"a@b.jp\"\ndisplay_name = \"\xe5\xb1\xb1\xe7\x94\xb0\"\n[pop]\nhost = \"h\"\nport = 995\nsecurity = \"tls\"\nusername = \"u\"\nauth = \"apop\"\npassword_command = \"pass show mail\"\n[smtp]\nport = 587\nsecurity = \"starttls\"\nusername = \"u\"\n[relay]\nwindow_seconds = 600\nreuse_window = true\nmargin_seconds = 30\n[app]\nlanguage = \"ja\"\n".to_vec(),
            ],
            run: Box::new(|input| {
                let text = String::from_utf8_lossy(input);
                if let Err(e) = Config::parse(&text, Path::new("fuzz.toml")) {
                    let shown = e.to_string();
                    // No error shows a string value of the file: every string leaf that appears
                    // once in the text (so only as that value), long and unlike popsend's own
                    // words (a digit or a capital in it), must be absent from the message.
                    if let Ok(table) = text.parse::<toml::Table>() {
                        let mut leaves = Vec::new();
                        string_leaves(&toml::Value::Table(table), &mut leaves);
                        for leaf in leaves {
                            let distinctive = leaf.chars().count() >= 8 && leaf.chars().any(|c| c.is_ascii_digit() || c.is_uppercase());
                            if distinctive && text.matches(leaf.as_str()).count() == 1 {
                                assert!(!shown.contains(&leaf), "a config error shows the value {leaf:?}: {shown}");
                            }
                        }
                    }
                }
            }),
        },
        Target {
            name: "state",
            seeds: vec![b"# popsend relay-window state\nlogin_at_ms 1700000000000\nlogin_server pop:110\nlogin_peer ::1\nsequential smtp:25\n".to_vec()],
            run: Box::new(|input| {
                let (state, _) = knowledge::Knowledge::parse_checked(&String::from_utf8_lossy(input));
                if let Some(l) = &state.last_login {
                    let w = popsend::core::sending::relay::RelayWindow { opened: l.at, length: Duration::from_secs(u64::MAX / 2) };
                    let _ = w.remaining(SystemTime::now());
                    let _ = w.closes();
                }
            }),
        },
        Target {
            name: "mailto",
            seeds: vec![
                b"mailto:chris@example.com".to_vec(),
                b"mailto:?to=joe@example.com&cc=bob@example.com&body=hello%0D%0Aworld".to_vec(),
                "mailto:%E5%A4%AA%E9%83%8E@example.jp?Subject=%E3%83%AC%E3%83%9D%E3%83%BC%E3%83%88&bcc=x@y.jp#f".as_bytes().to_vec(),
            ],
            run: Box::new(|input| {
                if let Ok(m) = popsend::core::message::mailto::parse(&String::from_utf8_lossy(input)) {
                    assert!(!m.subject.contains(['\r', '\n']), "a line break in the subject: {:?}", m.subject);
                    assert!(m.to.iter().chain(&m.cc).chain(&m.bcc).all(|a| !a.is_empty() && !a.contains(',')));
                }
            }),
        },
        Target {
            name: "smtpd",
            // What a program writes after DATA's 354.
            seeds: {
                let long = |n: usize, tail: &str| format!("Subject: l\r\n\r\n{}{tail}", "x".repeat(n)).into_bytes();
                vec![
                    b"Subject: hi\r\n\r\nbody\r\n..stuffed\r\n.\r\nQUIT\r\n".to_vec(),
                    b"Subject: a\n\nbare LF\n.\nMAIL FROM:<x@evil.example>\r\nRCPT TO:<v@example.net>\r\nDATA\r\nx\r\n.\r\n".to_vec(),
                    long(8100, ".\r\nMAIL FROM:<x@evil.example>\r\nRCPT TO:<v@example.net>\r\nDATA\r\nsmuggled\r\n.\r\n.\r\n"),
                    long(996, "\r\n.\r\nNOOP\r\n"),
                    long(2000, "\r\n.\r\n"),
                    b"Subject: cr\r\n\r\nx\r.\ry\r\n.\r\n".to_vec(),
                ]
            },
            run: Box::new(move |input| {
                use popsend::core::protocol::smtpd::{Limits, harness};
                let limits = Limits { max_message: 16 * 1024, ..Limits::default() };
                let preamble = b"EHLO fuzz\r\nMAIL FROM:<a@example.jp>\r\nRCPT TO:<b@example.jp>\r\nDATA\r\n";
                let script = [&preamble[..], input].concat();
                let whole = timed.block_on(harness::session(&script, &[], &limits, None));
                // The same bytes in other pieces: cut where the input's own bytes say.
                let mut h = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)) | 1;
                let mut cuts: Vec<usize> = (0..1 + h % 16)
                    .map(|_| {
                        h ^= h << 13;
                        h ^= h >> 7;
                        h ^= h << 17;
                        (h % script.len() as u64) as usize
                    })
                    .collect();
                cuts.sort_unstable();
                let pieces = timed.block_on(harness::session(&script, &cuts, &limits, None));
                assert_eq!(pieces, whole, "other pieces, another outcome (cuts {cuts:?})");
                match harness::expected(input, limits.max_message) {
                    harness::Expected::Unended => assert!(whole.stored.is_empty(), "stored from a DATA that never ended: {:?}", whole.stored),
                    harness::Expected::Ends { len, message } => {
                        // The DATA alone, then QUIT: exactly the message expected, or none.
                        let alone = [&preamble[..], &input[..len], b"QUIT\r\n"].concat();
                        let only = timed.block_on(harness::session(&alone, &[], &limits, None));
                        let stored: Vec<&Vec<u8>> = only.stored.iter().map(|s| &s.2).collect();
                        assert_eq!(stored, message.iter().collect::<Vec<_>>(), "the message stored is not the one written");
                        // With what follows it, the session went the same way up to there.
                        let before_quit = only.replies.strip_suffix("221 2.0.0 bye\r\n").unwrap_or(&only.replies);
                        assert!(whole.replies.starts_with(before_quit), "DATA ended elsewhere: {:?} vs {:?}", whole.replies, only.replies);
                        // And what follows is a session of its own (DATA resets the envelope):
                        // the message, then exactly what those commands store, nothing more.
                        let rest = [&b"EHLO fuzz\r\n"[..], &input[len..]].concat();
                        let tail = timed.block_on(harness::session(&rest, &[], &limits, None));
                        let expected: Vec<&Vec<u8>> = message.iter().chain(tail.stored.iter().map(|s| &s.2)).collect();
                        assert_eq!(whole.stored.iter().map(|s| &s.2).collect::<Vec<_>>(), expected, "one DATA gave another message");
                    }
                }
            }),
        },
        Target {
            name: "compose",
            seeds: vec![
                "taro@example.ac.jp\u{ff}山田 太郎\u{ff}Hanako <hanako@example.net>\u{ff}jiro@example.org\u{ff}レポート提出\u{ff}本文です\n".as_bytes().to_vec(),
                b"a@b.jp\xffX\xffc@d.jp, e@f.jp\xff\xffhello\r\nBcc: evil@x.jp\xffbody".to_vec(),
            ],
            run: Box::new(|input| {
                let fields: Vec<String> = input.split(|b| *b == 0xff).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
                let field = |i: usize| fields.get(i).cloned().unwrap_or_default();
                let list = |i: usize| field(i).split(',').filter(|s| !s.trim().is_empty()).map(str::to_owned).collect::<Vec<_>>();
                let d = Draft {
                    from_address: field(0),
                    from_name: Some(field(1)).filter(|n| !n.is_empty()),
                    to: list(2),
                    cc: list(3),
                    bcc: vec![],
                    subject: field(4),
                    body: field(5),
                    attachments: vec![],
                    // Both encodings: ISO-2022-JP builds its own header words.
                    charset: if field(6).is_empty() { compose::Charset::Utf8 } else { compose::Charset::Iso2022Jp },
                };
                if let Ok(built) = compose::build(&d, SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)) {
                    let text = String::from_utf8_lossy(&built.raw);
                    let headers = text.split("\r\n\r\n").next().unwrap_or("");
                    for line in headers.split("\r\n") {
                        assert!(!line.contains('\r') && !line.contains('\n'), "bare line break in a header: {line:?}");
                        // Tab is folding white space, allowed in a header.
                        no_controls("a header", &line.replace('\t', " "));
                        assert!(!line.to_ascii_lowercase().starts_with("bcc:"), "injected header: {line:?}");
                    }
                    assert!(!built.envelope.to().is_empty());
                }
            }),
        },
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = targets();
    let names: Vec<&str> = all.iter().map(|t| t.name).collect();
    // `fuzz TARGET replay FILE`: runs one saved input with the panic message shown.
    if let (Some(name), Some("replay"), Some(file)) = (args.first(), args.get(1).map(String::as_str), args.get(2)) {
        let input = std::fs::read(file).expect("the finding file");
        let target = all.iter().find(|t| t.name == name).expect("a target");
        eprintln!("input: {:?}", String::from_utf8_lossy(&input));
        (target.run)(&input);
        println!("{name}: no finding with this input");
        return;
    }
    let (Some(name), Some(seconds)) = (args.first(), args.get(1).and_then(|s| s.parse::<u64>().ok())) else {
        eprintln!("usage: fuzz TARGET SECONDS [SEED]   (targets: {})", names.join(", "));
        std::process::exit(2);
    };
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0x5eed_cafe_f00d_u64);
    let Some(target) = all.iter().find(|t| t.name == name) else {
        eprintln!("no target {name}; targets: {}", names.join(", "));
        std::process::exit(2);
    };
    panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed | 1);
    let mut input = Vec::new();
    let (mut execs, mut findings) = (0u64, 0u64);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    // Every seed as it is, first.
    for s in &target.seeds {
        if panic::catch_unwind(AssertUnwindSafe(|| (target.run)(s))).is_err() {
            findings += 1;
            save(name, findings, s);
        }
        execs += 1;
    }
    while Instant::now() < deadline {
        for _ in 0..1000 {
            mutate(&mut rng, &target.seeds, &mut input);
            if panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&input))).is_err() {
                findings += 1;
                save(name, findings, &input);
            }
            execs += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{name}: {execs} executions in {secs:.0} s ({:.0}/s), {findings} findings, seed {seed}",
        execs as f64 / secs
    );
    if findings > 0 {
        std::process::exit(1);
    }
}

fn string_leaves(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Array(a) => a.iter().for_each(|x| string_leaves(x, out)),
        toml::Value::Table(t) => t.values().for_each(|x| string_leaves(x, out)),
        _ => {}
    }
}

fn save(target: &str, n: u64, input: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/findings");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{target}-{n}.bin"));
    let _ = std::fs::write(&path, input);
    eprintln!("{target}: finding {n} saved to {}", path.display());
}
