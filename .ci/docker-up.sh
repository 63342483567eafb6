#!/usr/bin/env bash
# Starts a private Docker engine (own socket and data root) unless one already answers there.
# Prints the DOCKER_HOST to use. Fails loudly: the live tests must never be skipped.
set -euo pipefail
SOCK="${MAILTEST_DOCKER_SOCK:-/run/mailtest-docker.sock}"
ROOT="${MAILTEST_DOCKER_ROOT:-/var/lib/mailtest-docker}"
export DOCKER_HOST="unix://$SOCK"
# Pid file, exec root and log are named after the socket, so several private engines can run at once.
NAME=$(basename "$SOCK" .sock)
LOG="/var/log/$NAME-dockerd.log"

if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-up: dockerd not installed (run .ci/install-deps.sh)" >&2; exit 1
fi
if docker info >/dev/null 2>&1; then echo "$DOCKER_HOST"; exit 0; fi

mkdir -p "$ROOT"
# No default bridge: the test containers use host networking and image builds the host's network
# (a stack in bridge mode makes a network of its own). A session of its own (setsid): the engine
# must outlive whatever started it, or ending that job (or killing its process group) stops it.
setsid nohup dockerd --host "$DOCKER_HOST" --data-root "$ROOT" --pidfile "/run/$NAME-dockerd.pid" \
  --exec-root "/run/$NAME-exec" --bridge none --iptables=false --ip6tables=false \
  >>"$LOG" 2>&1 </dev/null &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then echo "$DOCKER_HOST"; exit 0; fi
  sleep 1
done
echo "docker-up: the Docker engine did not start within 60 s; its log:" >&2
tail -n 40 "$LOG" >&2
exit 1
