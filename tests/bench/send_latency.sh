#!/usr/bin/env bash
# Measures one send through a proxy that adds latency, against the hand-run baseline:
#   popsend send                          (POP login overlapped with the SMTP open)
#   curl POP login, then msmtp plain send (what a careful user does by hand)
# Reports wall time (median of RUNS) and the protocol round trips the client waited for on each
# connection (from tests/bench/latency_proxy.py; add one RTT per connection for the TCP
# handshake, which the proxy does not delay). Not a test: it prints numbers, it asserts nothing.
#
# Usage: tests/bench/send_latency.sh [DELAY_MS (one way, default 50)] [RUNS (default 5)]
# Needs: the release binary (cargo build --release), Dovecot, Postfix, curl, msmtp, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
DELAY=${1:-50}
RUNS=${2:-5}
BIN=target/release/popsend
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v msmtp >/dev/null || { echo "needs msmtp (apt-get install msmtp)" >&2; exit 1; }

DIR=$(mktemp -d /tmp/popsend-bench.XXXXXX)
chmod 755 "$DIR"   # the mail servers' own users must reach it
PROXY_PID=
cleanup() { [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null; bash tests/servers/stop.sh "$DIR/servers"; rm -rf "$DIR"; }
trap cleanup EXIT
BASE_PORT=40000 WINDOW=600 bash tests/servers/start.sh "$DIR/servers" >/dev/null
# shellcheck disable=SC1091
. "$DIR/servers/env"
POP=$((POPSEND_TEST_POP3_PORT + 1000)); SMTP=$((POPSEND_TEST_SMTP_PORT + 1000))
python3 tests/bench/latency_proxy.py --delay-ms "$DELAY" --stats "$DIR/stats" \
  "$POP:$POPSEND_TEST_POP3_PORT" "$SMTP:$POPSEND_TEST_SMTP_PORT" > "$DIR/proxy.out" &
PROXY_PID=$!
for _ in $(seq 50); do grep -q ready "$DIR/proxy.out" 2>/dev/null && break; sleep 0.1; done

cat > "$DIR/config.toml" <<EOF
[account]
address = "student@popsend.test"
[pop]
host = "127.0.0.1"
port = $POP
username = "$POPSEND_TEST_USER"
[smtp]
port = $SMTP
EOF
printf 'Subject: baseline\r\nFrom: student@popsend.test\r\nTo: a@example.net\r\n\r\nbody\r\n' > "$DIR/msg"

ms_now() { date +%s%3N; }
close_window() { rm -f "$POPSEND_TEST_RELAY_DIR"/*; }

# Sum of turns per port for the connections recorded since the stats file was emptied.
turns() { python3 -c '
import json,sys
pop,smtp,conns={},{},0
t={"pop":0,"smtp":0}
for l in open(sys.argv[1]):
    s=json.loads(l); conns+=1
    t["pop" if s["port"]==int(sys.argv[2]) else "smtp"]+=s["turns"]
print(t["pop"], t["smtp"], conns)' "$DIR/stats" "$POP"; }

measure() { # name, command...
  local name=$1; shift
  local times=() last=
  for _ in $(seq "$RUNS"); do
    close_window; : > "$DIR/stats"
    local t0; t0=$(ms_now)
    "$@" > "$DIR/out" 2>&1 || { echo "$name failed:"; cat "$DIR/out"; exit 1; }
    times+=($(( $(ms_now) - t0 )))
    sleep 0.3   # let the proxy record the closed connections
    last=$(turns)
  done
  local median; median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  read -r pt st conns <<< "$last"
  printf '%-28s %8s ms %10s %10s %6s   runs: %s\n' "$name" "$median" "$pt" "$st" "$conns" "${times[*]}"
}

popsend_send() { POPSEND_PASSWORD=$POPSEND_TEST_PASS POPSEND_LANG=en "$BIN" --config "$DIR/config.toml" --data-dir "$DIR/data" \
  send --to a@example.net --subject bench --body-file /dev/null; }
baseline() {
  curl -s --max-time 30 "pop3://127.0.0.1:$POP/" -u "$POPSEND_TEST_USER:$POPSEND_TEST_PASS" > /dev/null &&
  msmtp --host=127.0.0.1 --port="$SMTP" --auth=off --tls=off --from=student@popsend.test a@example.net < "$DIR/msg"
}

echo "one-way delay ${DELAY} ms (RTT $((2 * DELAY)) ms), ${RUNS} runs each"
printf '%-28s %11s %10s %10s %6s\n' "" "wall (med)" "POP turns" "SMTP turns" "conns"
measure "popsend send" popsend_send
measure "curl POP login + msmtp" baseline
