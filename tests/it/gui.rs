//! The real `App` (not a copy of its layout) in egui_kittest, found by its localized labels. The
//! worker thread behind it is real too: a real outbox file, servers that do not answer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use popsend::app::backend::{Notice, Problem};
use popsend::app::{App, Tab};
use popsend::core::setup::account::Paths;

use crate::support::{servers, token};

/// The language is process-wide: one window test at a time.
static GUI: Mutex<()> = Mutex::new(());

pub(crate) fn gui_lock(lang: &str) -> MutexGuard<'static, ()> {
    let g = GUI.lock().unwrap_or_else(|e| e.into_inner());
    popsend::text::i18n::init(Some(lang));
    g
}

type Notices = Arc<Mutex<Vec<Notice>>>;

fn offline_config(dir: &Path) -> (PathBuf, PathBuf) {
    let config = dir.join("c.toml");
    std::fs::write(&config, "[account]\naddress = \"taro@popsend.test\"\n[pop]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"u\"\n[smtp]\nport = 2\n").unwrap();
    (config, dir.join("data"))
}

fn harness(config: PathBuf, data: PathBuf) -> Harness<'static, Option<App>> {
    harness_noting(config, data, Notices::default())
}

/// A harness whose desktop notifications are recorded in `notices`.
fn harness_noting(config: PathBuf, data: PathBuf, notices: Notices) -> Harness<'static, Option<App>> {
    Harness::builder()
        .with_size(egui::vec2(900.0, 1300.0))
        // Japanese glyphs from the first frame on.
        .with_context_setup(popsend::app::install_fonts)
        .build_ui_state(
            move |ui, state: &mut Option<App>| {
                let app = state.get_or_insert_with(|| {
                    let notices = notices.clone();
                    let notify = Arc::new(move |n| notices.lock().unwrap().push(n));
                    App::with_notify(ui.ctx(), Paths { config_file: config.clone(), data_dir: data.clone() }, notify)
                });
                app.draw(ui);
            },
            None,
        )
}

/// Steps the UI until `done` holds (the worker runs on its own thread), or fails after 10 s.
/// Fixed steps, not `run()`: the worker's repaints and egui's animations need not settle within
/// `run()`'s step limit on a loaded machine.
fn run_until(h: &mut Harness<'static, Option<App>>, what: &str, done: impl Fn(&App) -> bool) {
    run_until_for(h, what, Duration::from_secs(10), done)
}

