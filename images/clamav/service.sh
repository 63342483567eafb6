# ClamAV hooks for the common entrypoint, healthcheck and config job.
# /var/lib/clamav (a volume that outlives the container) holds ClamAV's databases (freshclam's)
# and copies of the operator's signature files (mailserver-<name>), which clamd loads together.
DB=/var/lib/clamav
CLAMD=(--config-file=/config/current/clamd.conf)

# Root without CAP_DAC_OVERRIDE cannot write in clamav's directory: the copies are made as clamav.
as_clamav() { setpriv --reuid=clamav --regid=clamav --clear-groups "$@"; }
# The operator's signature files of the active generation replace the previous ones.
install_signatures() {
  local f
  as_clamav find "$DB" -maxdepth 1 -name 'mailserver-*' -delete
  for f in /config/current/signatures/*; do
    [ -f "$f" ] && as_clamav install -m 0644 "$f" "$DB/mailserver-$(basename "$f")"
  done
  return 0
}
has_database() { compgen -G "$DB/*.c[lv]d" >/dev/null || compgen -G "$DB/mailserver-*" >/dev/null; }

service_prepare() {
  install -d -o clamav -g clamav -m 0755 /run/clamav "$DB"
  install_signatures
  # First start with updates on: clamd refuses to start without a database, so freshclam fetches
  # ClamAV's (a few hundred MB) before it. Later updates run beside clamd (service_watch).
  if [ -f /config/current/freshclam.conf ] && ! compgen -G "$DB/*.c[lv]d" >/dev/null; then
    echo "entrypoint[clamav]: no ClamAV database yet; freshclam downloads it first"
    freshclam --config-file=/config/current/freshclam.conf --foreground \
      || echo "entrypoint[clamav]: freshclam failed; clamd starts with the signatures it has" >&2
  fi
  has_database || {
    echo "entrypoint[clamav]: no signature database in $DB: turn antivirus.updates on, or give antivirus.signatures" >&2
    exit 1
  }
}
service_start() { exec clamd "${CLAMD[@]}"; }
# clamd.conf is read at start only (the components replace the container when it changes);
# signature files are reloaded, and freshclam is restarted on its new configuration.
service_reload() {
  if ! diff -r -q "$1/signatures" "$2/signatures" >/dev/null 2>&1; then
    install_signatures
    clamdscan "${CLAMD[@]}" --reload || return 1
  fi
  if ! cmp -s "$1/freshclam.conf" "$2/freshclam.conf"; then freshclam_stop; fi
  return 0
}
# With updates on, freshclam runs as a daemon beside clamd (NotifyClamd makes clamd reload after
# each download); started again at most every 10 minutes if it stops.
freshclam_pid=""
freshclam_started=0
freshclam_stop() {
  [ -z "$freshclam_pid" ] || { kill -TERM "$freshclam_pid" 2>/dev/null || true; wait "$freshclam_pid" 2>/dev/null || true; }
  freshclam_pid=""; freshclam_started=0
}
service_watch() {
  if [ -n "$freshclam_pid" ] && ! kill -0 "$freshclam_pid" 2>/dev/null; then
    wait "$freshclam_pid" 2>/dev/null || true; freshclam_pid=""
  fi
  if [ ! -f /config/current/freshclam.conf ]; then freshclam_stop; return 0; fi
  [ -z "$freshclam_pid" ] && [ $(($(date +%s) - freshclam_started)) -ge 600 ] || return 0
  freshclam --config-file=/config/current/freshclam.conf --daemon --foreground &
  freshclam_pid=$!; freshclam_started=$(date +%s)
}
service_stop() { freshclam_stop; kill -TERM "$1" 2>/dev/null || true; }
# Ready = clamd answers PING on its socket (it opens the socket once its databases are loaded).
service_check() { clamdscan "${CLAMD[@]}" --ping 1 >/dev/null; }
