# Sourced by test/run-all.sh and scripts/setup.sh: installs what the project needs, starts the
# private Docker engine (exporting DOCKER_HOST), imports the Debian 13 base image, builds or finds
# the Pulumi engine (exporting PATH, PULUMI_ROOT, PULUMI_HOME), what other Pulumi languages need
# (MAILSERVER_SDKGEN) and the Kubernetes test cluster's binaries (MAILSERVER_K8S_*), type-checks.
bash .ci/install-deps.sh
DOCKER_HOST="$(bash .ci/docker-up.sh)"
export DOCKER_HOST
bash .ci/base-image.sh
engine_env="$(bash engine/build.sh)"
eval "$engine_env"
# The YAML language host and the SDK generator of the other-language tests (test/live/yaml.test.ts,
# test/live/sdks.test.ts); it needs the CLI on PATH, so after build.sh. MAILSERVER_LANGUAGES=0 leaves
# them out (scripts/setup.sh: the example stack is TypeScript).
if [ "${MAILSERVER_LANGUAGES:-1}" != 0 ]; then
  engine_env="$(bash engine/build-languages.sh)"
  eval "$engine_env"
fi
# The Kubernetes test cluster's binaries and the pulumi-kubernetes plugin (engine/k8s/README.md),
# for the tests: cached beside the engine, so a check of about 3 s once built. MAILSERVER_K8S=0
# leaves them out (scripts/setup.sh: a user's Docker deployment does not need them).
if [ "${MAILSERVER_K8S:-1}" != 0 ]; then
  engine_env="$(bash engine/k8s/build.sh)"
  eval "$engine_env"
fi
unset engine_env
npx tsc --noEmit -p .
