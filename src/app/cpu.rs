//! The window on the CPU path: where there is no usable GPU, popsend's `App` runs in a winit
//! window of its own, its input comes through egui-winit as under eframe (IME, clipboard, file
//! drops, accesskit, the viewport commands: focus, close, cancel close), and each frame is
//! rasterised by `popsend_softrender` and shown through softbuffer. Only what changed is
//! presented: the tiles the renderer redrew, over the frame kept from the last one; a frame in
//! which nothing changed is not presented at all. It draws and handles window events only; the App does the rest, and
//! nothing here touches the outbox, the network or a file.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use eframe::UserEvent;
use egui::{ViewportBuilder, ViewportId, ViewportInfo};
use popsend_softrender::{BufferMutRef, ColorFieldOrder, EguiSoftwareRender};
use winit::application::ApplicationHandler;
use winit::event::WindowEvent;
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop, EventLoopProxy};
use winit::window::{Window, WindowId};

/// What runs in the window: drawn each frame, with its background colour and its hook on the
/// input (popsend's `FirstFrame`).
pub trait Drawn {
    fn draw(&mut self, ui: &mut egui::Ui);
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4];
    fn raw_input_hook(&mut self, ctx: &egui::Context, raw: &mut egui::RawInput);
}

/// Opens the window on `event_loop` and runs until it is closed. `make` builds what it shows,
/// once the window exists (fonts and the worker are started from it, as under eframe).
pub fn run<D: Drawn>(
    event_loop: &mut EventLoop<UserEvent>,
    viewport: ViewportBuilder,
    make: impl FnOnce(&egui::Context) -> D,
) -> Result<(), String> {
    use winit::platform::run_on_demand::EventLoopExtRunOnDemand as _;
    let ctx = egui::Context::default();
    let proxy = event_loop.create_proxy();
    let repaint_proxy = std::sync::Mutex::new(proxy.clone());
    ctx.set_request_repaint_callback(move |info| {
        let when = Instant::now() + info.delay;
        let event = UserEvent::RequestRepaint {
            viewport_id: info.viewport_id,
            when,
            cumulative_pass_nr: info.current_cumulative_pass_nr,
        };
        if let Ok(p) = repaint_proxy.lock() {
            let _ = p.send_event(event);
        }
    });
    let mut runner =
        Runner { ctx, viewport, proxy, make: Some(make), drawn: None, open: None, error: None, next: None };
    event_loop.run_app_on_demand(&mut runner).map_err(|e| e.to_string())?;
    match runner.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

struct Runner<D, M> {
    ctx: egui::Context,
    viewport: ViewportBuilder,
    proxy: EventLoopProxy<UserEvent>,
    make: Option<M>,
    drawn: Option<D>,
    open: Option<Open>,
    error: Option<String>,
    /// When the next frame is due (the earliest repaint asked for).
    next: Option<Instant>,
}

/// The window once it exists.
struct Open {
    window: Arc<Window>,
    state: egui_winit::State,
    info: ViewportInfo,
    surface: softbuffer::Surface<Arc<Window>, Arc<Window>>,
    renderer: EguiSoftwareRender,
    /// The background the last frame was drawn on.
    background: [u8; 4],
    /// Frames presented so far.
    frames: u32,
    /// The tiles the last frame changed (a buffer two frames old lacks them too).
    last_tiles: Vec<[usize; 4]>,
    size: (usize, usize),
    /// The surface's buffer holds `shown` (false after a resize: everything is presented).
    presented: bool,
    /// The next redraw is one this window asked for (else the system asked: the window was
    /// uncovered or shown, and all of it is presented again).
    ours: bool,
    /// Texture changes not yet given to the renderer (a frame not drawn, minimised, keeps them).
    pending: egui::TexturesDelta,
    /// Something happened to the window since `info` and `inner` were read (an event, a
    /// viewport command): the next frame reads them again. Else a frame asks only whether the
    /// window is minimised (X11 minimises without an event): on X11 each question is a round trip
    /// to the X server, and eframe's way asked ten a frame (ARCHITECTURE.md has the counts).
    stale: bool,
    /// The window's inner size in pixels, as last read.
    inner: winit::dpi::PhysicalSize<u32>,
}

impl Open {
    fn redraw(&mut self) {
        self.ours = true;
        self.window.request_redraw();
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        // Textures of a window that closes are let go with it (egui insists this is said).
        self.pending.clear();
    }
}

impl<D: Drawn, M: FnOnce(&egui::Context) -> D> Runner<D, M> {
    fn open(&mut self, event_loop: &ActiveEventLoop) -> Result<(), String> {
        let window = egui_winit::create_window(&self.ctx, event_loop, &self.viewport.clone().with_visible(false))
            .map_err(|e| e.to_string())?;
        let window = Arc::new(window);
        let context = softbuffer::Context::new(window.clone()).map_err(|e| e.to_string())?;
        let surface = softbuffer::Surface::new(&context, window.clone()).map_err(|e| e.to_string())?;
        let mut state = egui_winit::State::new(
            self.ctx.clone(),
            ViewportId::ROOT,
            event_loop,
            Some(window.scale_factor() as f32),
            window.theme(),
            Some(crate::app::ATLAS_SIDE),
        );
        state.init_accesskit(event_loop, &window, self.proxy.clone());
        let mut info = ViewportInfo::default();
        egui_winit::update_viewport_info(&mut info, &self.ctx, &window, true);
        if let Some(make) = self.make.take() {
            self.drawn = Some(make(&self.ctx));
        }
        self.open = Some(Open {
            window: window.clone(),
            state,
            info,
            surface,
            renderer: EguiSoftwareRender::new(ColorFieldOrder::Bgra),
            background: [0; 4],
            frames: 0,
            last_tiles: Vec::new(),
            size: (0, 0),
            presented: false,
            pending: egui::TexturesDelta::default(),
            ours: false,
            stale: true,
            inner: window.inner_size(),
        });
        // Shown once the first frame is drawn (no empty window flashing first, as under eframe);
        // what was presented while hidden is lost, so the next frame presents all of it.
        self.paint(event_loop);
        window.set_visible(true);
        if let Some(open) = self.open.as_mut() {
            open.presented = false;
            open.redraw();
        }
        Ok(())
    }

    /// Runs the App for one frame and shows what changed.
    fn paint(&mut self, event_loop: &ActiveEventLoop) {
        let (Some(open), Some(drawn)) = (self.open.as_mut(), self.drawn.as_mut()) else { return };
        // (Not on macOS, where asking at run time can deadlock: egui-winit does not ask there.)
        if !open.stale
            && !cfg!(target_os = "macos")
            && Some(open.window.is_minimized().unwrap_or(false)) != open.info.minimized
        {
            open.stale = true;
        }
        if std::mem::take(&mut open.stale) {
            egui_winit::update_viewport_info(&mut open.info, &self.ctx, &open.window, false);
            open.inner = open.window.inner_size();
        }
        // Read before the pass: the style the widgets are drawn with.
        let bg = drawn_background(drawn, &self.ctx);
        let mut raw = open.state.take_egui_input(&open.window);
        raw.viewports.insert(ViewportId::ROOT, open.info.clone());
        drawn.raw_input_hook(&self.ctx, &mut raw);
        let close_requested = raw.viewport().close_requested();
        open.info.events.clear();
        let mut out = self.ctx.run_ui(raw, |ui| drawn.draw(ui));
        open.pending.append(std::mem::take(&mut out.textures_delta));
        open.state.handle_platform_output(&open.window, out.platform_output);
        let mut cancelled = false;
        if let Some(vp) = out.viewport_output.get(&ViewportId::ROOT) {
            cancelled = vp.commands.contains(&egui::ViewportCommand::CancelClose);
            // A command may move, resize, focus or retitle the window.
            open.stale |= !vp.commands.is_empty();
            let mut actions = Vec::new();
            egui_winit::process_viewport_commands(
                &self.ctx,
                &mut open.info,
                vp.commands.clone(),
                &open.window,
                &mut actions,
            );
            for action in actions {
                match action {
                    egui_winit::ActionRequested::Cut => open.state.egui_input_mut().events.push(egui::Event::Cut),
                    egui_winit::ActionRequested::Copy => open.state.egui_input_mut().events.push(egui::Event::Copy),
                    egui_winit::ActionRequested::Paste => {
                        if let Some(text) = open.state.clipboard_text() {
                            open.state.egui_input_mut().events.push(egui::Event::Paste(text));
                        }
                    }
                    _ => {}
                }
            }
            if vp.repaint_delay < std::time::Duration::MAX {
                let when = Instant::now() + vp.repaint_delay;
                self.next = Some(self.next.map_or(when, |n| n.min(when)));
            }
        }
        if close_requested && !cancelled {
            open.window.set_visible(false);
            event_loop.exit();
            return;
        }
        let size = open.inner;
        let (w, h) = (size.width as usize, size.height as usize);
        let (Some(nw), Some(nh)) = (NonZeroU32::new(size.width), NonZeroU32::new(size.height)) else { return };
        if open.size != (w, h) {
            if let Err(e) = open.surface.resize(nw, nh) {
                self.error = Some(e.to_string());
                event_loop.exit();
                return;
            }
            open.size = (w, h);
            open.presented = false;
        }
        // A theme changed during this pass: the next pass draws the widgets in it too.
        if bg != drawn_background(drawn, &self.ctx) {
            self.ctx.request_repaint();
        }
        let primitives = self.ctx.tessellate(out.shapes, out.pixels_per_point);
        open.renderer.render_to_canvas(w, h, &primitives, &open.pending, out.pixels_per_point);
        open.pending.clear();
        // Only the tiles the renderer redrew change (all of them after a resize, a new
        // background, or a frame the system asked for); none: nothing is presented.
        let full = !open.presented || open.background != bg;
        let changed = if full { open.renderer.all_tiles() } else { open.renderer.changed_tiles() };
        if changed.is_empty() {
            return;
        }
        let Ok(mut buffer) = open.surface.buffer_mut() else {
            // What changed is used up: the next frame presents all of it.
            open.presented = false;
            return;
        };
        // The frame is drawn straight into the buffer shown; one that does not hold the last
        // frame (age other than 1) is drawn whole.
        let tiles = match buffer.age() {
            1 => changed.clone(),
            // Two buffers in turn (Wayland): this one missed the last frame's tiles too.
            2 if open.presented => union(&changed, &open.last_tiles),
            _ => open.renderer.all_tiles(),
        };
        open.last_tiles = changed;
        let pixels: &mut [[u8; 4]] = bytemuck::cast_slice_mut(&mut buffer[..]);
        open.renderer.blit_tiles(&mut BufferMutRef::new(pixels, w, h), bg, &tiles);
        for &[x, y, tw, th] in &tiles {
            for row in y..y + th {
                for p in &mut pixels[row * w + x..row * w + x + tw] {
                    p[3] = 0;
                }
            }
        }
        open.background = bg;
        let damage = merge_rows(&tiles);
        open.frames += 1;
        if open.frames == 5 {
            // Loading fonts, the config and the outbox, and the first frames leave freed heap
            // that glibc keeps; given back once, the window stays small for the hours it is open.
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim only returns free memory to the system.
            unsafe {
                libc::malloc_trim(0);
            }
        }
        open.window.pre_present_notify();
        match buffer.present_with_damage(&damage) {
            Ok(()) => open.presented = true,
            Err(e) => {
                self.error = Some(e.to_string());
                event_loop.exit();
            }
        }
    }
}

fn rect(x: usize, y: usize, w: usize, h: usize) -> softbuffer::Rect {
    softbuffer::Rect {
        x: x as u32,
        y: y as u32,
        width: NonZeroU32::new(w as u32).unwrap_or(NonZeroU32::MIN),
        height: NonZeroU32::new(h as u32).unwrap_or(NonZeroU32::MIN),
    }
}

/// The background `drawn` asks for now, as eframe clears with it: `clear_color` is
/// gamma-encoded. As softbuffer's pixel: 0RGB in a u32, so B, G, R, then a byte that stays 0.
fn drawn_background<D: Drawn>(drawn: &D, ctx: &egui::Context) -> [u8; 4] {
    let c = drawn.clear_color(&ctx.global_style().visuals).map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8);
    [c[2], c[1], c[0], 0]
}

