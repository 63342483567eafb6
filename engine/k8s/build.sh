#!/usr/bin/env bash
# Builds what the Kubernetes tests run on (see engine/k8s/README.md) and prints the environment
# to use it:
#
#     eval "$(bash engine/k8s/build.sh)"
#
# Progress goes to stderr, only `export` lines go to stdout.
#
# - The cluster's binaries, from the Go module proxy through the wrapper modules beside this
#   script: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and
#   kubectl (kubernetes/), etcd (etcd/), containerd, its runc shim and ctr (containerd/), runc
#   (runc/), the CNI plugins bridge, host-local, loopback and portmap (cni/), crictl (cri-tools/,
#   cluster.sh removes pod sandboxes with it on `down`), and the sandbox
#   ("pause") image, compiled from Kubernetes' own pause.c into an image archive.
# - The pulumi-kubernetes provider plugin (provider-kubernetes/), installed into the project's
#   PULUMI_HOME like engine/build.sh installs the docker and tls plugins. With a pulumi CLI that
#   engine/build.sh did not build (MAILSERVER_ENGINE=external), that CLI fetches the official
#   plugin itself and this one is not built.
#
# Each component is cached in ${MAILSERVER_ENGINE_CACHE:-/var/cache/mailserver-engine}/k8s/<key>/,
# where <key> names it, its version, the Go toolchain and a hash of its wrapper module and of its
# build recipe (the function below that builds it): changing one component rebuilds only that one.
# A second run only checks that the files are there. Builds share engine/build.sh's lock, so no two
# builds (engine or cluster) run at once.
#
# Options:
#   --check       build nothing: print the exports if everything is built (and the plugin
#                 installed), else exit 3 with a message
#   --print-key   print the components' cache keys and exit
set -euo pipefail

K8S_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ENGINE_DIR="$(dirname "$K8S_DIR")"
REPO="$(dirname "$ENGINE_DIR")"
CACHE_ROOT="${MAILSERVER_ENGINE_CACHE:-/var/cache/mailserver-engine}"
PULUMI_HOME_DIR="${MAILSERVER_PULUMI_HOME:-$REPO/.local/pulumi-home}"

MODE=build
case "${1:-}" in
  "") ;;
  --check) MODE=check ;;
  --print-key) MODE=key ;;
  *) echo "usage: bash engine/k8s/build.sh [--check|--print-key]" >&2; exit 2 ;;
esac

log() { echo "[k8s] $*" >&2; }
die() { echo "[k8s] ERROR: $*" >&2; exit 1; }
emit() { printf 'export %s=%q\n' "$1" "$2"; }

# ---------------------------------------------------------------------------
# Versions: each wrapper module's go.mod is the one place a version is pinned.
# go_mod_version MODULE_DIR MODULE: the version MODULE_DIR/go.mod requires (one-line or block).
go_mod_version() {
  local v
  v="$(awk -v mod="$2" '$1 == "require" { $1 = ""; $0 = $0 } $1 == mod { print $2; exit }' "$K8S_DIR/$1/go.mod")"
  [[ -n "$v" ]] || die "$1/go.mod requires no $2"
  printf '%s' "$v"
}
KUBERNETES_VERSION="$(go_mod_version kubernetes k8s.io/kubernetes)"
ETCD_VERSION="$(go_mod_version etcd go.etcd.io/etcd/server/v3)"
CONTAINERD_VERSION="$(go_mod_version containerd github.com/containerd/containerd/v2)"
RUNC_VERSION="$(go_mod_version runc github.com/opencontainers/runc)"
CNI_VERSION="$(go_mod_version cni github.com/containernetworking/plugins)"
CRI_TOOLS_VERSION="$(go_mod_version cri-tools sigs.k8s.io/cri-tools)"
PROVIDER_MODULE_VERSION="$(go_mod_version provider-kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4)"
# The plugin's release is the PackageVersion constant of its main.go; package.json must pin
# @pulumi/kubernetes to exactly that.
PROVIDER_VERSION="$(sed -n 's/^const PackageVersion = "\(.*\)"$/\1/p' \
  "$K8S_DIR/provider-kubernetes/cmd/pulumi-resource-kubernetes/main.go")"
