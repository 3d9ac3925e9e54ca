//! Japanese glyphs on any machine: the bundled Noto Sans CJK JP subset becomes a fallback of both
//! egui font families, after egui's own fonts (which have Latin but no kana or kanji).

use std::sync::Arc;

static NOTO_JP: &[u8] = include_bytes!("../../assets/fonts/NotoSansCJKjp-subset.otf");

pub fn install(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert("noto-sans-cjk-jp".into(), Arc::new(egui::FontData::from_static(NOTO_JP)));
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts.families.entry(family).or_default().push("noto-sans-cjk-jp".into());
    }
    ctx.set_fonts(fonts);
}
