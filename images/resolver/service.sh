# unbound hooks for the common entrypoint, healthcheck and config job.
CONF=/config/current/unbound.conf
DATA=/var/lib/unbound
control() { unbound-control -c "$CONF" "$@"; }
service_prepare() {
  install -d -o unbound -g unbound -m 0755 /run/unbound
  chown unbound:unbound "$DATA"
  # The root's anchor: seeded once from Debian's dns-root-data, kept current by RFC 5011 after that.
  [ -s "$DATA/root.key" ] || install -o unbound -g unbound -m 0644 /usr/share/dns/root.key "$DATA/root.key"
  # The cache of the previous container, loaded once unbound answers: a restart is not a cold start.
  if [ -s "$DATA/cache.dump" ]; then
    (for _ in $(seq 1 30); do control status >/dev/null 2>&1 && break; sleep 1; done
     control load_cache < "$DATA/cache.dump" >/dev/null && echo "entrypoint[resolver]: cache loaded") &
  fi
}
service_start() { exec unbound -d -p -c "$CONF"; }
# The new generation's unbound.conf is read again; answers already cached are kept.
service_reload() { control reload_keep_cache; }
service_stop() {
  control dump_cache > "$DATA/cache.dump.new" 2>/dev/null && mv "$DATA/cache.dump.new" "$DATA/cache.dump" || true
  kill -TERM "$1" 2>/dev/null || true
}
service_check() { control status >/dev/null; }