fn run_until_for(h: &mut Harness<'static, Option<App>>, what: &str, limit: Duration, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        h.run_steps(4);
        if h.state().as_ref().is_some_and(&done) {
            return;
        }
        if Instant::now() >= deadline {
            let problem = h.state().as_ref().map(|a| format!("{:?}", a.view().problem));
            panic!("timed out waiting for: {what} (problem: {problem:?})");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn compose_and_send_later_puts_the_row_in_the_outbox_then_the_language_switches() {
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = offline_config(dir.path());
    let mut h = harness(config.clone(), data.clone());
    run_until(&mut h, "the account in the status bar", |a| a.view().account == "taro@popsend.test");
    h.get_by_label("送るときに自動で POP 認証します");
    type_into(&mut h, "宛先", "hanako@example.net");
    type_into(&mut h, "件名", "期末レポート");
    type_into(&mut h, "本文", "よろしくお願いします。");
    h.get_by_label("後で送信").click();
    run_until(&mut h, "the message in the outbox", |a| a.view().waiting.len() == 1);
    // 作成 stays, emptied, and says where the message is.
    h.run_steps(4);
    assert_eq!(app(&h).tab, Tab::Compose);
    assert!(app(&h).compose.is_empty(), "作成 was not emptied");
    h.get_by_label_contains("hanako@example.net 宛て、件名「期末レポート」");
    click(&mut h, "送信トレイを開く");
    assert_eq!(app(&h).tab, Tab::Outbox);
    h.get_by_label_contains("期末レポート");
    h.get_by_label("送信トレイ (1)");
    // It is really stored: the outbox file has it, waiting.
    let ob = popsend::core::sending::outbox::Outbox::open(&data).unwrap();
    assert_eq!(ob.counts().unwrap().queued, 1);
    drop(h);

    // The same window in English.
    popsend::text::i18n::init(Some("en"));
    let mut h = harness(config, data);
    run_until(&mut h, "the stored row", |a| a.view().waiting.len() == 1);
    h.get_by_label("Outbox (1)").click();
    h.run_steps(4);
    h.get_by_label("Send now (1)");
    h.get_by_label_contains("期末レポート");
    popsend::text::i18n::init(Some("ja"));
}

/// The status bar counts the sending time down: in its sentence when nothing else runs, beside
/// it while something does.
fn assert_counting_down(h: &Harness<'static, Option<App>>) {
    assert!(
        h.query_by_label_contains("送信できます あと").is_some()
            || h.query_by_label_contains("(送信できる時間 あと").is_some(),
        "no countdown in the status bar"
    );
}

fn app<'a>(h: &'a Harness<'static, Option<App>>) -> &'a App {
    h.state().as_ref().unwrap()
}

/// Types into the field with this label, once it really has the focus (a repaint from the worker
/// can land between the focus request and the typing).
fn type_into(h: &mut Harness<'static, Option<App>>, label: &str, text: &str) {
    for _ in 0..10 {
        h.get_by_label(label).focus();
        h.run_steps(2);
        if h.get_by_label(label).is_focused() {
            break;
        }
    }
    assert!(h.get_by_label(label).is_focused(), "{label} does not take the focus");
    h.get_by_label(label).type_text(text);
    h.run_steps(2);
}

/// Steps the UI until a widget with this label shows (a request handed over by another process
/// arrives between frames), or fails after 10 s.
fn wait_for_label(h: &mut Harness<'static, Option<App>>, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.query_by_label(label).is_none() {
        assert!(Instant::now() < deadline, "timed out waiting for {label}");
        h.run_steps(2);
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn click(h: &mut Harness<'static, Option<App>>, label: &str) {
    h.get_by_label(label).click();
    h.run_steps(3);
}

/// First start: no config, so 設定 opens; 保存 names a wrong field and writes nothing; fixed, it
/// writes the file (without the password) and the engine starts; then 送信 goes through the real
/// POP-before-SMTP servers, the message moves to 送信済み, the countdown shows about the window's
/// length, and a desktop notification is announced.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn first_run_settings_then_send_through_the_real_servers() {
    let s = servers();
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config").join("config.toml");
    let data = dir.path().join("data");
    let notices = Notices::default();
    let mut h = harness_noting(config.clone(), data.clone(), notices.clone());
    run_until(&mut h, "the first-run problem", |a| a.view().problem == Some(Problem::SetupNeeded));
    h.run_steps(2);
    assert_eq!(app(&h).tab, Tab::Assistant, "a first start opens the assistant");
    click(&mut h, "自分で設定する");
    assert_eq!(app(&h).tab, Tab::Settings);

    type_into(&mut h, "メールアドレス", "student at popsend.test");
    type_into(&mut h, "POP サーバー", &s.host);
    // Ports live under 詳細設定, folded at first.
    assert!(h.query_by_label("POP のポート").is_none(), "詳細設定 is folded by default");
    click(&mut h, "詳細設定 (ポート、暗号化、認証方式など)");
    type_into(&mut h, "POP のポート", &s.pop3.to_string());
    type_into(&mut h, "ユーザー名", &s.user);
    type_into(&mut h, "パスワード", &s.pass);
    type_into(&mut h, "SMTP のポート", &s.smtp.to_string());
    click(&mut h, "保存");
    run_until(&mut h, "the refusal to save", |a| a.settings.message().is_some());
    h.run_steps(2);
    h.get_by_label_contains("保存できません");
    h.get_by_label("メールアドレスの形になっていません");
    assert!(!config.exists(), "an invalid form was written");

    h.get_by_label("メールアドレス").focus();
    h.run_steps(1);
    h.state_mut().as_mut().unwrap().settings.form.address.clear();
    type_into(&mut h, "メールアドレス", "student@popsend.test");
    // The test servers' window is short: minutes as a decimal.
    let minutes = format!("{}", s.window as f64 / 60.0);
    h.state_mut().as_mut().unwrap().settings.form.window_minutes.clear();
    type_into(&mut h, "送信できる時間 (分)", &minutes);
    click(&mut h, "保存");
    run_until(&mut h, "the engine on the saved settings", |a| a.view().account == "student@popsend.test");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&format!("port = {}", s.pop3)) && text.contains("window_seconds"), "{text}");
    assert!(!text.contains(&s.pass), "the password was written to the config file");

    click(&mut h, "作成");
    let subject = token("gui-send");
    type_into(&mut h, "宛先", "friend@example.net");
    type_into(&mut h, "件名", &subject);
    type_into(&mut h, "本文", "POP before SMTP のテストです。");
    click(&mut h, "送信");
    run_until_for(&mut h, "the message in 送信済み", Duration::from_secs(30), |a| {
        a.view().sent.iter().any(|r| r.subject == subject)
    });
    assert!(s.find_delivered(&subject).is_some() || !s.delivered(&subject).is_empty());
    h.run_steps(2);
    let window = app(&h).view().snapshot.as_ref().and_then(|s| s.window).expect("a relay window after sending");
    let left = window.remaining(SystemTime::now()).as_secs();
    assert!(left + 10 >= s.window && left <= s.window, "countdown {left} s for a {} s window", s.window);
    assert_counting_down(&h);
    // 作成 says it went, and when, and leads to it.
    let at = app(&h).view().sent.iter().find(|r| r.subject == subject).and_then(|r| r.sent_at).unwrap();
    let at = popsend::text::words::local_time(at, "%H:%M");
    h.get_by_label_contains(&format!("{at} に送信しました: friend@example.net 宛て、件名「{subject}」"));
    click(&mut h, "送信済みを開く");
    assert_eq!(app(&h).tab, Tab::Sent);
    h.get_by_label_contains(&subject);
    let n = notices.lock().unwrap().clone();
    assert!(n.iter().any(|n| matches!(n, Notice::Sent { subject: s, .. } if *s == subject)), "{n:?}");
}

