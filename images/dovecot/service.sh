# Dovecot hooks for the common entrypoint, healthcheck and config job.
service_prepare() {
  mkdir -p /var/mail/vhosts && chown vmail:vmail /var/mail/vhosts
  cert_seen=$(readlink /certs/current 2>/dev/null || true)
}
service_start() { exec dovecot -F; }
# $1 and $2: the previous and the new generation. Dovecot reads the passwd-file and the Sieve
# scripts afresh when they change, so a generation that changes only those (mailboxes, aliases,
# rules) needs no reload, which would end idle LMTP sessions with "421 Server shutting down" and
# make Postfix defer their mail for minutes.
# Dovecot 2.4 creates each service's srv.<name> directory only at startup, so a reload that adds
# a service (POP3 turned on) would leave its login processes failing: create them first, as
# root-only directories like the master's own.
service_reload() {
  local base s f same=yes
  for f in dovecot.conf tls/cert.pem tls/key.pem; do cmp -s "$1/$f" "$2/$f" || same=no; done
  if [ "$same" = yes ]; then echo "entrypoint[dovecot]: dovecot.conf and TLS unchanged, no reload needed"; return 0; fi
  base=$(doveconf -h base_dir)
  for s in $(doveconf -a 2>/dev/null | sed -n 's/^service \([a-z0-9-]*\) {$/\1/p'); do
    install -d -m 0700 "$base/srv.$s" "$base/srv.${s%-login}"
  done
  doveadm reload
  # Tell Postfix (through the LMTP volume both mount): a delivery caught in the reload is retried.
  date +%s > /run/lmtp/reloaded
}
# shutdown_clients = no keeps sessions alive across a reload, and across a stop as well: when the
# container stops, whatever Dovecot left running is ended too, or Docker would wait out its grace
# period and kill it.
service_stop() { doveadm stop || true; kill -TERM -1 2>/dev/null || true; }
service_check() { doveadm service status >/dev/null 2>&1; }
# tls.acme: a new pair in the certs volume (the ACME container renames /certs/current over to it)
# is read by a reload, which keeps sessions in flight (shutdown_clients = no).
cert_seen=""
service_watch() {
  local now
  now=$(readlink /certs/current 2>/dev/null || true)
  [ -n "$now" ] && [ "$now" != "$cert_seen" ] || return 0
  echo "entrypoint[dovecot]: certificate ${cert_seen:-none} -> $now, reloading"
  doveadm reload || return 1
  cert_seen=$now
  date +%s > /run/lmtp/reloaded
}
