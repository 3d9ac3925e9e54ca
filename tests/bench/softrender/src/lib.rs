//! A stand-in for popsend's 作成 tab (status bar with the mm:ss countdown, tabs, four one-line
//! fields, the body field, buttons) on egui 0.34, drawn by the backend each binary picks:
//! `glow` (eframe 0.34, OpenGL, as popsend draws) or `soft` (egui_software_backend 0.0.3, a CPU
//! rasterizer presenting through softbuffer). It measures what a CPU renderer would change
//! (tests/bench/softrender.sh); it is not popsend and ships nowhere. egui_software_backend has no
//! release for egui 0.37 yet, hence the stand-in.
use std::time::{Duration, Instant};

pub struct Ui {
    started: Instant,
    to: String,
    cc: String,
    bcc: String,
    subject: String,
    body: String,
    tab: usize,
}

pub fn fonts(ctx: &egui::Context) {
    let mut f = egui::FontDefinitions::default();
    f.font_data.insert("jp".into(), std::sync::Arc::new(egui::FontData::from_static(include_bytes!("../../../../assets/fonts/NotoSansCJKjp-subset.otf"))));
    f.families.get_mut(&egui::FontFamily::Proportional).unwrap().insert(0, "jp".into());
    ctx.set_fonts(f);
    // One repaint a second, as popsend's countdown asks (a thread: the software backend redraws
    // at once on request_repaint_after, whatever the delay).
    let c = ctx.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(1));
        c.request_repaint();
    });
}

impl Default for Ui {
    fn default() -> Self {
        Ui { started: Instant::now(), to: String::new(), cc: String::new(), bcc: String::new(), subject: String::new(), body: String::new(), tab: 0 }
    }
}

impl Ui {
    pub fn show(&mut self, ctx: &egui::Context, ui: &mut egui::Ui) {
        let left = 600u64.saturating_sub(self.started.elapsed().as_secs());
        ui.horizontal(|ui| {
            ui.label("taro@example.ac.jp");
            ui.label("● オフライン");
            ui.label(format!("送信可能 残り {:02}:{:02}", left / 60, left % 60));
            let _ = ui.button("今すぐ送信");
            let _ = ui.button("POP 認証");
        });
        ui.separator();
        ui.horizontal(|ui| {
            for (i, t) in ["作成", "送信トレイ (100)", "送信済み", "設定", "接続テスト", "設定ガイド"].iter().enumerate() {
                if ui.selectable_label(self.tab == i, *t).clicked() {
                    self.tab = i;
                }
            }
        });
        ui.separator();
        for (label, v) in [("宛先", &mut self.to), ("Cc", &mut self.cc), ("Bcc", &mut self.bcc), ("件名", &mut self.subject)] {
            ui.horizontal(|ui| {
                ui.label(label);
                ui.add(egui::TextEdit::singleline(v).desired_width(f32::INFINITY));
            });
        }
        ui.label("本文");
        ui.add(egui::TextEdit::multiline(&mut self.body).desired_width(f32::INFINITY).desired_rows(10));
        ui.horizontal(|ui| {
            let _ = ui.button("送信");
            let _ = ui.button("後で送信");
        });
        let _ = ctx;
    }
}
