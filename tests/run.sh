#!/usr/bin/env bash
# The whole test suite, as README and CI run it: installs what the tests need (Debian packages),
# starts the real test mail servers (Dovecot + Postfix, POP before SMTP) on loopback, runs every
# test, and stops the servers whatever happened. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-core dovecot-pop3d)
command -v postfix >/dev/null 2>&1 || need+=(postfix)
# The POP3 server matrix (tests/servers/matrix.sh): GNU Mailutils and Courier.
command -v pop3d >/dev/null 2>&1 || need+=(mailutils-pop3d)
command -v couriertcpd >/dev/null 2>&1 || need+=(courier-base)
command -v authdaemond >/dev/null 2>&1 || need+=(courier-authdaemon)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need+=(libssl-dev)
# The cheap packaging checks (packaging/validate.sh) and the autostart entry's test.
command -v desktop-file-validate >/dev/null 2>&1 || need+=(desktop-file-utils)
command -v appstreamcli >/dev/null 2>&1 || need+=(appstream)
command -v makensis >/dev/null 2>&1 || need+=(nsis)
command -v groff >/dev/null 2>&1 || need+=(groff-base)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# Mail programs no one here wrote, handing mail to popsend serve (tests/it/clients.rs).
command -v swaks >/dev/null 2>&1 || need+=(swaks)
command -v msmtp >/dev/null 2>&1 || need+=(msmtp)
command -v s-nail >/dev/null 2>&1 || need+=(s-nail)
command -v neomutt >/dev/null 2>&1 || need+=(neomutt)
command -v git >/dev/null 2>&1 || need+=(git)
# An X server, X input and screenshots for the window on the CPU path (tests/it/cpu_window.rs).
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
command -v xdotool >/dev/null 2>&1 || need+=(xdotool)
command -v compare >/dev/null 2>&1 || need+=(imagemagick)
# A real input method (IBus with Anthy, over XIM) typing Japanese into the CPU path's window.
command -v ibus-daemon >/dev/null 2>&1 || need+=(ibus)
[ -x /usr/libexec/ibus-engine-anthy ] || need+=(ibus-anthy)
command -v dbus-daemon >/dev/null 2>&1 || need+=(dbus-daemon)
# (git exits 129 after -h; with pipefail that alone would fail the check)
{ git send-email -h 2>&1 || true; } | grep -q '<file|directory>' || need+=(git-email)
if [ ${#need[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${need[*]}"
  [ "$(id -u)" = 0 ] || { echo "tests/run.sh: need root to install ${need[*]}" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

bash packaging/validate.sh

DIR=$(mktemp -d /tmp/popsend-servers.XXXXXX)
chmod 755 "$DIR"   # the mail servers' own users must reach it
cleanup() {
  status=$?
  bash tests/servers/stop.sh "$DIR"
  if [ $status -ne 0 ]; then
    echo "--- last lines of the test servers' logs ($DIR) ---" >&2
    tail -n 30 "$DIR/dovecot.log" "$DIR/postfix.log" >&2 2>/dev/null || true
  else
    rm -rf "$DIR"
  fi
}
trap cleanup EXIT
bash tests/servers/start.sh "$DIR"
export POPSEND_TEST_ENV="$DIR/env"

cargo test --locked --features real-servers "$@"
# The submission server's session fuzz target, bounded (issue 23): one DATA in, at most one
# message out, its bytes unchanged, however the bytes arrive. `cargo test` built it; longer runs
# by hand with tests/fuzz/run.sh.
cargo run --locked --quiet --features real-servers --example fuzz -- smtpd "${POPSEND_FUZZ_SECONDS:-60}"
