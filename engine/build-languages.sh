#!/usr/bin/env bash
# Builds what programs in Pulumi languages other than TypeScript need on machines that reach only
# package registries, the way build.sh builds the CLI and plugins (same cache root, a key per
# tool, build.sh's lock), and prints the environment to use them:
#
#     eval "$(bash engine/build-languages.sh)"
#
# Progress goes to stderr, only `export` lines go to stdout. .ci/prepare.sh runs it after build.sh
# (it needs the `pulumi` CLI on PATH).
#
# - pulumi-language-yaml (github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml at the version
#   language-yaml/go.mod requires): the YAML language host, which runs Pulumi YAML programs. It is
#   installed into PULUMI_HOME's plugin cache (plugins/language-yaml-<version>/), where the CLI
#   finds it without the "using ... from $PATH" warning it gives for language hosts on PATH.
#   Skipped when build.sh chose a CLI of your own (MAILSERVER_ENGINE=external): the official CLI
#   ships it.
# - mailserver-sdkgen (sdkgen/): writes the Python and Go SDKs of a schema with pkg/v3's code
#   generators, as `pulumi package gen-sdk` does through language hosts that cannot be installed
#   here (see sdkgen/main.go). Exported as MAILSERVER_SDKGEN.
#
# Each is built into ${MAILSERVER_ENGINE_CACHE:-/var/cache/mailserver-engine}/<key>/bin/, where
# <key> names the tool, its pinned version, the Go toolchain and a hash of its module and this
# script: keys of their own, so a change here never rebuilds the CLI or the plugins. A second run
# only checks that the binaries are there (and installed).
#
# Options:
#   --check       build nothing: print the exports if everything is built and installed,
#                 else exit 3 with a message
#   --print-keys  print the cache keys and exit
set -euo pipefail

ENGINE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$ENGINE_DIR")"
CACHE_ROOT="${MAILSERVER_ENGINE_CACHE:-/var/cache/mailserver-engine}"
PULUMI_HOME_DIR="${PULUMI_HOME:-${MAILSERVER_PULUMI_HOME:-$REPO/.local/pulumi-home}}"

MODE=build
case "${1:-}" in
  "") ;;
  --check) MODE=check ;;
  --print-keys) MODE=keys ;;
  *) echo "usage: bash engine/build-languages.sh [--check|--print-keys]" >&2; exit 2 ;;
esac

log() { echo "[languages] $*" >&2; }
die() { echo "[languages] ERROR: $*" >&2; exit 1; }
emit() { printf 'export %s=%q\n' "$1" "$2"; }

GO="$(command -v go || true)"
[[ -n "$GO" ]] || GO=/usr/local/go/bin/go
[[ -x "$GO" ]] || die "no Go toolchain (looked on PATH and at /usr/local/go/bin/go)"
# As in build.sh: the local toolchain, and the committed go.sum files are the integrity record
# (the checksum database is not reachable from these machines).
export GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOSUMDB="${GOSUMDB_OVERRIDE:-off}"
GO_VERSION="$("$GO" env GOVERSION)"

# go_mod_version DIR MODULE: MODULE's version in DIR/go.mod (one-line or block require).
go_mod_version() {
  awk -v mod="$2" '$1 == "require" { $1 = ""; $0 = $0 } $1 == mod { print $2; exit }' "$ENGINE_DIR/$1/go.mod"
}
# key NAME DIR VERSION: the cache key of the tool built from module DIR.
key() {
  local hash
  hash="$(
    cd "$ENGINE_DIR" &&
      { find "$2" -type f \( -name '*.go' -o -name go.mod -o -name go.sum \); echo build-languages.sh; } |
      LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12
  )"
  printf '%s-%s_%s_%s' "$1" "$3" "$GO_VERSION" "$hash"
}