/// A server that refuses (the POP login, wrong password): the row in 送信トレイ gives the reason
/// in Japanese, and 詳細 shows the server's own reply.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn a_refusing_server_shows_the_japanese_reason_and_its_reply() {
    let s = servers();
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let config = s.config(
        dir.path(),
        &format!("port = {}\nallow_plaintext_password = true\npassword_command = \"echo not-the-password\"", s.pop3),
        &format!("port = {}", s.smtp),
        "",
    );
    let mut h = harness(config, dir.path().join("data"));
    run_until(&mut h, "the engine", |a| a.view().account == "student@popsend.test");
    type_into(&mut h, "宛先", "friend@example.net");
    type_into(&mut h, "件名", "届かないはず");
    click(&mut h, "送信");
    run_until_for(&mut h, "the refusal recorded", Duration::from_secs(20), |a| {
        a.view().waiting.iter().any(|r| r.last_error.is_some())
    });
    h.run_steps(2);
    h.get_by_label_contains("まだ送れていません (");
    click(&mut h, "送信トレイを開く");
    // The row's reason (and the status line) in Japanese.
    let reason = popsend::fl!("kind-wrong-password");
    assert!(reason.contains("パスワード"), "{reason}");
    assert!(h.query_all_by_label(&reason).count() >= 1, "no row says: {reason}");
    // The server's own reply: in the problem line, and once more in the row's 詳細.
    let before = h.query_all_by_label_contains("-ERR").count();
    click(&mut h, "届かないはず");
    assert!(h.query_all_by_label_contains("-ERR").count() > before, "the opened row did not show the server's reply");
    assert_eq!(s.probe_relay(), 454, "a refused login opened the relay");
}

/// 設定 saved and loaded again: the field keeps its value, and switching the language to English
/// changes the labels at once and after a restart.
#[test]
fn settings_save_reload_and_switch_the_language() {
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = offline_config(dir.path());
    let mut h = harness(config.clone(), data.clone());
    run_until(&mut h, "the account", |a| a.view().account == "taro@popsend.test");
    click(&mut h, "設定");
    type_into(&mut h, "差出人の名前", "山田 太郎");
    click(&mut h, "English");
    click(&mut h, "保存");
    run_until(&mut h, "the reload", |a| a.view().settings.display_name == "山田 太郎");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("language = \"en\""), "{text}");
    h.run_steps(4);
    h.get_by_label("Settings");
    h.get_by_label("Compose");
    drop(h);

    popsend::text::i18n::init(Some("ja"));
    let mut h = harness(config, data);
    run_until(&mut h, "the saved settings", |a| a.view().settings.language == "en");
    h.run_steps(4);
    click(&mut h, "Settings");
    assert_eq!(app(&h).settings.form.display_name, "山田 太郎");
    h.get_by_label("Sender name");
    popsend::text::i18n::init(Some("ja"));
}

