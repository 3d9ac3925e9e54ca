//! The real `App` over a scripted backend and a pinned clock: each test publishes views as the
//! worker would and checks what the window draws and which requests it hands over. No outbox,
//! no sockets, no sleeping: nothing here races (the end-to-end window tests are in `gui`).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use popsend::app::backend::{Backend, Handed, Problem, Request, View};
use popsend::app::{App, Tab};
use popsend::core::message::drafts::Unsent;
use popsend::core::problem::kind::{Described, Kind};
use popsend::core::sending::engine::{Activity, Snapshot};
use popsend::core::sending::outbox::{Counts, Row, Status};
use popsend::core::sending::relay::RelayWindow;
use popsend::core::system::clock::FixedClock;

/// The language is process-wide: one window test at a time (shared with `gui`).
fn lock() -> MutexGuard<'static, ()> {
    crate::gui::gui_lock("ja")
}

#[derive(Default)]
struct Script {
    view: View,
    handed: Vec<Handed>,
    requests: Vec<Request>,
    /// Refuse every request (a backend that is gone or swamped).
    refuse: bool,
}

#[derive(Clone, Default)]
struct Scripted(Arc<Mutex<Script>>);

impl Backend for Scripted {
    fn request(&self, r: Request) -> Result<(), Request> {
        let mut s = self.0.lock().unwrap();
        if s.refuse {
            return Err(r);
        }
        s.requests.push(r);
        Ok(())
    }

    fn version(&self) -> u64 {
        self.0.lock().unwrap().view.version
    }

    fn view(&self) -> View {
        self.0.lock().unwrap().view.clone()
    }

    fn take_handed(&self) -> Vec<Handed> {
        std::mem::take(&mut self.0.lock().unwrap().handed)
    }
}

impl Scripted {
    fn publish(&self, change: impl FnOnce(&mut View)) {
        let mut s = self.0.lock().unwrap();
        s.view.version += 1;
        change(&mut s.view);
    }

    fn hand(&self, h: Handed) {
        self.0.lock().unwrap().handed.push(h);
    }

    fn take(&self) -> Vec<Request> {
        std::mem::take(&mut self.0.lock().unwrap().requests)
    }

    fn refuse(&self, refuse: bool) {
        self.0.lock().unwrap().refuse = refuse;
    }
}

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn harness(backend: &Scripted) -> Harness<'static, Option<App>> {
    let backend = backend.clone();
    Harness::builder()
        .with_size(egui::vec2(900.0, 1300.0))
        .with_context_setup(popsend::app::install_fonts)
        .build_ui_state(
            move |ui, state: &mut Option<App>| {
                let app = state.get_or_insert_with(|| {
                    App::with_backend(ui.ctx(), Box::new(backend.clone()), Arc::new(FixedClock(t0())))
                });
                app.draw(ui);
            },
            None,
        )
}

/// A backend with an account and an engine that has started.
fn started() -> Scripted {
    let b = Scripted::default();
    b.publish(|v| {
        v.account = "taro@popsend.test".into();
        v.draft_checked = true;
        v.snapshot = Some(Snapshot {
            counts: Counts::default(),
            window: None,
            online: None,
            activity: Activity::Idle,
            paused: None,
            next_attempt: None,
        });
    });
    b
}

fn row(id: i64, subject: &str, last_error: Option<Described>) -> Row {
    Row {
        id,
        message_id: format!("<{id}@popsend.test>"),
        subject: subject.into(),
        to: "hanako@example.net".into(),
        state: Status::Queued,
        created: t0() - Duration::from_secs(600),
        attempts: u32::from(last_error.is_some()),
        next_attempt: t0() + Duration::from_secs(90),
        last_error,
        sent_at: None,
        editable: true,
        via: None,
        send_at: None,
        account: 0,
    }
}

fn app<'a>(h: &'a Harness<'static, Option<App>>) -> &'a App {
    h.state().as_ref().unwrap()
}

fn type_into(h: &mut Harness<'static, Option<App>>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.run_steps(2);
    assert!(h.get_by_label(label).is_focused(), "{label} does not take the focus");
    h.get_by_label(label).type_text(text);
    h.run_steps(2);
}

fn click(h: &mut Harness<'static, Option<App>>, label: &str) {
    h.get_by_label(label).click();
    h.run_steps(3);
}

fn sends(requests: &[Request]) -> Vec<(&Unsent, bool)> {
    requests
        .iter()
        .filter_map(|r| match r {
            Request::Send { draft, now, .. } => Some((&**draft, *now)),
            _ => None,
        })
        .collect()
}

/// 後で送信 hands the message over as typed; a backend that refuses it leaves the message in
/// 作成 and says so.
#[test]
fn send_later_hands_the_message_over_and_a_refusal_keeps_it() {
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    type_into(&mut h, "宛先", "hanako@example.net");
    type_into(&mut h, "件名", "期末レポート");
    type_into(&mut h, "本文", "よろしくお願いします。");
    b.refuse(true);
    click(&mut h, "後で送信");
    assert!(sends(&b.take()).is_empty());
    h.get_by_label_contains("直前の操作をまだ処理しています");
    assert_eq!(app(&h).compose.subject, "期末レポート", "a refused request emptied 作成");
    assert_eq!(app(&h).tab, Tab::Compose);

    b.refuse(false);
    click(&mut h, "後で送信");
    let requests = b.take();
    let sent = sends(&requests);
    assert_eq!(sent.len(), 1, "{requests:?}");
    let (draft, now) = sent[0];
    assert!(!now, "後で送信 asked to send at once");
    assert_eq!(
        (draft.to.as_str(), draft.subject.as_str(), draft.body.as_str()),
        ("hanako@example.net", "期末レポート", "よろしくお願いします。")
    );
}

