#!/usr/bin/env bash
# Lays out PopSend.app from a macOS build of popsend. macOS cannot be built on Linux (no SDK):
# on a Mac, run `cargo build --release` and then this script; here check-all.sh runs it with the
# Linux binary as a stand-in, only to check the layout, the plist and the icon.
# Usage: packaging/macos/make-app.sh BINARY OUTDIR   -> OUTDIR/PopSend.app
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:?usage: make-app.sh BINARY OUTDIR}
out=${2:?usage: make-app.sh BINARY OUTDIR}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)
app="$out/PopSend.app/Contents"
rm -rf "$out/PopSend.app"
mkdir -p "$app/MacOS" "$app/Resources/ja.lproj" "$app/Resources/en.lproj"
sed "s/@VERSION@/$version/g" "$here/Info.plist" > "$app/Info.plist"
install -m 755 "$bin" "$app/MacOS/popsend"
install -m 644 "$root/packaging/icons/popsend.icns" "$app/Resources/popsend.icns"
# The name Finder and the Dock show, per language.
printf 'CFBundleDisplayName = "POP送信ヘルパー";\nCFBundleName = "POP送信ヘルパー";\n' > "$app/Resources/ja.lproj/InfoPlist.strings"
printf 'CFBundleDisplayName = "PopSend";\nCFBundleName = "PopSend";\n' > "$app/Resources/en.lproj/InfoPlist.strings"
printf 'APPL????' > "$app/PkgInfo"
echo "$out/PopSend.app"
