//! The rasteriser against pixels known beforehand: a filled rectangle, its clip, text, and a
//! frame rendered twice from the cache.

use alloc::vec;
use alloc::vec::Vec;

use crate::{BufferMutRef, ColorFieldOrder, EguiSoftwareRender};

const W: usize = 120;
const H: usize = 80;

/// One egui frame of `draw` at 1 point per pixel, rasterised over a black buffer (RGBA bytes).
fn render(r: &mut EguiSoftwareRender, ctx: &egui::Context, draw: impl FnMut(&mut egui::Ui)) -> Vec<[u8; 4]> {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(W as f32, H as f32))),
        ..Default::default()
    };
    let mut draw = draw;
    let mut out = ctx.run_ui(input, |ui| draw(ui));
    let prims = ctx.tessellate(core::mem::take(&mut out.shapes), out.pixels_per_point);
    let mut buf = vec![[0, 0, 0, 255]; W * H];
    r.render(&mut BufferMutRef::new(&mut buf, W, H), &prims, &out.textures_delta, out.pixels_per_point);
    out.textures_delta.clear();
    buf
}

fn at(buf: &[[u8; 4]], x: usize, y: usize) -> [u8; 4] {
    buf[y * W + x]
}

#[test]
fn a_rectangle_is_filled_exactly_and_clipped() {
    let ctx = egui::Context::default();
    let mut r = EguiSoftwareRender::new(ColorFieldOrder::Rgba);
    let paint = |ui: &mut egui::Ui| {
        let painter =
            ui.painter().with_clip_rect(egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(60.0, 80.0)));
        painter.rect_filled(
            egui::Rect::from_min_max(egui::pos2(10.0, 20.0), egui::pos2(100.0, 50.0)),
            0.0,
            egui::Color32::from_rgb(200, 30, 60),
        );
    };
    for pass in 0..2 {
        // The second pass comes from the cache: the same pixels.
        let buf = render(&mut r, &ctx, paint);
        assert_eq!(at(&buf, 30, 35), [200, 30, 60, 255], "inside (pass {pass})");
        assert_eq!(at(&buf, 10, 20), [200, 30, 60, 255], "the first pixel (pass {pass})");
        assert_eq!(at(&buf, 9, 35), [0, 0, 0, 255], "left of it (pass {pass})");
        assert_eq!(at(&buf, 30, 50), [0, 0, 0, 255], "below it (pass {pass})");
        assert_eq!(at(&buf, 70, 35), [0, 0, 0, 255], "clipped away (pass {pass})");
    }
}

#[test]
fn text_leaves_glyph_pixels_and_bgra_swaps_the_channels() {
    let ctx = egui::Context::default();
    let text = |ui: &mut egui::Ui| {
        ui.painter().text(
            egui::pos2(5.0, 5.0),
            egui::Align2::LEFT_TOP,
            "Hello",
            egui::FontId::proportional(20.0),
            egui::Color32::from_rgb(255, 0, 0),
        );
    };
    let rgba = render(&mut EguiSoftwareRender::new(ColorFieldOrder::Rgba), &ctx, text);
    let lit: Vec<_> = rgba.iter().filter(|p| p[0] > 128).collect();
    assert!(lit.len() > 40, "only {} pixels of text", lit.len());
    assert!(lit.iter().all(|p| p[1] == 0 && p[2] == 0), "red text has green or blue");
    assert!(rgba[W * 60..].iter().all(|p| *p == [0, 0, 0, 255]), "text below where it was drawn");
    let ctx = egui::Context::default();
    let bgra = render(&mut EguiSoftwareRender::new(ColorFieldOrder::Bgra), &ctx, text);
    assert!(bgra.iter().zip(&rgba).all(|(b, r)| b[0] == r[2] && b[2] == r[0] && b[1] == r[1]));
}

/// The next frame drawn only where it changed, over the buffer holding the last one, equals the
/// next frame drawn whole; and only the tiles the change touched are redrawn.
#[test]
fn drawing_only_the_changed_tiles_gives_the_whole_frame() {
    let ctx = egui::Context::default();
    let mut r = EguiSoftwareRender::new(ColorFieldOrder::Rgba);
    let frame = |x: f32| {
        move |ui: &mut egui::Ui| {
            let p = ui.painter();
            p.rect_filled(
                egui::Rect::from_min_size(egui::pos2(2.0, 2.0), egui::vec2(20.0, 20.0)),
                0.0,
                egui::Color32::BLUE,
            );
            p.rect_filled(
                egui::Rect::from_min_size(egui::pos2(x, 40.0), egui::vec2(10.0, 10.0)),
                0.0,
                egui::Color32::RED,
            );
        }
    };
    let bg = [9, 9, 9, 255];
    let draw = |r: &mut EguiSoftwareRender,
                ctx: &egui::Context,
                f: &mut dyn FnMut(&mut egui::Ui),
                buf: &mut Vec<[u8; 4]>,
                whole: bool| {
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(W as f32, H as f32))),
            ..Default::default()
        };
        let mut out = ctx.run_ui(input, |ui| f(ui));
        let prims = ctx.tessellate(core::mem::take(&mut out.shapes), out.pixels_per_point);
        r.render_to_canvas(W, H, &prims, &out.textures_delta, out.pixels_per_point);
        out.textures_delta.clear();
        let tiles = if whole { r.all_tiles() } else { r.changed_tiles() };
        r.blit_tiles(&mut BufferMutRef::new(buf, W, H), bg, &tiles);
        tiles
    };
    let mut kept = vec![[0; 4]; W * H];
    draw(&mut r, &ctx, &mut frame(10.0), &mut kept, true);
    // The red square (y 40–50: the second row of 32-pixel tiles) moves from the row's first tile
    // to its third (x 10 → 70). It shares one mesh with the blue square (one clip rectangle), so
    // the blue one's tile is redrawn too; the tiles between and below are not.
    let tiles = draw(&mut r, &ctx, &mut frame(70.0), &mut kept, false);
    assert_eq!(
        tiles,
        [[0, 0, 32, 32], [0, 32, 32, 32], [64, 32, 32, 32]],
        "redrawn: the tiles of the mesh before and after"
    );
    let mut whole = vec![[0; 4]; W * H];
    let ctx2 = egui::Context::default();
    draw(&mut EguiSoftwareRender::new(ColorFieldOrder::Rgba), &ctx2, &mut frame(70.0), &mut whole, true);
    assert!(kept == whole, "the partly redrawn frame differs from the whole one");
    assert_eq!(at(&kept, 75, 45), [255, 0, 0, 255]);
    assert_eq!(at(&kept, 15, 45), bg, "the square's old place");
    // Nothing changed: nothing to redraw.
    assert!(draw(&mut r, &ctx, &mut frame(70.0), &mut kept, false).is_empty());
}
