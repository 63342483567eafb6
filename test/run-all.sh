#!/usr/bin/env bash
# Runs every test: unit (renderers, validation), component (Pulumi mocks) and live (real
# containers deployed by the real Pulumi engine, real clients on 127.0.0.x).
# The live tests never skip: without a working Docker engine or Pulumi engine this script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/prepare.sh
# Lint and layout first: ESLint (typescript-eslint) and Prettier, configured at the top level.
npm run --silent lint
mkdir -p test/.artifacts/suites
# Outputs newer than this are this run's (the failure digest at the end reads only those).
touch test/.artifacts/suites/.run-started
# The live suites listen on ports 20000-52999 (port bases, test/live/stack.ts; monitoring's at
# 50000 and 51000, the backup stores' suite and its SFTP and S3 servers at 52000), much of it inside
# Linux's ephemeral range (32768-60999): reserve it, so no outgoing connection (the engine's own
# gRPC clients, a test's client) takes a port a stack is about to bind.
if [ -w /proc/sys/net/ipv4/ip_local_reserved_ports ]; then
  echo 20000-52999 >/proc/sys/net/ipv4/ip_local_reserved_ports
else
  echo "run-all: cannot reserve ports 20000-52999 (not root?); a live stack may meet a busy port" >&2
fi
shopt -s nullglob
fast=(test/unit/*.test.ts test/components/*.test.ts)
live=(test/live/*.test.ts)
[ ${#live[@]} -gt 0 ] || { echo "run-all: no live tests found" >&2; exit 1; }
status=0
# The unit and component tests (CPU only, a few minutes) run beside the live suites, which mostly wait.
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${fast[@]}" \
  >test/.artifacts/suites/unit-and-components.out 2>&1 &
fast_pid=$!
bash test/run-suites.sh "${live[@]}" || status=$?
fast_status=0; wait "$fast_pid" || fast_status=$?
echo "::: unit and component tests: $([ "$fast_status" -eq 0 ] && echo passed || echo "FAILED (exit $fast_status)")"
cat test/.artifacts/suites/unit-and-components.out
[ "$fast_status" -eq 0 ] || status=1
# Every live test removes what it deployed: nothing of the project may keep running after the tests.
left=$(docker ps -a --filter label=mailserver.stack --format '{{.Names}}')
if [ -n "$left" ]; then echo "run-all: containers left running after the tests: $left" >&2; status=1; fi
# The failing tests' messages once more, last: CI keeps only the end of a long output, and a live
# suite's failure (the assertion and the log lines it quotes) would otherwise scroll out of it.
if [ "$status" -ne 0 ]; then
  for out in test/.artifacts/suites/*.out; do
    [ "$out" -nt test/.artifacts/suites/.run-started ] && grep -q '^✖ failing tests:' "$out" || continue
    echo "::: failing tests of $(basename "$out" .out):"
    sed -n '/^✖ failing tests:/,$p' "$out" | head -n 80 || true
  done
fi
exit "$status"
