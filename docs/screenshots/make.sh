#!/usr/bin/env bash
# Regenerates the README's screenshots: starts the real popsend window under Xvfb (no desktop,
# no CJK fonts needed: the window brings its own), with a draft filled in, two messages waiting
# for an unreachable server and a relay window opened 18 s ago, then saves PNGs of 作成,
# 送信トレイ and 設定 here. Needs: xvfb, xdotool, imagemagick (apt-get install xvfb xdotool
# imagemagick). Usage: docs/screenshots/make.sh [path/to/popsend]  (default: a release build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-}
if [[ -z "$bin" ]]; then
  (cd "$root" && cargo build --release --locked)
  bin=$root/target/release/popsend
fi
for tool in Xvfb xdotool import; do
  command -v "$tool" >/dev/null || { echo "make.sh: $tool is missing (apt-get install xvfb xdotool imagemagick)" >&2; exit 1; }
done

work=$(mktemp -d)
cleanup() { kill "${app:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# An account whose server does not answer (port 1): the outbox shows what waiting looks like.
cat > "$work/config.toml" <<'TOML'
[account]
address = "taro@st.example.ac.jp"
display_name = "東北 太郎"

[pop]
host = "127.0.0.1"
port = 1
username = "taro"

[smtp]
port = 1

[relay]
window_seconds = 600
TOML
mkdir -p "$work/data"
head -c 245760 /dev/urandom > "$work/期末レポート.pdf"
cat > "$work/data/draft.toml" <<TOML
to = "sensei@example.ac.jp"
cc = ""
bcc = ""
subject = "期末レポートの提出"
body = """
田中先生

情報科学演習の期末レポートを添付いたします。
ご確認のほど、よろしくお願いいたします。

東北 太郎
"""
attachments = ["$work/期末レポート.pdf"]
TOML
# SHOT_LANG=en makes every view in English (compose-en.png and so on);
# SHOT_THEME=dark makes every view in the dark look, as compose-dark.png and so on.
export POPSEND_PASSWORD=not-used POPSEND_LANG=${SHOT_LANG:-ja}
suffix=""
if [ "${SHOT_THEME:-}" = dark ]; then
  printf '\n[app]\ntheme = "dark"\n' >> "$work/config.toml"
  suffix=-dark
fi
printf 'ゼミの資料です。\n' > "$work/body.txt"
"$bin" --config "$work/config.toml" --data-dir "$work/data" send --later --to yamada@example.com --subject "ゼミ資料 (第3回)" --body-file "$work/body.txt" >/dev/null
"$bin" --config "$work/config.toml" --data-dir "$work/data" send --later --to club@example.org --cc hanako@example.ac.jp --subject "サークルの連絡" --body-file "$work/body.txt" >/dev/null
now_ms=$(( $(date +%s%3N) - 18000 ))
printf '# popsend relay-window state\nlogin_at_ms %s\nlogin_server 127.0.0.1:1\nlogin_peer 127.0.0.1\n' "$now_ms" > "$work/data/relay-window"

source "$root/tests/support/xvfb.sh"
xvfb_start 1000x720
"$bin" --config "$work/config.toml" --data-dir "$work/data" >/dev/null 2>&1 & app=$!
xdotool search --sync --class popsend >/dev/null
win=$(xdotool search --class popsend | head -1)
xdotool windowmove "$win" 0 0
sleep 3   # the first flush finds the server unreachable; the rows show why
shot() {
  xdotool key "ctrl+$1"
  sleep 1.2
  import -window "$win" "$here/$2.png"
  echo "make.sh: $here/$2.png"
}
xdotool windowfocus --sync "$win"
# 作成 with two finished addresses (chips: the draft's and one typed) and one being typed.
xdotool key ctrl+1 ctrl+n
sleep 0.5
xdotool type --delay 20 ", yamada@example.com, han"
if [ "$POPSEND_LANG" = ja ]; then
  shot 1 "compose$suffix"
  shot 2 "outbox$suffix"
  shot 3 "sent$suffix"
  shot 4 "settings$suffix"
else
  shot 1 "compose-$POPSEND_LANG$suffix"
  shot 2 "outbox-$POPSEND_LANG$suffix"
  shot 3 "sent-$POPSEND_LANG$suffix"
  shot 4 "settings-$POPSEND_LANG$suffix"
fi
