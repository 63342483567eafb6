#!/usr/bin/env bash
# One command on a fresh Debian machine: installs what the project needs (Debian packages, npm
# packages, a private Docker engine, the offline Debian 13 base image) and deploys the example
# program's dev stack on the local Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/prepare.sh
npx tsx scripts/local-up.ts "${1:-dev}"

