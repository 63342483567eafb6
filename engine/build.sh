#!/usr/bin/env bash
# Builds the Pulumi engine this project runs on (see engine/README.md) and
# prints the environment to use it:
#
#     eval "$(bash engine/build.sh)"
#
# Progress goes to stderr, only `export` lines go to stdout.
#
# - If a `pulumi` CLI that this script did not build is on PATH and
#   MAILSERVER_BUILD_ENGINE is not 1, that CLI is used (it fetches the
#   official plugins itself); nothing is built.
# - Otherwise the Pulumi CLI and the docker and tls resource plugins are built
#   from the Go modules under engine/ (Go module proxy only) into
#   ${MAILSERVER_ENGINE_CACHE:-/var/cache/mailserver-engine}/<key>/, where
#   <key> names the pinned versions plus a hash of engine/'s Go sources, and
#   the plugins are installed into a project-local PULUMI_HOME
#   (${MAILSERVER_PULUMI_HOME:-<repo>/.local/pulumi-home}).
#   A second run only checks that the binaries are there.
#
# Options:
#   --check       build nothing: print the exports if the toolchain is complete
#                 (or an external pulumi is used), else exit 3 with a message
#   --print-key   print the cache key and exit
set -euo pipefail

ENGINE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$ENGINE_DIR")"
CACHE_ROOT="${MAILSERVER_ENGINE_CACHE:-/var/cache/mailserver-engine}"
PULUMI_HOME_DIR="${MAILSERVER_PULUMI_HOME:-$REPO/.local/pulumi-home}"

MODE=build
case "${1:-}" in
  "") ;;
  --check) MODE=check ;;
  --print-key) MODE=key ;;
  *) echo "usage: bash engine/build.sh [--check|--print-key]" >&2; exit 2 ;;
esac

log() { echo "[engine] $*" >&2; }
die() { echo "[engine] ERROR: $*" >&2; exit 1; }

# Prints `export NAME=value` with the value shell-quoted.
emit() { printf 'export %s=%q\n' "$1" "$2"; }

# path_with DIR [PATHVALUE]: PATHVALUE (default $PATH) with DIR in front,
# unless DIR is already in it.
path_with() {
  local p="${2-$PATH}"
  case ":$p:" in
    *":$1:"*) printf '%s' "$p" ;;
    *) printf '%s:%s' "$1" "$p" ;;
  esac
}

