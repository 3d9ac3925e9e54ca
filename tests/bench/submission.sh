#!/usr/bin/env bash
# The submission server under load: a client pipelines 100 messages of 10 KB into
#   popsend serve, offline (POP and SMTP unreachable: every message is stored and queued), and
#   popsend serve, online (each message tried at once through the real servers: try now, then queue),
# side by side with the test Postfix accepting the same load after a POP login (what a mail
# server on this machine does). Prints messages accepted per second and the 250 latency after
# the end of data (p50, p99). Not a test: it prints numbers, it asserts nothing.
#
# Usage: tests/bench/submission.sh [COUNT (default 100)] [SIZE (default 10240)]
# Needs: the release binary (cargo build --release), Dovecot, Postfix, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=${1:-100}
SIZE=${2:-10240}
. tests/bench/servers.sh
bench_servers 41000

config() { # NAME POP_PORT SMTP_PORT SUBMISSION_PORT
  mkdir -p "$DIR/$1"
  cat > "$DIR/$1/config.toml" <<CONF
[account]
address = "student@popsend.test"
[pop]
host = "127.0.0.1"
port = $2
username = "$POPSEND_TEST_USER"
[smtp]
port = $3
[relay]
window_seconds = 600
[submission]
port = $4
CONF
  chmod 600 "$DIR/$1/config.toml"
}
serve() { # NAME
  POPSEND_PASSWORD=$POPSEND_TEST_PASS "$BIN" --config "$DIR/$1/config.toml" --data-dir "$DIR/$1/data" serve > "$DIR/$1/serve.log" 2>&1 &
  BENCH_CHILD=$!
  for _ in $(seq 100); do [ -s "$DIR/$1/data/submission-login" ] && nc -z 127.0.0.1 "$2" 2>/dev/null && break; sleep 0.05; done
}
load() { # PORT [AUTH_FILE]
  if [ -n "${2:-}" ]; then python3 tests/bench/submission_load.py 127.0.0.1 "$1" --auth popsend "$(cat "$2")" --count "$COUNT" --size "$SIZE"
  else python3 tests/bench/submission_load.py 127.0.0.1 "$1" --count "$COUNT" --size "$SIZE"; fi
}

echo "$COUNT messages of $SIZE bytes, pipelined in one session; $(nproc) cores"
config offline 1 2 42525
serve offline 42525
printf '%-34s ' "popsend serve, offline (queued):"; load 42525 "$DIR/offline/data/submission-login"
kill "$BENCH_CHILD"; wait "$BENCH_CHILD" 2>/dev/null || true; BENCH_CHILD=

config online "$POPSEND_TEST_POP3_PORT" "$POPSEND_TEST_SMTP_PORT" 42526
serve online 42526
printf '%-34s ' "popsend serve, online (try now):"; load 42526 "$DIR/online/data/submission-login"
kill "$BENCH_CHILD"; wait "$BENCH_CHILD" 2>/dev/null || true; BENCH_CHILD=

# Postfix relays for 600 s after a POP login from this address.
POPSEND_PASSWORD=$POPSEND_TEST_PASS "$BIN" --config "$DIR/online/config.toml" --data-dir "$DIR/online/data" auth >/dev/null
printf '%-34s ' "Postfix (after a POP login):"; load "$POPSEND_TEST_SMTP_PORT"
