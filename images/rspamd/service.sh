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
# DMARC aggregate reports: yesterday's (UTC) are sent once a day, after DMARC_REPORT_HOUR. The
# last day sent is kept in the data volume, so a restart neither skips nor repeats a day; it is
# written before the run, which takes the day's rows out of Valkey whether or not mail goes out.
DMARC_REPORT_HOUR=01
DMARC_REPORT_STATE=/var/lib/rspamd/dmarc-reports-sent
dmarc_report_pid=""
service_watch() {
  if [ -n "$dmarc_report_pid" ] && ! kill -0 "$dmarc_report_pid" 2>/dev/null; then
    wait "$dmarc_report_pid" 2>/dev/null || true; dmarc_report_pid=""
  fi
  [ -z "$dmarc_report_pid" ] && [ "$(date -u +%H)" -ge "$DMARC_REPORT_HOUR" ] || return 0
  grep -q '^  enabled = true;' /config/current/local.d/dmarc.conf 2>/dev/null || return 0
  local day
  day=$(date -u -d yesterday +%Y%m%d)
  [ "$(cat "$DMARC_REPORT_STATE" 2>/dev/null)" != "$day" ] || return 0
  echo "$day" > "$DMARC_REPORT_STATE"
  echo "entrypoint[$MAIL_SERVICE]: sending the DMARC aggregate reports of $day"
  /usr/local/lib/mail/send-dmarc-reports "$day" &
  dmarc_report_pid=$!
}
