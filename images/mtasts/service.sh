# Outbound TLS hooks for the common entrypoint, healthcheck and config job. The daemons run as
# _mta-sts: tls-policy (Postfix's socketmap, the container's main daemon), and beside it
# postfix-mta-sts-resolver and, with reports.tls, TLS-RPT's collector and report daemon, each
# started again when it ends (a crash, or a reload that stops it to read new settings).
LIB=/usr/local/lib/mail
RUN=/run/mta-sts-daemon
TLSRPT=/config/current/tlsrpt.cfg
# The helpers' pids: root's own directory (root here cannot write into the daemons').
PIDS=/run/mail
# A command, not a function: a background function is a subshell, and its pid ($!) would be the
# subshell's, not the daemon's that signals must reach.
AS_DAEMON=(setpriv --reuid=_mta-sts --regid=_mta-sts --init-groups)
as_daemon() { "${AS_DAEMON[@]}" "$@"; }
# Signals as the daemons' user: the container has no CAP_KILL for root to signal another user's.
signal() { as_daemon /bin/bash -c 'kill "$@"' kill "$@" 2>/dev/null; }
# The daemons' directories are theirs (chown only: root here has no CAP_DAC_OVERRIDE or
# CAP_FOWNER); each daemon replaces its own socket left by a previous container.
service_prepare() {
  chown _mta-sts:_mta-sts /run/mta-sts "$RUN" /var/lib/mta-sts
  as_daemon mkdir -p /var/lib/mta-sts/tlsrpt
}
# The helpers the active generation asks for.
helpers() { echo sts; if [ -f "$TLSRPT" ]; then echo collectd reportd; fi; }
start_helper() {
  case $1 in
    sts) "${AS_DAEMON[@]}" mta-sts-daemon -c "$LIB/mta-sts-daemon.yml" & ;;
    collectd) "${AS_DAEMON[@]}" tlsrpt-collectd --config_file "$TLSRPT" & ;;
    reportd) "${AS_DAEMON[@]}" tlsrpt-reportd --config_file "$TLSRPT" & ;;
  esac
  pids[$1]=$!
  echo "$!" > "$PIDS/$1.pid"
}
service_start() {
  # The CAs of a policy fetch: the public ones and outboundTls.trustedCaPem's (read when the
  # daemon starts: a new generation restarts it).
  export SSL_CERT_FILE=/config/current/trusted-ca.pem SSL_CERT_DIR=/etc/ssl/certs
  "${AS_DAEMON[@]}" python3 "$LIB/tls-policy" &
  local policy=$! name
  declare -A pids=()
  for name in $(helpers); do start_helper "$name"; done
  trap 'signal -TERM "$policy" "${pids[@]}"; exit 0' TERM
  while true; do
    wait -n "$policy" "${pids[@]}" || true
    # tls-policy ended: so does the container (its restart policy starts it again).
    signal -0 "$policy" || break
    # A helper that ended starts again while the generation asks for it; meanwhile Postfix's
    # policy lookups are answered TEMP (mail waits) and its TLS results are not counted.
    for name in "${!pids[@]}"; do signal -0 "${pids[$name]}" || unset "pids[$name]"; done
    for name in $(helpers); do [ -n "${pids[$name]:-}" ] || start_helper "$name"; done
  done
  signal -TERM "${pids[@]}" || true
  exit 1
}
# A new generation (trusted CAs, report settings): the helpers stop and start again with it;
# the policy cache and the day's TLS results stay in the data volume.
service_reload() {
  local name
  for name in sts collectd reportd; do
    [ -f "$PIDS/$name.pid" ] && signal -TERM "$(cat "$PIDS/$name.pid")"
  done
  return 0
}
# $1 is service_start's shell (root's); its trap stops the daemons.
service_stop() { kill -TERM "$1" 2>/dev/null || true; }
# Ready = both policy sockets answer (an address literal is answered NOTFOUND without a lookup),
# and TLS-RPT's collector listens when reports are on.
service_check() {
  [ -S /run/mta-sts/policy.sock ] && [ -S "$RUN/sts.sock" ] || return 1
  if [ -f "$TLSRPT" ]; then [ -S /run/mta-sts/tlsrpt.sock ] || return 1; fi
  python3 - <<'PY'
import socket
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect("/run/mta-sts/policy.sock")
q = b"postfix [127.0.0.1]"; s.sendall(b"%d:%s," % (len(q), q))
assert s.recv(100).startswith(b"9:NOTFOUND"), "no answer"
PY
}
