#!/usr/bin/env bash
# Runs every fuzz target for RUNS executions (default 10 million) on the nightly toolchain
# with cargo-fuzz, and prints executions and crashes per target. Found inputs are added to the
# corpus; crashes land in fuzz/artifacts/TARGET/. Usage: fuzz/run.sh [RUNS] [TARGET...]
# FUZZ_SECS=N stops each target after N seconds if RUNS is not reached first;
# FUZZ_SANITIZER=none builds without AddressSanitizer (several times faster; panics and
# failed assertions are still caught).
set -uo pipefail
cd "$(dirname "$0")"
runs=${1:-10000000}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode_object prometheus_answer kubeconfig config_files command_line table_layout)
printf '%-20s %12s %8s %10s\n' target execs crashes seconds
for t in "${targets[@]}"; do
  start=$(date +%s)
  log=$(mktemp)
  mkdir -p "work/$t"
  # New inputs go to work/ (not committed); the committed seeds in corpus/ stay small.
  cargo +nightly fuzz run ${FUZZ_SANITIZER:+--sanitizer "$FUZZ_SANITIZER"} "$t" "work/$t" "corpus/$t" -- \
    -runs="$runs" ${FUZZ_SECS:+-max_total_time="$FUZZ_SECS"} -print_final_stats=1 >"$log" 2>&1
  status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(find "artifacts/$t" -type f 2>/dev/null | wc -l)
  printf '%-20s %12s %8s %10s\n' "$t" "${execs:-?}" "$crashes" "$(( $(date +%s) - start ))"
  [ $status -eq 0 ] || { echo "--- $t failed (exit $status), last lines:"; tail -20 "$log"; }
  rm -f "$log"
done
