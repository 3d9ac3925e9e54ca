//! How the 送信トレイ view draws with many rows: fills a real outbox file with N queued messages
//! (default 10,000), opens the real `App` in egui_kittest, scrolls the list with the mouse wheel
//! for 120 frames and prints the time per frame (layout + tessellation, no GPU), then the frames
//! that sort the table by a heading and filter it as a student types. It asserts nothing;
//! compare runs by their numbers.
//! Run: cargo run --release --example window_rows [N]

use std::time::{Duration, Instant, SystemTime};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use popsend::app::App;
use popsend::core::message::compose::Outgoing;
use popsend::core::message::compose::{self, Draft};
use popsend::core::sending::outbox::Outbox;
use popsend::core::setup::account::Paths;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    popsend::text::i18n::init(Some("ja"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[account]\naddress = \"taro@example.ac.jp\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"u\"\n[smtp]\nport = 1\n").unwrap();
    let data = dir.path().join("data");
    {
        let ob = Outbox::open(&data).unwrap();
        // Due in a day: the engine leaves them alone while we scroll.
        let later = SystemTime::now() + Duration::from_secs(86_400);
        for i in 0..n {
            let d = Draft {
                from_address: "taro@example.ac.jp".into(),
                to: vec![format!("user{i}@example.net")],
                subject: format!("レポート {i}"),
                ..Draft::default()
            };
            let b = compose::build(&d, SystemTime::now()).unwrap();
            let out = Outgoing { envelope: b.envelope, raw: b.raw, message_id: b.message_id };
            ob.enqueue(&out, &d.subject, &d.to[0], later).unwrap();
        }
    }
    let paths = Paths { config_file: config, data_dir: data };
    let mut h = Harness::builder()
        .with_size(egui::vec2(900.0, 660.0))
        .with_context_setup(popsend::app::install_fonts)
        .build_ui_state(
            move |ui, state: &mut Option<App>| {
                let app = state.get_or_insert_with(|| {
                    App::new(
                        ui.ctx(),
                        Paths { config_file: paths.config_file.clone(), data_dir: paths.data_dir.clone() },
                    )
                });
                app.draw(ui);
            },
            None,
        );
    let start = Instant::now();
    while h.state().as_ref().is_none_or(|a| a.view().waiting.len() < n) {
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(20));
        assert!(start.elapsed() < Duration::from_secs(120), "the rows never arrived");
    }
    println!("rows in the view after {:.0} ms", start.elapsed().as_secs_f64() * 1000.0);
    h.get_by_label(&format!("送信トレイ ({n})")).click();
    h.run_steps(3);
    h.hover_at(egui::pos2(400.0, 300.0));
    let mut frames = Vec::new();
    for i in 0..120 {
        let dy = if i < 60 { -400.0 } else { 300.0 };
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, dy),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: egui::Modifiers::NONE,
        });
        let t = Instant::now();
        h.step();
        frames.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    frames.sort_by(f64::total_cmp);
    let visible = h.query_all_by_label_contains("レポート").count();
    println!(
        "{n} rows: frame median {:.2} ms, p95 {:.2} ms, max {:.2} ms over {} scrolled frames; {visible} rows laid out in the last frame",
        frames[frames.len() / 2],
        frames[frames.len() * 95 / 100],
        frames[frames.len() - 1],
        frames.len()
    );
    // The frames that work the order out again: a click on a heading (sort by 件名), then a
    // filter typed one character at a time.
    h.get_by_label("件名").click();
    let t = Instant::now();
    h.step();
    let sort = t.elapsed().as_secs_f64() * 1000.0;
    h.get_by_label("絞り込み").focus();
    h.step();
    let mut typing = Vec::new();
    for c in ["9", "9", "9"] {
        h.get_by_label("絞り込み").type_text(c);
        let t = Instant::now();
        h.step();
        typing.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let shown = h.query_all_by_label_contains("レポート").count();
    println!(
        "sorting {n} rows by 件名: {sort:.2} ms (one frame); filter typed: {} ms per frame; {shown} rows shown for \"999\"",
        typing.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>().join(", ")
    );
}
