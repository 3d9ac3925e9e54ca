#!/usr/bin/env bash
# The other real POP3 servers students meet, beside Dovecot (start.sh), on loopback:
#   - GNU Mailutils pop3d (Debian mailutils-pop3d): system users, APOP database (popauth),
#     STLS on demand with the test CA's certificate;
#   - Courier pop3d (Debian courier-pop, run from its unpacked package because it conflicts with
#     dovecot-pop3d): system users through authdaemond + PAM, SASL PLAIN and USER, no APOP.
# Both authenticate system users: this script creates throwaway ones (popsendmu, popsendmu2 with
# no APOP secret, popsendcr) and needs root, as CI runs. Appends their settings to DIR/env.
#
# Usage: matrix.sh start|stop|env DIR   (ports from BASE_PORT, as start.sh; `env` only appends
# the settings, for a restart of Dovecot and Postfix that leaves these two running)
set -euo pipefail
ACTION=${1:?usage: matrix.sh start|stop DIR}
DIR=${2:?usage: matrix.sh start|stop DIR}
BASE_PORT=${BASE_PORT:-20000}
MU_PORT=$((BASE_PORT + 1110))
CR_PORT=$((BASE_PORT + 2110))

stop() {
  local f
  for f in "$DIR/mailutils/pop3d.pid" "$DIR/courier/pop3d.pid"; do
    if [ -f "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi
  done
  rm -f "$DIR/mailutils/pop3d.pid" "$DIR/courier/pop3d.pid"
  return 0
}
write_env() {
  printf '%s\n' "POPSEND_TEST_MU_PORT=$MU_PORT" POPSEND_TEST_MU_USER=popsendmu POPSEND_TEST_MU_PASS=mu-pass-1 \
    POPSEND_TEST_MU_USER2=popsendmu2 POPSEND_TEST_MU_PASS2=mu-pass-2 "POPSEND_TEST_CR_PORT=$CR_PORT" \
    POPSEND_TEST_CR_USER=popsendcr POPSEND_TEST_CR_PASS=cr-pass-1 >> "$DIR/env"
}
case "$ACTION" in
  # authdaemond too: nothing of the test servers outlives the run.
  stop) stop; authdaemond stop </dev/null >/dev/null 2>&1 || true; exit 0 ;;
  env) write_env; exit 0 ;;
  start) ;;
  *) echo "usage: matrix.sh start|stop|env DIR" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || { echo "matrix.sh: needs root (it creates throwaway system users)" >&2; exit 1; }
for tool in pop3d popauth couriertcpd authdaemond maildirmake; do
  command -v "$tool" >/dev/null || { echo "matrix.sh: $tool is not installed (tests/run.sh installs it)" >&2; exit 1; }
done
COURIER="$DIR/courier/pkg/usr/lib/courier/courier"
if [ ! -x "$COURIER/courierpop3login" ]; then
  # courier-pop conflicts with dovecot-pop3d (both provide pop3-server): unpack it, do not
  # install it. Its libraries come with courier-base and courier-authdaemon.
  mkdir -p "$DIR/courier/deb"
  (cd "$DIR/courier/deb" && { apt-get download courier-pop >/dev/null 2>&1 || { apt-get update -qq && apt-get download courier-pop >/dev/null; }; })
  dpkg-deb -x "$DIR"/courier/deb/courier-pop_*.deb "$DIR/courier/pkg"
fi
stop

# Starts a server in the background with no file descriptor but 0-2 (pop3d and couriertcpd keep
# whatever they inherit, and a pipe held open keeps the caller waiting).
detach() {
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec "$@"
  ) &
}

user() { # name password home
  id "$1" >/dev/null 2>&1 || useradd -M -N -s /usr/sbin/nologin -d "$3" "$1"
  usermod -d "$3" "$1" >/dev/null 2>&1 || true
  echo "$1:$2" | chpasswd
}

# --- GNU Mailutils pop3d --------------------------------------------------------------------
MU="$DIR/mailutils"
mkdir -p "$MU/mail"
chmod 755 "$MU"
chmod 1777 "$MU/mail"
user popsendmu mu-pass-1 /nonexistent
user popsendmu2 mu-pass-2 /nonexistent
for u in popsendmu popsendmu2; do
  touch "$MU/mail/$u"
  chown "$u" "$MU/mail/$u"
done
# popsendmu has an APOP secret (the same as its password); popsendmu2 has none, as most
# users of such servers never had one.
printf 'popsendmu mu-pass-1\n' > "$MU/apop.txt"
rm -f "$MU/apop.db"
popauth -c -f "$MU/apop.txt" -o "$MU/apop.db"
cat > "$MU/pop3d.conf" <<EOF
mode daemon;
foreground yes;
pidfile $MU/pop3d.pid;
logging { syslog false; };
mailbox { mailbox-pattern "$MU/mail/\${user}"; };
auth { authentication generic:system; authorization system; };
apop-database-file "$MU/apop.db";
apop-database-safety none;
tls-file-checks { cert-file none; key-file none; ca-file none; };
server 127.0.0.1:$MU_PORT {
  tls-mode ondemand;
  tls { ssl-certificate-file "$DIR/tls/server.crt"; ssl-key-file "$DIR/tls/server.key"; };
};
EOF
detach pop3d --config-file="$MU/pop3d.conf" </dev/null > "$MU/pop3d.log" 2>&1

# --- Courier pop3d --------------------------------------------------------------------------
CR="$DIR/courier"
mkdir -p "$CR/home"
chmod 755 "$CR" "$CR/home"
user popsendcr cr-pass-1 "$CR/home/popsendcr"
rm -rf "$CR/home/popsendcr"
mkdir -p "$CR/home/popsendcr"
maildirmake "$CR/home/popsendcr/Maildir"
chown -R popsendcr "$CR/home/popsendcr"
# Courier logs in through PAM service "pop3" (its package ships the file); authdaemond asks PAM.
[ -f /etc/pam.d/pop3 ] || cp "$CR/pkg/etc/pam.d/pop3" /etc/pam.d/pop3
mkdir -p /run/courier/authdaemon
if ! [ -S /run/courier/authdaemon/socket ] || ! pgrep -x authdaemond >/dev/null; then
  rm -f /run/courier/authdaemon/pid /run/courier/authdaemon/socket
  detach authdaemond start </dev/null >/dev/null 2>&1
  for _ in $(seq 1 50); do [ -S /run/courier/authdaemon/socket ] && break; sleep 0.1; done
fi
detach env -i PATH=/usr/bin:/bin:/usr/sbin POP3AUTH="PLAIN LOGIN" MAILDIRPATH=Maildir POP3_PROXY=0 \
  couriertcpd -address=127.0.0.1 -pid="$CR/pop3d.pid" -nodnslookup -noidentlookup -stderr="$CR/pop3d.log" \
  "$CR_PORT" "$COURIER/courierpop3login" "$COURIER/courierpop3d" Maildir </dev/null > "$CR/out.log" 2>&1

for port in $MU_PORT $CR_PORT; do
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then continue 2; fi
    sleep 0.1
  done
  echo "matrix.sh: nothing listens on 127.0.0.1:$port; logs: $MU/pop3d.log $CR/pop3d.log" >&2
  tail -n 20 "$MU/pop3d.log" "$CR/pop3d.log" "$CR/out.log" >&2 2>/dev/null || true
  exit 1
done

write_env
echo "matrix.sh: Mailutils pop3d $MU_PORT (STLS, APOP), Courier pop3d $CR_PORT (SASL PLAIN, USER)"