/// 送信 keeps 作成 open and empty, and a toast follows the message by its Message-ID: handed
/// over, in the outbox, waiting with its reason and next try, sent with its time (and a way to
/// 送信済み); 閉じる hides it. A message that cannot be built comes back without a toast.
#[test]
fn after_send_compose_stays_and_a_toast_says_what_became_of_the_message() {
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    type_into(&mut h, "宛先", "hanako@example.net");
    type_into(&mut h, "件名", "期末レポート");
    click(&mut h, "送信");
    assert_eq!(sends(&b.take()).len(), 1);
    assert_eq!(app(&h).tab, Tab::Compose);
    assert!(app(&h).compose.is_empty(), "作成 was not emptied");
    h.get_by_label("送信トレイに入れています: hanako@example.net 宛て、件名「期末レポート」");

    // The answer to another request is not this message's.
    b.hand(Handed::Queued { ticket: 99, message_id: "<8@popsend.test>".into() });
    b.hand(Handed::Queued { ticket: 1, message_id: "<7@popsend.test>".into() });
    let mut r = row(7, "期末レポート", None);
    b.publish(|v| v.waiting = Arc::new(vec![r.clone()]));
    h.run_steps(2);
    h.get_by_label("送信トレイに入れました。順番が来たら送ります: hanako@example.net 宛て、件名「期末レポート」");
    h.get_by_label("送信トレイを開く");
    // Deleted or taken back by 編集: the toast does not wait for it for ever.
    b.publish(|v| v.waiting = Arc::new(Vec::new()));
    h.run_steps(2);
    h.get_by_label_contains("送信トレイにはもうありません");
    b.publish(|v| v.waiting = Arc::new(vec![r.clone()]));
    h.run_steps(2);

    r.attempts = 1;
    r.last_error =
        Some(Described { kind: Kind::WrongPassword, reply: Some("-ERR [AUTH] no".into()), detail: String::new() });
    b.publish(|v| v.waiting = Arc::new(vec![r.clone()]));
    h.run_steps(2);
    let next = popsend::text::words::list_time(r.next_attempt, t0());
    h.get_by_label_contains(&format!("まだ送れていません (パスワードが違います)。{next} に自動で送り直します"));
    // A stopped queue is not retried by itself: no time is promised.
    b.publish(|v| {
        v.snapshot.as_mut().unwrap().paused =
            Some(popsend::core::sending::outbox::Pause { error: r.last_error.clone().unwrap(), config: String::new() })
    });
    h.run_steps(2);
    h.get_by_label_contains("まだ送れていません (パスワードが違います)。直すまで送信を止めています");
    b.publish(|v| v.snapshot.as_mut().unwrap().paused = None);

    r.state = Status::Sent;
    r.sent_at = Some(t0());
    b.publish(|v| {
        v.waiting = Arc::new(Vec::new());
        v.sent = Arc::new(vec![r.clone()]);
    });
    h.run_steps(2);
    let at = popsend::text::words::local_time(t0(), "%H:%M");
    h.get_by_label(&format!("{at} に送信しました: hanako@example.net 宛て、件名「期末レポート」"));
    click(&mut h, "送信済みを開く");
    assert_eq!(app(&h).tab, Tab::Sent);
    click(&mut h, "作成");
    click(&mut h, "閉じる");
    assert!(h.query_by_label_contains("に送信しました").is_none(), "閉じる left the toast");

    // One that cannot be built comes back into 作成, and no toast claims it is on its way.
    type_into(&mut h, "宛先", "hanako@example.net");
    type_into(&mut h, "件名", "二通目");
    click(&mut h, "送信");
    let requests = b.take();
    let (draft, _) = sends(&requests)[0];
    b.hand(Handed::ForCompose(draft.clone()));
    h.run_steps(3);
    assert_eq!(app(&h).compose.subject, "二通目");
    assert!(
        h.query_by_label_contains("送信トレイに入れています").is_none(),
        "a toast for a message that is not queued"
    );

    // Built but not stored (a full disk): the message comes back to 作成 and no toast claims it.
    click(&mut h, "送信");
    let requests = b.take();
    let (draft, _) = sends(&requests)[0];
    let draft = draft.clone();
    b.hand(Handed::Queued { ticket: 3, message_id: "<12@popsend.test>".into() });
    h.run_steps(2);
    h.get_by_label_contains("送信トレイに入れています");
    b.hand(Handed::NotQueued { message_id: "<12@popsend.test>".into() });
    b.hand(Handed::ForCompose(draft));
    h.run_steps(3);
    assert_eq!(app(&h).compose.subject, "二通目", "the message was not given back");
    assert!(h.query_by_label_contains("送信トレイに入れています").is_none(), "a toast for a message not stored");
}

/// 作成 says who the message is from; a 送信 that cannot be pressed says why beside it, each bad
/// address says what is wrong with it, and an empty 件名 is pointed out without stopping the
/// message.
#[test]
fn a_greyed_send_says_why_and_an_empty_subject_is_pointed_out() {
    let _g = lock();
    let b = started();
    b.publish(|v| {
        v.settings.address = "taro@popsend.test".into();
        v.settings.display_name = "山田 太郎".into();
    });
    let mut h = harness(&b);
    h.run_steps(2);
    // Who it is from, as the message will say.
    h.get_by_label("山田 太郎 <taro@popsend.test>");
    h.get_by_label("宛先を入れると送信できます");
    type_into(&mut h, "宛先", "hanako@@example.net");
    h.get_by_label("赤字のアドレスを直すと送信できます");
    // Each bad entry says what is wrong with it.
    h.get_by_label("hanako@@example.net: @ が 2 つ以上あります");
    assert!(h.query_by_label("宛先を入れると送信できます").is_none());
    h.get_by_label("宛先").focus();
    h.run_steps(1);
    for _ in 0.."hanako@@example.net".chars().count() {
        h.key_press(egui::Key::Backspace);
    }
    h.run_steps(2);
    h.get_by_label("宛先").type_text("hanako@example.net");
    h.run_steps(2);
    assert!(h.query_by_label("赤字のアドレスを直すと送信できます").is_none());
    h.get_by_label("件名が空です (このままでも送れます)");
    type_into(&mut h, "件名", "期末レポート");
    assert!(h.query_by_label("件名が空です (このままでも送れます)").is_none());
    click(&mut h, "送信");
    assert_eq!(sends(&b.take()).len(), 1, "a ready 送信 did not send");
}

/// A refused password is mended where it is shown: the right one typed there (masked),
/// 「保存して送信」 keeps it as 設定's 保存 does — no 今すぐ送信 beside it, so a save that fails
/// cannot send with the old password; the restarted engine sends what waited — and the answer is
/// said there. Where the password comes from POPSEND_PASSWORD, typing would change nothing, so
/// no field is offered.
#[test]
fn a_refused_password_is_mended_where_it_is_shown() {
    use popsend::app::backend::{PasswordFrom, Saved};
    use popsend::core::system::secrets::Source;
    let _g = lock();
    let b = started();
    let refused = Described { kind: Kind::WrongPassword, reply: Some("-ERR [AUTH] no".into()), detail: String::new() };
    b.publish(|v| {
        v.settings.address = "taro@popsend.test".into();
        v.password = Some(PasswordFrom::Found(Source::Keyring));
        v.problem = Some(Problem::Failed(refused.clone()));
    });
    let mut h = harness(&b);
    h.run_steps(2);
    assert!(h.get_by_label("保存して送信").accesskit_node().is_disabled(), "保存して送信 without a password");
    type_into(&mut h, "正しいパスワード", "new-s3cret");
    assert_eq!(
        h.get_by_label("正しいパスワード").accesskit_node().role(),
        egui::accesskit::Role::PasswordInput,
        "the password would be shown"
    );
    click(&mut h, "保存して送信");
    let requests = b.take();
    match requests.as_slice() {
        [Request::SaveSettings { form, password: Some(p) }] => {
            assert_eq!(p.expose(), "new-s3cret");
            assert_eq!(form.address, "taro@popsend.test", "the saved settings changed");
        }
        other => panic!("{other:?}"),
    }
    b.hand(Handed::Saved(Saved::Done));
    h.run_steps(2);
    h.get_by_label("パスワードを保存しました。止まっていたメッセージを送ります。");

    b.publish(|v| v.password = Some(PasswordFrom::Found(Source::Env)));
    h.run_steps(2);
    assert!(h.query_by_label("正しいパスワード").is_none(), "a field that changes nothing");
}

