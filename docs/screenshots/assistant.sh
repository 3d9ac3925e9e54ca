#!/usr/bin/env bash
# Screenshots of the first-run assistant (はじめての設定), Japanese and English, from the real
# window under Xvfb against the real test mail servers: start them first
#   bash tests/servers/start.sh /tmp/srv && POPSEND_TEST_ENV=/tmp/srv/env docs/screenshots/assistant.sh [popsend]
# A preset for the test domain (popsend.test) in the user's presets.toml lets the assistant find
# the servers from the address alone; the password is typed as a student would.
# Writes assistant-1-{ja,en}.png (the address and password typed) and assistant-2-{ja,en}.png (the
# servers found and 接続テスト passed: one screen, as the test starts at once). Needs: xvfb
# xdotool imagemagick.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/target/release/popsend}
: "${POPSEND_TEST_ENV:?start the test servers and set POPSEND_TEST_ENV (see the top of this file)}"
# shellcheck disable=SC1090
source "$POPSEND_TEST_ENV"
work=$(mktemp -d)
trap 'kill "${app:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/../../tests/support/xvfb.sh"
xvfb_start 1000x720
for lang in ja en; do
  mkdir -p "$work/$lang/config"
  cat > "$work/$lang/config/presets.toml" <<TOML
[[preset]]
id = "popsend-test"
name = "popsend テスト大学"
name_en = "popsend Test University"
pop_host = "pop.popsend.test"
pop_port = $POPSEND_TEST_POP3_PORT
pop_security = "none"
smtp_port = $POPSEND_TEST_SMTP_PORT
smtp_security = "none"
window_minutes = 10
domains = ["popsend.test"]
TOML
  POPSEND_LANG=$lang "$bin" --config "$work/$lang/config/config.toml" --data-dir "$work/$lang/data" >/dev/null 2>&1 & app=$!
  xdotool search --sync --class popsend >/dev/null
  win=$(xdotool search --class popsend | head -1)
  xdotool windowmove "$win" 0 0
  sleep 2
  xdotool windowfocus --sync "$win"
  sleep 0.5
  xdotool type --delay 20 "$POPSEND_TEST_USER@popsend.test"
  xdotool key Tab
  xdotool type --delay 20 "$POPSEND_TEST_PASS"
  sleep 0.5
  import -window "$win" "$here/assistant-1-$lang.png"
  xdotool key Return
  # Found and tested: on loopback this takes well under a second.
  sleep 4
  import -window "$win" "$here/assistant-2-$lang.png"
  kill "$app"; wait "$app" 2>/dev/null || true
  echo "assistant.sh: $here/assistant-{1,2}-$lang.png"
done