/// An unsent draft survives closing the window; 「編集」 brings a queued message back to 作成.
#[test]
fn a_draft_survives_closing_the_window() {
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = offline_config(dir.path());
    let mut h = harness(config.clone(), data.clone());
    run_until(&mut h, "the account", |a| a.view().account == "taro@popsend.test");
    type_into(&mut h, "宛先", "hanako@example.net");
    type_into(&mut h, "本文", "書きかけ");
    assert_eq!((app(&h).compose.to.as_str(), app(&h).compose.body.as_str()), ("hanako@example.net", "書きかけ"));
    let draft = data.join("draft.toml");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !draft.exists() {
        assert!(Instant::now() < deadline, "the draft was not saved");
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(h);

    let mut h = harness(config, data);
    run_until(&mut h, "the draft back in 作成", |a| a.compose.body == "書きかけ");
    assert_eq!(app(&h).compose.to, "hanako@example.net");
    // 編集 (the window's side: `window::edit_asks_for_the_message_and_its_draft_comes_back_into_compose`;
    // the engine's: `engine_loop::commands_are_heard_while_a_flush_runs_and_a_withdrawn_message_does_not_go`).
}

/// 設定ガイド: searching 「Becky」 shows both Becky! guides and no other client.
#[test]
fn searching_becky_shows_the_becky_guides() {
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = offline_config(dir.path());
    let mut h = harness(config, data);
    run_until(&mut h, "the account", |a| a.view().account == "taro@popsend.test");
    click(&mut h, "設定ガイド");
    h.get_by_label("Thunderbird");
    type_into(&mut h, "検索", "Becky");
    h.get_by_label("Becky! (Windows)");
    h.get_by_label("Becky! Internet Mail Ver.2");
    assert!(h.query_by_label("Thunderbird").is_none(), "a guide that does not match is shown");
    // Opened by the search: the steps of both are readable (both use 「受信時に送信も行う」), and
    // where the facts come from.
    assert!(h.query_all_by_label_contains("受信時に送信も行う").count() >= 2);
    assert_eq!(h.query_all_by_label_contains("出典: ").count(), 2);
}

/// Choosing a preset fills the server fields of 設定 (and leaves the address alone).
#[test]
fn choosing_a_preset_fills_the_settings() {
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = offline_config(dir.path());
    let mut h = harness(config, data);
    run_until(&mut h, "the presets", |a| !a.view().presets.is_empty() && a.view().account == "taro@popsend.test");
    click(&mut h, "設定");
    click(&mut h, "プリセット");
    click(&mut h, "参考資料 (2000 年の案内) の例: mail.cc.tohoku.ac.jp");
    let f = &app(&h).settings.form;
    assert_eq!(
        (f.pop_host.as_str(), f.pop_port.as_str(), f.smtp_port.as_str(), f.window_minutes.as_str()),
        ("mail.cc.tohoku.ac.jp", "110", "25", "10")
    );
    assert_eq!(f.address, "taro@popsend.test");
    h.get_by_label_contains("10 分間");
    h.get_by_label_contains("今の大学のメールではありません");
}

/// 接続テスト in the window against the real servers: every step ✓ and the copyable report.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn the_connection_test_view_runs_every_step() {
    let s = servers();
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let config = s.config(
        dir.path(),
        &format!("port = {}\nsecurity = \"starttls\"\npassword_command = \"printf %s {}\"", s.pop3, s.pass),
        &format!("port = {}", s.smtp),
        "",
    );
    let mut h = harness(config, dir.path().join("data"));
    run_until(&mut h, "the engine", |a| a.view().account == "student@popsend.test");
    click(&mut h, "接続テスト");
    click(&mut h, "接続テストを開始");
    run_until_for(&mut h, "the test's end", Duration::from_secs(30), |a| {
        matches!(&a.view().diagnosis, Some((false, _)))
    });
    h.run_steps(2);
    let steps = app(&h).view().diagnosis.clone().unwrap().1;
    assert_eq!(steps.len(), 8);
    assert!(steps.iter().all(|r| r.passed()), "{steps:?}");
    h.get_by_label("すべての手順に成功しました。このアカウントで送信できます。");
    h.get_by_label("結果をコピー");
    // The test's POP login opened the sending time: the status bar counts it down at once, and
    // says nothing of an unknown connection.
    run_until(&mut h, "the countdown after the test's login", |a| {
        a.view().snapshot.as_ref().is_some_and(|s| s.window.is_some())
    });
    h.run_steps(2);
    assert_counting_down(&h);
    assert!(h.query_by_label_contains("送るときに自動で").is_none());
}