/// The tiles of `a` and of `b`, each once, in the renderer's order (row by row).
fn union(a: &[[usize; 4]], b: &[[usize; 4]]) -> Vec<[usize; 4]> {
    let mut all: Vec<[usize; 4]> = a.iter().chain(b).copied().collect();
    all.sort_by_key(|t| (t[1], t[0]));
    all.dedup();
    all
}

/// Tiles (`[x, y, width, height]`, in the renderer's order: row by row, left to right) as damage
/// rectangles, neighbours in a row merged into one.
pub fn merge_rows(tiles: &[[usize; 4]]) -> Vec<softbuffer::Rect> {
    let mut out: Vec<[usize; 4]> = Vec::new();
    for &[x, y, w, h] in tiles {
        match out.last_mut() {
            Some(last) if last[1] == y && last[3] == h && last[0] + last[2] == x => last[2] += w,
            _ => out.push([x, y, w, h]),
        }
    }
    out.into_iter().map(|[x, y, w, h]| rect(x, y, w, h)).collect()
}

impl<D: Drawn, M: FnOnce(&egui::Context) -> D> ApplicationHandler<UserEvent> for Runner<D, M> {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.open.is_none()
            && let Err(e) = self.open(event_loop)
        {
            self.error = Some(e);
            event_loop.exit();
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, id: WindowId, event: WindowEvent) {
        let Some(open) = self.open.as_mut() else { return };
        // (Late events of the OpenGL attempt's window may come on the same event loop.)
        if id != open.window.id() {
            return;
        }
        if !matches!(event, WindowEvent::RedrawRequested) {
            open.stale = true;
        }
        match &event {
            WindowEvent::RedrawRequested => {
                if !std::mem::take(&mut open.ours) {
                    open.presented = false;
                }
                self.paint(event_loop);
                return;
            }
            WindowEvent::CloseRequested => {
                open.info.events.push(egui::ViewportEvent::Close);
                open.redraw();
                return;
            }
            WindowEvent::Resized(_) | WindowEvent::ScaleFactorChanged { .. } => {
                open.presented = false;
                open.window.request_redraw();
            }
            // The App stops the countdown's repaints while nothing of the window is seen.
            WindowEvent::Occluded(hidden) => {
                open.info.occluded = Some(*hidden);
                if !hidden {
                    open.presented = false;
                    open.window.request_redraw();
                }
            }
            _ => {}
        }
        let response = open.state.on_window_event(&open.window, &event);
        if response.repaint {
            open.redraw();
        }
    }

