# Postfix hooks for the common entrypoint, healthcheck and config job.
# /var/lib/postfix is a tmpfs (read-only root filesystem): give it back to postfix first.
service_prepare() { install -d -o postfix -g postfix -m 0700 /var/lib/postfix; postfix check; }
service_start() { exec postfix start-fg; }
service_reload() { postfix reload; }
service_stop() { postfix stop || true; }
# What `postfix status` checks (master holds its lock), without the log line it writes each time.
service_check() { ! /usr/lib/postfix/sbin/master -t 2>/dev/null; }
