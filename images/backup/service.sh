# Backup hooks for the common entrypoint, healthcheck and config job. The "daemon" is the
# schedule: a loop that runs run-backup when the interval since the last run has passed (at once
# when none is recorded), reading backup.conf afresh every minute, so a new schedule or retention
# needs no new container. Status, lock and restic's cache live in the staging volume.
LIB=/usr/local/lib/mail
STATUS=/staging/status

service_prepare() {
  mkdir -p /staging/cache /staging/data
  # A run cut short by a stop leaves "running": the schedule then runs again at once.
  if [ "$(sed -n 's/^result=//p' "$STATUS" 2>/dev/null)" = running ]; then rm -f "$STATUS"; fi
  date +%s > /run/mail/started
}

service_start() {
  while true; do
    # shellcheck source=/dev/null
    source /config/current/backup.conf
    last=$(sed -n 's/^started=//p' "$STATUS" 2>/dev/null || true)
    if [ -z "$last" ] || [ $(($(date +%s) - last)) -ge $((INTERVAL_MINUTES * 60)) ]; then
      "$LIB/run-backup" || true
    fi
    sleep 60
  done
}

service_reload() { return 0; }
service_stop() { kill -TERM "$1" 2>/dev/null || true; }

# Unhealthy when the last backup failed, or when no good one is younger than STALE_AFTER_INTERVALS
# intervals (counted from the container's start while there is none yet).
service_check() {
  source /config/current/backup.conf
  local now result success since limit
  now=$(date +%s)
  result=$(sed -n 's/^result=//p' "$STATUS" 2>/dev/null || true)
  success=$(sed -n 's/^last_success=//p' "$STATUS" 2>/dev/null || true)
  if [ "$result" = failed ]; then
    echo "the last backup failed: $(sed -n 's/^message=//p' "$STATUS")"
    return 1
  fi
  since=${success:-0}
  [ "$since" -gt 0 ] || since=$(cat /run/mail/started)
  limit=$((INTERVAL_MINUTES * 60 * STALE_AFTER_INTERVALS))
  if [ $((now - since)) -gt "$limit" ]; then
    echo "no good backup for $(((now - since) / 60)) minutes (limit: $((limit / 60)))"
    return 1
  fi
}
