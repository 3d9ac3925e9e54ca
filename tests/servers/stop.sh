#!/usr/bin/env bash
# Stops the test mail servers that start.sh started in DIR. Safe to run when they are not running.
DIR=${1:?usage: stop.sh DIR}
[ -f "$DIR/postfix/etc/main.cf" ] && postfix -c "$DIR/postfix/etc" stop >/dev/null 2>&1
[ -f "$DIR/dovecot/dovecot.conf" ] && dovecot -c "$DIR/dovecot/dovecot.conf" stop >/dev/null 2>&1
# Wait for Dovecot's master to go (its pid file disappears).
for _ in $(seq 1 50); do
  [ -f "$DIR/dovecot/run/master.pid" ] || break
  sleep 0.1
done
# KEEP_MATRIX=1: only Dovecot and Postfix (a test taking "the server" down); the POP3 matrix
# servers other tests use at the same time stay up.
[ "${KEEP_MATRIX:-}" = 1 ] || bash "$(dirname "$0")/matrix.sh" stop "$DIR" >/dev/null 2>&1
# The discovery tests' names (start.sh); rewritten in place, as /etc/hosts may be a mount.
if [ "${KEEP_MATRIX:-}" != 1 ] && grep -q "# popsend-test-names" /etc/hosts 2>/dev/null; then
  kept=$(grep -v "# popsend-test-names" /etc/hosts)
  printf '%s\n' "$kept" > /etc/hosts
fi
exit 0
