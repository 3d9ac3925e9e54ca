#!/usr/bin/env bash
# Runs every fuzz target of examples/fuzz.rs for SECONDS each (default 300) and prints the
# executions and findings of each; a finding is saved in tests/fuzz/findings/ (replay it with
# `target/debug/examples/fuzz TARGET replay FILE`) and the exit status is 1. Offline, stable
# toolchain, the same debug build the test suite makes. Usage: bash tests/fuzz/run.sh [SECONDS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-300}
seed=${2:-}
cargo build --locked --example fuzz
status=0
for target in pop3 smtp config state mailto compose smtpd; do
  ./target/debug/examples/fuzz "$target" "$seconds" $seed || status=1
done
exit $status
