//! Japanese glyphs on any machine: the bundled Noto Sans CJK JP subset becomes a fallback of both
//! egui font families, after egui's own fonts (which have Latin but no kana or kanji). Text is a
//! size larger than egui's defaults: kanji at 12.5 px are hard to read.

use std::sync::Arc;

static NOTO_JP: &[u8] = include_bytes!("../../assets/fonts/NotoSansCJKjp-subset.otf");

pub fn install(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert("noto-sans-cjk-jp".into(), Arc::new(egui::FontData::from_static(NOTO_JP)));
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts.families.entry(family).or_default().push("noto-sans-cjk-jp".into());
    }
    ctx.set_fonts(fonts);
    ctx.all_styles_mut(|style| {
        use egui::{FontFamily::Proportional, FontId, TextStyle};
        for (text, size) in
            [(TextStyle::Body, 14.5), (TextStyle::Button, 14.5), (TextStyle::Heading, 20.0), (TextStyle::Small, 11.5)]
        {
            style.text_styles.insert(text, FontId::new(size, Proportional));
        }
        style.text_styles.insert(TextStyle::Monospace, FontId::new(13.5, egui::FontFamily::Monospace));
    });
}