/// 送信トレイ is a table: newest first, a heading click sorts by that column (again: the other way),
/// the filter keeps rows whose 宛先 or 件名 match, ↓ selects and opens a row beside the table, and
/// Delete asks before deleting it.
#[test]
fn the_outbox_table_sorts_filters_and_answers_the_keys() {
    use popsend::core::sending::engine::Command;
    let _g = lock();
    let b = started();
    let mut rows = Vec::new();
    for (id, subject, age) in [(1, "一通目", 3000), (2, "二通目", 2000), (3, "三通目", 1000)] {
        let mut r = row(id, subject, None);
        r.created = t0() - Duration::from_secs(age);
        rows.push(r);
    }
    b.publish(|v| v.waiting = Arc::new(rows));
    let mut h = harness(&b);
    h.run_steps(2);
    click(&mut h, "送信トレイ (3)");
    let top = |h: &Harness<'static, Option<App>>, label: &str| {
        h.get_by_label(label).accesskit_node().bounding_box().expect("a row on screen").y0
    };
    let shown = |h: &Harness<'static, Option<App>>| {
        let mut s: Vec<(f64, &str)> = ["一通目", "二通目", "三通目"]
            .into_iter()
            .filter(|l| h.query_by_label(l).is_some())
            .map(|l| (top(h, l), l))
            .collect();
        s.sort_by(|a, b| a.0.total_cmp(&b.0));
        s.into_iter().map(|(_, l)| l).collect::<Vec<_>>()
    };
    assert_eq!(shown(&h), ["三通目", "二通目", "一通目"], "newest first");
    h.get_by_label("作成日時 ▼");
    click(&mut h, "件名");
    assert_eq!(shown(&h), ["一通目", "三通目", "二通目"], "words sort from the start at the first click");
    click(&mut h, "件名 ▲");
    assert_eq!(shown(&h), ["二通目", "三通目", "一通目"], "by subject, from the end");

    type_into(&mut h, "絞り込み", "二");
    assert_eq!(shown(&h), ["二通目"]);
    h.get_by_label("3 通中 1 通を表示");
    click(&mut h, "解除");
    assert_eq!(shown(&h).len(), 3);

    // The keys, once no field has the cursor.
    h.get_by_label("絞り込み").focus();
    h.run_steps(1);
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    h.key_press(egui::Key::ArrowDown);
    h.run_steps(2);
    h.key_press(egui::Key::ArrowDown);
    h.run_steps(2);
    // The second row of the order shown (by subject, from the end: 二, 三, 一) is open beside
    // the table.
    assert_eq!(h.query_all_by_label("三通目").count(), 2, "the row is not open beside the table");
    h.key_press(egui::Key::Delete);
    h.run_steps(2);
    click(&mut h, "本当に削除する");
    let requests = b.take();
    assert!(matches!(requests.as_slice(), [Request::Engine(Some(0), Command::Delete(3))]), "{requests:?}");
}

/// An empty list says so in the middle of the view and offers what fills it.
#[test]
fn an_empty_list_offers_to_write_a_message() {
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    click(&mut h, "送信済み");
    h.get_by_label("送信済みのメッセージはありません。");
    click(&mut h, "メッセージを作成する");
    assert_eq!(app(&h).tab, Tab::Compose);
    assert!(h.get_by_label("宛先").is_focused(), "the cursor is not in 宛先");
}

/// No keyring on this machine: 保存 says so in one Japanese sentence (the password is kept while
/// popsend runs); the keyring's own English error is folded; the password goes into a file only
/// when the student chooses it after reading what that means.
#[test]
fn no_keyring_is_said_in_one_sentence_with_the_detail_folded() {
    use popsend::app::backend::Saved;
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    click(&mut h, "設定");
    b.hand(Handed::Saved(Saved::PasswordNotKept("zbus error: org.freedesktop.DBus.Error.ServiceUnknown".into())));
    h.run_steps(3);
    h.get_by_label_contains("パスワードは popsend を閉じると消えます");
    assert!(h.query_by_label_contains("zbus").is_none(), "the keyring's English error is not folded");
    click(&mut h, "管理者向けの詳しい情報");
    h.get_by_label_contains("zbus error");

    // Only by the student's choice, once told what it means: the password into a file.
    b.publish(|v| v.password = Some(popsend::app::backend::PasswordFrom::ThisSession));
    h.run_steps(2);
    assert!(b.take().is_empty());
    click(&mut h, "この PC のファイルに保存する…");
    h.get_by_label_contains("自分だけが使う PC でだけ選んでください");
    assert!(b.take().is_empty(), "kept in a file before the student chose it");
    click(&mut h, "ファイルに保存する");
    let requests = b.take();
    assert!(matches!(requests.as_slice(), [Request::KeepPasswordInFile(0)]), "{requests:?}");
    b.hand(Handed::PasswordFile(Ok(())));
    h.run_steps(2);
    h.get_by_label("パスワードをファイルに保存しました。次に起動したときも使います。");
}

/// Typing in 宛先 offers the addresses already written to; a click puts one in, ready for the next.
#[test]
fn addresses_already_written_to_are_offered_while_typing() {
    let _g = lock();
    let b = started();
    let mut sent = row(5, "ゼミ", None);
    sent.to = "hanako@example.net, jiro@example.org".into();
    sent.state = Status::Sent;
    b.publish(|v| v.sent = Arc::new(vec![sent]));
    let mut h = harness(&b);
    h.run_steps(2);
    type_into(&mut h, "宛先", "han");
    click(&mut h, "hanako@example.net");
    assert_eq!(app(&h).compose.to, "hanako@example.net, ");
    assert!(h.query_by_label("jiro@example.org").is_none(), "offered before anything was typed");
    h.get_by_label("宛先").type_text("ji");
    h.run_steps(2);
    h.get_by_label("jiro@example.org");
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    assert_eq!(app(&h).compose.to, "hanako@example.net, jiro@example.org, ");
}

/// Finished addresses become chips: a separator or Enter makes one, × removes it whole, a click
/// or Backspace in the empty box takes it back to be edited; a bad one says why; the field's
/// text stays the list the message is made from.
#[test]
fn finished_addresses_become_chips_that_are_removed_or_edited_whole() {
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    type_into(&mut h, "宛先", "hana");
    // Not wrong yet, only unfinished: no red line while it is typed, and 送信 says why it waits.
    assert!(h.query_by_label_contains("@ がありません").is_none(), "an address being typed is called wrong");
    h.get_by_label("入力中のアドレスを @ の後ろまで入れると送信できます");
    h.get_by_label("宛先").type_text("ko@example.net,");
    h.run_steps(2);
    assert_eq!(app(&h).compose.to, "hanako@example.net, ");
    h.get_by_label("hanako@example.net を外す");
    h.get_by_label("宛先").type_text("jiro@example.org");
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    assert_eq!(app(&h).compose.to, "hanako@example.net, jiro@example.org, ");
    assert!(h.get_by_label("宛先").is_focused(), "Enter on a finished address took the cursor away");
    // Backspace in the empty box: the last chip is typed again, with the cursor at its end.
    h.key_press(egui::Key::Backspace);
    h.run_steps(2);
    assert_eq!(app(&h).compose.to, "hanako@example.net, jiro@example.org");
    assert!(h.query_by_label("jiro@example.org を外す").is_none());
    h.key_press(egui::Key::Backspace);
    h.run_steps(2);
    assert_eq!(app(&h).compose.to, "hanako@example.net, jiro@example.or");
    // × removes the first whole; what is being typed stays.
    click(&mut h, "hanako@example.net を外す");
    assert_eq!(app(&h).compose.to, "jiro@example.or");
    // A bad address becomes a chip too, and says why.
    h.get_by_label("宛先").focus();
    h.run_steps(2);
    h.get_by_label("宛先").type_text("g, hana@@example.net, ");
    h.run_steps(2);
    assert_eq!(app(&h).compose.to, "jiro@example.org, hana@@example.net, ");
    h.get_by_label("hana@@example.net を外す");
    h.get_by_label("hana@@example.net: @ が 2 つ以上あります");
    // A click on a chip takes it back into the box to be mended.
    click(&mut h, "hana@@example.net");
    assert_eq!(app(&h).compose.to, "jiro@example.org, hana@@example.net");
    assert!(h.get_by_label("宛先").is_focused());
}

