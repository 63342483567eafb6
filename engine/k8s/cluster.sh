#!/usr/bin/env bash
# A one-node Kubernetes cluster for the tests, on this machine, from the binaries engine/k8s/build.sh
# builds (see engine/k8s/README.md):
#
#     bash engine/k8s/cluster.sh up          # start (or reuse) it; prints the admin kubeconfig's path
#     eval "$(bash engine/k8s/cluster.sh env)"   # KUBECONFIG and the cluster's binaries
#     bash engine/k8s/cluster.sh import IMAGE...  # copy Docker images into the cluster's containerd
#     bash engine/k8s/cluster.sh status
#     bash engine/k8s/cluster.sh down        # stop everything, remove its state, mounts, network
#
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd (an instance of its
# own: socket, root and state apart from the Docker engine's), the kubelet and kube-proxy run as
# daemons (their own sessions, so they outlive the caller) with state under
# ${MAILSERVER_K8S_STATE:-/var/lib/mailtest-k8s}, ${MAILSERVER_K8S_RUN:-/run/mailtest-k8s} and logs
# in ${MAILSERVER_K8S_LOGS:-/var/log/mailtest-k8s}. Everything listens on 127.0.0.46 and ports
# 46000-46999, except what the cluster's own network needs: the node's address 10.46.0.1 on the
# bridge mk8s0 (pods 10.46.0.0/24, services 10.46.1.0/24), where the kubelet serves the API server.
# Tests reach workloads only on loopback (host network or host ports on 127.0.0.x).
# Pod cgroups live under /mailtest-k8s (Docker's are under /docker). Calls are serialised with a
# lock; `up` on a running cluster only checks it.
set -euo pipefail

K8S_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAME=mailtest-k8s
STATE="${MAILSERVER_K8S_STATE:-/var/lib/$NAME}"
RUN="${MAILSERVER_K8S_RUN:-/run/$NAME}"
LOGS="${MAILSERVER_K8S_LOGS:-/var/log/$NAME}"
PKI="$STATE/pki"
PIDS="$RUN/pids"
SOCK="$RUN/containerd.sock"
ADDR=127.0.0.46
NODE="$NAME"
NODE_IP=10.46.0.1
BRIDGE=mk8s0
POD_CIDR=10.46.0.0/24
SERVICE_CIDR=10.46.1.0/24
KUBERNETES_SERVICE_IP=10.46.1.1
NODE_PORTS=46300-46399
CGROUP_ROOT="/$NAME"
declare -A PORT=([etcd]=46379 [etcd-peer]=46380 [apiserver]=46443 [controller-manager]=46257 [scheduler]=46259
  [kubelet]=46250 [kubelet-healthz]=46248 [kube-proxy-healthz]=46256 [kube-proxy-metrics]=46249 [cri-stream]=46010)
# Start order; `down` stops them in reverse.
DAEMONS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

log() { echo "[cluster] $*" >&2; }
die() { echo "[cluster] ERROR: $*" >&2; exit 1; }

usage() { echo "usage: bash engine/k8s/cluster.sh up|down|env|status|import IMAGE..." >&2; exit 2; }
CMD="${1:-}"
[[ -n "$CMD" ]] || usage
shift

# The binaries: from the caller's environment (build.sh's exports), else from build.sh --check.
if [[ -z "${MAILSERVER_K8S_BIN:-}" ]]; then
  exports="$(bash "$K8S_DIR/build.sh" --check)" ||
    die "the cluster's binaries are not built: run bash engine/k8s/build.sh"
  eval "$exports"
fi
BIN="$MAILSERVER_K8S_BIN"
KUBECTL=("$BIN/kubectl" --kubeconfig "$STATE/admin.kubeconfig")
CTR=("$BIN/ctr" --address "$SOCK" --namespace k8s.io)
CRICTL=("$BIN/crictl" --config "$STATE/config/crictl.yaml")

# ---------------------------------------------------------------------------------------------
# Processes

pid_of() { [[ -s "$PIDS/$1.pid" ]] && cat "$PIDS/$1.pid"; }
# running NAME: its recorded process is alive and is still ours (its command line names our state).
running() {
  local pid
  pid="$(pid_of "$1")" || return 1
  [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -F -- "$STATE" >/dev/null
}

# alive NAME: the process of the pid file exists. For a daemon just started: until setsid and nohup
# have exec'd it, its command line is still this script's, which `running` would not recognise.
alive() {
  local pid
  pid="$(pid_of "$1")" || return 1
  kill -0 "$pid" 2>/dev/null
}

# start NAME CMD...: runs CMD as a daemon in a session of its own, output in $LOGS/NAME.log.
start() {
  local name="$1"
  shift
  if running "$name"; then return; fi
  log "starting $name"
  # fd 8 holds the lock: a daemon inheriting it would hold the lock for as long as it runs.
  setsid nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 8>&- &
  echo $! >"$PIDS/$name.pid"
}

# stop NAME: SIGTERM, then SIGKILL after 20 s.
stop() {
  local pid i
  if ! running "$1"; then rm -f "$PIDS/$1.pid"; return; fi
  pid="$(pid_of "$1")"
  log "stopping $1 ($pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    ((i == 100)) && kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  done
  rm -f "$PIDS/$1.pid"
}

# wait_for WHAT SECONDS DAEMON CMD...: until CMD succeeds; fails with the daemon's log tail.
wait_for() {
  local what="$1" limit="$2" daemon="$3" start=$SECONDS
  shift 3
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS - start >= limit)) || { [[ -n "$daemon" ]] && ! alive "$daemon"; }; then
      log "$what: not ready after $((SECONDS - start)) s$([[ -z "$daemon" ]] || alive "$daemon" || echo " ($daemon exited)")"
      [[ -z "$daemon" ]] || { log "last lines of $LOGS/$daemon.log:"; tail -n 30 "$LOGS/$daemon.log" >&2; }
      exit 1
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------------
# Certificates, tokens, kubeconfigs and configuration files (made once, kept until `down`)

make_pki() {
  [[ -s "$PKI/done" ]] && return
  log "making the cluster's CA, certificates, service-account keys and tokens in $PKI"
  rm -rf "$PKI" && mkdir -p "$PKI" && chmod 700 "$PKI"
  (
    cd "$PKI"
    openssl genrsa -out ca.key 2048 2>/dev/null
    openssl req -x509 -new -key ca.key -subj "/CN=$NAME-ca" -days 3650 -out ca.crt 2>/dev/null
    # sign NAME SUBJECT EXTENSIONS: a key and a certificate signed by the CA.
    sign() {
      openssl genrsa -out "$1.key" 2048 2>/dev/null
      openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile "$1.ext" \
        -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$ADDR,IP:$KUBERNETES_SERVICE_IP,IP:$NODE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    # The API server's client certificate for the kubelet's API (logs, exec, port-forward).
    sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    # Bearer tokens: the admin, and each component under the identity the built-in RBAC roles and
    # the Node authorizer expect.
    token() { openssl rand -hex 24; }
    {
      echo "$(token),admin,admin,system:masters"
      echo "$(token),system:kube-controller-manager,system:kube-controller-manager,"
      echo "$(token),system:kube-scheduler,system:kube-scheduler,"
      echo "$(token),system:node:$NODE,system:node:$NODE,system:nodes"
      echo "$(token),system:kube-proxy,system:kube-proxy,"
    } >tokens.csv
    chmod 600 ./*.key tokens.csv
    echo ok >done
  )
}

# put FILE: writes stdin to FILE unless FILE already has that content (kube-proxy exits when its
# configuration file changes, even to the same text).
put() {
  local tmp="$1.tmp"
  (umask 077 && cat >"$tmp")
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

# kubeconfig FILE USER: a kubeconfig for USER's token from tokens.csv.
kubeconfig() {
  local token
  token="$(awk -F, -v u="$2" '$2 == u { print $1 }' "$PKI/tokens.csv")"
  put "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $NAME
  cluster:
    server: https://$ADDR:${PORT[apiserver]}
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    token: $token
contexts:
- name: $NAME
  context:
    cluster: $NAME
    user: $2
current-context: $NAME
EOF
}

make_config() {
  mkdir -p "$LOGS/pods" "$STATE/config" "$STATE/cni/net.d" "$STATE/cni/ipam" "$STATE/kubelet" "$STATE/etcd" "$STATE/containerd"
  kubeconfig "$STATE/admin.kubeconfig" admin
  kubeconfig "$STATE/config/controller-manager.kubeconfig" system:kube-controller-manager
  kubeconfig "$STATE/config/scheduler.kubeconfig" system:kube-scheduler
  kubeconfig "$STATE/config/kubelet.kubeconfig" "system:node:$NODE"
  kubeconfig "$STATE/config/kube-proxy.kubeconfig" system:kube-proxy
  put "$STATE/config/crictl.yaml" <<EOF
runtime-endpoint: unix://$SOCK
image-endpoint: unix://$SOCK
timeout: 30
EOF

  # containerd 2.x, config version 3. restrict_oom_score_adj: these hosts forbid lowering
  # oom_score_adj (without it every sandbox fails in runc). NRI off: its socket path is shared
  # host-wide. Network namespaces under our state folder, not /var/run/netns.
  put "$STATE/config/containerd.toml" <<EOF
version = 3
root = "$STATE/containerd"
state = "$RUN/containerd"

# (ttrpc listens on the same path + .ttrpc)
[grpc]
  address = "$SOCK"

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "$STATE/containerd/opt"
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '$MAILSERVER_K8S_SANDBOX_IMAGE'
  [plugins.'io.containerd.cri.v1.runtime']
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '$BIN/runc'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['$MAILSERVER_K8S_CNI_BIN']
      conf_dir = '$STATE/cni/net.d'
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '$ADDR'
    stream_server_port = '${PORT[cri-stream]}'
EOF

  # The pod network: one bridge, addresses from host-local (its own data folder), host ports
  # through portmap. Pods route only their own subnet and the services' (through the node, where
  # kube-proxy translates them): no default route, no masquerading, nothing leaves this machine.
  put "$STATE/cni/net.d/10-$NAME.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NAME",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$NODE_IP" }]],
        "routes": [{ "dst": "$SERVICE_CIDR" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF

  # syncFrequency 5s (default 1m): how often the kubelet resyncs each pod, and so how soon a
  # changed ConfigMap or Secret reaches its projected volumes (the Kubernetes platform's config
  # generations, components/platform/kubernetes); the watch on the objects themselves is immediate.
  # A user's cluster keeps the default: up to about a minute and a half from `pulumi up` to reload.
  # cgroup v1 hosts: the kubelet refuses them unless failCgroupV1 is false (Kubernetes 1.35+).
  # Eviction and image GC thresholds are set out of the way: the disk is shared with everything
  # else on the machine, and a test must not lose its pods or images to another's files.
  put "$STATE/config/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: ${PORT[kubelet]}
readOnlyPort: 0
healthzBindAddress: $ADDR
healthzPort: ${PORT[kubelet-healthz]}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $PKI/ca.crt
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$SOCK
imageServiceEndpoint: unix://$SOCK
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
cgroupsPerQOS: true
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
syncFrequency: 5s
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
registerNode: true
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
containerLogMaxSize: 10Mi
podLogsDir: $LOGS/pods
EOF

  # iptables mode; node ports only on the node's own address (not 127.0.0.0/8, which would need
  # route_localnet host-wide); no conntrack sysctls changed; oom_score_adj left alone.
  put "$STATE/config/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $STATE/config/kube-proxy.kubeconfig
mode: iptables
hostnameOverride: $NODE
clusterCIDR: $POD_CIDR
bindAddress: $ADDR
healthzBindAddress: $ADDR:${PORT[kube-proxy-healthz]}
metricsBindAddress: $ADDR:${PORT[kube-proxy-metrics]}
nodePortAddresses: ["$NODE_IP/32"]
oomScoreAdj: 0
iptables:
  localhostNodePorts: false
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

# ---------------------------------------------------------------------------------------------
# Host set-up: the node's address on its bridge, the pods' cgroup root

cgroup_hierarchies() {
  awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts
}

host_setup() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr show dev "$BRIDGE" | grep -F " $NODE_IP/" >/dev/null || ip addr add "$NODE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # The kubelet checks that its cgroup root exists in every hierarchy; a new cpuset cgroup
  # needs its CPUs and memory nodes before anything can join it.
  local h
  for h in $(cgroup_hierarchies); do
    mkdir -p "$h$CGROUP_ROOT"
    if [[ -f "$h/cpuset.cpus" && ! -s "$h$CGROUP_ROOT/cpuset.cpus" ]]; then
      cat "$h/cpuset.cpus" >"$h$CGROUP_ROOT/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h$CGROUP_ROOT/cpuset.mems"
    fi
  done
}

# ---------------------------------------------------------------------------------------------

start_all() {
  start containerd env PATH="$BIN:$PATH" "$BIN/containerd" --config "$STATE/config/containerd.toml"
  wait_for "containerd" 60 containerd "${CTR[@]}" version
  # The sandbox image, before the kubelet can ask for it.
  if ! "${CTR[@]}" images ls -q | grep -xF "$MAILSERVER_K8S_SANDBOX_IMAGE" >/dev/null; then
    "${CTR[@]}" images import --local "$MAILSERVER_K8S_SANDBOX_TAR" >&2
  fi

  start etcd "$BIN/etcd" --name "$NAME" --data-dir "$STATE/etcd" \
    --listen-client-urls "http://$ADDR:${PORT[etcd]}" --advertise-client-urls "http://$ADDR:${PORT[etcd]}" \
    --listen-peer-urls "http://$ADDR:${PORT[etcd-peer]}" --initial-advertise-peer-urls "http://$ADDR:${PORT[etcd-peer]}" \
    --initial-cluster "$NAME=http://$ADDR:${PORT[etcd-peer]}" --log-level warn
  wait_for "etcd" 60 etcd curl -sf "http://$ADDR:${PORT[etcd]}/health"

  # The request-header settings only give the controller manager and the scheduler the CA bundle
  # they look for (they log an error a second without it); no certificate is ever issued to the
  # allowed name, so no client can use those headers.
  start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://$ADDR:${PORT[etcd]}" \
    --bind-address "$ADDR" --secure-port "${PORT[apiserver]}" --advertise-address "$NODE_IP" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --token-auth-file "$PKI/tokens.csv" \
    --requestheader-client-ca-file "$PKI/ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --service-cluster-ip-range "$SERVICE_CIDR" --service-node-port-range "$NODE_PORTS" \
    --service-account-issuer "https://kubernetes.default.svc.cluster.local" \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --allow-privileged=true --profiling=false --v=1
  wait_for "kube-apiserver" 120 kube-apiserver "${KUBECTL[@]}" get --raw /readyz

  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$STATE/config/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/config/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/config/controller-manager.kubeconfig" \
    --bind-address "$ADDR" --secure-port "${PORT[controller-manager]}" \
    --root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" \
    --use-service-account-credentials=true \
    --cluster-name "$NAME" --leader-elect=false --profiling=false --v=1
  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$STATE/config/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/config/scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE/config/scheduler.kubeconfig" \
    --bind-address "$ADDR" --secure-port "${PORT[scheduler]}" --leader-elect=false --profiling=false --v=1

  start kubelet "$BIN/kubelet" --config "$STATE/config/kubelet.yaml" \
    --kubeconfig "$STATE/config/kubelet.kubeconfig" --root-dir "$STATE/kubelet" \
    --hostname-override "$NODE" --node-ip "$NODE_IP" --v=1
  start kube-proxy "$BIN/kube-proxy" --config "$STATE/config/kube-proxy.yaml" --v=1

  wait_for "kube-controller-manager" 60 kube-controller-manager \
    curl -sfk "https://$ADDR:${PORT[controller-manager]}/healthz"
  wait_for "kube-scheduler" 60 kube-scheduler curl -sfk "https://$ADDR:${PORT[scheduler]}/healthz"
  wait_for "kube-proxy" 60 kube-proxy curl -sf "http://$ADDR:${PORT[kube-proxy-healthz]}/healthz"
  wait_for "node $NODE Ready" 120 kubelet node_ready
  wait_for "the default service account" 60 kube-controller-manager \
    "${KUBECTL[@]}" --namespace default get serviceaccount default
}

node_ready() {
  [[ "$("${KUBECTL[@]}" get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

# import_image REFERENCE: from the Docker engine (DOCKER_HOST) into the cluster's containerd,
# unless containerd already has that image id.
import_image() {
  local ref="$1" id
  id="$(docker image inspect --format '{{.Id}}' "$ref")" || die "docker has no image $ref"
  if "${CRICTL[@]}" images --quiet --no-trunc 2>/dev/null | grep -xF "$id" >/dev/null; then
    log "image $ref ($id): already in the cluster"
    return
  fi
  log "importing image $ref ($id) into the cluster"
  docker save "$ref" | "${CTR[@]}" images import --local - >&2
}

up() {
  mkdir -p "$STATE" "$RUN" "$PIDS" "$LOGS"
  chmod 700 "$STATE"
  make_pki
  make_config
  host_setup
  start_all
  log "cluster $NAME ($MAILSERVER_K8S_VERSION) ready: node $NODE Ready, API https://$ADDR:${PORT[apiserver]}"
  echo "$STATE/admin.kubeconfig"
}

# ---------------------------------------------------------------------------------------------

# Processes of ours that outlived their daemon: containerd's shims (their command line names our
# socket) and anything left in the pods' cgroups.
leftover_pids() {
  local p h
  for p in /proc/[0-9]*; do
    [[ "${p#/proc/}" == "$$" || "${p#/proc/}" == "$BASHPID" ]] && continue
    [[ -r "$p/cmdline" ]] && tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -F -- "$SOCK" >/dev/null && echo "${p#/proc/}"
  done
  for h in $(cgroup_hierarchies); do
    [[ -d "$h$CGROUP_ROOT" ]] && find "$h$CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
  return 0
}

# The kubelet's and kube-proxy's iptables chains (KUBE-*) and the CNI plugins' (CNI-*) that
# outlived them, in IPv4 and IPv6: the jumps to them from the built-in chains, then the chains.
# No other Kubernetes or CNI user runs on these machines (the Docker engine runs without iptables).
clean_iptables() {
  local ipt table rule chain
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null 2>&1 || continue
    for table in filter nat mangle; do
      "$ipt" -t "$table" -S >/dev/null 2>&1 || continue
      while read -r rule; do
        eval "\"\$ipt\" -t \"\$table\" -D ${rule#-A }" || log "cannot delete $ipt -t $table $rule"
      done < <("$ipt" -t "$table" -S | grep -E -- '^-A [A-Z]+ .*-j (KUBE|CNI)-' || true)
      for chain in $("$ipt" -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ { print $2 }'); do
        "$ipt" -t "$table" -F "$chain"
      done
      for chain in $("$ipt" -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ { print $2 }'); do
        "$ipt" -t "$table" -X "$chain" || log "cannot delete chain $chain ($ipt -t $table)"
      done
    done
  done
}

down() {
  local i pid m h
  if running kubelet; then stop kubelet; fi
  # Remove the pods while containerd still runs: the CNI plugins then release their addresses
  # and host-port rules, and the sandboxes' mounts go away.
  if running containerd && "${CTR[@]}" version >/dev/null 2>&1; then
    "${CRICTL[@]}" rmp --all --force >&2 || log "crictl rmp failed; cleaning up by hand"
  fi
  if running kube-proxy; then
    stop kube-proxy
  fi
  # kube-proxy's rules (its KUBE-* chains) come out with its --cleanup.
  if [[ -f "$STATE/config/kube-proxy.yaml" ]] && iptables -t nat -S KUBE-SERVICES >/dev/null 2>&1; then
    "$BIN/kube-proxy" --cleanup --config "$STATE/config/kube-proxy.yaml" >>"$LOGS/kube-proxy.log" 2>&1 ||
      log "kube-proxy --cleanup failed (see $LOGS/kube-proxy.log)"
  fi
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do stop "${DAEMONS[$i]}"; done
  for i in 1 2 3; do
    pids="$(leftover_pids | sort -u)"
    [[ -z "$pids" ]] && break
    log "killing leftover processes: $(echo $pids)"
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
    sleep 1
  done
  # Mounts under our folders (container root filesystems, shm, netns, pod volumes), deepest first.
  for m in $(awk -v s="$STATE/" -v r="$RUN/" 'index($5, s) == 1 || index($5, r) == 1 { print length($5), $5 }' \
    /proc/self/mountinfo | sort -rn | cut -d' ' -f2-); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "cannot unmount $m"
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
  clean_iptables
  for h in $(cgroup_hierarchies); do
    [[ -d "$h$CGROUP_ROOT" ]] && find "$h$CGROUP_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  rm -rf "$STATE" "$RUN"
  log "cluster $NAME down (logs kept in $LOGS)"
}

status() {
  local d rc=0
  for d in "${DAEMONS[@]}"; do
    if running "$d"; then echo "$d: running ($(pid_of "$d"))"; else echo "$d: stopped"; rc=1; fi
  done
  if ((rc == 0)) && node_ready; then echo "node $NODE: Ready"; else echo "node $NODE: not ready"; rc=1; fi
  return $rc
}

env_exports() {
  printf 'export %s=%q\n' KUBECONFIG "$STATE/admin.kubeconfig" MAILSERVER_K8S_BIN "$BIN" \
    MAILSERVER_K8S_CONTAINERD "$SOCK" MAILSERVER_K8S_VERSION "$MAILSERVER_K8S_VERSION"
}

mkdir -p "$(dirname "$RUN")"
exec 8>"$(dirname "$RUN")/$NAME.lock"
flock 8
case "$CMD" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) env_exports ;;
  import)
    (($# > 0)) || usage
    running containerd || die "the cluster is not running: bash engine/k8s/cluster.sh up"
    for image in "$@"; do import_image "$image"; done
    ;;
  *) usage ;;
esac