/// Closing the window while a message waits asks first; 「キャンセル」 keeps the window open. The
/// draft is saved at the close request, whatever the answer.
#[test]
fn closing_with_waiting_messages_asks_first() {
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = offline_config(dir.path());
    let mut h = harness(config, data.clone());
    run_until(&mut h, "the account", |a| a.view().account == "taro@popsend.test");
    type_into(&mut h, "宛先", "hanako@example.net");
    click(&mut h, "後で送信");
    run_until(&mut h, "the queued row", |a| a.view().waiting.len() == 1);
    click(&mut h, "作成");
    type_into(&mut h, "宛先", "jiro@example.net");
    let close = |h: &mut Harness<'static, Option<App>>| {
        h.input_mut().viewports.entry(egui::ViewportId::ROOT).or_default().events.push(egui::ViewportEvent::Close);
        h.run_steps(3);
    };
    close(&mut h);
    h.get_by_label_contains("まだ送っていないメッセージが 1 通");
    h.get_by_label("バックグラウンドで送信を続ける");
    h.get_by_label("終了する (次回起動時に送信)");
    click(&mut h, "キャンセル");
    assert!(h.query_by_label("バックグラウンドで送信を続ける").is_none(), "the question stayed after キャンセル");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(data.join("draft.toml")).is_ok_and(|t| t.contains("jiro@example.net")) {
        assert!(Instant::now() < deadline, "the draft was not saved at the close request");
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every character the window can show — each message of both languages, every guide, the
/// 接続テスト marks — has a glyph in the fonts the window brings (egui's and the bundled Japanese
/// subset), so nothing is drawn as a box on a machine with no CJK fonts.
#[test]
fn every_visible_character_has_a_glyph() {
    let _g = gui_lock("ja");
    let h = Harness::builder().with_context_setup(popsend::app::install_fonts).build_ui(|ui| {
        ui.label("x");
    });
    let mut text = String::new();
    for ftl in [include_str!("../../i18n/ja/popsend.ftl"), include_str!("../../i18n/en/popsend.ftl")] {
        for line in ftl.lines().filter(|l| !l.starts_with('#')) {
            text += line.split_once(" = ").map_or(line, |(_, v)| v);
        }
    }
    for lang in ["ja", "en"] {
        for g in popsend::text::guides::all(lang) {
            text += &g.text();
        }
    }
    text += "✓×–";
    let mut missing: Vec<char> = h.ctx.fonts_mut(|f| {
        text.chars()
            .filter(|c| !c.is_control())
            .filter(|c| !f.has_glyph(&egui::FontId::proportional(14.0), *c))
            .collect()
    });
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "no glyph for: {}",
        missing.iter().map(|c| format!("{c} U+{:04X}", *c as u32)).collect::<Vec<_>>().join(", ")
    );
}

/// Keys: Tab walks 宛先 → Cc → Bcc → 件名 → 本文; Ctrl+2 opens 送信トレイ; Ctrl+N comes back to
/// 作成 with the cursor in 宛先; Ctrl+Enter sends.
#[test]
fn the_keyboard_reaches_the_fields_and_the_shortcuts_work() {
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = offline_config(dir.path());
    let mut h = harness(config, data);
    // The saved draft's hand-over (if any) comes first: it would take the fields mid-walk.
    run_until(&mut h, "the account and the draft check", |a| {
        a.view().account == "taro@popsend.test" && a.view().draft_checked
    });
    // Cc and Bcc wait behind their button.
    assert!(h.query_by_label("Cc").is_none(), "Cc shows before it is asked for");
    click(&mut h, "Cc/Bcc を追加");
    h.get_by_label("宛先").focus();
    h.run_steps(2);
    for next in ["Cc", "Bcc", "件名", "本文"] {
        h.key_press(egui::Key::Tab);
        h.run_steps(2);
        assert!(h.get_by_label(next).is_focused(), "Tab did not reach {next}");
    }
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num2);
    h.run_steps(2);
    assert_eq!(app(&h).tab, Tab::Outbox);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    h.run_steps(3);
    assert_eq!(app(&h).tab, Tab::Compose);
    assert!(h.get_by_label("宛先").is_focused(), "Ctrl+N did not put the cursor in 宛先");
    h.get_by_label("宛先").type_text("hanako@example.net");
    h.run_steps(2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    run_until(&mut h, "the message sent by Ctrl+Enter", |a| a.view().waiting.len() == 1);
}

