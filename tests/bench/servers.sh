# Sourced by the benches that send through the real mail servers (send_latency.sh, queue.sh,
# submission.sh); run from the repository's top folder.
#   bench_servers BASE_PORT   checks the release binary ($BIN, target/release/popsend unless
#                             set), makes the scratch folder $DIR, starts Dovecot and Postfix on
#                             BASE_PORT and sources their env; on exit kills $BENCH_CHILD (the
#                             script's proxy or server, if any), stops them and removes $DIR
#   start_proxy DELAY_MS LISTEN:TARGET…
#                             tests/bench/latency_proxy.py, recording into $DIR/stats; returns
#                             once it listens
#   bench_config POP_PORT [SECURITY]
#                             prints the [account] and [pop] sections of a config for the test
#                             user (the rest follows it)
#   ms_now                    the time in milliseconds
#   close_window              forgets every POP login on the server side (the next send logs in)
bench_servers() {
  BIN=${BIN:-target/release/popsend}
  [ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
  DIR=$(mktemp -d /tmp/popsend-bench.XXXXXX)
  chmod 755 "$DIR"   # the mail servers' own users must reach it
  BENCH_CHILD=
  trap bench_stop EXIT
  # KEEP_MATRIX=1: no other POP servers needed, and their authdaemond (shared) stays as it is.
  KEEP_MATRIX=1 BASE_PORT=$1 WINDOW=600 bash tests/servers/start.sh "$DIR/servers" >/dev/null
  # shellcheck disable=SC1091
  . "$DIR/servers/env"
}

bench_stop() {
  [ -n "$BENCH_CHILD" ] && kill "$BENCH_CHILD" 2>/dev/null
  KEEP_MATRIX=1 bash tests/servers/stop.sh "$DIR/servers" >/dev/null 2>&1
  rm -rf "$DIR"
}

start_proxy() {
  local delay=$1
  shift
  python3 tests/bench/latency_proxy.py --delay-ms "$delay" --stats "$DIR/stats" "$@" > "$DIR/proxy.out" &
  BENCH_CHILD=$!
  for _ in $(seq 50); do grep -q ready "$DIR/proxy.out" 2>/dev/null && break; sleep 0.1; done
}

bench_config() {
  printf '[account]\naddress = "student@popsend.test"\n[pop]\nhost = "127.0.0.1"\nport = %s\nusername = "%s"\n' "$1" "$POPSEND_TEST_USER"
  if [ -n "${2:-}" ]; then printf 'security = "%s"\n' "$2"; fi
}

ms_now() { date +%s%3N; }
close_window() { rm -f "$POPSEND_TEST_RELAY_DIR"/*; }
