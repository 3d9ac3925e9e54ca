//! Entry point: parses the command line and hands over to `popsend::cli`, which returns the
//! process exit code. Nothing else lives here.

fn main() -> std::process::ExitCode {
    popsend::cli::main()
}