command -v node >/dev/null 2>&1 || die "node is needed to read package.json"
SDK_VERSION="$(node -p "(require(process.argv[1]).devDependencies || {})['@pulumi/kubernetes'] || ''" "$REPO/package.json")"
[[ "$SDK_VERSION" == "$PROVIDER_VERSION" ]] ||
  die "package.json pins @pulumi/kubernetes '${SDK_VERSION}', but engine/k8s/provider-kubernetes builds ${PROVIDER_VERSION:-<no PackageVersion>}
  (see engine/k8s/README.md, 'Upgrading')"
# The staging modules must be the Kubernetes release's own (v1.37.2 -> v0.37.2).
staging_version="v0.${KUBERNETES_VERSION#v1.}"
if grep -E '^\s*k8s\.io/[a-z-]+ => k8s\.io/[a-z-]+ v' "$K8S_DIR/kubernetes/go.mod" | grep -v -- " $staging_version\$" >&2; then
  die "kubernetes/go.mod: every staging replace must be at $staging_version (for k8s.io/kubernetes $KUBERNETES_VERSION)"
fi
# The sandbox image: Kubernetes' pause.c, with the version kubeadm of this release pins.
PAUSE_VERSION=3.10.2
SANDBOX_IMAGE="mailtest.local/pause:$PAUSE_VERSION"

# ---------------------------------------------------------------------------
GO="$(command -v go || true)"
[[ -n "$GO" ]] || GO=/usr/local/go/bin/go
[[ -x "$GO" ]] || die "no Go toolchain (looked on PATH and at /usr/local/go/bin/go)"
export GOTOOLCHAIN=local
# As in engine/build.sh: the committed go.sum files are the integrity record (the checksum
# database is not reachable), and a build never edits go.mod or go.sum.
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOSUMDB="${GOSUMDB_OVERRIDE:-off}"
GO_VERSION="$("$GO" env GOVERSION)"
GOMODCACHE_DIR="$("$GO" env GOMODCACHE)"

# module_dir WRAPPER MODULE: where the module cache keeps the source of a module that the wrapper
# module WRAPPER requires (downloaded first if need be).
module_dir() { (cd "$K8S_DIR/$1" && "$GO" mod download "$2" && "$GO" list -m -f '{{.Dir}}' "$2"); }

# ---------------------------------------------------------------------------
# The recipes. Each builds into $out (its own cache folder) and must leave every file that
# `outputs_<name>` lists; `run_logged` keeps each Go build's output in $out/logs.

outputs_kubernetes() { echo bin/kube-apiserver bin/kube-controller-manager bin/kube-scheduler bin/kubelet bin/kube-proxy bin/kubectl; }
build_kubernetes() {
  local minor="${KUBERNETES_VERSION#v1.}"
  minor="${minor%%.*}"
  # What hack/lib/version.sh sets; without gitVersion the binaries call themselves v0.0.0-master.
  local ldflags="" key value
  for kv in "gitVersion=$KUBERNETES_VERSION" gitMajor=1 "gitMinor=$minor" gitTreeState=clean; do
    key="${kv%%=*}" value="${kv#*=}"
    ldflags+=" -X k8s.io/component-base/version.$key=$value -X k8s.io/client-go/pkg/version.$key=$value"
  done
  # Static like the official builds (hack/lib/golang.sh); the kubelet needs no cgo either.
  local cmd
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    CGO_ENABLED=0 run_logged "$cmd" "$GO" build -trimpath -ldflags "-s -w$ldflags" -o "$out/bin/$cmd" \
      "k8s.io/kubernetes/cmd/$cmd"
  done
}

outputs_etcd() { echo bin/etcd; }
build_etcd() {
  CGO_ENABLED=0 run_logged etcd "$GO" build -trimpath -ldflags "-s -w" -o "$out/bin/etcd" go.etcd.io/etcd/server/v3
}