# ---------------------------------------------------------------------------
# An external pulumi CLI (not one of ours in the cache) wins unless asked not to.
if [[ "$MODE" != key && "${MAILSERVER_BUILD_ENGINE:-}" != 1 ]] && command -v pulumi >/dev/null 2>&1; then
  found="$(readlink -f "$(command -v pulumi)")"
  cache_real="$(readlink -m "$CACHE_ROOT")"
  if [[ "$found" != "$cache_real"/* ]]; then
    log "using the pulumi CLI on PATH: $found ($(pulumi version 2>/dev/null || echo 'version unknown'));"
    log "it fetches the official plugins itself. Set MAILSERVER_BUILD_ENGINE=1 to build the engine instead."
    emit PATH "$(path_with "$ENGINE_DIR")"
    emit PULUMI_ROOT "$(dirname "$(dirname "$found")")"
    emit PULUMI_HOME "${PULUMI_HOME:-$HOME/.pulumi}"
    emit PULUMI_SKIP_UPDATE_CHECK true
    emit MAILSERVER_ENGINE external
    exit 0
  fi
fi

# ---------------------------------------------------------------------------
# Versions: package.json is the source of truth; the Go modules must agree. The package declares
# the Pulumi SDKs as peerDependencies (ranges: the consumer's program chooses); the exact versions
# this repository tests and builds the engine for are its devDependencies.
command -v node >/dev/null 2>&1 || die "node is needed to read package.json"
npm_version() {
  local v
  v="$(node -p "const p = require(process.argv[1]), n = process.argv[2];
    (p.devDependencies || {})[n] || (p.dependencies || {})[n] || ''" "$REPO/package.json" "$1")"
  [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    die "package.json's devDependencies must pin $1 to an exact version (x.y.z), found '${v}'"
  printf '%s' "$v"
}
PULUMI_VERSION="$(npm_version @pulumi/pulumi)"
DOCKER_VERSION="$(npm_version @pulumi/docker)"
TLS_VERSION="$(npm_version @pulumi/tls)"

# The CLI's version is the version of github.com/pulumi/pulumi/pkg/v3 in engine/cli/go.mod.
# go_mod_version MODULE: its version in engine/cli/go.mod (one-line or block require).
go_mod_version() {
  awk -v mod="$1" '$1 == "require" { $1 = ""; $0 = $0 } $1 == mod { print $2; exit }' "$ENGINE_DIR/cli/go.mod"
}
cli_pin="$(go_mod_version github.com/pulumi/pulumi/pkg/v3)"
sdk_pin="$(go_mod_version github.com/pulumi/pulumi/sdk/v3)"
# Each plugin's version is the PackageVersion constant in its provider.go.
plugin_pin() {
  sed -n 's/^const PackageVersion = "\(.*\)"$/\1/p' "$ENGINE_DIR/$1/provider.go"
}
docker_pin="$(plugin_pin provider-docker)"
tls_pin="$(plugin_pin provider-tls)"
mismatch=""
[[ "$cli_pin" == "v$PULUMI_VERSION" ]] ||
  mismatch+=$'\n'"  @pulumi/pulumi $PULUMI_VERSION, but engine/cli/go.mod pins github.com/pulumi/pulumi/pkg/v3 ${cli_pin:-<none>}"
[[ "$sdk_pin" == "v$PULUMI_VERSION" ]] ||
  mismatch+=$'\n'"  @pulumi/pulumi $PULUMI_VERSION, but engine/cli/go.mod selects github.com/pulumi/pulumi/sdk/v3 ${sdk_pin:-<none>}"
[[ "$docker_pin" == "$DOCKER_VERSION" ]] ||
  mismatch+=$'\n'"  @pulumi/docker $DOCKER_VERSION, but engine/provider-docker/provider.go has PackageVersion ${docker_pin:-<none>}"
[[ "$tls_pin" == "$TLS_VERSION" ]] ||
  mismatch+=$'\n'"  @pulumi/tls $TLS_VERSION, but engine/provider-tls/provider.go has PackageVersion ${tls_pin:-<none>}"
[[ -z "$mismatch" ]] ||
  die "package.json and the engine's Go modules disagree:$mismatch
  Update engine/ (see engine/README.md, 'Upgrading') or package.json so that they match."

# ---------------------------------------------------------------------------
# Go: the local toolchain only, modules from the proxy, go.sum as the record.
GO="$(command -v go || true)"
[[ -n "$GO" ]] || GO=/usr/local/go/bin/go
[[ -x "$GO" ]] || die "no Go toolchain (looked on PATH and at /usr/local/go/bin/go)"
export GOTOOLCHAIN=local
# Every module must already be in the committed go.sum (-mod=readonly): the
# checksum database is not reachable from these machines, and go.sum is the
# integrity record (see engine/README.md).
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOSUMDB="${GOSUMDB_OVERRIDE:-off}"
GO_VERSION="$("$GO" env GOVERSION)"

# The key: pinned versions, the Go toolchain, every source file of the modules
# and this script (the recipe).
src_hash="$(
  cd "$ENGINE_DIR" &&
    { find cli provider-docker provider-tls -type f \( -name '*.go' -o -name go.mod -o -name go.sum \); echo build.sh; } |
    LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12
)"
KEY="pulumi-v${PULUMI_VERSION}_docker-${DOCKER_VERSION}_tls-${TLS_VERSION}_${GO_VERSION}_${src_hash}"
if [[ "$MODE" == key ]]; then
  echo "$KEY"
  exit 0
fi
OUT="$CACHE_ROOT/$KEY"
PULUMI_BIN="$OUT/bin/pulumi"
DOCKER_PLUGIN="$OUT/plugins/pulumi-resource-docker"
TLS_PLUGIN="$OUT/plugins/pulumi-resource-tls"

complete() { [[ -x "$PULUMI_BIN" && -x "$DOCKER_PLUGIN" && -x "$TLS_PLUGIN" ]]; }
plugin_file() { printf '%s/plugins/resource-%s-v%s/pulumi-resource-%s' "$PULUMI_HOME_DIR" "$1" "$2" "$1"; }
installed() { cmp -s "$(plugin_file "$1" "$2")" "$3"; }

print_exports() {
  # bin/ has only the CLI; engine/ adds the policy-pack analyzer launcher.
  emit PATH "$(path_with "$ENGINE_DIR" "$(path_with "$OUT/bin")")"
  emit PULUMI_ROOT "$OUT"
  emit PULUMI_HOME "$PULUMI_HOME_DIR"
  emit PULUMI_SKIP_UPDATE_CHECK true
  emit MAILSERVER_ENGINE built
}

if [[ "$MODE" == check ]]; then
  if complete && installed docker "$DOCKER_VERSION" "$DOCKER_PLUGIN" && installed tls "$TLS_VERSION" "$TLS_PLUGIN"; then
    print_exports
    exit 0
  fi
  echo "[engine] the Pulumi engine is not built (or not installed in $PULUMI_HOME_DIR) for key $KEY." >&2
  echo "[engine] Run: bash engine/build.sh   (about 25 minutes on 2 cores the first time)" >&2
  exit 3
fi

# Built and installed already: nothing to wait for. (The binaries only appear once complete: each
# is built to a .tmp file and then moved; the lock below would make every run wait for any other
# build that shares the cache, even of another key.)
if complete && installed docker "$DOCKER_VERSION" "$DOCKER_PLUGIN" && installed tls "$TLS_VERSION" "$TLS_PLUGIN"; then
  log "engine cached in $OUT; plugins installed in $PULUMI_HOME_DIR"
  print_exports
  exit 0
fi

mkdir -p "$OUT/bin" "$OUT/plugins" "$OUT/schema" "$OUT/logs"
# One build at a time per cache (another shell may be building the same key).
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
  log "another engine build holds $CACHE_ROOT/.lock; waiting for it"
  flock 9
fi

# run_logged NAME CMD...: runs CMD with its output in $OUT/logs/NAME.log.
run_logged() {
  local name="$1" logf="$OUT/logs/$1.log" start rc=0
  shift
  start=$SECONDS
  { echo "+ $*"; } >"$logf"
  "$@" >>"$logf" 2>&1 || rc=$?
  if ((rc != 0)); then
    log "FAILED: $name (exit $rc) after $((SECONDS - start)) s; last lines of $logf:"
    tail -n 40 "$logf" >&2
    exit "$rc"
  fi
  log "$name: done in $((SECONDS - start)) s"
}

build_cli() {
  [[ -x "$PULUMI_BIN" ]] && { log "pulumi CLI v$PULUMI_VERSION: cached"; return; }
  log "building the pulumi CLI v$PULUMI_VERSION (about 10 minutes cold; log: $OUT/logs/cli.log)"
  (cd "$ENGINE_DIR/cli" && run_logged cli "$GO" build \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$PULUMI_BIN.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  mv -f "$PULUMI_BIN.tmp" "$PULUMI_BIN"
}

# build_plugin NAME VERSION: tfgen writes the schema, the plugin embeds it.
build_plugin() {
  local name="$1" version="$2" plugin="$OUT/plugins/pulumi-resource-$1"
  [[ -x "$plugin" ]] && { log "pulumi-resource-$name $version: cached"; return; }
  log "building pulumi-resource-$name $version (several minutes cold; logs: $OUT/logs/$name-*.log)"
  # Generated files go into a copy of the module, never into the work tree.
  local src="$OUT/src/provider-$name"
  rm -rf "$src"
  mkdir -p "$OUT/src"
  cp -R "$ENGINE_DIR/provider-$name" "$src"
  # The tfgen binary (about 100 MB) is only needed for this step.
  local tfgen="$src/pulumi-tfgen-$name"
  (cd "$src" && run_logged "$name-tfgen-build" "$GO" build -o "$tfgen" "./cmd/pulumi-tfgen-$name")
  rm -rf "$OUT/schema/$name"
  (cd "$src" && run_logged "$name-schema" "$tfgen" schema --skip-examples --skip-docs --out "$OUT/schema/$name")
  rm -f "$tfgen"
  # tfgen leaves the version out of schema.json; the embedded copy carries it, as the official
  # plugins' schema-embed.json does.
  node -e 'const fs = require("fs"); const [from, to, version] = process.argv.slice(1);
    const s = JSON.parse(fs.readFileSync(from, "utf8")); s.version = version;
    fs.writeFileSync(to, JSON.stringify(s));' \
    "$OUT/schema/$name/schema.json" "$src/cmd/pulumi-resource-$name/schema.json" "$version"
  cp "$OUT/schema/$name/bridge-metadata.json" "$src/cmd/pulumi-resource-$name/"
  (cd "$src" && run_logged "$name-plugin-build" "$GO" build \
    -o "$plugin.tmp" "./cmd/pulumi-resource-$name")
  mv -f "$plugin.tmp" "$plugin"
}

install_plugin() {
  local name="$1" version="$2" binary="$3"
  if installed "$name" "$version" "$binary"; then
    log "plugin resource $name $version: installed in $PULUMI_HOME_DIR"
    return
  fi
  log "installing plugin resource $name $version into $PULUMI_HOME_DIR"
  PULUMI_HOME="$PULUMI_HOME_DIR" PULUMI_SKIP_UPDATE_CHECK=true \
    "$PULUMI_BIN" plugin install resource "$name" "$version" --file "$binary" --reinstall >&2
}

started=$SECONDS
if complete; then
  log "engine cached in $OUT"
else
  log "building the engine into $OUT with $GO_VERSION (Go build logs in $OUT/logs)"
  build_cli
  build_plugin docker "$DOCKER_VERSION"
  build_plugin tls "$TLS_VERSION"
fi
mkdir -p "$PULUMI_HOME_DIR"
install_plugin docker "$DOCKER_VERSION" "$DOCKER_PLUGIN"
install_plugin tls "$TLS_VERSION" "$TLS_PLUGIN"
log "ready in $((SECONDS - started)) s: pulumi v$PULUMI_VERSION, docker $DOCKER_VERSION, tls $TLS_VERSION"
print_exports
