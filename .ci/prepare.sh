# Sourced by test/run-all.sh and scripts/setup.sh: installs what the project needs, starts the
# private Docker engine (exporting DOCKER_HOST), imports the Debian 13 base image, builds or finds
# the Pulumi engine (exporting PATH, PULUMI_ROOT, PULUMI_HOME) and what other Pulumi languages
# need (MAILSERVER_SDKGEN), type-checks.
bash .ci/install-deps.sh
DOCKER_HOST="$(bash .ci/docker-up.sh)"
export DOCKER_HOST
bash .ci/base-image.sh
engine_env="$(bash engine/build.sh)"
eval "$engine_env"
# The YAML language host and the SDK generator of the other-language tests (test/live/yaml.test.ts,
# test/live/sdks.test.ts); it needs the CLI on PATH, so after build.sh.
engine_env="$(bash engine/build-languages.sh)"
eval "$engine_env"
unset engine_env
npx tsc --noEmit -p .
