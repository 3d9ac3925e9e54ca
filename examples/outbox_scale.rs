//! Measures the outbox at scale (not a test): fills an outbox with N queued messages, then times
//! opening it, counting, listing every row, and finding the due ones.
//! Usage: cargo run --release --example outbox_scale -- DATA_DIR [N=10000]

use std::time::{Instant, SystemTime};

use popsend::core::message::compose::Outgoing;
use popsend::core::message::compose::{self, Draft};
use popsend::core::sending::outbox::{Outbox, Status};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("DATA_DIR"));
    let n: usize = args.next().map(|s| s.parse().expect("N")).unwrap_or(10_000);
    let ob = Outbox::open(&dir).unwrap();
    let have = ob.counts().unwrap().queued;
    let t = Instant::now();
    for i in have..n {
        let d = Draft {
            from_address: "student@example.ac.jp".into(),
            to: vec![format!("friend{i}@example.net")],
            subject: format!("テスト {i}"),
            body: "本文です。\n".repeat(20),
            ..Draft::default()
        };
        let b = compose::build(&d, SystemTime::now()).unwrap();
        let out = Outgoing { envelope: b.envelope, raw: b.raw, message_id: b.message_id };
        ob.enqueue(&out, &d.subject, &d.to[0], SystemTime::now()).unwrap();
    }
    if n > have {
        println!(
            "enqueue {} messages: {:.2} s ({:.2} ms each)",
            n - have,
            t.elapsed().as_secs_f64(),
            t.elapsed().as_secs_f64() * 1000.0 / (n - have) as f64
        );
    }
    drop(ob);
    let t = Instant::now();
    let ob = Outbox::open(&dir).unwrap();
    println!("open: {:.2} ms", t.elapsed().as_secs_f64() * 1000.0);
    let t = Instant::now();
    let c = ob.counts().unwrap();
    println!("counts ({} queued): {:.2} ms", c.queued, t.elapsed().as_secs_f64() * 1000.0);
    let t = Instant::now();
    let rows = ob.list(&[Status::Queued, Status::Sending, Status::Failed], usize::MAX >> 1).unwrap();
    println!("list all {} rows: {:.2} ms", rows.len(), t.elapsed().as_secs_f64() * 1000.0);
    let t = Instant::now();
    let page = ob.list(&[Status::Queued], 50).unwrap();
    println!("list newest 50: {:.2} ms", t.elapsed().as_secs_f64() * 1000.0);
    let t = Instant::now();
    let due = ob.due(SystemTime::now()).unwrap();
    println!("due ({} with their bytes): {:.2} ms", due.len(), t.elapsed().as_secs_f64() * 1000.0);
    let size = std::fs::metadata(ob.path()).map(|m| m.len()).unwrap_or(0);
    println!("file: {:.1} MB; first row: {:?}", size as f64 / 1e6, page.first().map(|r| &r.subject));
}