YAML_VERSION="$(go_mod_version language-yaml github.com/pulumi/pulumi-yaml)"
[[ "$YAML_VERSION" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  die "engine/language-yaml/go.mod must require github.com/pulumi/pulumi-yaml at a release (vX.Y.Z), found '${YAML_VERSION}'"
PKG_VERSION="$(go_mod_version sdkgen github.com/pulumi/pulumi/pkg/v3)"
YAML_KEY="$(key language-yaml language-yaml "$YAML_VERSION")"
SDKGEN_KEY="$(key sdkgen sdkgen "pkg-$PKG_VERSION")"
if [[ "$MODE" == keys ]]; then
  printf '%s\n%s\n' "$YAML_KEY" "$SDKGEN_KEY"
  exit 0
fi
YAML_BIN="$CACHE_ROOT/$YAML_KEY/bin/pulumi-language-yaml"
SDKGEN_BIN="$CACHE_ROOT/$SDKGEN_KEY/bin/mailserver-sdkgen"

command -v pulumi >/dev/null 2>&1 || die "no pulumi CLI on PATH: run build.sh first (eval \"\$(bash engine/build.sh)\")"
# A CLI that build.sh did not build ships its own YAML language host. build.sh says which it chose
# (MAILSERVER_ENGINE); without it, a CLI outside the cache is not ours.
external_cli=0
case "${MAILSERVER_ENGINE:-}" in
  external) external_cli=1 ;;
  built) ;;
  *) [[ "$(readlink -f "$(command -v pulumi)")" == "$(readlink -m "$CACHE_ROOT")"/* ]] || external_cli=1 ;;
esac

yaml_file="$PULUMI_HOME_DIR/plugins/language-yaml-$YAML_VERSION/pulumi-language-yaml"
yaml_ready() { ((external_cli)) || { [[ -x "$YAML_BIN" ]] && cmp -s "$yaml_file" "$YAML_BIN"; }; }
print_exports() { emit MAILSERVER_SDKGEN "$SDKGEN_BIN"; }

if [[ "$MODE" == check ]]; then
  if yaml_ready && [[ -x "$SDKGEN_BIN" ]]; then
    print_exports
    exit 0
  fi
  log "not built (or pulumi-language-yaml not installed in $PULUMI_HOME_DIR) for keys $YAML_KEY, $SDKGEN_KEY."
  log "Run: bash engine/build-languages.sh   (a minute or two after build.sh)"
  exit 3
fi

# build NAME MODULE_DIR BINARY PACKAGE [LDFLAGS]: go build PACKAGE in MODULE_DIR into BINARY.
build() {
  local name="$1" dir="$2" bin="$3" package="$4" ldflags="${5:-}" started=$SECONDS rc=0
  [[ -x "$bin" ]] && return 0
  # build.sh's lock: one build in the cache at a time (the engine's, or this key's in another shell).
  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/.lock"
  if ! flock -n 9; then
    log "another build holds $CACHE_ROOT/.lock; waiting for it"
    flock 9
  fi
  local logf
  logf="$(dirname "$(dirname "$bin")")/logs/build.log"
  mkdir -p "$(dirname "$bin")" "$(dirname "$logf")"
  if [[ ! -x "$bin" ]]; then
    log "building $name (a minute or two after build.sh, several without its Go caches; log: $logf)"
    echo "+ go build $package" >"$logf"
    (cd "$ENGINE_DIR/$dir" && "$GO" build -ldflags "$ldflags" -o "$bin.tmp" "$package") >>"$logf" 2>&1 || rc=$?
    if ((rc != 0)); then
      log "FAILED: $name (exit $rc) after $((SECONDS - started)) s; last lines of $logf:"
      tail -n 40 "$logf" >&2
      exit "$rc"
    fi
    mv -f "$bin.tmp" "$bin"
    log "$name: built in $((SECONDS - started)) s"
  fi
  flock -u 9
}

if ((external_cli)); then
  log "the pulumi CLI is not ours: it brings its own pulumi-language-yaml"
else
  build "pulumi-language-yaml $YAML_VERSION" language-yaml "$YAML_BIN" \
    github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml \
    "-X github.com/pulumi/pulumi-yaml/pkg/version.Version=$YAML_VERSION"
  if ! cmp -s "$yaml_file" "$YAML_BIN"; then
    # `pulumi plugin install` refuses language plugins the CLI bundles (yaml among them): it goes
    # where that command would put it, in a folder the CLI's plugin cache lists.
    log "installing plugin language yaml $YAML_VERSION into $PULUMI_HOME_DIR"
    mkdir -p "$(dirname "$yaml_file")"
    cp "$YAML_BIN" "$yaml_file.tmp"
    mv -f "$yaml_file.tmp" "$yaml_file"
  fi
fi
build "mailserver-sdkgen (pkg/v3 $PKG_VERSION code generators)" sdkgen "$SDKGEN_BIN" .
print_exports
