#!/usr/bin/env bash
# Issues 14 and 27: the window's footprint side by side with the mail clients students would
# otherwise use (Sylpheed, Claws Mail; Debian packages), each started the same way under one
# Xvfb (Mesa llvmpipe for OpenGL) with a fresh profile, first start; popsend twice, on the OpenGL
# path (POPSEND_RENDERER=gl) and on the CPU path (=cpu):
#   first window on screen (ms from exec, by xdotool) and popsend's own first frame (ms, from
#   POPSEND_TRACE_START), RSS and PSS after 5 s and after 60 s, idle CPU over 30 s (every
#   thread, as the scheduler counts it; popsend
#   with the relay-window countdown running and 100 messages in 送信トレイ), and CPU time for a
#   burst of 200 characters typed into 作成's body (xdotool, 10 ms apart); and for popsend
#   `status` and `queue` wall time (what scripts and the tray call).
# Not a test: it prints numbers, it asserts nothing.
#
# Usage: tests/bench/footprint.sh [POPSEND_BINARY (default target/release/popsend)]
# Needs: xvfb xdotool sylpheed claws-mail (apt-get install xvfb xdotool sylpheed claws-mail).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${1:-target/release/popsend}")
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
for tool in Xvfb xdotool sylpheed claws-mail; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install xvfb xdotool sylpheed claws-mail)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/popsend-footprint.XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../support/xvfb.sh"
xvfb_start 1280x800
export LANG=ja_JP.UTF-8 LC_ALL=C.UTF-8
tick=$(getconf CLK_TCK)

# popsend: an account, 100 messages queued (the servers are unreachable: port 1), and a relay
# window opened now so the countdown runs.
printf '[account]\naddress = "taro@example.ac.jp"\n[pop]\nhost = "127.0.0.1"\nport = 1\nusername = "taro"\n[smtp]\nport = 1\n' > "$work/config.toml"
ps() { POPSEND_PASSWORD=unused POPSEND_LANG=ja "$BIN" --config "$work/config.toml" --data-dir "$work/data" "$@"; }
for i in $(seq 100); do ps send --later --to "hanako$i@example.jp" --subject "レポート $i" --body-file /etc/os-release > /dev/null; done
open_window() { printf 'login_at_ms %s\nlogin_server 127.0.0.1:1\nlogin_peer 127.0.0.1\n' "$(date +%s%3N)" > "$work/data/relay-window"; }

kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/${3:-status}"; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU time in nanoseconds, every thread, as the scheduler counts it: idle figures are a few
# milliseconds a second, below what the 10 ms ticks of /proc/PID/stat can tell apart.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
# Children (Claws starts none, but a helper would count): the process itself is measured.

measure() { # NAME HOME COMMAND...   (RENDERER in the environment picks popsend's path)
  local name=$1 home=$2; shift 2
  mkdir -p "$home"
  local t0 pid shown frame rss5 pss5 c0 c1 rss60 pss60 win b0 b1 burst
  t0=$(date +%s%3N)
  HOME=$home POPSEND_PASSWORD=unused POPSEND_LANG=ja POPSEND_RENDERER=${RENDERER:-} POPSEND_TRACE_START=1 \
    "$@" >/dev/null 2>"$home/stderr" & pid=$!
  shown=-
  for _ in $(seq 400); do
    if xdotool search --onlyvisible --pid "$pid" >/dev/null 2>&1; then shown=$(( $(date +%s%3N) - t0 )); break; fi
    sleep 0.025
  done
  sleep 5
  frame=$(sed -n 's/.*first frame after \([0-9]*\) ms.*/\1/p' "$home/stderr"); frame=${frame:--}
  rss5=$(kb "$pid" VmRSS); pss5=$(pss "$pid")
  c0=$(cpu_ns "$pid"); sleep 30; c1=$(cpu_ns "$pid")
  # A thread that ends in between takes its time with it: never below nothing.
  [ "$c1" -ge "$c0" ] || c1=$c0
  sleep 25
  rss60=$(kb "$pid" VmRSS); pss60=$(pss "$pid")
  # Typing: 200 characters into the first text field that takes them (作成's body for popsend:
  # Ctrl+N, then Tab twice past 宛先 and the Cc/Bcc button, then 件名 and Tab into the body).
  burst=-
  if [ "$name" != "${name#popsend}" ] && win=$(xdotool search --onlyvisible --pid "$pid" 2>/dev/null | head -1); then
    xdotool windowfocus --sync "$win" key ctrl+n Tab Tab Tab 2>/dev/null || true
    b0=$(ticks "$pid")
    xdotool type --delay 10 "$(printf 'abcdefghij%.0s' $(seq 20))"
    sleep 1
    b1=$(ticks "$pid")
    burst=$(( (b1 - b0) * 1000 / tick ))
  fi
  # A first-start dialog may hold off SIGTERM (Claws Mail's does): then SIGKILL.
  kill "$pid" 2>/dev/null; sleep 2; kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  printf '%-12s %9s %9s %9d %9d %9d %9d %7.3f %% %9s\n' "$name" "$shown" "$frame" $((rss5 / 1024)) $((pss5 / 1024)) $((rss60 / 1024)) $((pss60 / 1024)) \
    "$(echo "($c1 - $c0) * 100 / (30 * 10^9)" | bc -l)" "$burst"
}

echo "one Xvfb ($(dpkg-query -W -f '${Version}' xvfb 2>/dev/null), Mesa $(dpkg-query -W -f '${Version}' libgl1-mesa-dri 2>/dev/null)), $(nproc) cores; fresh profiles, first start"
printf '%-12s %9s %9s %9s %9s %9s %9s %9s %9s\n' "" "shown ms" "frame ms" "RSS 5s" "PSS 5s" "RSS 60s" "PSS 60s" "idle CPU" "typing ms"
open_window
RENDERER=gl measure "popsend gl" "$work/home-popsend-gl" "$BIN" --config "$work/config.toml" --data-dir "$work/data"
open_window
RENDERER=cpu measure "popsend cpu" "$work/home-popsend-cpu" "$BIN" --config "$work/config.toml" --data-dir "$work/data"
measure Sylpheed "$work/home-sylpheed" sylpheed
measure "Claws Mail" "$work/home-claws" claws-mail --alternate-config-dir "$work/home-claws/.claws-mail"

# Goal 4: the commands scripts call, median of 11, warm cache.
for cmd in status queue; do
  times=$(for _ in $(seq 11); do s=$(date +%s%N); ps "$cmd" > /dev/null 2>&1 || true; echo $(( ($(date +%s%N) - s) / 1000 )); done | sort -n)
  printf 'popsend %-6s median %6.1f ms (of 11)\n' "$cmd" "$(echo "$(echo "$times" | sed -n 6p) / 1000" | bc -l)"
done
printf 'binary %s: %.1f MB\n' "$BIN" "$(echo "$(stat -c %s "$BIN") / 1048576" | bc -l)"
