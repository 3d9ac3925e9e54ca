//! The real `App` (not a copy of its layout) in egui_kittest, found by its localized labels. The
//! worker thread behind it is real too: a real outbox file, servers that do not answer.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use popsend::app::{App, Tab};
use popsend::core::account::Paths;

fn offline_config(dir: &Path) -> (PathBuf, PathBuf) {
    let config = dir.join("c.toml");
    std::fs::write(&config, "[account]\naddress = \"taro@popsend.test\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"u\"\n[smtp]\nport = 2\n").unwrap();
    (config, dir.join("data"))
}

fn harness(config: PathBuf, data: PathBuf) -> Harness<'static, Option<App>> {
    Harness::builder()
        .with_size(egui::vec2(900.0, 640.0))
        // Japanese glyphs from the first frame on.
        .with_context_setup(popsend::app::install_fonts)
        .build_ui_state(
            move |ui, state: &mut Option<App>| {
                let app = state.get_or_insert_with(|| App::new(ui.ctx(), Paths { config_file: config.clone(), data_dir: data.clone() }));
                app.draw(ui);
            },
            None,
        )
}

/// Steps the UI until `done` holds (the worker runs on its own thread), or fails after 10 s.
/// Fixed steps, not `run()`: the worker's repaints and egui's animations need not settle within
/// `run()`'s step limit on a loaded machine.
fn run_until(h: &mut Harness<'static, Option<App>>, what: &str, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        h.run_steps(4);
        if h.state().as_ref().is_some_and(&done) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn compose_and_send_later_puts_the_row_in_the_outbox_then_the_language_switches() {
    popsend::i18n::init(Some("ja"));
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = offline_config(dir.path());
    let mut h = harness(config.clone(), data.clone());
    run_until(&mut h, "the account in the status bar", |a| a.view().account == "taro@popsend.test");
    h.get_by_label("未認証");
    h.get_by_label("宛先").focus();
    h.get_by_label("宛先").type_text("hanako@example.net");
    h.get_by_label("件名").focus();
    h.get_by_label("件名").type_text("期末レポート");
    h.get_by_label("本文").focus();
    h.get_by_label("本文").type_text("よろしくお願いします。");
    h.run_steps(4);
    h.get_by_label("後で送信").click();
    run_until(&mut h, "the message in the outbox", |a| a.view().waiting.len() == 1);
    assert_eq!(h.state().as_ref().unwrap().tab, Tab::Outbox);
    h.run_steps(4);
    h.get_by_label_contains("期末レポート");
    h.get_by_label("送信トレイ (1)");
    // It is really stored: the outbox file has it, waiting.
    let ob = popsend::core::outbox::Outbox::open(&data).unwrap();
    assert_eq!(ob.counts().unwrap().queued, 1);
    drop(h);

    // The same window in English.
    popsend::i18n::init(Some("en"));
    let mut h = harness(config, data);
    run_until(&mut h, "the stored row", |a| a.view().waiting.len() == 1);
    h.get_by_label("Outbox (1)").click();
    h.run_steps(4);
    h.get_by_label("Send now");
    h.get_by_label_contains("期末レポート");
    popsend::i18n::init(Some("ja"));
}
