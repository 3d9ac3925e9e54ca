# The scripts' one Xvfb start-up (sourced, not run): `xvfb_start WIDTHxHEIGHT` starts an X server
# on a display number no other server holds (Xvfb picks it and writes it to -displayfd once it
# accepts clients: no fixed display, no sleep), exports DISPLAY, and stops it when the script
# exits (after the script's own EXIT trap, which it keeps). Needs: xvfb.
xvfb_start() {
  command -v Xvfb >/dev/null || { echo "needs Xvfb (apt-get install xvfb)" >&2; exit 1; }
  local size=${1:-1280x800} fifo
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  Xvfb -displayfd 3 -screen 0 "${size}x24" -nolisten tcp 3>"$fifo" >/dev/null 2>&1 &
  XVFB_PID=$!
  local number
  read -r number <"$fifo" || { echo "Xvfb did not start" >&2; rm -f "$fifo"; exit 1; }
  rm -f "$fifo"
  export DISPLAY=":$number"
  local earlier
  earlier=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
  # shellcheck disable=SC2064
  trap "${earlier:+$earlier; }kill $XVFB_PID 2>/dev/null || true" EXIT
}
