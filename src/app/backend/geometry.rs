//! The window's size and place, and the renderer its last start found usable, kept in the data
//! folder between runs. It must not trust the files: a damaged one, or a size no screen could
//! show, gives nothing.

/// The window's size (logical points) and, where the desktop tells it, its position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    pub size: [f32; 2],
    pub at: Option<[f32; 2]>,
}

/// The file the window's geometry is kept in, in the data folder.
const GEOMETRY_FILE: &str = "window-geometry";

/// The geometry saved when the window last closed; `None` when there is none or it makes no
/// sense (a damaged file, a window smaller than usable or larger than any screen).
pub fn saved_geometry(data_dir: &std::path::Path) -> Option<Geometry> {
    let text = std::fs::read_to_string(data_dir.join(GEOMETRY_FILE)).ok()?;
    let n: Vec<f32> = text.split_ascii_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
    let size = [*n.first()?, *n.get(1)?];
    if !size.iter().all(|v| (320.0..=16384.0).contains(v)) {
        return None;
    }
    let at = match n.get(2..4) {
        Some([x, y]) if x.abs() <= 32768.0 && y.abs() <= 32768.0 => Some([*x, *y]),
        _ => None,
    };
    Some(Geometry { size, at })
}

pub(super) fn save_geometry(data_dir: &std::path::Path, g: Geometry) -> std::io::Result<()> {
    let mut text = format!("{} {}", g.size[0].round(), g.size[1].round());
    if let Some([x, y]) = g.at {
        text += &format!(" {} {}", x.round(), y.round());
    }
    crate::core::system::files::write_atomic(&data_dir.join(GEOMETRY_FILE), format!("{text}\n").as_bytes())
}

/// The file that remembers which renderer the last start took when it was free to choose.
const RENDERER_FILE: &str = "window-renderer";

/// `[app] renderer` of the config (`None`: unset, or no readable config).
pub fn configured_renderer(config_file: &std::path::Path) -> Option<String> {
    crate::core::setup::account::Config::load(config_file).ok()?.app.renderer
}

/// The renderer the last start found usable (`None`: none found yet, or a damaged file).
pub fn remembered_renderer(data_dir: &std::path::Path) -> Option<crate::app::renderer::Path> {
    use crate::app::renderer::Path;
    match std::fs::read_to_string(data_dir.join(RENDERER_FILE)).ok()?.split_ascii_whitespace().next()? {
        "gl" => Some(Path::Gl),
        "cpu" => Some(Path::Cpu),
        _ => None,
    }
}

/// Remembers `path` (and, for whoever reads the file, why) for the next start.
pub fn remember_renderer(
    data_dir: &std::path::Path,
    path: crate::app::renderer::Path,
    why: &str,
) -> std::io::Result<()> {
    let word = match path {
        crate::app::renderer::Path::Gl => "gl",
        crate::app::renderer::Path::Cpu => "cpu",
    };
    crate::core::system::files::write_atomic(&data_dir.join(RENDERER_FILE), format!("{word} {why}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_geometry_round_trips_and_nonsense_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(saved_geometry(dir.path()), None);
        let g = Geometry { size: [960.0, 700.0], at: Some([-1200.0, 40.0]) };
        save_geometry(dir.path(), g).unwrap();
        assert_eq!(saved_geometry(dir.path()), Some(g));
        // Wayland tells no position: the size alone.
        save_geometry(dir.path(), Geometry { size: [800.0, 600.0], at: None }).unwrap();
        assert_eq!(saved_geometry(dir.path()), Some(Geometry { size: [800.0, 600.0], at: None }));
        for bad in ["", "abc", "10 10", "800", "1e9 600", "800 600 99999 0", "NaN 600"] {
            std::fs::write(dir.path().join(GEOMETRY_FILE), bad).unwrap();
            let g = saved_geometry(dir.path());
            assert!(g.is_none() || g.is_some_and(|g| g.at.is_none() && g.size == [800.0, 600.0]), "{bad:?} gave {g:?}");
        }
    }

    #[test]
    fn the_renderer_found_is_remembered_and_a_damaged_file_is_nothing() {
        use crate::app::renderer::Path;
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(remembered_renderer(dir.path()), None);
        remember_renderer(dir.path(), Path::Cpu, "OpenGL is drawn by the processor (llvmpipe)").unwrap();
        assert_eq!(remembered_renderer(dir.path()), Some(Path::Cpu));
        remember_renderer(dir.path(), Path::Gl, "radeonsi").unwrap();
        assert_eq!(remembered_renderer(dir.path()), Some(Path::Gl));
        for bad in ["", "vulkan", "\u{0}"] {
            std::fs::write(dir.path().join(RENDERER_FILE), bad).unwrap();
            assert_eq!(remembered_renderer(dir.path()), None, "{bad:?}");
        }
    }
}
