# MTA-STS hooks for the common entrypoint, healthcheck and config job: two daemons as _mta-sts,
# tls-policy (Postfix's socketmap) in front of postfix-mta-sts-resolver.
LIB=/usr/local/lib/mail
as_daemon() { setpriv --reuid=_mta-sts --regid=_mta-sts --init-groups "$@"; }
service_prepare() {
  install -d -o _mta-sts -g _mta-sts -m 0755 /run/mta-sts /run/mta-sts-daemon
  chown _mta-sts:_mta-sts /var/lib/mta-sts
  rm -f /run/mta-sts/policy.sock /run/mta-sts-daemon/sts.sock
}
service_start() {
  # The CAs of a policy fetch: the public ones (/etc/ssl/certs) and outboundTls.trustedCaPem's,
  # read anew at each fetch, so a new generation needs no restart.
  export SSL_CERT_FILE=/config/current/trusted-ca.pem SSL_CERT_DIR=/etc/ssl/certs
  as_daemon mta-sts-daemon -c "$LIB/mta-sts-daemon.yml" &
  as_daemon python3 "$LIB/tls-policy" &
  trap 'kill -TERM $(jobs -p) 2>/dev/null' TERM
  # Either one ending ends the container (its restart policy starts both again).
  wait -n || true
  kill -TERM $(jobs -p) 2>/dev/null || true
  wait
  exit 1
}
service_reload() { :; }
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