/// A second start of the real binary with a `mailto:` link (as a browser would start it) hands
/// the link to the window that has the data folder and exits at once: 作成 there is filled, and
/// no second window or engine is started. A draft being written is replaced only when the student
/// says so.
#[test]
fn a_second_start_hands_its_mailto_link_to_the_open_window() {
    use popsend::core::system::instance::{self, Claim, Handover};
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = offline_config(dir.path());
    let Claim::First(listener) = instance::claim(&data, &Handover::Show).unwrap() else {
        panic!("the window must get the folder")
    };
    let listener = Mutex::new(Some(listener));
    let paths = Paths { config_file: config.clone(), data_dir: data.clone() };
    let mut h = Harness::builder()
        .with_size(egui::vec2(900.0, 1300.0))
        .with_context_setup(popsend::app::install_fonts)
        .build_ui_state(
            move |ui, state: &mut Option<App>| {
                let app = state.get_or_insert_with(|| {
                    let mut app = App::with_notify(
                        ui.ctx(),
                        Paths { config_file: paths.config_file.clone(), data_dir: paths.data_dir.clone() },
                        Arc::new(|_| {}),
                    );
                    app.listen(ui.ctx(), listener.lock().unwrap().take().unwrap());
                    app
                });
                app.draw(ui);
            },
            None,
        );
    h.run_steps(4);
    let second = |args: &[&str]| {
        let started = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_popsend"))
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            // No display: had it not handed over, it could not have opened a window either, and
            // would have said so.
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env("POPSEND_LANG", "ja")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "it handed over without a word: {out:?}");
        started.elapsed()
    };
    let took = second(&[
        "mailto:hanako@example.ac.jp?cc=jiro@example.jp&subject=%E3%82%BC%E3%83%9F%E3%81%AE%E4%BB%B6&body=%E3%81%93%E3%82%93%E3%81%AB%E3%81%A1%E3%81%AF%0D%0A2%E8%A1%8C%E7%9B%AE",
    ]);
    run_until(&mut h, "作成 filled from the link", |a| a.compose.to == "hanako@example.ac.jp");
    let c = &app(&h).compose;
    assert_eq!(
        (c.cc.as_str(), c.subject.as_str(), c.body.as_str()),
        ("jiro@example.jp", "ゼミの件", "こんにちは\n2行目")
    );
    assert_eq!(app(&h).tab, Tab::Compose);
    eprintln!("hand-over took {took:?}");

    // Now something is being written: a second link asks before it replaces it.
    h.get_by_label("件名").focus();
    h.run_steps(2);
    h.get_by_label("件名").type_text(" (下書き)");
    h.run_steps(2);
    second(&["mailto:saburo@example.jp?subject=other"]);
    wait_for_label(&mut h, "書きかけを残す (リンクは使わない)");
    click(&mut h, "書きかけを残す (リンクは使わない)");
    assert_eq!(app(&h).compose.subject, "ゼミの件 (下書き)");
    assert_eq!(app(&h).compose.to, "hanako@example.ac.jp");
    second(&["mailto:saburo@example.jp?subject=other"]);
    wait_for_label(&mut h, "置き換える");
    click(&mut h, "置き換える");
    run_until(&mut h, "the second link in 作成", |a| {
        a.compose.to == "saburo@example.jp" && a.compose.subject == "other"
    });

    // A plain second double-click only brings the window forward: nothing changes in 作成.
    second(&[]);
    h.run_steps(4);
    assert_eq!(app(&h).compose.to, "saburo@example.jp");
}

