# Sourced by test/run-all.sh and scripts/setup.sh: installs what the project needs, starts the
# private Docker engine (exporting DOCKER_HOST), imports the Debian 13 base image, type-checks.
bash .ci/install-deps.sh
DOCKER_HOST="$(bash .ci/docker-up.sh)"
export DOCKER_HOST
bash .ci/base-image.sh
npx tsc --noEmit -p .