outputs_containerd() { echo bin/containerd bin/containerd-shim-runc-v2 bin/ctr; }
build_containerd() {
  local pkg=github.com/containerd/containerd/v2 cmd
  local ldflags="-s -w -X $pkg/version.Version=$CONTAINERD_VERSION -X $pkg/version.Package=$pkg"
  # no_btrfs: the btrfs snapshotter needs cgo and kernel headers, and the cluster uses overlayfs.
  for cmd in containerd containerd-shim-runc-v2 ctr; do
    CGO_ENABLED=0 run_logged "$cmd" "$GO" build -trimpath -tags "urfave_cli_no_docs no_btrfs" \
      -ldflags "$ldflags" -o "$out/bin/$cmd" "$pkg/cmd/$cmd"
  done
}

outputs_runc() { echo bin/runc; }
build_runc() {
  # runc's Makefile tags minus libpathrs (a Rust library not available here); seccomp needs cgo
  # and libseccomp-dev (.ci/install-deps.sh installs it). The version comes from runc's VERSION file.
  pkg-config --exists libseccomp || die "runc needs libseccomp-dev and pkg-config (apt-get install libseccomp-dev pkg-config)"
  CGO_ENABLED=1 run_logged runc "$GO" build -trimpath -tags "seccomp urfave_cli_no_docs" -ldflags "-s -w" \
    -o "$out/bin/runc" github.com/opencontainers/runc
}

outputs_cni() { echo cni/bridge cni/host-local cni/loopback cni/portmap; }
build_cni() {
  local pkg=github.com/containernetworking/plugins p
  for p in main/bridge ipam/host-local main/loopback meta/portmap; do
    CGO_ENABLED=0 run_logged "cni-${p#*/}" "$GO" build -trimpath \
      -ldflags "-s -w -X $pkg/pkg/utils/buildversion.BuildVersion=$CNI_VERSION" -o "$out/cni/${p#*/}" "$pkg/plugins/$p"
  done
}

outputs_crictl() { echo bin/crictl; }
build_crictl() {
  CGO_ENABLED=0 run_logged crictl "$GO" build -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRI_TOOLS_VERSION" -o "$out/bin/crictl" \
    sigs.k8s.io/cri-tools/cmd/crictl
}

outputs_pause() { echo images/pause.tar; }
build_pause() {
  # The sandbox image every pod starts with: Kubernetes' build/pause/linux/pause.c, static, as
  # the only file of an image in the docker-save format that `ctr images import` reads.
  local src work
  src="$(module_dir kubernetes k8s.io/kubernetes)/build/pause/linux/pause.c"
  work="$out/work"
  rm -rf "$work" && mkdir -p "$work/rootfs" "$out/images"
  run_logged pause-cc gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-mailtest" -o "$work/rootfs/pause" "$src"
  strip "$work/rootfs/pause"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -cf "$work/layer.tar" pause
  local diff_id config config_id
  diff_id="sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
  config='{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},'
  config+='"rootfs":{"type":"layers","diff_ids":["'"$diff_id"'"]},"history":[{"created_by":"engine/k8s/build.sh: pause.c"}]}'
  printf '%s' "$config" >"$work/config.json"
  config_id="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
  mkdir -p "$work/image/layer"
  mv "$work/layer.tar" "$work/image/layer/layer.tar"
  mv "$work/config.json" "$work/image/$config_id.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer/layer.tar"]}]' "$config_id" "$SANDBOX_IMAGE" \
    >"$work/image/manifest.json"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/image" -cf "$out/images/pause.tar.tmp" .
  mv -f "$out/images/pause.tar.tmp" "$out/images/pause.tar"
  rm -rf "$work"
}

