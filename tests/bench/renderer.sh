#!/usr/bin/env bash
# glow against wgpu, as a user would meet them: binary size, time from process start to the first
# frame, memory and CPU while the window sits idle with the relay-window countdown running.
# Runs each binary under Xvfb (Mesa: llvmpipe for OpenGL, lavapipe for Vulkan).
# Usage: tests/bench/renderer.sh GLOW_BINARY WGPU_BINARY [RUNS]
#   build them with: cargo build --release; cp target/release/popsend /tmp/popsend-glow
#                    cargo build --release --features wgpu; cp target/release/popsend /tmp/popsend-wgpu
# Needs: xvfb, mesa-vulkan-drivers (apt-get install xvfb mesa-vulkan-drivers libvulkan1).
set -euo pipefail
glow=$1 wgpu=$2 runs=${3:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../support/xvfb.sh"
xvfb_start 1000x720
export POPSEND_PASSWORD=unused POPSEND_LANG=ja
printf '[account]\naddress = "taro@example.ac.jp"\n[pop]\nhost = "127.0.0.1"\nport = 1\nusername = "taro"\n[smtp]\nport = 1\n' > "$work/config.toml"
tick=$(getconf CLK_TCK)

# A relay window opened now, so the countdown runs (one repaint a second) while idle.
open_window() {
  mkdir -p "$work/data"
  printf 'login_at_ms %s\nlogin_server 127.0.0.1:1\nlogin_peer 127.0.0.1\n' "$(date +%s%3N)" > "$work/data/relay-window"
}

first_frame_ms() {
  local bin=$1 log=$work/start.log
  open_window
  POPSEND_TRACE_START=1 "$bin" --config "$work/config.toml" --data-dir "$work/data" 2>"$log" >/dev/null & local pid=$!
  for _ in $(seq 1 200); do
    grep -q "first frame" "$log" 2>/dev/null && break
    sleep 0.05
  done
  kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
  sed -n 's/.*first frame after \([0-9]*\) ms.*/\1/p' "$log"
}

measure() {
  local name=$1 bin=$2
  local size starts median pid rss0 t0 t1 rss1
  size=$(stat -c %s "$bin")
  starts=$(for _ in $(seq 1 "$runs"); do first_frame_ms "$bin"; done | sort -n | tr '\n' ' ')
  median=$(echo "$starts" | tr ' ' '\n' | sed '/^$/d' | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  open_window
  "$bin" --config "$work/config.toml" --data-dir "$work/data" >/dev/null 2>&1 & pid=$!
  sleep 5
  rss0=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
  sleep 30
  t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
  rss1=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null || true
  printf '%-5s  size %6.1f MB  first frame median %4s ms (runs: %s)  RSS %4d MB after 5 s, %4d MB after 35 s  idle CPU with countdown %d ticks / 30 s (%.2f %%)\n' \
    "$name" "$(echo "$size / 1048576" | bc -l)" "$median" "$starts" $((rss0 / 1024)) $((rss1 / 1024)) $((t1 - t0)) "$(echo "($t1 - $t0) * 100 / ($tick * 30)" | bc -l)"
}

measure glow "$glow"
measure wgpu "$wgpu"
