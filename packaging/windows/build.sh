#!/usr/bin/env bash
# Cross-builds popsend.exe for 64-bit Windows on Debian (x86_64-pc-windows-gnu, MinGW-w64).
#
# rustup cannot add the Windows target offline, and Debian's packaged Windows std is for an older
# rustc, so std itself is built from Debian's rust-web-src with Debian's rustc-web
# (-Zbuild-std, allowed by RUSTC_BOOTSTRAP). Slow: ~35 min of CPU the first time, a few minutes
# after a change to popsend alone. Not part of every CI run; packaging/check-all.sh calls it.
#
# Usage: packaging/windows/build.sh            -> target/windows/x86_64-pc-windows-gnu/release/popsend.exe
# Needs (apt): rustc-web rust-web-src gcc-mingw-w64-x86-64
set -euo pipefail
cd "$(dirname "$0")/../.."

need() { command -v "$1" >/dev/null || { echo "build.sh: $1 is missing (apt-get install $2)" >&2; exit 1; }; }
need x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
[ -x /usr/bin/rustc ] && /usr/bin/rustc --version | grep -q . || { echo "build.sh: /usr/bin/rustc is missing (apt-get install rustc-web)" >&2; exit 1; }
[ -d /usr/lib/rustlib/src/rust/library ] || { echo "build.sh: std sources are missing (apt-get install rust-web-src)" >&2; exit 1; }

export RUSTC=/usr/bin/rustc
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
# Its own target dir: another compiler than the rustup one, whose artefacts it would invalidate.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR_WINDOWS:-$PWD/target/windows}"
cargo build --release --locked -Zbuild-std=std,panic_abort --target x86_64-pc-windows-gnu "$@"
echo "$CARGO_TARGET_DIR/x86_64-pc-windows-gnu/release/popsend.exe"
