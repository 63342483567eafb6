# Dovecot hooks for the common entrypoint, healthcheck and config job.
service_prepare() { mkdir -p /var/mail/vhosts && chown vmail:vmail /var/mail/vhosts; }
service_start() { exec dovecot -F; }
# Dovecot 2.4 creates each service's srv.<name> directory only at startup, so a reload that adds
# a service (POP3 turned on) would leave its login processes failing: create them first, as
# root-only directories like the master's own.
service_reload() {
  local base s
  base=$(doveconf -h base_dir)
  for s in $(doveconf -a 2>/dev/null | sed -n 's/^service \([a-z0-9-]*\) {$/\1/p'); do
    install -d -m 0700 "$base/srv.$s" "$base/srv.${s%-login}"
  done
  doveadm reload
}
service_stop() { doveadm stop || true; }
service_check() { doveadm service status >/dev/null 2>&1; }
