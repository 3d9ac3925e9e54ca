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
# Linked libraries (ELF NEEDED) are found by $auto (dpkg-shlibdeps) when the package is built.
needed=$(objdump -p "$bin" | awk '/NEEDED/ {print $2}')
missing=0
for lib in $(grep -aoE 'lib[A-Za-z0-9_+-]{1,40}\.so(\.[0-9]+)+' "$bin" | sort -u); do
    pkg=$(dpkg -S "*/$lib" 2>/dev/null | head -n1 | cut -d: -f1 || true)
    if grep -qx -- "$lib" <<<"$needed"; then
        echo "  $lib: ${pkg:-?} (linked: by \$auto)"
        continue
    fi
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
