# Dovecot hooks for the common entrypoint, healthcheck and config job.
service_prepare() { mkdir -p /var/mail/vhosts && chown vmail:vmail /var/mail/vhosts; }
service_start() { exec dovecot -F; }
service_reload() { doveadm reload; }
service_stop() { doveadm stop || true; }
service_check() { doveadm service status >/dev/null 2>&1; }
