# Postfix hooks for the common entrypoint, healthcheck and config job.
service_prepare() { postfix check; }
service_start() { exec postfix start-fg; }
service_reload() { postfix reload; }
service_stop() { postfix stop || true; }
service_check() { postfix status >/dev/null 2>&1; }
