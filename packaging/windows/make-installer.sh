#!/usr/bin/env bash
# Builds the Windows installer from a cross-built popsend.exe (packaging/windows/build.sh).
# Usage: packaging/windows/make-installer.sh [popsend.exe] [OUTFILE]   Needs (apt): nsis
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
exe=$(realpath "${1:-$root/target/windows/x86_64-pc-windows-gnu/release/popsend.exe}")
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)
out=$(realpath -m "${2:-$root/target/windows/popsend-$version-setup.exe}")
command -v makensis >/dev/null || { echo "make-installer.sh: makensis is missing (apt-get install nsis)" >&2; exit 1; }
cd "$here"
makensis -V2 -DVERSION="$version" -DEXE="$exe" -DOUTFILE="$out" installer.nsi
echo "$out"