/// The first-run assistant from an empty config to a delivered test mail through the real
/// servers, typing only the address and the password: the servers are found by probing (the
/// names are on loopback, the ports the test servers' own), 接続テスト passes with the unsaved
/// settings, 「テストメールを自分に送る」 saves them and the message arrives.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn the_assistant_takes_a_student_from_nothing_to_a_sent_test_mail() {
    use popsend::core::setup::account::Security;
    let s = servers();
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config").join("config.toml");
    let data = dir.path().join("data");
    let discovery = popsend::core::setup::discover::Options {
        pop_ports: vec![(s.pop3s, Security::Tls), (s.pop3, Security::None)],
        smtp_ports: vec![(s.smtp, Security::None)],
        autoconfig_urls: Vec::new(),
        step_timeout: Duration::from_secs(3),
        ca_file: Some(s.ca.clone()),
    };
    let (c, d) = (config.clone(), data.clone());
    let mut h = Harness::builder()
        .with_size(egui::vec2(900.0, 1300.0))
        .with_context_setup(popsend::app::install_fonts)
        .build_ui_state(
            move |ui, state: &mut Option<App>| {
                let app = state.get_or_insert_with(|| {
                    App::with_hooks(
                        ui.ctx(),
                        Paths { config_file: c.clone(), data_dir: d.clone() },
                        Arc::new(|_| {}),
                        discovery.clone(),
                    )
                });
                app.draw(ui);
            },
            None,
        );
    let started = Instant::now();
    run_until(&mut h, "the assistant on a first start", |a| a.tab == Tab::Assistant);
    let address = format!("{}@popsend.test", s.user);
    // Before an account exists the status bar has nothing to count down or press: one line.
    h.get_by_label_contains("アカウントを保存すると");
    assert!(h.query_by_label_contains("今すぐ送信").is_none() && h.query_by_label_contains("POP 認証します").is_none());
    // The two fields a student fills in; everything else is found.
    type_into(&mut h, "メールアドレス", &address);
    type_into(&mut h, "パスワード", &s.pass);
    click(&mut h, "次へ");
    let typed = started.elapsed();
    run_until_for(&mut h, "the connection test with the found servers", Duration::from_secs(60), |a| {
        a.trial().is_some() && a.view().diagnosis.as_ref().is_some_and(|(running, _)| !running)
    });
    let found = started.elapsed();
    let (form, passed) = app(&h).trial().cloned().unwrap();
    let steps = app(&h).view().diagnosis.clone().unwrap().1;
    assert!(passed, "接続テスト failed: {steps:?}");
    assert_eq!(
        (form.pop_host.as_str(), form.pop_port.as_str(), form.pop_security),
        ("pop.popsend.test", s.pop3s.to_string().as_str(), Security::Tls)
    );
    assert_eq!(form.pop_username, s.user);
    h.get_by_label_contains("が見つかりました");
    assert!(!config.exists(), "nothing is written before the student chooses");
    click(&mut h, "テストメールを自分に送る");
    run_until_for(&mut h, "the test mail in 送信済み", Duration::from_secs(60), |a| {
        a.view().sent.iter().any(|r| r.subject == "popsend のテストメール")
    });
    let sent = started.elapsed();
    let row = app(&h).view().sent.iter().find(|r| r.subject == "popsend のテストメール").cloned().unwrap();
    assert_eq!(row.to, address, "the test mail goes to the student's own address");
    // The delivered message's own To field (its From holds the same address, so a search of
    // the whole text would pass whatever To said).
    let raw = s.delivered(row.message_id.trim_matches(['<', '>']));
    let parsed = mail_parser::MessageParser::default().parse(&raw).expect("the delivered message parses");
    let to: Vec<&str> = parsed.to().into_iter().flat_map(|a| a.iter()).filter_map(|a| a.address()).collect();
    assert_eq!(to, [address.as_str()], "{}", String::from_utf8_lossy(&raw));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("pop.popsend.test") && !text.contains(&s.pass), "{text}");
    // Saved and sent: the status bar is the account's now, with the sending time the test
    // mail's login opened.
    run_until(&mut h, "the account's status", |a| a.view().snapshot.as_ref().is_some_and(|s| s.window.is_some()));
    h.run_steps(2);
    assert_counting_down(&h);
    eprintln!("assistant: typed {typed:?}, found and tested {found:?}, test mail sent {sent:?} (2 fields)");
}

