#!/usr/bin/env bash
# Makes the Debian 13 base image locally (no registry is reachable): debootstrap + docker import.
# Tagged debian:trixie-slim so the Dockerfiles' default BASE_IMAGE resolves to it offline.
set -euo pipefail
TAG="${BASE_IMAGE:-debian:trixie-slim}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if docker image inspect "$TAG" >/dev/null 2>&1; then echo "base image $TAG present"; exit 0; fi
DIR=$(mktemp -d /var/tmp/trixie-rootfs.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
debootstrap --variant=minbase trixie "$DIR" "$MIRROR" >/var/tmp/debootstrap.log 2>&1 || {
  tail -n 30 /var/tmp/debootstrap.log >&2; exit 1; }
# Same trimming as the official slim image: no docs, no apt lists.
rm -rf "$DIR"/var/lib/apt/lists/* "$DIR"/usr/share/doc/* "$DIR"/usr/share/man/* "$DIR"/var/cache/apt/*.bin
tar -C "$DIR" -c . | docker import --change 'CMD ["bash"]' - "$TAG" >/dev/null
echo "base image $TAG imported"
