//! Entry point: parses the command line and hands over to `popsend::cli`, which returns the
//! process exit code. Nothing else lives here.
//!
//! On Windows popsend.exe is a GUI program (no console window flashes up behind 作成 when it is
//! double-clicked); `cli::main` attaches to the console of a parent shell, so `popsend status`
//! typed in cmd.exe or PowerShell still prints there.
#![cfg_attr(windows, windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    popsend::cli::main()
}
