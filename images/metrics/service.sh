# Metrics exporters' hooks for the common entrypoint, healthcheck and config job.
# run-exporters starts every exporter of the active generation and the facts loop, as nobody;
# a new generation: it is started again (its settings are the exporters' command lines).
# mkdir then chown: a chmod after the chown would need CAP_FOWNER.
service_prepare() { mkdir -p -m 0755 /run/metrics/textfile && chown nobody:nogroup /run/metrics/textfile; }
service_start() { exec /usr/local/lib/mail/run-exporters; }
service_reload() { kill -HUP "$daemon"; }
service_stop() { kill -TERM "$1" 2>/dev/null || true; }
# Every exporter answers with its metrics (curl exits non-zero otherwise).
service_check() {
  # shellcheck disable=SC1091
  source /config/current/metrics.env
  local host=${LISTEN/0.0.0.0/127.0.0.1} port
  for port in "$POSTFIX_PORT" "$NODE_PORT" $VALKEY_PORT; do
    curl -fsS -o /dev/null --max-time 4 "http://$host:$port/metrics" || return 1
  done
}
