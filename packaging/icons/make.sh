#!/usr/bin/env bash
# Makes every icon file from popsend.svg: hicolor PNGs (16…512, for the .deb and the window),
# popsend.ico (Windows: 16, 24, 32, 48, 64, 256) and popsend.icns (macOS). The outputs are
# committed, so building popsend needs none of these tools; run this after changing the SVG.
# Needs (apt): librsvg2-bin imagemagick icnsutils
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p png
for s in 16 24 32 48 64 128 256 512; do
    rsvg-convert -w "$s" -h "$s" popsend.svg -o "png/popsend-$s.png"
done
convert png/popsend-16.png png/popsend-24.png png/popsend-32.png png/popsend-48.png \
        png/popsend-64.png png/popsend-256.png popsend.ico
png2icns popsend.icns png/popsend-16.png png/popsend-32.png png/popsend-48.png \
        png/popsend-128.png png/popsend-256.png png/popsend-512.png >/dev/null
echo "icons made: $(ls png | wc -l) PNGs, popsend.ico, popsend.icns"