/// A new message starts with the 署名 of 設定; a message that holds only it counts as nothing
/// written (a draft handed back takes its place), and after 送信 the next starts with it again.
#[test]
fn a_new_message_starts_with_the_signature() {
    let _g = lock();
    let b = started();
    b.publish(|v| v.settings.signature = "――\n山田 太郎\n".into());
    let mut h = harness(&b);
    h.run_steps(2);
    assert_eq!(app(&h).compose.body, "\n\n――\n山田 太郎\n");
    // Only the 署名: a draft from 編集 takes its place.
    b.hand(Handed::ForCompose(Unsent {
        to: "hanako@example.net".into(),
        body: "書きかけ".into(),
        ..Unsent::default()
    }));
    h.run_steps(2);
    assert_eq!(app(&h).compose.body, "書きかけ");
    click(&mut h, "送信");
    assert_eq!(sends(&b.take()).len(), 1);
    h.run_steps(2);
    assert_eq!(app(&h).compose.body, "\n\n――\n山田 太郎\n", "the next message has no 署名");
    assert_eq!(app(&h).compose.to, "");
}

/// 送信予約: 「日時を指定して送信…」 offers the next morning; a past or malformed time says why and
/// cannot be chosen; 「この日時に送信」 hands the message over with its time; the toast and
/// 送信トレイ say when it will go.
#[test]
fn a_message_can_be_timed_and_says_when_it_will_go() {
    use popsend::core::sending::schedule;
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    type_into(&mut h, "宛先", "sensei@example.ac.jp");
    type_into(&mut h, "件名", "レポート");
    click(&mut h, "日時を指定して送信…");
    let (date, time) = schedule::next_morning(t0());
    assert_eq!(h.get_by_label("日付").value().as_deref(), Some(date.as_str()));
    assert_eq!(h.get_by_label("時刻").value().as_deref(), Some(time.as_str()));

    // A time gone by cannot be chosen.
    h.get_by_label("日付").focus();
    h.run_steps(1);
    for _ in 0..date.chars().count() {
        h.key_press(egui::Key::Backspace);
    }
    h.get_by_label("日付").type_text("2000-01-01");
    h.run_steps(2);
    h.get_by_label("すでに過ぎた日時です。今より後の日時を入れてください");
    assert!(h.get_by_label("この日時に送信").accesskit_node().is_disabled());
    for _ in 0.."2000-01-01".chars().count() {
        h.key_press(egui::Key::Backspace);
    }
    h.get_by_label("日付").type_text(&date);
    h.run_steps(2);
    click(&mut h, "この日時に送信");
    let requests = b.take();
    let at = schedule::parse(&date, &time, t0()).unwrap();
    match requests.as_slice() {
        [Request::Send { draft, now: false, at: Some(a), .. }] => {
            assert_eq!(*a, at);
            assert_eq!(draft.subject, "レポート");
        }
        other => panic!("{other:?}"),
    }

    b.hand(Handed::Queued { ticket: 1, message_id: "<9@popsend.test>".into() });
    let mut r = row(9, "レポート", None);
    r.to = "sensei@example.ac.jp".into();
    r.send_at = Some(at);
    r.next_attempt = at;
    b.publish(|v| v.waiting = Arc::new(vec![r]));
    h.run_steps(2);
    let when = popsend::text::words::local_time(at, "%Y-%m-%d %H:%M");
    h.get_by_label(&format!("{when} に送信するよう予約しました: sensei@example.ac.jp 宛て、件名「レポート」"));
    assert!(h.query_by_label_contains("今すぐ送信").is_none(), "今すぐ送信 offered for a message it would not send");
    click(&mut h, "送信トレイ (1)");
    h.get_by_label("送信予約");
    h.get_by_label(&popsend::text::words::list_time(at, t0()));

    // 編集 keeps its time: 作成 opens with the draft and its 送信予約 row set to that time.
    click(&mut h, "レポート");
    click(&mut h, "編集");
    assert!(matches!(
        b.take().as_slice(),
        [Request::Engine(Some(0), popsend::core::sending::engine::Command::Edit(9))]
    ));
    b.publish(|v| v.waiting = Arc::new(Vec::new()));
    b.hand(Handed::ForCompose(Unsent {
        to: "sensei@example.ac.jp".into(),
        subject: "レポート".into(),
        ..Unsent::default()
    }));
    b.hand(Handed::EditedAt(at));
    h.run_steps(3);
    assert_eq!(app(&h).tab, Tab::Compose);
    assert_eq!(h.get_by_label("日付").value().as_deref(), Some(date.as_str()));
    assert_eq!(h.get_by_label("時刻").value().as_deref(), Some(time.as_str()));
}

/// 設定's 明るさ: light or dark as chosen, whatever the desktop prefers; unset, the desktop's.
#[test]
fn the_chosen_light_or_dark_look_is_used() {
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    b.publish(|v| v.settings.theme = "dark".into());
    h.run_steps(2);
    assert_eq!(h.ctx.theme(), egui::Theme::Dark, "ダーク was not used");
    b.publish(|v| v.settings.theme = "light".into());
    h.run_steps(2);
    assert_eq!(h.ctx.theme(), egui::Theme::Light, "ライト was not used");
}

