//! The window's look, for the light and the dark theme alike: a type scale (headings clearly
//! larger than text), room between things, and colours that reach WCAG AA contrast (4.5:1) on
//! the window's background — text, hints, field and button outlines, errors, the green of "sent"
//! and the accent of the one primary button (white on it). Installed once on the context; it does
//! no I/O and draws nothing itself.

use egui::{Color32, FontId, Stroke, TextStyle};

/// The accent of the primary button (送信), with white text on it.
pub fn accent(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode { Color32::from_rgb(40, 110, 200) } else { Color32::from_rgb(0, 95, 184) }
}

/// The colour of what went well (sent, a step that passed).
pub fn good(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode { Color32::from_rgb(120, 210, 140) } else { Color32::from_rgb(20, 110, 50) }
}

/// The colour of every problem and refusal the window shows.
pub fn error(visuals: &egui::Visuals) -> Color32 {
    visuals.error_fg_color
}

/// Applies the type scale, spacing and colours to both themes.
pub fn install(ctx: &egui::Context) {
    ctx.all_styles_mut(|style| {
        let dark = style.visuals.dark_mode;
        for (text, size) in [
            (TextStyle::Small, 11.5),
            (TextStyle::Body, 14.0),
            (TextStyle::Button, 14.0),
            (TextStyle::Monospace, 13.0),
            (TextStyle::Heading, 20.0),
        ] {
            let family = style.text_styles.get(&text).map_or(egui::FontFamily::Proportional, |f| f.family.clone());
            style.text_styles.insert(text, FontId::new(size, family));
        }
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(8.0, 3.0);
        style.spacing.interact_size.y = 24.0;
        let v = &mut style.visuals;
        // Outlines a reader can see around every field and button (egui's are about 1.06:1).
        let outline = if dark { Color32::from_gray(150) } else { Color32::from_gray(110) };
        v.widgets.inactive.bg_stroke = Stroke::new(1.0, outline);
        v.widgets.noninteractive.bg_stroke.color = if dark { Color32::from_gray(90) } else { Color32::from_gray(200) };
        // Hints and secondary text (egui's fade to about 2.9:1).
        // egui's dark text (gray 140) is dim, and too faint on a selected row.
        if dark {
            v.widgets.noninteractive.fg_stroke.color = Color32::from_gray(210);
            v.widgets.inactive.fg_stroke.color = Color32::from_gray(225);
        }
        v.weak_text_color = Some(if dark { Color32::from_gray(165) } else { Color32::from_gray(95) });
        // Fields stay white (black in dark); the tracks behind bars (the countdown, scroll bars)
        // take a grey that shows against the window.
        v.text_edit_bg_color = Some(if dark { Color32::from_gray(12) } else { Color32::WHITE });
        v.extreme_bg_color = if dark { Color32::from_gray(62) } else { Color32::from_gray(215) };
        v.error_fg_color = if dark { Color32::from_rgb(255, 125, 105) } else { Color32::from_rgb(190, 45, 30) };
        v.selection.bg_fill = if dark { Color32::from_rgb(20, 45, 85) } else { Color32::from_rgb(215, 235, 255) };
        v.selection.stroke = Stroke::new(1.0, if dark { Color32::WHITE } else { Color32::from_rgb(0, 50, 110) });
    });
}

/// The WCAG 2 contrast ratio of two colours (1 to 21).
pub fn contrast(a: Color32, b: Color32) -> f32 {
    fn luminance(c: Color32) -> f32 {
        let lin = |v: u8| {
            let v = f32::from(v) / 255.0;
            if v <= 0.039_28 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * lin(c.r()) + 0.7152 * lin(c.g()) + 0.0722 * lin(c.b())
    }
    let (a, b) = (luminance(a), luminance(b));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_colour_reaches_wcag_aa_in_both_themes() {
        assert!((contrast(Color32::BLACK, Color32::WHITE) - 21.0).abs() < 0.01);
        let ctx = egui::Context::default();
        install(&ctx);
        for theme in [egui::Theme::Light, egui::Theme::Dark] {
            let v = ctx.style_of(theme).visuals.clone();
            let backgrounds = [("the window", v.panel_fill), ("a field", v.text_edit_bg_color())];
            let colours = [
                ("text", v.text_color()),
                ("hint text", v.weak_text_color()),
                ("a field or button outline", v.widgets.inactive.bg_stroke.color),
                ("an error", error(&v)),
                ("sent", good(&v)),
                ("button text", v.widgets.inactive.text_color()),
            ];
            for ((what, fg), (on, bg)) in colours.iter().flat_map(|c| backgrounds.iter().map(move |b| (*c, *b))) {
                let ratio = contrast(fg, bg);
                assert!(ratio >= 4.5, "{theme:?}: {what} on {on} is {ratio:.2}:1");
            }
            let track = contrast(v.extreme_bg_color, v.panel_fill);
            assert!(track >= 1.3, "{theme:?}: the countdown's track is {track:.2}:1 against the window");
            let on_accent = contrast(Color32::WHITE, accent(&v));
            assert!(on_accent >= 4.5, "{theme:?}: 送信's text is {on_accent:.2}:1");
            // egui_extras draws a selected row's text in the selection stroke's colour; the red of a
            // reason sits on it too.
            for (what, fg) in [("text", v.selection.stroke.color), ("a reason", error(&v))] {
                let ratio = contrast(fg, v.selection.bg_fill);
                assert!(ratio >= 4.5, "{theme:?}: a selected row's {what} is {ratio:.2}:1");
            }
            let heading = ctx.style_of(theme).text_styles[&TextStyle::Heading].size;
            let body = ctx.style_of(theme).text_styles[&TextStyle::Body].size;
            assert!(heading >= body * 1.35, "{theme:?}: headings {heading} are barely larger than text {body}");
        }
    }
}
