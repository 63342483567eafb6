#!/usr/bin/env bash
# One command on a fresh Debian machine: installs what the project needs (Debian packages, npm
# packages, a private Docker engine, the offline Debian 13 base image, the Pulumi engine: a
# `pulumi` on PATH, or one built from the Go module proxy by engine/build.sh) and deploys the
# example program's stack (default: dev) through the real engine. Prints how to use it.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Kubernetes test cluster (engine/k8s/) is for the tests, not for a Docker deployment.
MAILSERVER_K8S=0 MAILSERVER_LANGUAGES=0 source .ci/prepare.sh
npx tsx scripts/stack.ts up "${1:-dev}"
