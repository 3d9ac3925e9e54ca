//! Build script. For a Windows target only (checked through `CARGO_CFG_TARGET_OS`, so it also runs
//! when cross-compiling from Linux, where `#[cfg(windows)]` would be false): embeds popsend's icon,
//! version and application manifest into popsend.exe. For every other target it does nothing; it
//! must never need a tool that a Linux or macOS build does not have.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=packaging/icons/popsend.ico");
    println!("cargo:rerun-if-changed=packaging/windows/popsend.manifest");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let mut res = winresource::WindowsResource::new();
    res.set_icon("packaging/icons/popsend.ico")
        .set_manifest_file("packaging/windows/popsend.manifest")
        .set("ProductName", "popsend")
        .set("FileDescription", "popsend - POP before SMTP mail sender")
        .set("LegalCopyright", "popsend developers");
    if let Err(e) = res.compile() {
        panic!("cannot embed the Windows resources (icon, version, manifest): {e}");
    }
}
