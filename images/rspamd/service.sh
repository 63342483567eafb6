# rspamd hooks for the common entrypoint, healthcheck and config job.
# The milter socket's directory is a volume shared with Postfix; the database directory (Bayes
# and hyperscan caches, statistics) a volume that outlives the container.
service_prepare() {
  # The main process (root) binds the sockets and writes the pid file; workers only use them.
  install -d -o root -g root -m 0755 /run/rspamd /run/rspamd-milter
  # A socket left by the previous container on the shared volume would refuse the new bind.
  rm -f /run/rspamd-milter/milter.sock
  chown _rspamd:_rspamd /var/lib/rspamd
}
service_start() { exec rspamd -f -u _rspamd -g _rspamd; }
# A HUP makes the main process read the configuration again and replace its workers; a milter
# session in flight finishes on the old worker.
# ($daemon is the entrypoint's pid of the daemon; rspamd -f writes no pid file.)
service_reload() { kill -HUP "$daemon"; }
service_stop() { kill -TERM "$1" 2>/dev/null || true; }
# Ready = the milter socket is there and a worker scans a small message. With every rule off for
# the probe: its DNS lookups would make health depend on the resolvers. Its queue id lets the log
# filter (drop-probe-lines) drop the two lines each scan logs, and only those.
service_check() {
  [ -S /run/rspamd-milter/milter.sock ] || return 1
  printf 'From: probe@localhost\r\nSubject: probe\r\n\r\nprobe\r\n' \
    | timeout 10 rspamc -h /run/rspamd/normal.sock -t 8 --header 'Settings={ symbols_enabled = [] }' \
      --header 'Queue-Id=mailserver-healthcheck' symbols \
    | grep -q '^Action: no action'
}
