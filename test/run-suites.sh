#!/usr/bin/env bash
# Runs test files side by side, each in a node test process of its own, at most $SUITE_JOBS at once
# (default 3): the live suites spend most of their time waiting for containers and the engine, and
# each has its own stack prefix and port base, so they do not meet. Longest first (the figures in
# test/suite-times.txt, seconds measured in a CI run, three at a time), so the pool ends together. Each file's output is
# printed whole when it ends, with its time; the exit status is non-zero when any file failed.
#   bash test/run-suites.sh FILE...
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS="${SUITE_JOBS:-3}"
OUT=test/.artifacts/suites
mkdir -p "$OUT"
[ $# -gt 0 ] || { echo "run-suites: no test files given" >&2; exit 1; }

# Expected seconds per file; a file not listed goes first (unknown cost: start it early).
expected() { awk -v f="$1" '$2 == f { print $1; found = 1 } END { if (!found) print 99999 }' test/suite-times.txt; }
mapfile -t files < <(for f in "$@"; do printf '%s %s\n' "$(expected "$f")" "$f"; done | sort -rn | cut -d' ' -f2-)

declare -A started name_of
failed=()
report() { # pid status
  local f=${name_of[$1]} took=$(($(date +%s) - started[$1])) log
  log="$OUT/$(basename "$f" .ts).out"
  echo "::: $f: $([ "$2" -eq 0 ] && echo passed || echo "FAILED (exit $2)") in ${took}s"
  cat "$log"
  [ "$2" -eq 0 ] || failed+=("$f")
}
running=0
for f in "${files[@]}"; do
  while [ "$running" -ge "$JOBS" ]; do
    wait -n -p done_pid; code=$?
    report "$done_pid" "$code"; running=$((running - 1))
  done
  echo "::: $f: started ($(date +%T))"
  node --import tsx --test --test-reporter=spec "$f" >"$OUT/$(basename "$f" .ts).out" 2>&1 &
  started[$!]=$(date +%s); name_of[$!]=$f; running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n -p done_pid; code=$?
  report "$done_pid" "$code"; running=$((running - 1))
done
if [ ${#failed[@]} -gt 0 ]; then echo "run-suites: failed: ${failed[*]}" >&2; exit 1; fi
echo "run-suites: all ${#files[@]} files passed"
