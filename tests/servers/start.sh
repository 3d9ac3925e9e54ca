#!/usr/bin/env bash
# Starts a real POP-before-SMTP mail server on loopback for the tests: Dovecot (POP3, STLS, POP3S)
# and Postfix (SMTP with STARTTLS, SMTPS), glued the classic way:
#   - Dovecot's post-login script records the client IP and the time of every successful login;
#   - Postfix asks a policy service (bash, spawned by Postfix) whether that IP logged in within
#     the window, and relays only then; `mynetworks` holds no loopback address, so 127.0.0.1 is
#     "outside";
#   - mail for any domain is "remote" (nothing is local), and is delivered by a pipe into one
#     Maildir that the tests read.
# TLS uses a throwaway CA made here. Everything lives in $DIR; stop.sh stops it.
#
# Usage: start.sh DIR   (settings from the environment, defaults in brackets)
#   BASE_PORT [20000]   POP3 BASE+110, POP3S BASE+995, SMTP BASE+25, SMTPS BASE+465,
#                       submission BASE+587 (STARTTLS + SMTP AUTH through Dovecot, no POP needed),
#                       submission BASE+588 (STARTTLS offered, relays after the POP login only, no
#                       AUTH: a campus server's 587 for students behind OP25B)
#   WINDOW [5]          relay window in seconds
#   POP_USER [student]  POP_PASS [pop-pass-1]   the student's mailbox
#   (and a second mailbox, "lab" / "pop-pass-2", for a second account of the same student)
#   RELAY_REFUSAL [defer]   defer -> "454 4.7.1 Relay access denied" (Postfix's default),
#                           reject -> "554 5.7.1 Relay access denied"
# Writes DIR/env (shell syntax) with the ports, user, password, window and paths.
set -euo pipefail

DIR=${1:?usage: start.sh DIR}
# A restart (stop.sh DIR, then start.sh DIR) keeps the settings of the first start.
# shellcheck disable=SC1091
[ -f "$DIR/params" ] && . "$DIR/params"
BASE_PORT=${BASE_PORT:-20000}
WINDOW=${WINDOW:-5}
POP_USER=${POP_USER:-student}
POP_PASS=${POP_PASS:-pop-pass-1}
RELAY_REFUSAL=${RELAY_REFUSAL:-defer}

POP3_PORT=$((BASE_PORT + 110))
POP3S_PORT=$((BASE_PORT + 995))
SMTP_PORT=$((BASE_PORT + 25))
SMTPS_PORT=$((BASE_PORT + 465))
SUBMISSION_PORT=$((BASE_PORT + 587))
POP_SUBMISSION_PORT=$((BASE_PORT + 588))

for tool in dovecot postfix postconf openssl; do
  command -v "$tool" >/dev/null || { echo "start.sh: $tool is not installed (tests/run.sh installs it)" >&2; exit 1; }
done

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
# Dovecot's and Postfix's helpers run as other users: they must reach $DIR.
chmod 755 "$DIR"
if ! runuser -u nobody -- test -x "$DIR"; then
  echo "start.sh: $DIR is not reachable by other users (a parent folder is private; chmod 755 it)" >&2
  exit 1
fi
mkdir -p "$DIR"/{tls,dovecot/run,dovecot/state,mailboxes,relay,mail/{tmp,new,cur},postfix/{etc,spool,data}}
chmod 1777 "$DIR/relay" "$DIR/mailboxes" "$DIR"/mail "$DIR"/mail/{tmp,new,cur}

