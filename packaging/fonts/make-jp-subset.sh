#!/usr/bin/env bash
# Makes assets/fonts/NotoSansCJKjp-subset.otf: Noto Sans CJK JP Regular cut to what Japanese mail
# and popsend's own text use (ASCII, Latin-1, the whole Shift_JIS/CP932 repertoire — JIS X 0208
# kanji, kana, NEC/IBM extensions — and a few UI symbols), so the window shows Japanese on a
# machine with no CJK fonts. Reproducible from Debian's fonts-noto-cjk and PyPI's fonttools:
#   apt-get install fonts-noto-cjk && pip install fonttools && packaging/fonts/make-jp-subset.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=${SRC:-/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc}
OUT=assets/fonts/NotoSansCJKjp-subset.otf
[ -f "$SRC" ] || { echo "no $SRC (apt-get install fonts-noto-cjk)" >&2; exit 1; }
TMP=$(mktemp); trap 'rm -f "$TMP"' EXIT
python3 - "$TMP" <<'PY'
import sys
chars = set(chr(c) for c in range(0x20, 0x7f)) | set(chr(c) for c in range(0xa0, 0x100))
for lead in range(0x81, 0xfd):          # every double-byte CP932 code that decodes
    for trail in range(0x40, 0xfd):
        try:
            chars.add(bytes([lead, trail]).decode("cp932"))
        except UnicodeDecodeError:
            pass
chars |= set(bytes([b]).decode("cp932") for b in range(0xa1, 0xe0))   # half-width kana
chars |= set("✓✗✔✘…—–―〜～・※→←↑↓●○■□▲△▼▽◆◇★☆♪〒〇々〆ー－")
with open(sys.argv[1], "w") as f:
    f.write(",".join(f"U+{ord(c):04X}" for c in sorted(chars) if len(c) == 1))
PY
pyftsubset "$SRC" --font-number=0 --unicodes-file="$TMP" --no-hinting --desubroutinize \
  --layout-features='kern,palt,vert,vrt2,liga' --name-IDs='*' --output-file="$OUT"
ls -l "$OUT"
