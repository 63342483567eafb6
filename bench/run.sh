#!/usr/bin/env bash
# npm run bench [-- --sizes 10,100 --skip-delivery ...]: see bench/bench.ts for the options.
# Needs what the tests need (.ci/install-deps.sh, run by `npm test`); like .ci/prepare.sh it starts
# the private Docker engine, imports the Debian 13 base image and finds the locally built engine.
# It does not run install-deps.sh itself: its `npm ci` would replace a worktree's node_modules link.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKER_HOST="$(bash .ci/docker-up.sh)"
export DOCKER_HOST
bash .ci/base-image.sh >&2
eval "$(bash engine/build.sh)"
exec node_modules/.bin/tsx bench/bench.ts "$@"