/// Several drafts: 「下書きに保存」 puts the message aside and frees 作成; 「下書き (n)」 lists them
/// newest first with their time; opening one while writing puts what is written aside first,
/// so nothing is lost; 削除 asks first.
#[test]
fn drafts_are_put_aside_listed_and_opened_without_losing_what_is_written() {
    use popsend::core::message::drafts::Kept;
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    assert!(h.get_by_label("下書きに保存").accesskit_node().is_disabled(), "下書きに保存 with nothing written");
    type_into(&mut h, "宛先", "hanako@example.net");
    type_into(&mut h, "件名", "ゼミの連絡");
    click(&mut h, "下書きに保存");
    let requests = b.take();
    match requests.as_slice() {
        [Request::KeepDraft(d)] => assert_eq!(d.subject, "ゼミの連絡"),
        other => panic!("{other:?}"),
    }
    assert!(app(&h).compose.is_empty(), "作成 was not freed");
    let kept = |id: &str, subject: &str, ago: u64| Kept {
        id: id.into(),
        draft: Unsent { to: "hanako@example.net".into(), subject: subject.into(), ..Unsent::default() },
        kept_at: t0() - Duration::from_secs(ago),
    };
    b.publish(|v| v.kept = Arc::new(vec![kept("2", "ゼミの連絡", 60), kept("1", "古い下書き", 7200)]));
    h.run_steps(2);
    type_into(&mut h, "件名", "書きかけ");
    click(&mut h, "下書き (2)");
    let at = popsend::text::words::list_time(t0() - Duration::from_secs(7200), t0());
    click(&mut h, &format!("古い下書き (hanako@example.net) {at}"));
    let requests = b.take();
    match requests.as_slice() {
        [Request::OpenKept { id, put_aside: Some(d) }] => {
            assert_eq!((d.subject.as_str(), id.as_str()), ("書きかけ", "1"), "what was written was not put aside")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(app(&h).compose.subject, "書きかけ", "作成 changed before the worker answered");
    b.hand(Handed::OpenedKept(kept("1", "古い下書き", 0).draft));
    h.run_steps(2);
    assert_eq!(app(&h).compose.subject, "古い下書き");

    // 削除 asks first.
    b.publish(|v| v.kept = Arc::new(vec![kept("2", "ゼミの連絡", 60)]));
    h.run_steps(2);
    click(&mut h, "下書き (1)");
    click(&mut h, "削除");
    assert!(b.take().is_empty(), "deleted without asking");
    if h.query_by_label("本当に削除する").is_none() {
        click(&mut h, "下書き (1)");
    }
    click(&mut h, "本当に削除する");
    let requests = b.take();
    assert!(matches!(requests.as_slice(), [Request::DeleteKept(id)] if id == "2"), "{requests:?}");

    // One that cannot be read is shown as such and can be deleted too.
    b.publish(|v| {
        v.kept = Arc::new(Vec::new());
        v.kept_damaged = Arc::new(vec!["123".into()]);
    });
    h.run_steps(2);
    click(&mut h, "下書き (1)");
    h.get_by_label("読めない下書き (drafts/123.toml)");
    click(&mut h, "削除");
    if h.query_by_label("本当に削除する").is_none() {
        click(&mut h, "下書き (1)");
    }
    click(&mut h, "本当に削除する");
    let requests = b.take();
    assert!(matches!(requests.as_slice(), [Request::DeleteKept(id)] if id == "123"), "{requests:?}");
}

/// アドレス帳 in 設定: the count, an entry added (its address checked as typed) and handed over
/// whole; in 作成, a name typed offers its address.
#[test]
fn the_address_book_is_edited_in_settings_and_completes_by_name() {
    use popsend::core::message::contacts::Contact;
    let _g = lock();
    let b = started();
    let book = vec![Contact { name: "山田 太郎".into(), address: "yamada@example.ac.jp".into() }];
    b.publish(|v| v.contacts = Arc::new(book.clone()));
    let mut h = harness(&b);
    h.run_steps(2);
    type_into(&mut h, "宛先", "山田");
    click(&mut h, "山田 太郎 <yamada@example.ac.jp>");
    assert_eq!(app(&h).compose.to, "yamada@example.ac.jp, ");

    click(&mut h, "設定");
    h.get_by_label("1 件");
    click(&mut h, "一覧と追加");
    type_into(&mut h, "アドレス", "hanako@@example.org");
    h.get_by_label("@ が 2 つ以上あります");
    assert!(h.get_by_label("追加").accesskit_node().is_disabled());
    h.get_by_label("アドレス").focus();
    h.run_steps(1);
    for _ in 0.."hanako@@example.org".chars().count() {
        h.key_press(egui::Key::Backspace);
    }
    h.get_by_label("アドレス").type_text("hanako@example.org");
    h.run_steps(2);
    type_into(&mut h, "名前", "佐藤 花子");
    click(&mut h, "追加");
    let requests = b.take();
    match requests.as_slice() {
        [Request::AddContact(c)] => {
            assert_eq!((c.name.as_str(), c.address.as_str()), ("佐藤 花子", "hanako@example.org"));
        }
        other => panic!("{other:?}"),
    }
}

/// More than one 署名: 作成 offers them; choosing one replaces the 署名 at the end of the body and
/// keeps what was written above it; the next message starts with 設定's 署名 again.
#[test]
fn another_signature_can_be_chosen_in_compose() {
    let _g = lock();
    let b = started();
    b.publish(|v| {
        v.settings.signature = "――\n山田 太郎".into();
        v.settings.other_signatures = vec![("サークル用".into(), "――\nたろう (テニス部)".into())];
    });
    let mut h = harness(&b);
    h.run_steps(2);
    assert_eq!(app(&h).compose.body, "\n\n――\n山田 太郎\n");
    h.state_mut().as_mut().unwrap().compose.body.insert_str(0, "練習の連絡です。");
    h.run_steps(1);
    assert_eq!(h.get_by_label("署名").value().as_deref(), Some("標準"));
    click(&mut h, "署名");
    click(&mut h, "サークル用");
    assert_eq!(app(&h).compose.body, "練習の連絡です。\n\n――\nたろう (テニス部)\n");
    type_into(&mut h, "宛先", "club@example.org");
    click(&mut h, "送信");
    h.run_steps(2);
    assert_eq!(app(&h).compose.body, "\n\n――\n山田 太郎\n", "the next message did not start with 設定's 署名");
}

/// The countdown is the pinned clock's: a window opened 2 minutes ago, 10 minutes long.
#[test]
fn the_countdown_reads_the_clock_it_is_given() {
    let _g = lock();
    let b = started();
    b.publish(|v| {
        if let Some(s) = v.snapshot.as_mut() {
            s.window = Some(RelayWindow { opened: t0() - Duration::from_secs(120), length: Duration::from_secs(600) });
            s.online = Some(true);
        }
    });
    let mut h = harness(&b);
    h.run_steps(2);
    h.get_by_label("送信できます あと 08:00");
    // Closed once the clock passes the end.
    b.publish(|v| {
        if let Some(s) = v.snapshot.as_mut() {
            s.window = Some(RelayWindow { opened: t0() - Duration::from_secs(700), length: Duration::from_secs(600) });
        }
    });
    h.run_steps(2);
    assert!(h.query_by_label_contains("送信できます あと").is_none());
    h.get_by_label("送信できる時間が終わりました (次に送るとき自動で POP 認証します)");
}

/// A second of the countdown changes only the countdown: of the frame's meshes, the ones that
/// differ from the last frame's hold the sentence and the bar, not the account's name nor the
/// buttons beside them (the CPU renderer redraws what changed, every second the window is open).
#[test]
fn a_second_of_the_countdown_changes_only_the_countdown() {
    let _g = lock();
    let b = started();
    let open = |ago: u64| {
        b.publish(|v| {
            let s = v.snapshot.as_mut().unwrap();
            s.window = Some(RelayWindow { opened: t0() - Duration::from_secs(ago), length: Duration::from_secs(600) });
            s.online = Some(true);
            s.counts.queued = 1;
        })
    };
    open(120);
    b.publish(|v| v.waiting = Arc::new(vec![row(1, "レポート", None)]));
    let mut h = harness(&b);
    h.run_steps(4);
    h.get_by_label("送信できます あと 08:00");
    let meshes = |h: &Harness<'static, Option<App>>| {
        let out = h.output();
        h.ctx.tessellate(out.shapes.clone(), out.pixels_per_point)
    };
    let before = meshes(&h);
    open(121);
    h.run_steps(2);
    let sentence = h.get_by_label("送信できます あと 07:59").rect();
    let after = meshes(&h);
    let mesh = |p: &egui::ClippedPrimitive| match &p.primitive {
        egui::epaint::Primitive::Mesh(m) => Some((p.clip_rect, m.clone())),
        egui::epaint::Primitive::Callback(_) => None,
    };
    let before: Vec<_> = before.iter().filter_map(mesh).collect();
    let changed = after
        .iter()
        .filter_map(mesh)
        .filter(|p| !before.contains(p))
        .map(|(clip, m)| m.calc_bounds().intersect(clip))
        .fold(egui::Rect::NOTHING, |a, b| a.union(b));
    assert!(changed.intersects(sentence), "the countdown's sentence was not redrawn: {changed:?}, {sentence:?}");
    for still in ["taro@popsend.test", "POP 認証", "今すぐ送信 (1)"] {
        let r = h.get_by_label(still).rect();
        assert!(!changed.intersects(r), "{still} ({r:?}) changed with the countdown ({changed:?})");
    }
}

/// A row of 送信トレイ, opened, says what the command line says for the same failure: the headline, the
/// server's reply and the next step of its kind.
#[test]
fn a_waiting_row_explains_its_failure_as_the_command_line_does() {
    let _g = lock();
    let b = started();
    let refusal = Described {
        kind: Kind::RelayDenied,
        reply: Some("554 5.7.1 <hanako@example.net>: Relay access denied".into()),
        detail: "SMTP RCPT TO".into(),
    };
    let explained = popsend::text::words::explain(&refusal);
    b.publish(|v| v.waiting = Arc::new(vec![row(7, "期末レポート", Some(refusal.clone()))]));
    let mut h = harness(&b);
    h.run_steps(2);
    click(&mut h, "送信トレイ (1)");
    h.get_by_label(&popsend::text::words::reason(Kind::RelayDenied));
    // The next retry, by the pinned clock (90 s away).
    h.get_by_label_contains("01:30");
    // A click on the row opens it beside the table.
    click(&mut h, "期末レポート");
    h.get_by_label(&explained.headline);
    for line in explained.lines() {
        h.get_by_label(&line);
    }
    assert!(explained.lines().iter().any(|l| l.starts_with("次にすること")), "{explained:?}");
    // 「説明を見る」 opens the page that explains it in 設定ガイド.
    click(&mut h, "説明を見る");
    assert_eq!(app(&h).tab, Tab::Guides);
    assert_eq!(app(&h).guide_query, "error-relay-refused");
    assert!(h.query_all_by_label_contains("0x800CCC78").count() >= 1);
    h.get_by_label_contains("出典: ");
}

/// A core failure in the status line: the kind's Japanese headline, not the English detail alone.
#[test]
fn a_failure_shows_its_japanese_headline_and_next_step() {
    let _g = lock();
    let b = started();
    b.publish(|v| {
        v.problem = Some(Problem::Failed(Described {
            kind: Kind::Outbox,
            reply: None,
            detail: "/data/outbox.sqlite: database or disk is full".into(),
        }))
    });
    let mut h = harness(&b);
    h.run_steps(2);
    // The headline and the next step; the system's English detail folded below them.
    h.get_by_label_contains(
        "送信トレイ (送信待ちのメッセージを保存するファイル) を読み書きできません。\n次にすること: ディスクの空き",
    );
    assert!(h.query_by_label_contains("database or disk is full").is_none(), "the detail is not folded");
    click(&mut h, "管理者向けの詳しい情報");
    h.get_by_label("詳細: /data/outbox.sqlite: database or disk is full");
}

/// 編集 asks for the message; the draft the backend then hands back fills 作成.
#[test]
fn edit_asks_for_the_message_and_its_draft_comes_back_into_compose() {
    let _g = lock();
    let b = started();
    b.publish(|v| v.waiting = Arc::new(vec![row(3, "書きかけ", None)]));
    let mut h = harness(&b);
    h.run_steps(2);
    click(&mut h, "送信トレイ (1)");
    click(&mut h, "書きかけ");
    click(&mut h, "編集");
    let requests = b.take();
    assert!(
        requests
            .iter()
            .any(|r| matches!(r, Request::Engine(Some(0), popsend::core::sending::engine::Command::Edit(3)))),
        "{requests:?}"
    );
    b.publish(|v| v.waiting = Arc::new(Vec::new()));
    b.hand(Handed::ForCompose(Unsent {
        to: "hanako@example.net".into(),
        body: "書きかけ".into(),
        ..Unsent::default()
    }));
    h.run_steps(3);
    assert_eq!(app(&h).tab, Tab::Compose);
    assert_eq!((app(&h).compose.to.as_str(), app(&h).compose.body.as_str()), ("hanako@example.net", "書きかけ"));
}

/// Closing with a message waiting asks first; キャンセル keeps the window, and the draft is handed
/// over for saving at the close request.
#[test]
fn closing_with_a_waiting_message_asks_and_hands_the_draft_over() {
    let _g = lock();
    let b = started();
    b.publish(|v| v.waiting = Arc::new(vec![row(1, "送信待ち", None)]));
    let mut h = harness(&b);
    h.run_steps(2);
    type_into(&mut h, "宛先", "jiro@example.net");
    b.take();
    h.input_mut().viewports.entry(egui::ViewportId::ROOT).or_default().events.push(egui::ViewportEvent::Close);
    h.run_steps(3);
    h.get_by_label_contains("まだ送っていないメッセージが 1 通");
    h.get_by_label("バックグラウンドで送信を続ける");
    h.get_by_label("終了する (次回起動時に送信)");
    let requests = b.take();
    assert!(
        requests.iter().any(|r| matches!(r, Request::SaveDraft(d) if d.to == "jiro@example.net")),
        "the draft was not handed over at the close request: {requests:?}"
    );
    click(&mut h, "キャンセル");
    assert!(h.query_by_label("バックグラウンドで送信を続ける").is_none(), "the question stayed after キャンセル");
    assert!(!b.take().iter().any(|r| matches!(r, Request::Shutdown { .. })), "キャンセル shut the backend down");
}

/// A worker that died and was started again, or stopped for good, is told — not left to look
/// like a busy one.
#[test]
fn a_restarted_or_stopped_worker_is_told() {
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    b.hand(Handed::Restarted);
    h.run_steps(2);
    h.get_by_label_contains("内部のエラーで処理が止まったため、やり直しました");
    b.publish(|v| v.problem = Some(Problem::WorkerStopped));
    h.run_steps(2);
    h.get_by_label_contains("popsend を終了して、起動し直してください");
}

/// The status bar's buttons pass the engine's commands on as they are; without an account there
/// are none, only a line saying where the status will be; 今すぐ送信 shows only when something
/// waits, with the count.
#[test]
fn the_status_bar_buttons_send_the_engines_commands() {
    use popsend::core::sending::engine::Command;
    let _g = lock();
    let b = Scripted::default();
    let mut h = harness(&b);
    h.run_steps(2);
    h.get_by_label_contains("アカウントを保存すると");
    assert!(h.query_by_label("今すぐ送信").is_none() && h.query_by_label("POP 認証").is_none());
    b.publish(|v| v.account = "taro@popsend.test".into());
    h.run_steps(2);
    // Issue 29: nothing waits, so there is no button to send now; then it shows how many wait.
    assert!(h.query_by_label_contains("今すぐ送信").is_none(), "今すぐ送信 with nothing waiting");
    b.publish(|v| v.waiting = Arc::new(vec![row(1, "レポート", None), row(2, "資料", None)]));
    h.run_steps(2);
    click(&mut h, "今すぐ送信 (2)");
    click(&mut h, "POP 認証");
    let requests = b.take();
    assert!(
        matches!(
            requests.as_slice(),
            [Request::Engine(None, Command::FlushNow), Request::Engine(None, Command::LoginNow)]
        ),
        "{requests:?}"
    );
}

/// ISO-2022-JP cannot carry a character: the message comes back to 作成 with the characters
/// named, and 「UTF-8 で送る」 sends it again the way it was sent (at once), in UTF-8.
#[test]
fn characters_iso_2022_jp_cannot_carry_offer_utf8() {
    use popsend::core::message::compose::Charset;
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    type_into(&mut h, "宛先", "hanako@example.net");
    type_into(&mut h, "件名", "①番の件");
    click(&mut h, "送信");
    let requests = b.take();
    let Some(Request::Send { draft, now: true, charset: None, at: None, .. }) = requests.first() else {
        panic!("{requests:?}")
    };
    assert!(h.query_by_label("UTF-8 で送る").is_none());
    b.publish(|v| {
        v.problem = Some(Problem::Failed(Described {
            kind: Kind::Unencodable,
            reply: None,
            detail: "ISO-2022-JP cannot carry: ① (U+2460)".into(),
        }))
    });
    b.hand(Handed::ForCompose((**draft).clone()));
    h.run_steps(3);
    h.get_by_label_contains("ISO-2022-JP (従来の日本語メール) では送れない文字があるため");
    h.get_by_label_contains("① (U+2460)");
    assert_eq!(app(&h).compose.subject, "①番の件", "the message is back in 作成");
    click(&mut h, "UTF-8 で送る");
    let requests = b.take();
    assert!(
        matches!(requests.as_slice(), [Request::Send { draft, now: true, charset: Some(Charset::Utf8), at: None, .. }] if draft.subject == "①番の件"),
        "{requests:?}"
    );
}

/// Issue 13: 設定 shows where other programs send to and lets the local login be copied — the
/// password itself is never drawn.
#[test]
fn settings_show_the_submission_server_and_copy_its_login() {
    use popsend::app::backend::SubmissionView;
    use popsend::core::protocol::smtpd::LocalLogin;
    let _g = lock();
    let b = started();
    b.publish(|v| {
        v.submission = Some(SubmissionView {
            port: 2525,
            login: Some(LocalLogin {
                user: "popsend".into(),
                password: popsend::core::system::secrets::Password::new("local-secret-123".into()),
                renewed: false,
            }),
            problem: None,
        })
    });
    let mut h = harness(&b);
    h.run_steps(2);
    click(&mut h, "設定");
    h.get_by_label_contains("サーバー名 localhost、2525 番ポート");
    h.get_by_label("パスワードをコピー");
    assert!(h.query_by_label_contains("local-secret-123").is_none(), "the password is drawn");
    use popsend::core::protocol::smtpd::{Holder, PortTaken};
    use popsend::core::sending::host::SubmissionProblem;
    let taken = |holder| {
        Some(SubmissionProblem::Port(PortTaken { holder, detail: "Address already in use".into(), other_user: None }))
    };
    b.publish(|v| v.submission = Some(SubmissionView { port: 2525, login: None, problem: taken(Holder::Silent) }));
    h.run_steps(2);
    h.get_by_label_contains("2525 番ポートを開けません: Address already in use");
    b.publish(|v| v.submission = Some(SubmissionView { port: 2525, login: None, problem: taken(Holder::Popsend) }));
    h.run_steps(2);
    h.get_by_label_contains("2525 番ポートでは、すでに popsend がメールを受け付けています");
    b.publish(|v| {
        v.submission = Some(SubmissionView {
            port: 2525,
            login: None,
            problem: taken(Holder::Other("220 mx ESMTP Postfix".into())),
        })
    });
    h.run_steps(2);
    h.get_by_label_contains("あいさつ: 「220 mx ESMTP Postfix」");
}

/// Issue 24: when another port than the configured one took the mail from this network, the
/// window says so once, in one sentence; 設定 shows the port in use there, and offers to keep
/// the configured port only.
#[test]
fn the_port_found_behind_op25b_is_told_once_and_shown_in_settings() {
    use popsend::core::sending::deliver::Learned;
    use popsend::core::sending::route::{Route, Via};
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    b.hand(Handed::RouteLearned(Learned { port: 587, configured: 25, auth: false }));
    b.publish(|v| v.smtp_route = Some(Route { port: 587, via: Via::Other { tls: false, auth: false } }));
    h.run_steps(2);
    h.get_by_label_contains("この回線からは 25 番ポートが応答しなかったため、同じサーバーの 587 番ポートで送りました");
    click(&mut h, "設定");
    h.get_by_label_contains("587 番ポートで送っています");
    h.get_by_label_contains("詳細設定").click();
    h.run_steps(3);
    h.get_by_label_contains("設定したポートだけを使う");
    // Where the configured port works, nothing is said about it.
    b.publish(|v| v.smtp_route = Some(Route { port: 25, via: Via::Configured }));
    h.run_steps(2);
    assert!(h.query_by_label_contains("番ポートで送っています").is_none());
}

/// Issue 25: 「自分で設定する」 in はじめての設定 carries over everything typed: the address, the
/// sender's name, the password (into 設定's unsaved field) and the local part as the user name.
#[test]
fn setting_up_by_hand_keeps_what_was_typed() {
    use popsend::app::backend::Problem;
    let _g = lock();
    let b = started();
    // As the worker publishes a first start: no account, setup needed.
    b.publish(|v| {
        v.problem = Some(Problem::SetupNeeded);
        v.account.clear();
    });
    let mut h = harness(&b);
    h.run_steps(3);
    // Issue 29: the first run is the assistant alone, with its step count; no tabs yet.
    h.get_by_label("ステップ 1 / 3");
    assert!(h.query_by_label("送信済み").is_none(), "tabs before an account exists");
    // A greyed 次へ says what it waits for.
    h.get_by_label("メールアドレスとパスワードを入れると次へ進めます");
    type_into(&mut h, "メールアドレス", "taro@example.ac.jp");
    type_into(&mut h, "パスワード", "typed-once");
    assert!(h.query_by_label("メールアドレスとパスワードを入れると次へ進めます").is_none());
    type_into(&mut h, "差出人の名前", "山田 太郎");
    click(&mut h, "自分で設定する");
    assert_eq!(app(&h).tab, Tab::Settings);
    h.get_by_label("送信済み");
    let (form, password_typed) = app(&h).settings_draft();
    assert_eq!(
        (form.address.as_str(), form.pop_username.as_str(), form.display_name.as_str()),
        ("taro@example.ac.jp", "taro", "山田 太郎")
    );
    assert!(password_typed, "the password was dropped");
}

/// A problem that appears above 作成 while the student types (the worker's first result, say)
/// leaves the cursor where it was.
#[test]
fn the_cursor_stays_in_its_field_when_a_problem_appears() {
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    h.get_by_label("件名").focus();
    h.run_steps(2);
    assert!(h.get_by_label("件名").is_focused());
    b.publish(|v| {
        v.problem =
            Some(Problem::Failed(Described { kind: Kind::NoPassword, reply: None, detail: "no keyring".into() }))
    });
    h.run_steps(3);
    assert!(h.get_by_label("件名").is_focused(), "the problem took the cursor out of 件名");
}

/// Issue 25: a failure whose hint names a field of 設定 has 「設定で直す」, which opens that
/// field (詳細設定 unfolded) with the cursor in it.
#[test]
fn a_hint_opens_the_field_it_names() {
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    for (kind, field) in [
        (Kind::Cleartext, "POP の暗号化"),
        (Kind::SmtpAuthNotOffered, "SMTP 認証のユーザー名"),
        (Kind::Certificate, "認証局の証明書ファイル"),
    ] {
        b.publish(|v| v.problem = Some(Problem::Failed(Described { kind, reply: None, detail: String::new() })));
        h.run_steps(2);
        click(&mut h, "設定で直す");
        assert_eq!(app(&h).tab, Tab::Settings);
        assert!(h.get_by_label(field).is_focused(), "{kind:?}: the cursor is not in {field}");
        click(&mut h, "作成");
    }
    // A failure no field of 設定 cures has no such button.
    b.publish(|v| {
        v.problem = Some(Problem::Failed(Described { kind: Kind::Offline, reply: None, detail: String::new() }))
    });
    h.run_steps(2);
    assert!(h.query_by_label("設定で直す").is_none());
}

/// Issue 29: the status bar says one sentence with a colour, consistent with what just
/// happened — before any login, with the sending time open, offline, stopped on a refused
/// password (with the way to type it), and while sending (the countdown beside it).
#[test]
fn the_status_is_one_sentence_that_follows_what_happened() {
    use popsend::core::sending::outbox::Pause;
    let _g = lock();
    let b = started();
    let mut h = harness(&b);
    h.run_steps(2);
    h.get_by_label("送るときに自動で POP 認証します");
    let open = RelayWindow { opened: t0() - Duration::from_secs(15), length: Duration::from_secs(600) };
    b.publish(|v| v.snapshot.as_mut().unwrap().window = Some(open));
    h.run_steps(2);
    h.get_by_label("送信できます あと 09:45");
    b.publish(|v| v.snapshot.as_mut().unwrap().online = Some(false));
    h.run_steps(2);
    h.get_by_label("オフライン: つながったら送ります");
    h.get_by_label("(送信できる時間 あと 09:45)");
    let refused = Described { kind: Kind::WrongPassword, reply: Some("-ERR [AUTH] no".into()), detail: String::new() };
    b.publish(|v| {
        let s = v.snapshot.as_mut().unwrap();
        s.online = Some(true);
        s.paused = Some(Pause { error: refused.clone(), config: String::new() });
        v.problem = Some(Problem::Failed(refused.clone()));
    });
    h.run_steps(2);
    h.get_by_label("ログインできません: パスワードが違います");
    click(&mut h, "パスワードを入力");
    assert!(h.get_by_label("正しいパスワード").is_focused(), "the password field did not take the cursor");
    b.publish(|v| {
        let s = v.snapshot.as_mut().unwrap();
        s.paused = None;
        s.activity = Activity::Sending(1);
        v.problem = None;
    });
    h.run_steps(2);
    h.get_by_label("送信中 (1 通)");
    h.get_by_label("(送信できる時間 あと 09:45)");
}

/// Issue 28: two accounts. 作成 has 差出人 (the default chosen) and the message goes with the
/// account chosen, whose 署名 takes the default's place; 送信トレイ says whose each message is;
/// the status bar shows the second account's relay window beside the first's state.
#[test]
fn two_accounts_the_sender_the_rows_and_both_windows() {
    let _g = lock();
    let b = started();
    // Both accounts' windows open: the first's 2 minutes ago, the second's 7.
    b.publish(|v| {
        if let Some(s) = v.snapshot.as_mut() {
            s.window = Some(RelayWindow { opened: t0() - Duration::from_secs(120), length: Duration::from_secs(600) });
            s.online = Some(true);
        }
    });
    let config = popsend::core::setup::account::Config::parse(
        "[account]\naddress = \"taro@popsend.test\"\nname = \"大学\"\nsignature = \"大学の署名\"\n[pop]\nhost = \"pop.popsend.test\"\nusername = \"taro\"\n[smtp]\n\
         [[accounts]]\n[accounts.account]\naddress = \"lab@popsend.test\"\nname = \"研究室\"\nsignature = \"研究室の署名\"\n[accounts.pop]\nhost = \"pop.popsend.test\"\nusername = \"lab\"\n[accounts.smtp]\n",
        std::path::Path::new("c.toml"),
    )
    .unwrap();
    b.publish(|v| {
        v.label = "大学".into();
        v.settings = popsend::app::form::Form::from_config(&config);
        v.others = vec![popsend::app::backend::AccountView {
            label: "研究室".into(),
            address: "lab@popsend.test".into(),
            snapshot: Some(Snapshot {
                counts: Counts::default(),
                window: Some(RelayWindow { opened: t0() - Duration::from_secs(420), length: Duration::from_secs(600) }),
                online: Some(true),
                activity: Activity::Idle,
                paused: None,
                next_attempt: None,
            }),
            problem: None,
            password: None,
        }];
        v.waiting =
            Arc::new(vec![Row { account: 1, ..row(4, "研究室からのお知らせ", None) }, row(4, "大学から", None)]);
    });
    let mut h = harness(&b);
    h.run_steps(3);
    // The status bar: two countdowns, the first account's by its name, the second's beside it.
    h.get_by_label("大学");
    h.get_by_label("送信できます あと 08:00");
    h.get_by_label("研究室");
    h.get_by_label("送信できます あと 03:00");
    // 作成: the default is chosen and its 署名 is in the body; choosing 研究室 swaps the 署名.
    assert_eq!(app(&h).compose.body, "\n\n大学の署名\n");
    h.get_by_label("差出人").click();
    h.run_steps(2);
    // Each account by its name and address (the first's from 設定's fields, as the others').
    assert!(h.get_all_by_label("大学 — taro@popsend.test").count() >= 1);
    h.get_by_label("研究室 — lab@popsend.test").click();
    h.run_steps(3);
    assert_eq!(app(&h).compose.body, "\n\n研究室の署名\n");
    type_into(&mut h, "宛先", "teacher@example.net");
    type_into(&mut h, "件名", "ゼミの連絡");
    click(&mut h, "送信");
    h.run_steps(2);
    let requests = b.take();
    assert_eq!(sends(&requests)[0].0.from, "lab@popsend.test", "the message is not 研究室's");
    // A draft handed back (編集, or one that could not be built) comes back from its account.
    b.hand(Handed::ForCompose(Unsent {
        to: "teacher@example.net".into(),
        subject: "戻ってきた".into(),
        from: "LAB@popsend.test".into(),
        ..Unsent::default()
    }));
    h.run_steps(3);
    click(&mut h, "送信");
    h.run_steps(2);
    let requests = b.take();
    assert!(
        requests.iter().any(|r| matches!(r, Request::Send { draft, .. } if draft.subject == "戻ってきた" && draft.from == "LAB@popsend.test")),
        "{requests:?}"
    );
    // 送信トレイ: an アカウント column, each row with its account; the same number in two
    // accounts is two rows, each opened and acted on as its own.
    h.state_mut().as_mut().unwrap().tab = Tab::Outbox;
    h.run_steps(3);
    h.get_by_label("アカウント");
    // 大学 in the status bar and in its row.
    assert_eq!(h.get_all_by_label("大学").count(), 2);
    h.get_by_label("研究室からのお知らせ").click();
    h.run_steps(3);
    click(&mut h, "再送");
    assert!(
        b.take()
            .iter()
            .any(|r| matches!(r, Request::Engine(Some(1), popsend::core::sending::engine::Command::Retry(4)))),
        "再送 went to another account's message"
    );
    // A failure above the tabs says whose it is.
    b.publish(|v| {
        v.problem = Some(Problem::Failed(Described::local(Kind::Outbox, "disk full")));
        v.problem_of = 1;
    });
    h.run_steps(3);
    h.get_by_label("「研究室」のアカウント:");
}

/// The window's size and place are kept in the desktop's points whatever 文字サイズ is, so a
/// window at 150 % opens next time as large as it closed (it used to shrink by 文字サイズ at each
/// start).
#[test]
fn the_window_size_is_kept_in_the_desktops_points_at_any_text_size() {
    let _g = lock();
    let b = started();
    b.publish(|v| v.settings.zoom = 1.5);
    let mut h = harness(&b);
    h.run_steps(3);
    let viewport = h.input_mut().viewports.entry(egui::ViewportId::ROOT).or_default();
    // egui's points at 150 %: 600 × 400 is 900 × 600 of the desktop's.
    viewport.inner_rect = Some(egui::Rect::from_min_size(egui::pos2(100.0, 60.0), egui::vec2(600.0, 400.0)));
    viewport.outer_rect = Some(egui::Rect::from_min_size(egui::pos2(100.0, 40.0), egui::vec2(600.0, 420.0)));
    viewport.events.push(egui::ViewportEvent::Close);
    h.run_steps(3);
    let saved = b.take().into_iter().find_map(|r| match r {
        Request::SaveGeometry(g) => Some(g),
        _ => None,
    });
    let g = saved.expect("no geometry handed over at the close request");
    assert_eq!((g.size, g.at), ([900.0, 600.0], Some([150.0, 60.0])));
}
