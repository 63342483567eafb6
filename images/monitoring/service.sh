# Prometheus + Alertmanager hooks for the common entrypoint, healthcheck and config job.
service_prepare() {
  chown prometheus:prometheus /var/lib/prometheus/metrics2
}
service_start() { exec /usr/local/lib/mail/run-monitoring; }
# Both read their files again from /config/current, which now points at the new generation.
service_reload() { kill -HUP "$daemon"; }
service_stop() { kill -TERM "$1" 2>/dev/null || true; }
service_check() {
  # shellcheck disable=SC1091
  source /config/current/monitoring.env
  curl -fsS -o /dev/null --max-time 4 "http://${PROMETHEUS_LISTEN/0.0.0.0/127.0.0.1}/-/ready" \
    && curl -fsS -o /dev/null --max-time 4 "http://${ALERTMANAGER_LISTEN/0.0.0.0/127.0.0.1}/-/ready"
}
