#!/usr/bin/env bash
# The cheap packaging checks, run by tests/run.sh in every CI run (the slow ones, building the
# .deb, the Windows exe and installer, are in check-all.sh). Fails on the first problem.
#   - one application id everywhere (src/core/mod.rs, the desktop entry, metainfo, Info.plist, NSIS)
#   - desktop-file-validate, appstreamcli validate --no-net, the man page through groff
#   - the macOS Info.plist and .icns (check_plist.py, Python's plistlib)
#   - the NSIS script compiles (with a stand-in exe; the real one is built by check-all.sh)
# Needs (apt): desktop-file-utils appstream nsis groff-base python3
set -euo pipefail
cd "$(dirname "$0")/.."
id=$(sed -n 's/^pub const APP_ID: &str = "\(.*\)";$/\1/p' src/core/mod.rs)
[ -n "$id" ] || { echo "validate: APP_ID not found in src/core/mod.rs" >&2; exit 1; }
step() { printf '%s\n' "- $*"; }

step "application id $id"
[ -f "packaging/linux/$id.desktop" ] || { echo "validate: packaging/linux/$id.desktop is missing" >&2; exit 1; }
[ -f "packaging/linux/$id.metainfo.xml" ] || { echo "validate: packaging/linux/$id.metainfo.xml is missing" >&2; exit 1; }
grep -q "<id>$id</id>" "packaging/linux/$id.metainfo.xml" || { echo "validate: metainfo <id> is not $id" >&2; exit 1; }
grep -q "<launchable type=\"desktop-id\">$id.desktop</launchable>" "packaging/linux/$id.metainfo.xml" || { echo "validate: metainfo launchable is not $id.desktop" >&2; exit 1; }
grep -q "^Icon=$id$" "packaging/linux/$id.desktop" || { echo "validate: the desktop entry's Icon is not $id" >&2; exit 1; }
grep -q "^StartupWMClass=$id$" "packaging/linux/$id.desktop" || { echo "validate: StartupWMClass is not $id (the window's app id)" >&2; exit 1; }
grep -q "!define APP_ID \"$id\"" packaging/windows/installer.nsi || { echo "validate: installer.nsi's APP_ID is not $id" >&2; exit 1; }
grep -q "$id.png" Cargo.toml || { echo "validate: the .deb's icons are not named $id" >&2; exit 1; }

step "desktop entry"
grep -q '^MimeType=x-scheme-handler/mailto;$' "packaging/linux/$id.desktop" || { echo "validate: the desktop entry does not take mailto:" >&2; exit 1; }
grep -q '^Exec=popsend %u$' "packaging/linux/$id.desktop" || { echo "validate: Exec must hand the URL over (%u)" >&2; exit 1; }
desktop-file-validate "packaging/linux/$id.desktop"

step "AppStream metainfo"
appstreamcli validate --no-net --pedantic "packaging/linux/$id.metainfo.xml" | sed 's/^/    /'
for shot in $(grep -o 'docs/screenshots/[a-z]*\.png' "packaging/linux/$id.metainfo.xml"); do
    [ -f "$shot" ] || { echo "validate: the metainfo shows $shot, which is not in the repository" >&2; exit 1; }
done

step "man page"
warnings=$(LC_ALL=C.UTF-8 groff -t -man -ww -z -K utf8 packaging/linux/popsend.1 2>&1 || true)
[ -z "$warnings" ] || { echo "validate: groff: $warnings" >&2; exit 1; }

step "macOS Info.plist and icon"
python3 packaging/macos/check_plist.py

step "NSIS installer script"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'MZ stand-in, not a program\n' > "$tmp/popsend.exe"
bash packaging/windows/make-installer.sh "$tmp/popsend.exe" "$tmp/setup.exe" >/dev/null
[ -s "$tmp/setup.exe" ] || { echo "validate: makensis made no installer" >&2; exit 1; }
echo "packaging: all checks passed"
