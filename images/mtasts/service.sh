# MTA-STS hooks for the common entrypoint, healthcheck and config job: two daemons as _mta-sts,
# tls-policy (Postfix's socketmap) in front of postfix-mta-sts-resolver.
LIB=/usr/local/lib/mail
as_daemon() { setpriv --reuid=_mta-sts --regid=_mta-sts --init-groups "$@"; }
# The daemons' directories are theirs (chown only: root here has no CAP_DAC_OVERRIDE or
# CAP_FOWNER); each daemon replaces its own socket left by a previous container.
service_prepare() { chown _mta-sts:_mta-sts /run/mta-sts /run/mta-sts-daemon /var/lib/mta-sts; }
service_start() {
  # The CAs of a policy fetch: the public ones and outboundTls.trustedCaPem's (read when the
  # daemon starts: a new generation restarts it, below).
  export SSL_CERT_FILE=/config/current/trusted-ca.pem SSL_CERT_DIR=/etc/ssl/certs
  as_daemon python3 "$LIB/tls-policy" &
  local policy=$! sts
  start_sts() { as_daemon mta-sts-daemon -c "$LIB/mta-sts-daemon.yml" & sts=$!; echo "$sts" > /run/mail/sts.pid; }
  start_sts
  trap 'kill -TERM "$policy" "$(cat /run/mail/sts.pid)" 2>/dev/null; exit 0' TERM
  while true; do
    wait -n "$policy" "$sts" || true
    # tls-policy ended: so does the container (its restart policy starts it again).
    kill -0 "$policy" 2>/dev/null || break
    # postfix-mta-sts-resolver ended (a reload, or a crash): started again; meanwhile Postfix's
    # lookups are answered TEMP and its mail waits.
    kill -0 "$sts" 2>/dev/null || start_sts
  done
  kill -TERM "$sts" 2>/dev/null || true
  exit 1
}
# A new trusted-ca.pem: postfix-mta-sts-resolver starts again with it (its cached policies stay).
service_reload() { kill -TERM "$(cat /run/mail/sts.pid)"; }
service_stop() { kill -TERM "$1" 2>/dev/null || true; }
# Ready = both sockets answer: an address literal is answered NOTFOUND without any lookup.
service_check() {
  [ -S /run/mta-sts/policy.sock ] && [ -S /run/mta-sts-daemon/sts.sock ] || return 1
  python3 - <<'PY'
import socket
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect("/run/mta-sts/policy.sock")
q = b"postfix [127.0.0.1]"; s.sendall(b"%d:%s," % (len(q), q))
assert s.recv(100).startswith(b"9:NOTFOUND"), "no answer"
PY
}
