//! Which renderer draws the window: the graphics card through OpenGL (eframe's glow) where it
//! is a real GPU, else the CPU path (`app::cpu`). Chosen at start from what was asked
//! (`POPSEND_RENDERER`, then `[app] renderer`), what the last start found, and the OpenGL
//! renderer's own name; pure decisions only (the file that remembers the finding is read and
//! written by `backend::geometry`'s neighbours, the window by `app::run`).

/// What the student or the environment asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    Auto,
    Gl,
    Cpu,
}

/// The path the window takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    Gl,
    Cpu,
}

/// `POPSEND_RENDERER` wins over `[app] renderer`; anything else than gl or cpu is auto.
pub fn asked(env: Option<&str>, config: Option<&str>) -> Asked {
    match env.or(config).map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("gl") => Asked::Gl,
        Some("cpu") => Asked::Cpu,
        _ => Asked::Auto,
    }
}

/// OpenGL drawn by the processor (Mesa's llvmpipe, softpipe and swrast; Windows' GDI Generic
/// and Basic Render Driver): slower and heavier than popsend's own CPU path.
pub fn is_software(renderer: &str) -> bool {
    let r = renderer.to_ascii_lowercase();
    ["llvmpipe", "softpipe", "swrast", "gdi generic", "basic render driver", "software rasterizer"]
        .iter()
        .any(|s| r.contains(s))
}

/// The path to try first: as asked, else what the last start found, else the GPU.
pub fn first(asked: Asked, remembered: Option<Path>) -> Path {
    match asked {
        Asked::Gl => Path::Gl,
        Asked::Cpu => Path::Cpu,
        Asked::Auto => remembered.unwrap_or(Path::Gl),
    }
}

/// What the OpenGL attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No context could be made (no driver, OpenGL 1.1 only, no display).
    NoContext,
    /// A context, drawn by the processor (its renderer's name).
    Software(String),
    /// A real GPU (its renderer's name).
    Gpu(String),
}

/// After the OpenGL attempt: go on with it, or take the CPU path (`Some`) and why.
pub fn after_gl(asked: Asked, found: &Found) -> Option<String> {
    match (asked, found) {
        (_, Found::Gpu(_)) | (Asked::Gl, Found::Software(_)) => None,
        (_, Found::NoContext) => Some("no OpenGL context could be made".into()),
        (_, Found::Software(name)) => Some(format!("OpenGL is drawn by the processor ({name})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_wins_and_anything_else_is_auto() {
        assert_eq!(asked(Some("cpu"), Some("gl")), Asked::Cpu);
        assert_eq!(asked(None, Some(" GL ")), Asked::Gl);
        assert_eq!(asked(Some("vulkan"), Some("cpu")), Asked::Auto);
        assert_eq!(asked(None, None), Asked::Auto);
    }

    #[test]
    fn software_opengl_is_recognised_by_its_name() {
        for s in [
            "llvmpipe (LLVM 19.1.7, 256 bits)",
            "softpipe",
            "Software Rasterizer",
            "GDI Generic",
            "Microsoft Basic Render Driver",
            "Mesa X11 swrast",
        ] {
            assert!(is_software(s), "{s}");
        }
        for s in [
            "AMD Radeon RX 6600 (radeonsi, navi23, LLVM 19.1.7)",
            "Mesa Intel(R) UHD Graphics 620 (KBL GT2)",
            "NVIDIA GeForce GTX 1060/PCIe/SSE2",
        ] {
            assert!(!is_software(s), "{s}");
        }
    }

    #[test]
    fn the_ladder_goes_down_only_when_not_forced() {
        assert_eq!(first(Asked::Auto, None), Path::Gl);
        assert_eq!(first(Asked::Auto, Some(Path::Cpu)), Path::Cpu);
        assert_eq!(first(Asked::Gl, Some(Path::Cpu)), Path::Gl);
        assert_eq!(first(Asked::Cpu, None), Path::Cpu);
        let llvmpipe = Found::Software("llvmpipe".into());
        assert_eq!(after_gl(Asked::Auto, &Found::Gpu("radeonsi".into())), None);
        assert_eq!(after_gl(Asked::Gl, &llvmpipe), None, "gl asked for is kept even in software");
        assert!(after_gl(Asked::Auto, &llvmpipe).is_some_and(|why| why.contains("llvmpipe")));
        assert!(after_gl(Asked::Gl, &Found::NoContext).is_some(), "no context: the CPU path even when gl was asked");
    }
}