outputs_provider() { echo plugins/pulumi-resource-kubernetes; }
build_provider() {
  # The upstream main embeds files that `go generate` writes next to it: build a copy of the
  # wrapper module with them (the upstream's schema.json with the version set, as its
  # generate.go does, and terraform-mapping.json compacted), never in the work tree.
  local upstream src
  upstream="$(module_dir provider-kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4)/cmd/pulumi-resource-kubernetes"
  src="$out/src"
  rm -rf "$src" && mkdir -p "$src" "$out/plugins"
  cp -R "$K8S_DIR/provider-kubernetes/." "$src/"
  node -e 'const fs = require("fs"); const [dir, to, version] = process.argv.slice(1);
    const s = JSON.parse(fs.readFileSync(dir + "/schema.json", "utf8")); s.version = version;
    fs.writeFileSync(to + "/schema-embed.json", JSON.stringify(s));
    fs.writeFileSync(to + "/terraform-mapping-embed.json",
      JSON.stringify(JSON.parse(fs.readFileSync(dir + "/terraform-mapping.json", "utf8"))));' \
    "$upstream" "$src/cmd/pulumi-resource-kubernetes" "$PROVIDER_VERSION"
  (cd "$src" && CGO_ENABLED=0 run_logged provider "$GO" build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PROVIDER_VERSION" \
    -o "$out/plugins/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes)
  rm -rf "$src"
}

# ---------------------------------------------------------------------------
# Components: name, the wrapper module it builds from, its version.
COMPONENTS=(kubernetes etcd containerd runc cni crictl pause)
declare -A MODULE=([kubernetes]=kubernetes [etcd]=etcd [containerd]=containerd [runc]=runc [cni]=cni
  [crictl]=cri-tools [pause]=kubernetes [provider]=provider-kubernetes)
declare -A VERSION=([kubernetes]="$KUBERNETES_VERSION" [etcd]="$ETCD_VERSION" [containerd]="$CONTAINERD_VERSION"
  [runc]="$RUNC_VERSION" [cni]="$CNI_VERSION" [crictl]="$CRI_TOOLS_VERSION" [pause]="$PAUSE_VERSION"
  [provider]="$PROVIDER_VERSION")

# key NAME: NAME-VERSION_GOVERSION_<hash of the wrapper module's files and of the recipe>.
key() {
  local name="$1" hash
  hash="$(
    {
      (cd "$K8S_DIR/${MODULE[$name]}" &&
        find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort | xargs sha256sum)
      declare -f "build_$name" "outputs_$name"
    } | sha256sum | cut -c1-12
  )"
  printf '%s-%s_%s_%s' "$name" "${VERSION[$name]}" "$GO_VERSION" "$hash"
}
dir_of() { printf '%s/k8s/%s' "$CACHE_ROOT" "$(key "$1")"; }
complete() {
  local d f
  d="$(dir_of "$1")"
  for f in $("outputs_$1"); do [[ -s "$d/$f" ]] || return 1; done
}

if [[ "$MODE" == key ]]; then
  for c in "${COMPONENTS[@]}" provider; do key "$c"; echo; done
  exit 0
fi

# The engine's environment (its pulumi CLI installs the plugin); engine/build.sh builds nothing here.
if ! engine_env="$(bash "$ENGINE_DIR/build.sh" --check)"; then
  log "the Pulumi engine is not built: run engine/build.sh first"
  exit 3
fi
ENGINE_KIND="$(eval "$engine_env"; printf '%s' "$MAILSERVER_ENGINE")"
ENGINE_ROOT="$(eval "$engine_env"; printf '%s' "$PULUMI_ROOT")"
WANTED=("${COMPONENTS[@]}")
[[ "$ENGINE_KIND" == external ]] || WANTED+=(provider)

plugin_file() { printf '%s/plugins/resource-kubernetes-v%s/pulumi-resource-kubernetes' "$PULUMI_HOME_DIR" "$PROVIDER_VERSION"; }
plugin_installed() {
  [[ "$ENGINE_KIND" == external ]] || cmp -s "$(plugin_file)" "$(dir_of provider)/plugins/pulumi-resource-kubernetes"
}

