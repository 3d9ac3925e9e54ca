#!/usr/bin/env bash
# Issue 24: the wall time of `popsend send` from "home", where the provider blocks port 25
# (OP25B): the configured SMTP port drops every SYN (a listener whose accept queue is kept full,
# so the connection attempt waits for its timeout), and the server's submission port (the test
# servers' port that relays after the POP login, standing in for 587) answers. POP and
# submission go through the latency proxy (DELAY_MS one way, 100 ms round trip by default).
# Three ways, RUNS times each (median):
#   before  `[smtp] other_ports = []`: the configured port only, as popsend did before issue 24
#           (it waits out the connect timeout, and the message waits: exit 75)
#   first   the other ports on, nothing remembered: the first send from this network
#   next    the port remembered for this network: every later send
# Not a test: it prints numbers, it asserts nothing.
#
# Usage: tests/bench/op25b.sh [DELAY_MS (one way, default 50)] [RUNS (default 3)]
# Needs: a popsend binary ($BIN, default target/release/popsend), Dovecot, Postfix, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
DELAY=${1:-50}
RUNS=${2:-3}
. tests/bench/servers.sh
bench_servers 43000
POP=$((POPSEND_TEST_POP3_PORT + 3000)); SUB=$((POPSEND_TEST_POP_SUBMISSION_PORT + 3000))
start_proxy "$DELAY" "$POP:$POPSEND_TEST_POP3_PORT" "$SUB:$POPSEND_TEST_POP_SUBMISSION_PORT"
PROXY=$BENCH_CHILD

# The blocked port: every SYN dropped once the (tiny) accept queue is full.
python3 - "$DIR/dropped" <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
port = s.getsockname()[1]
held = []
for _ in range(3):
    c = socket.socket(); c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    held.append(c)
time.sleep(0.2)
open(sys.argv[1], "w").write(str(port))
time.sleep(3600)
PY
DROPPER=$!
trap 'kill $DROPPER $PROXY 2>/dev/null; bench_stop' EXIT
for _ in $(seq 50); do [ -s "$DIR/dropped" ] && break; sleep 0.1; done
BLOCKED=$(cat "$DIR/dropped")

config() { # FILE OTHER_PORTS
  { bench_config "$POP"; cat; } > "$1" <<EOF
[smtp]
port = $BLOCKED
other_ports = [$2]
[tls]
ca_file = "$POPSEND_TEST_CA"
EOF
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

send() { # CONFIG DATA_DIR → "ms exit"
  close_window
  local start end code=0
  start=$(ms_now)
  POPSEND_PASSWORD=$POPSEND_TEST_PASS "$BIN" --config "$1" --data-dir "$2" send --to a@example.net --subject bench --body-file /dev/null >>"$DIR/out" 2>&1 || code=$?
  end=$(ms_now)
  echo "$((end - start)) $code"
}

config "$DIR/before.toml" ""
config "$DIR/after.toml" "{ port = $SUB }"
before=(); first=(); next=(); codes=""
for i in $(seq "$RUNS"); do
  r=$(send "$DIR/before.toml" "$DIR/before-$i"); before+=("${r% *}"); codes+=" before:${r#* }"
  # A new data folder: nothing remembered.
  r=$(send "$DIR/after.toml" "$DIR/after-$i"); first+=("${r% *}"); codes+=" first:${r#* }"
  r=$(send "$DIR/after.toml" "$DIR/after-$i"); next+=("${r% *}"); codes+=" next:${r#* }"
done
echo "OP25B from home: configured port drops SYNs, ${DELAY} ms one way, $RUNS runs, binary $BIN"
printf '%-48s %8s ms\n' "before (configured port only; the message waits)" "$(printf '%s\n' "${before[@]}" | median)"
printf '%-48s %8s ms\n' "first send (other ports, nothing remembered)" "$(printf '%s\n' "${first[@]}" | median)"
printf '%-48s %8s ms\n' "next send (port remembered for this network)" "$(printf '%s\n' "${next[@]}" | median)"
echo "exit codes:$codes"
[ -n "${SHOW:-}" ] && cat "$DIR/out"
