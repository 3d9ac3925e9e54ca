#!/usr/bin/env bash
# Issue 14, goal 2: COUNT queued messages sent by one `popsend flush` (one POP login, one SMTP
# session) through a proxy that adds latency, to the real Postfix
#   with PIPELINING announced (MAIL FROM, RCPT TO and DATA go as one group, behind the previous
#   message's final dot), and
#   with PIPELINING taken out of Postfix's EHLO (smtpd_discard_ehlo_keywords): one command at a
#   time, which is what every message cost before popsend grouped them.
# Prints wall time and the SMTP round trips the client waited for, in all and per message. Not a
# test: it prints numbers, it asserts nothing.
#
# Usage: tests/bench/queue.sh [DELAY_MS (one way, default 50)] [COUNT (default 100)]
# Needs: the release binary (cargo build --release), Dovecot, Postfix, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
DELAY=${1:-50}
COUNT=${2:-100}
. tests/bench/servers.sh
bench_servers 42000
POP=$((POPSEND_TEST_POP3_PORT + 3000)); SMTP=$((POPSEND_TEST_SMTP_PORT + 3000))
start_proxy "$DELAY" "$POP:$POPSEND_TEST_POP3_PORT" "$SMTP:$POPSEND_TEST_SMTP_PORT"
{ bench_config "$POP"; cat; } > "$DIR/config.toml" <<EOF
[smtp]
port = $SMTP
[relay]
window_seconds = 600
EOF
head -c 1024 /dev/zero | tr '\0' 'x' | fold -w 64 > "$DIR/body"
ps() { POPSEND_PASSWORD=$POPSEND_TEST_PASS POPSEND_LANG=en "$BIN" --config "$DIR/config.toml" --data-dir "$DIR/data" "$@"; }
smtp_turns() { python3 -c '
import json,sys
print(sum(json.loads(l)["turns"] for l in open(sys.argv[1]) if json.loads(l)["port"]==int(sys.argv[2])))' "$DIR/stats" "$SMTP"; }

run() { # NAME
  for i in $(seq "$COUNT"); do ps send --later --to a@example.net --subject "queued $i" --body-file "$DIR/body" > /dev/null; done
  rm -f "$POPSEND_TEST_RELAY_DIR"/*
  : > "$DIR/stats"
  local t0 t1; t0=$(date +%s%3N)
  ps flush > "$DIR/out" 2>&1 || { echo "flush failed:"; cat "$DIR/out"; exit 1; }
  t1=$(date +%s%3N)
  sleep 0.5   # let the proxy record the closed connections
  local turns; turns=$(smtp_turns)
  printf '%-34s %8s ms %8s %10s\n' "$1" "$((t1 - t0))" "$turns" "$(python3 -c "print(f'{$turns/$COUNT:.2f}')")"
}

echo "$COUNT messages of 1 KB, one-way delay ${DELAY} ms (RTT $((2 * DELAY)) ms); $(nproc) cores"
printf '%-34s %11s %8s %10s\n' "" "wall" "SMTP RT" "RT/message"
# The first flush learns the server's EHLO; the measured one uses what it learned, as every
# flush after a student's first does.
ps send --later --to a@example.net --subject warm-up --body-file "$DIR/body" > /dev/null; ps flush > /dev/null 2>&1 || true
run "popsend flush, PIPELINING"
postconf -c "$DIR/servers/postfix/etc" -e smtpd_discard_ehlo_keywords=pipelining
postfix -c "$DIR/servers/postfix/etc" reload > /dev/null 2>&1
sleep 1
# The remembered EHLO said PIPELINING: learn the server anew.
sed -i '/^smtp_ehlo /d' "$DIR/data/relay-window" 2>/dev/null || true
ps send --later --to a@example.net --subject warm-up --body-file "$DIR/body" > /dev/null; ps flush > /dev/null 2>&1 || true
run "popsend flush, no PIPELINING"
