#!/usr/bin/env bash
# Issue 14, goal 1: one send through a proxy that adds latency, against the hand-run baseline,
# in cleartext (POP3 110 + SMTP 25) and with TLS (POP3S + SMTP STARTTLS):
#   popsend send                     (POP login overlapped with the SMTP open)
#   curl POP login, then msmtp send  (what a careful user does by hand)
# Reports wall time (median of RUNS), the ratio popsend / by hand, and the protocol round trips
# the client waited for on each connection (from tests/bench/latency_proxy.py, which also models
# the TCP handshake). Not a test: it prints numbers, it asserts nothing.
#
# Usage: tests/bench/send_latency.sh [DELAY_MS (one way, default 50)] [RUNS (default 5)]
# Needs: the release binary (cargo build --release), Dovecot, Postfix, curl, msmtp, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
DELAY=${1:-50}
RUNS=${2:-5}
command -v msmtp >/dev/null || { echo "needs msmtp (apt-get install msmtp)" >&2; exit 1; }
. tests/bench/servers.sh
bench_servers 40000
# Clear of the servers' own ports (start.sh and matrix.sh use BASE+25 … BASE+2110).
POP=$((POPSEND_TEST_POP3_PORT + 3000)); SMTP=$((POPSEND_TEST_SMTP_PORT + 3000)); POPS=$((POPSEND_TEST_POP3S_PORT + 3000))
start_proxy "$DELAY" "$POP:$POPSEND_TEST_POP3_PORT" "$SMTP:$POPSEND_TEST_SMTP_PORT" "$POPS:$POPSEND_TEST_POP3S_PORT"

{ bench_config "$POP"; cat; } > "$DIR/plain.toml" <<EOF
[smtp]
port = $SMTP
EOF
{ bench_config "$POPS" tls; cat; } > "$DIR/tls.toml" <<EOF
[smtp]
port = $SMTP
security = "starttls"
[tls]
ca_file = "$POPSEND_TEST_CA"
EOF
printf 'Subject: baseline\r\nFrom: student@popsend.test\r\nTo: a@example.net\r\n\r\nbody\r\n' > "$DIR/msg"


# Sum of turns per port for the connections recorded since the stats file was emptied.
turns() { python3 -c '
import json,sys
pop,smtp,conns={},{},0
t={"pop":0,"smtp":0}
for l in open(sys.argv[1]):
    s=json.loads(l); conns+=1
    t["smtp" if s["port"]==int(sys.argv[2]) else "pop"]+=s["turns"]
print(t["pop"], t["smtp"], conns)' "$DIR/stats" "$SMTP"; }

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
  printf '%-34s %8s ms %10s %10s %6s   runs: %s\n' "$name" "$median" "$pt" "$st" "$conns" "${times[*]}"
  MEDIAN=$median
}

popsend_send() { POPSEND_PASSWORD=$POPSEND_TEST_PASS POPSEND_LANG=en "$BIN" --config "$DIR/$MODE.toml" --data-dir "$DIR/data-$MODE" \
  send --to a@example.net --subject bench --body-file /dev/null; }
baseline() {
  if [ "$MODE" = tls ]; then
    curl -s --max-time 30 --cacert "$POPSEND_TEST_CA" "pop3s://127.0.0.1:$POPS/" -u "$POPSEND_TEST_USER:$POPSEND_TEST_PASS" > /dev/null &&
    msmtp --host=127.0.0.1 --port="$SMTP" --auth=off --tls=on --tls-starttls=on --tls-trust-file="$POPSEND_TEST_CA" \
      --from=student@popsend.test a@example.net < "$DIR/msg"
  else
    curl -s --max-time 30 "pop3://127.0.0.1:$POP/" -u "$POPSEND_TEST_USER:$POPSEND_TEST_PASS" > /dev/null &&
    msmtp --host=127.0.0.1 --port="$SMTP" --auth=off --tls=off --from=student@popsend.test a@example.net < "$DIR/msg"
  fi
}

echo "one-way delay ${DELAY} ms (RTT $((2 * DELAY)) ms), ${RUNS} runs each; $(nproc) cores, $(uname -r)"
printf '%-34s %11s %10s %10s %6s\n' "" "wall (med)" "POP turns" "SMTP turns" "conns"
for MODE in plain tls; do
  # The first send learns the server (login method, SIZE): what a student's next send meets.
  close_window; popsend_send > /dev/null 2>&1 || true
  measure "popsend send ($MODE)" popsend_send; ours=$MEDIAN
  measure "curl POP + msmtp ($MODE)" baseline; theirs=$MEDIAN
  printf '%-34s %8s\n' "ratio popsend / by hand ($MODE)" "$(python3 -c "import sys; print(f'{int(sys.argv[1])/int(sys.argv[2]):.2f}')" "$ours" "$theirs")"
done
