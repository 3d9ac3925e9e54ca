#!/usr/bin/env bash
# What a CPU renderer would change for issue 14's goal 3: the same stand-in of popsend's 作成 tab
# (tests/bench/softrender: egui 0.34, one repaint a second for the countdown, 960×700) drawn by
#   glow  eframe's OpenGL renderer, as popsend draws (here Mesa llvmpipe: software GL), and
#   soft  egui_software_backend, a CPU rasterizer presenting through softbuffer (no GL at all).
# Prints, for each: first window on screen (ms from exec, xdotool), RSS and PSS after 6 s, idle
# CPU over 30 s. Not a test: it prints numbers, it asserts nothing.
#
# Usage: tests/bench/softrender.sh
# Needs: xvfb xdotool bc, and crates.io reachable for the first build (its own Cargo.lock).
set -euo pipefail
cd "$(dirname "$0")/softrender"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/../../../target/softrender}
cargo build --release --locked --quiet
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
source ../../support/xvfb.sh
xvfb_start 1280x800
export HOME=$home
tick=$(getconf CLK_TCK)
printf '%-6s %9s %7s %7s %9s\n' "" "shown ms" "RSS MB" "PSS MB" "idle CPU"
for bin in glow soft; do
  t0=$(date +%s%3N)
  "$CARGO_TARGET_DIR/release/$bin" >/dev/null 2>&1 & pid=$!
  shown=-
  for _ in $(seq 400); do
    if xdotool search --onlyvisible --pid "$pid" >/dev/null 2>&1; then shown=$(( $(date +%s%3N) - t0 )); break; fi
    sleep 0.01
  done
  sleep 6
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"); pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")
  c0=$(awk '{print $14 + $15}' "/proc/$pid/stat"); sleep 30; c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  printf '%-6s %9s %7d %7d %7.2f %%\n' "$bin" "$shown" $((rss / 1024)) $((pss / 1024)) "$(echo "($c1 - $c0) * 100 / ($tick * 30)" | bc -l)"
done
