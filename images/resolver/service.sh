# unbound hooks for the common entrypoint, healthcheck and config job.
CONF=/config/current/unbound.conf
DATA=/var/lib/unbound
# As unbound: its control socket is unbound's (0660), and root here has no CAP_DAC_OVERRIDE.
control() { setpriv --reuid=unbound --regid=unbound --init-groups unbound-control -c "$CONF" "$@"; }
service_prepare() {
  # Root's, as the data volume's top: the container runs without CAP_DAC_OVERRIDE, and unbound
  # binds its control socket as root; the cache dump below is root's too.
  install -d -m 0755 /run/unbound
  chown root:root "$DATA"
  # The root's anchor, unbound's to update (RFC 5011): seeded once from Debian's dns-root-data.
  [ -d "$DATA/anchor" ] || install -d -o unbound -g unbound -m 0755 "$DATA/anchor"
  [ -s "$DATA/anchor/root.key" ] ||
    setpriv --reuid=unbound --regid=unbound --init-groups cp /usr/share/dns/root.key "$DATA/anchor/root.key"
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
