#!/usr/bin/env bash
# Checks that the .deb's Depends name every shared library the binary loads at run time.
# `$auto` (dpkg-shlibdeps) sees only what is linked; eframe/winit/glutin dlopen() the rest (EGL,
# GL, X11, Wayland, xkbcommon), so their names are read out of the binary and each is mapped to
# its Debian package with dpkg -S. Prints the packages; fails naming any missing from Cargo.toml.
# Usage: packaging/linux/check-deps.sh [path/to/popsend]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/popsend}
depends=$(sed -n 's/^depends = "\(.*\)"$/\1/p' Cargo.toml)
missing=0
for lib in $(grep -aoE 'lib[A-Za-z0-9_+-]+\.so(\.[0-9]+)+' "$bin" | sort -u); do
    pkg=$(dpkg -S "*/$lib" 2>/dev/null | head -n1 | cut -d: -f1 || true)
    case "$lib" in libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|libgcc_s.so.*) pkg="(libc6, by \$auto)";; esac
    if [ -z "$pkg" ]; then
        echo "  $lib: not installed here (cannot map it to a package)"
        continue
    fi
    if [[ "$pkg" == "("* ]] || grep -qw -- "$pkg" <<<"$depends"; then
        echo "  $lib: $pkg"
    else
        echo "  $lib: $pkg  <- MISSING from [package.metadata.deb] depends" >&2
        missing=1
    fi
done
exit $missing