# The set: one folder of symbolic links to every component's files, named by the components' keys.
SET="$CACHE_ROOT/k8s/set-$(for c in "${COMPONENTS[@]}"; do key "$c"; done | sha256sum | cut -c1-12)"
print_exports() {
  emit MAILSERVER_K8S_BIN "$SET/bin"
  emit MAILSERVER_K8S_CNI_BIN "$SET/cni"
  emit MAILSERVER_K8S_SANDBOX_TAR "$SET/images/pause.tar"
  emit MAILSERVER_K8S_SANDBOX_IMAGE "$SANDBOX_IMAGE"
  emit MAILSERVER_K8S_VERSION "$KUBERNETES_VERSION"
}
make_set() {
  local c f
  rm -rf "$SET.tmp" && mkdir -p "$SET.tmp/bin" "$SET.tmp/cni" "$SET.tmp/images"
  for c in "${COMPONENTS[@]}"; do
    for f in $("outputs_$c"); do ln -s "$(dir_of "$c")/$f" "$SET.tmp/$f"; done
  done
  rm -rf "$SET" && mv "$SET.tmp" "$SET"
}
set_complete() {
  local c f
  for c in "${COMPONENTS[@]}"; do
    for f in $("outputs_$c"); do [[ -s "$SET/$f" ]] || return 1; done
  done
}

if [[ "$MODE" == check ]]; then
  missing=()
  for c in "${WANTED[@]}"; do complete "$c" || missing+=("$c"); done
  if ((${#missing[@]} == 0)) && set_complete && plugin_installed; then
    print_exports
    exit 0
  fi
  log "not built: ${missing[*]:-(none)}$(plugin_installed || echo "; plugin kubernetes $PROVIDER_VERSION not installed in $PULUMI_HOME_DIR")"
  log "Run: bash engine/k8s/build.sh   (about 20 minutes on 2 cores the first time)"
  exit 3
fi

mkdir -p "$CACHE_ROOT/k8s"
# One build at a time per cache, engine builds included (the same lock as engine/build.sh).
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
  log "another build holds $CACHE_ROOT/.lock; waiting for it"
  flock 9
fi

run_logged() {
  local name="$1" logf="$out/logs/$1.log" start rc=0
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

build() {
  local c="$1" out
  out="$(dir_of "$c")"
  if complete "$c"; then
    log "$c ${VERSION[$c]}: cached in $out"
    return
  fi
  log "building $c ${VERSION[$c]} into $out (Go build logs in $out/logs)"
  rm -rf "$out" && mkdir -p "$out/logs"
  (cd "$K8S_DIR/${MODULE[$c]}" && "build_$c")
  complete "$c" || die "$c: the build left files missing in $out"
}

started=$SECONDS
for c in "${COMPONENTS[@]}"; do build "$c"; done
set_complete || make_set
[[ "$ENGINE_KIND" == external ]] || build provider

if [[ "$ENGINE_KIND" != external ]]; then
  if plugin_installed; then
    log "plugin resource kubernetes $PROVIDER_VERSION: installed in $PULUMI_HOME_DIR"
  else
    log "installing plugin resource kubernetes $PROVIDER_VERSION into $PULUMI_HOME_DIR"
    mkdir -p "$PULUMI_HOME_DIR"
    PULUMI_HOME="$PULUMI_HOME_DIR" PULUMI_SKIP_UPDATE_CHECK=true "$ENGINE_ROOT/bin/pulumi" plugin install \
      resource kubernetes "$PROVIDER_VERSION" --file "$(dir_of provider)/plugins/pulumi-resource-kubernetes" --reinstall >&2
  fi
fi
log "ready in $((SECONDS - started)) s: kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION, containerd $CONTAINERD_VERSION, runc $RUNC_VERSION, CNI plugins $CNI_VERSION$([[ "$ENGINE_KIND" == external ]] || echo ", pulumi-resource-kubernetes $PROVIDER_VERSION")"
print_exports