/// Issue 28, the real worker with two accounts on the real servers: the second account's wrong
/// password stops only its message (its part of the status bar says so, with
/// 「パスワードを入力」), the first's goes; the password typed in 設定 on that account sends its
/// message from its own address, and the notice names it.
#[test]
#[cfg_attr(not(feature = "real-servers"), ignore = "needs the test mail servers: bash tests/run.sh")]
fn two_accounts_in_the_window_one_refused_the_other_sending() {
    let s = servers();
    let _g = gui_lock("ja");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let data = dir.path().join("data");
    let account = |address: &str, name: &str, user: &str, extra: &str| {
        format!(
            "address = \"{address}\"\nname = \"{name}\"\n[{p}pop]\nhost = \"{host}\"\nport = {pop}\nusername = \"{user}\"\n{extra}\n\
             [{p}smtp]\nport = {smtp}\n[{p}relay]\nwindow_seconds = {window}\nmargin_seconds = 1\n[{p}tls]\nca_file = \"{ca}\"\n",
            p = if user == "lab" { "accounts." } else { "" },
            host = s.host,
            pop = s.pop3,
            smtp = s.smtp,
            window = s.window,
            ca = s.ca.display(),
        )
    };
    let text = format!(
        "[account]\n{}\n[[accounts]]\n[accounts.account]\n{}",
        account("student@popsend.test", "大学", &s.user, &format!("password_command = \"echo {}\"", s.pass)),
        account("lab@popsend.test", "研究室", "lab", ""),
    );
    std::fs::write(&config, text).unwrap();
    // The second account's password file, with a password the server refuses.
    let lab = data.join("accounts/lab@popsend.test");
    std::fs::create_dir_all(&lab).unwrap();
    std::fs::write(lab.join("password"), format!("lab@{}\nnot-the-password\n", s.host)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(lab.join("password"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let notices = Notices::default();
    let mut h = harness_noting(config.clone(), data.clone(), notices.clone());
    run_until(&mut h, "both accounts", |a| a.view().others.len() == 1 && a.view().draft_checked);

    // From 研究室 first, then from 大学.
    let (tok_lab, tok_uni) = (token("gui-lab"), token("gui-uni"));
    h.get_by_label("差出人").click();
    h.run_steps(2);
    click(&mut h, "研究室 — lab@popsend.test");
    type_into(&mut h, "宛先", "teacher@example.net");
    type_into(&mut h, "件名", &tok_lab);
    click(&mut h, "送信");
    run_until(&mut h, "研究室's message stored", |a| a.view().waiting.iter().any(|r| r.subject == tok_lab));
    h.run_steps(3);
    type_into(&mut h, "宛先", "teacher@example.net");
    type_into(&mut h, "件名", &tok_uni);
    click(&mut h, "送信");
    run_until_for(&mut h, "大学's message sent and 研究室's refused", Duration::from_secs(30), |a| {
        let v = a.view();
        v.sent.iter().any(|r| r.subject == tok_uni && r.account == 0)
            && v.others[0]
                .snapshot
                .as_ref()
                .is_some_and(|s| s.paused.as_ref().is_some_and(|p| p.error.kind.refused_login()))
    });
    assert!(String::from_utf8_lossy(&s.delivered(&tok_uni)).contains("From: student@popsend.test"));
    let waiting = app(&h).view().waiting.iter().find(|r| r.subject == tok_lab).map(|r| r.account);
    assert_eq!(waiting, Some(1), "研究室's message is not waiting in its own outbox");
    assert!(s.find_delivered(&tok_lab).is_none());
    h.run_steps(3);
    // Its part of the status bar says so once the refused run has ended.
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.query_by_label_contains("送信を止めています: ").is_none() {
        assert!(Instant::now() < deadline, "研究室's refusal is not in the status bar");
        h.run_steps(2);
        std::thread::sleep(Duration::from_millis(50));
    }

    // 「パスワードを入力」 beside 研究室: 設定 on that account, the password typed, 保存.
    click(&mut h, "パスワードを入力");
    assert_eq!(app(&h).tab, Tab::Settings);
    assert_eq!(app(&h).settings.form.editing, 1, "設定 is not on 研究室");
    type_into(&mut h, "パスワード", "pop-pass-2");
    click(&mut h, "保存");
    run_until_for(&mut h, "研究室's message sent", Duration::from_secs(30), |a| {
        a.view().sent.iter().any(|r| r.subject == tok_lab && r.account == 1)
    });
    assert!(String::from_utf8_lossy(&s.delivered(&tok_lab)).contains("From: lab@popsend.test"));
    let n = notices.lock().unwrap().clone();
    assert!(
        n.iter().any(
            |n| matches!(n, Notice::Sent { subject, account: Some(a), .. } if *subject == tok_lab && a == "研究室")
        ),
        "{n:?}"
    );
}
