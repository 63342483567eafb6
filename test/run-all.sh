#!/usr/bin/env bash
# Runs every test: unit (renderers, validation), component (Pulumi mocks) and live (real
# Postfix/Dovecot/saslauthd containers on a real Docker engine, real clients on 127.0.0.1).
# The live tests never skip: without a working Docker engine this script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/prepare.sh
# Lint and layout first: ESLint (typescript-eslint) and Prettier, configured at the top level.
npm run --silent lint
mkdir -p test/.artifacts
shopt -s nullglob
files=(test/unit/*.test.ts test/components/*.test.ts test/live/*.test.ts)
live=(test/live/*.test.ts)
[ ${#live[@]} -gt 0 ] || { echo "run-all: no live tests found" >&2; exit 1; }
# One file at a time: the live tests share ports and container names.
status=0
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}" || status=$?
# Every live test removes what it deployed: nothing of the project may keep running after the tests.
left=$(docker ps -a --filter label=mailserver.stack --format '{{.Names}}')
if [ -n "$left" ]; then echo "run-all: containers left running after the tests: $left" >&2; status=1; fi
exit "$status"