    fn user_event(&mut self, _event_loop: &ActiveEventLoop, event: UserEvent) {
        match event {
            UserEvent::RequestRepaint { when, cumulative_pass_nr, viewport_id } => {
                // A request made during a pass that has since been followed by another is
                // answered already (as eframe judges it).
                let now = self.ctx.cumulative_pass_nr_for(viewport_id);
                if now == cumulative_pass_nr || now == cumulative_pass_nr + 1 {
                    self.next = Some(self.next.map_or(when, |n| n.min(when)));
                }
            }
            UserEvent::AccessKitActionRequest(e) => {
                let Some(open) = self.open.as_mut() else { return };
                if e.window_id != open.window.id() {
                    return;
                }
                match e.window_event {
                    accesskit_winit::WindowEvent::InitialTreeRequested => {
                        self.ctx.enable_accesskit();
                        open.redraw();
                    }
                    accesskit_winit::WindowEvent::ActionRequested(request) => {
                        open.state.on_accesskit_action_request(request);
                        open.redraw();
                    }
                    accesskit_winit::WindowEvent::AccessibilityDeactivated => self.ctx.disable_accesskit(),
                }
            }
        }
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        match self.next {
            Some(when) if when <= Instant::now() => {
                self.next = None;
                // Asked of the window only after an event (minimising on Windows sends one).
                let hidden = self.open.as_ref().is_some_and(|o| {
                    let minimized = if o.stale { o.window.is_minimized() } else { o.info.minimized };
                    minimized == Some(true) || o.window.is_visible() == Some(false)
                });
                if hidden {
                    // Windows sends no redraw to a minimised window (eframe paints those at once
                    // too): a second start's request to come forward, or a close from the
                    // taskbar, must still be taken.
                    self.paint(event_loop);
                } else if let Some(open) = self.open.as_mut() {
                    open.redraw();
                }
                if !event_loop.exiting() {
                    event_loop.set_control_flow(ControlFlow::Wait);
                }
            }
            Some(when) => event_loop.set_control_flow(ControlFlow::WaitUntil(when)),
            None => event_loop.set_control_flow(ControlFlow::Wait),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Redrawn tiles side by side in a row are presented as one rectangle; a gap or another row
    /// starts the next.
    #[test]
    fn neighbouring_tiles_are_presented_together() {
        let got: Vec<_> =
            merge_rows(&[[64, 0, 64, 64], [128, 0, 64, 64], [256, 0, 64, 64], [0, 64, 64, 16], [64, 64, 8, 16]])
                .iter()
                .map(|r| (r.x, r.y, r.width.get(), r.height.get()))
                .collect();
        assert_eq!(got, [(64, 0, 128, 64), (256, 0, 64, 64), (0, 64, 72, 16)]);
        assert!(merge_rows(&[]).is_empty());
    }

    /// A buffer two frames old (Wayland's turn of two) takes this frame's tiles and the last
    /// frame's, each once, in order.
    #[test]
    fn a_buffer_two_frames_old_takes_both_frames_tiles() {
        let this = [[64, 0, 64, 64], [0, 64, 64, 64]];
        let last = [[0, 0, 64, 64], [64, 0, 64, 64]];
        assert_eq!(union(&this, &last), [[0, 0, 64, 64], [64, 0, 64, 64], [0, 64, 64, 64]]);
    }
}