# --- TLS: a throwaway CA and a certificate for localhost / 127.0.0.1 --------------------------
if [ ! -f "$DIR/tls/server.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=popsend test CA" \
    -keyout "$DIR/tls/ca.key" -out "$DIR/tls/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$DIR/tls/server.key" -out "$DIR/tls/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:popsend.test,DNS:*.popsend.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$DIR/tls/ext.cnf"
  openssl x509 -req -in "$DIR/tls/server.csr" -CA "$DIR/tls/ca.crt" -CAkey "$DIR/tls/ca.key" \
    -CAcreateserial -days 30 -extfile "$DIR/tls/ext.cnf" -out "$DIR/tls/server.crt" 2>/dev/null
  # A second CA that signed nothing here: for the "untrusted certificate" tests.
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=unrelated CA" \
    -keyout "$DIR/tls/other-ca.key" -out "$DIR/tls/other-ca.crt" 2>/dev/null
  chmod 644 "$DIR"/tls/*.crt "$DIR"/tls/server.key
fi

# --- Dovecot: POP3 only ---------------------------------------------------------------------
cat > "$DIR/postlogin.sh" <<EOF
#!/bin/bash
# Dovecot post-login: remember who logged in from where, and when (ms), then go on to pop3.
umask 022
now=\$(date +%s%3N)
echo "\$now" > "$DIR/relay/\$IP"
echo "\$now \$USER \$IP" >> "$DIR/logins.log"
exec "\$@"
EOF
chmod 755 "$DIR/postlogin.sh"
printf '%s:{PLAIN}%s\nlab:{PLAIN}pop-pass-2\n' "$POP_USER" "$POP_PASS" > "$DIR/dovecot/users"
chmod 644 "$DIR/dovecot/users"

cat > "$DIR/dovecot/dovecot.conf" <<EOF
base_dir = $DIR/dovecot/run
state_dir = $DIR/dovecot/state
log_path = $DIR/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$DIR/tls/server.crt
ssl_key = <$DIR/tls/server.key
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
auth_mechanisms = plain login apop
auth_failure_delay = 0
mail_location = maildir:$DIR/mailboxes/%u
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DIR/dovecot/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$DIR/mailboxes/%u
}
service pop3-login {
  inet_listener pop3 {
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = $POP3S_PORT
    ssl = yes
  }
}
service pop3 {
  executable = pop3 postlogin
}
service postlogin {
  executable = script-login $DIR/postlogin.sh
  user = \$default_internal_user
  unix_listener postlogin {
  }
}
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
service anvil {
  chroot =
}
EOF
# The login records must be writable by Dovecot's internal user.
touch "$DIR/logins.log"; chmod 666 "$DIR/logins.log"

# --- Postfix: an instance of its own ------------------------------------------------------------
cat > "$DIR/policy.sh" <<EOF
#!/bin/bash
# Postfix policy service: relay for a client whose IP logged in over POP within $WINDOW s.
while IFS= read -r line; do
  if [ -z "\$line" ]; then
    action=DUNNO
    if [ -n "\${client:-}" ] && [ -f "$DIR/relay/\$client" ]; then
      read -r at < "$DIR/relay/\$client" || at=0
      now=\$(date +%s%3N)
      if [ \$((now - at)) -lt $((WINDOW * 1000)) ]; then action=OK; fi
    fi
    printf 'action=%s\n\n' "\$action"
    client=
  else
    case "\$line" in client_address=*) client=\${line#client_address=} ;; esac
  fi
done
EOF
cat > "$DIR/sink.sh" <<EOF
#!/bin/bash
# Delivery: every relayed message lands in one Maildir.
name=\$(date +%s%N).\$\$.popsend-test
cat > "$DIR/mail/tmp/\$name" && mv "$DIR/mail/tmp/\$name" "$DIR/mail/new/\$name"
EOF
chmod 755 "$DIR/policy.sh" "$DIR/sink.sh"

if [ "$RELAY_REFUSAL" = reject ]; then unauth=reject_unauth_destination; else unauth=defer_unauth_destination; fi
PF="$DIR/postfix"
cat > "$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.popsend.test
mydomain = popsend.test
myorigin = \$mydomain
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 192.0.2.254/32
smtpd_relay_restrictions = permit_mynetworks, check_policy_service unix:private/popsend-policy, $unauth
smtpd_recipient_restrictions =
default_transport = sink
smtpd_tls_cert_file = $DIR/tls/server.crt
smtpd_tls_key_file = $DIR/tls/server.key
smtpd_tls_security_level = may
smtp_tls_security_level = none
maillog_file = $DIR/postfix.log
maillog_file_prefixes = $DIR
smtputf8_enable = no
biff = no
message_size_limit = 10240000
EOF
cat > "$PF/etc/master.cf" <<EOF
127.0.0.1:$SMTP_PORT  inet n - n - - smtpd
127.0.0.1:$SMTPS_PORT inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
127.0.0.1:$POP_SUBMISSION_PORT inet n - n - - smtpd -o syslog_name=postfix/popsubmission
127.0.0.1:$SUBMISSION_PORT inet n - n - - smtpd -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes -o smtpd_sasl_type=dovecot -o smtpd_sasl_path=$DIR/dovecot/run/auth-postfix -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
smtp      unix - - n - - smtp
popsend-policy unix - n n - 0 spawn user=nobody argv=/bin/bash $DIR/policy.sh
sink      unix - n n - - pipe user=nobody argv=/bin/bash $DIR/sink.sh
EOF
chown -R postfix "$PF/data"

# --- start -----------------------------------------------------------------------------------
"$(dirname "$0")/stop.sh" "$DIR" >/dev/null 2>&1 || true
dovecot -c "$DIR/dovecot/dovecot.conf"
postfix -c "$PF/etc" set-permissions >/dev/null 2>&1 || true
if ! postfix -c "$PF/etc" start >/dev/null; then
  echo "start.sh: Postfix did not start; its log says:" >&2
  tail -n 5 "$DIR/postfix.log" >&2 2>/dev/null
  exit 1
fi

printf 'BASE_PORT=%q\nWINDOW=%q\nPOP_USER=%q\nPOP_PASS=%q\nRELAY_REFUSAL=%q\n' \
  "$BASE_PORT" "$WINDOW" "$POP_USER" "$POP_PASS" "$RELAY_REFUSAL" > "$DIR/params"

# Names for the first-run assistant's discovery tests (tests/it/discover.rs), all on loopback:
# the real resolver path (glibc reads /etc/hosts), nothing leaves the machine. stop.sh removes them.
# dual.popsend.test has both loopback addresses (接続テスト's address-family test, hostile.rs).
NAMES="pop.popsend.test smtp.popsend.test mail.popsend.test autoconfig.popsend.test autoconfig.auto.popsend.test pop.clear.popsend.test dual.popsend.test"
if ! grep -q "^127.0.0.1 $NAMES # popsend-test-names$" /etc/hosts 2>/dev/null || ! grep -q "^::1 dual.popsend.test # popsend-test-names$" /etc/hosts; then
  kept=$(grep -v "# popsend-test-names" /etc/hosts || true)
  printf '%s\n127.0.0.1 %s # popsend-test-names\n::1 dual.popsend.test # popsend-test-names\n' "$kept" "$NAMES" > /etc/hosts \
    || echo "start.sh: cannot write /etc/hosts: the discovery tests (tests/it/discover.rs) will fail to resolve pop.popsend.test" >&2
fi

cat > "$DIR/env" <<EOF
POPSEND_TEST_DIR=$DIR
POPSEND_TEST_HOST=localhost
POPSEND_TEST_POP3_PORT=$POP3_PORT
POPSEND_TEST_POP3S_PORT=$POP3S_PORT
POPSEND_TEST_SMTP_PORT=$SMTP_PORT
POPSEND_TEST_SMTPS_PORT=$SMTPS_PORT
POPSEND_TEST_SUBMISSION_PORT=$SUBMISSION_PORT
POPSEND_TEST_POP_SUBMISSION_PORT=$POP_SUBMISSION_PORT
POPSEND_TEST_USER=$POP_USER
POPSEND_TEST_PASS=$POP_PASS
POPSEND_TEST_USER2=lab
POPSEND_TEST_PASS2=pop-pass-2
POPSEND_TEST_WINDOW=$WINDOW
POPSEND_TEST_CA=$DIR/tls/ca.crt
POPSEND_TEST_OTHER_CA=$DIR/tls/other-ca.crt
POPSEND_TEST_MAILDIR=$DIR/mail/new
POPSEND_TEST_LOGINS=$DIR/logins.log
POPSEND_TEST_RELAY_DIR=$DIR/relay
POPSEND_TEST_POSTFIX_LOG=$DIR/postfix.log
POPSEND_TEST_SCRIPTS=$(cd "$(dirname "$0")" && pwd)
POPSEND_TEST_DOMAIN=popsend.test
EOF

# Wait until both answer, or fail loudly.
for port in $POP3_PORT $POP3S_PORT $SMTP_PORT $SMTPS_PORT $SUBMISSION_PORT $POP_SUBMISSION_PORT; do
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then continue 2; fi
    sleep 0.1
  done
  echo "start.sh: nothing listens on 127.0.0.1:$port; logs: $DIR/dovecot.log $DIR/postfix.log" >&2
  tail -n 20 "$DIR/dovecot.log" "$DIR/postfix.log" >&2 2>/dev/null || true
  exit 1
done
echo "start.sh: Dovecot POP3 $POP3_PORT/POP3S $POP3S_PORT, Postfix SMTP $SMTP_PORT/SMTPS $SMTPS_PORT/submission $SUBMISSION_PORT (AUTH), $POP_SUBMISSION_PORT (after POP), window ${WINDOW}s, in $DIR"
# The other POP3 servers of the matrix (they need the certificate made above).
# KEEP_MATRIX=1 (a test restarting Dovecot and Postfix): they stay as they are.
if [ "${KEEP_MATRIX:-}" = 1 ]; then
  BASE_PORT=$BASE_PORT bash "$(dirname "$0")/matrix.sh" env "$DIR"
else
  BASE_PORT=$BASE_PORT bash "$(dirname "$0")/matrix.sh" start "$DIR"
fi
