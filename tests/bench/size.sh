#!/usr/bin/env bash
# Issue 14, goal 5: release profile choices, measured for size, build time and speed. Each
# variant is built from scratch in its own target directory (the main one stays as it is), then
# run under Xvfb: binary size, clean build wall time, first frame (median of 5, from
# POPSEND_TRACE_START), RSS 5 s after start, and `popsend queue` wall time (median of 11).
# Slow (every variant rebuilds every crate): run it by hand, not in CI. Not a test.
#
# Usage: tests/bench/size.sh [VARIANT...]   (default: all; see the table below)
# Needs: xvfb.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=${SIZE_TARGETS:-/tmp/popsend-size}
mkdir -p "$ROOT"
# name: lto codegen-units opt-level
declare -A VARIANTS=(
  [default]="false 16 3"
  [thin]="thin 16 3"
  [fat-cgu1]="fat 1 3"
  [fat-cgu1-s]="fat 1 s"
)
ORDER=(default thin fat-cgu1 fat-cgu1-s)
[ $# -gt 0 ] && ORDER=("$@")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source tests/support/xvfb.sh
xvfb_start 1280x800
export POPSEND_PASSWORD=unused POPSEND_LANG=ja
printf '[account]\naddress = "taro@example.ac.jp"\n[pop]\nhost = "127.0.0.1"\nport = 1\nusername = "taro"\n[smtp]\nport = 1\n' > "$work/config.toml"

printf '%-12s %6s %6s %4s %10s %10s %10s %10s\n' variant lto cgu opt "size MB" "build s" "frame ms" "RSS MB" 
for name in "${ORDER[@]}"; do
  read -r lto cgu opt <<< "${VARIANTS[$name]}"
  dir=$ROOT/$name
  t0=$(date +%s)
  CARGO_PROFILE_RELEASE_LTO=$lto CARGO_PROFILE_RELEASE_CODEGEN_UNITS=$cgu CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt \
    nice cargo build --release --quiet --target-dir "$dir" 2> "$work/build.log" || { cat "$work/build.log"; exit 1; }
  built=$(( $(date +%s) - t0 ))
  bin=$dir/release/popsend
  frames=$(for _ in 1 2 3 4 5; do
    rm -rf "$work/data"
    POPSEND_TRACE_START=1 "$bin" --config "$work/config.toml" --data-dir "$work/data" 2> "$work/start.log" > /dev/null & pid=$!
    for _ in $(seq 200); do grep -q "first frame" "$work/start.log" 2>/dev/null && break; sleep 0.05; done
    kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
    sed -n 's/.*first frame after \([0-9]*\) ms.*/\1/p' "$work/start.log"
  done | sort -n | sed -n 3p)
  "$bin" --config "$work/config.toml" --data-dir "$work/data" > /dev/null 2>&1 & pid=$!
  sleep 5
  rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
  kill $pid; wait $pid 2>/dev/null || true
  printf '%-12s %6s %6s %4s %10.1f %10s %10s %10s\n' "$name" "$lto" "$cgu" "$opt" "$(echo "$(stat -c %s "$bin") / 1048576" | bc -l)" "$built" "$frames" "$rss"
done
