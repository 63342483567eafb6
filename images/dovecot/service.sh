# Dovecot hooks for the common entrypoint, healthcheck and config job.
service_prepare() {
  mkdir -p /var/mail/vhosts && chown vmail:vmail /var/mail/vhosts
  # The brute-force policy service never bans Docker's gateway in bridge mode (it may carry every
  # client): tell it which address that is, this container's default gateway.
  if [ -d /run/authpolicy ]; then default_gateway > /run/authpolicy/gateway.new && mv -f /run/authpolicy/gateway.new /run/authpolicy/gateway; fi
}
# The IPv4 default gateway from /proc/net/route (hex, little-endian), or nothing.
default_gateway() {
  local hex
  hex=$(mawk '$2 == "00000000" && $3 != "00000000" { print $3; exit }' /proc/net/route)
  [ ${#hex} -eq 8 ] || return 0
  printf '%d.%d.%d.%d\n' "0x${hex:6:2}" "0x${hex:4:2}" "0x${hex:2:2}" "0x${hex:0:2}"
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
  if cmp -s "$1/dovecot.conf" "$2/dovecot.conf"; then
    echo "entrypoint[dovecot]: only the certificate changed; restarting the config process"
    cert_refresh; return
  fi
  base=$(doveconf -h base_dir)
  for s in $(doveconf -a 2>/dev/null | sed -n 's/^service \([a-z0-9-]*\) {$/\1/p'); do
    install -d -m 0700 "$base/srv.$s" "$base/srv.${s%-login}"
  done
  doveadm reload
  # Tell Postfix (through the LMTP volume both mount): a delivery caught in the reload is retried.
  date +%s > /run/lmtp/reloaded
}
# A new certificate needs no reload. Login processes serve one connection each
# (restart_request_count = 1 in dovecot.conf) and take their settings, certificate included, from
# the config process, which read the files when it started: restarting only that process makes
# every new connection present the new certificate. A reload restarts auth and imap as well, and a
# login being handed over at that moment fails ("Internal login failure"; measured: 47 of 1,691
# logins over 25 reloads, 0 of 1,856 over 25 config restarts). SIGINT is Dovecot's own idle-kill
# signal; the master keeps the listening socket, so a connection waiting there goes to the next.
cert_refresh() {
  local pid i
  pid=$(pgrep -f '^dovecot/config' | head -n 1)
  if [ -z "$pid" ]; then echo "entrypoint[dovecot]: no config process running; the next one reads the new certificate"; return 0; fi
  for i in $(seq 1 50); do
    kill -INT "$pid" 2>/dev/null || return 0
    sleep 0.1
    kill -0 "$pid" 2>/dev/null || return 0
  done
  echo "entrypoint[dovecot]: the config process did not restart; reloading instead" >&2
  doveadm reload
}
# shutdown_clients = no keeps sessions alive across a reload, and across a stop as well: when the
# container stops, whatever Dovecot left running is ended too, or Docker would wait out its grace
# period and kill it.
service_stop() { doveadm stop || true; kill -TERM -1 2>/dev/null || true; }
service_check() { doveadm service status >/dev/null 2>&1; }
# tls.acme: a new certificate (the entrypoint watches /certs/current).
service_cert_changed() { echo "entrypoint[dovecot]: restarting the config process for the new certificate"; cert_refresh; }
