# Postfix hooks for the common entrypoint, healthcheck and config job.
# /var/lib/postfix is a tmpfs (read-only root filesystem): give it back to postfix first.
# Dovecot hands Sieve's mail to the master.cf service "reinject/smtp" (render/postfix.ts), whose
# socket Postfix creates as public/reinject/smtp: public/reinject links to a directory of the LMTP
# volume (paths.reinjectDir), which only Postfix and Dovecot mount, and the service's lock file
# goes to pid/unix.reinject/smtp. `postfix check` first: it makes the queue's directories.
service_prepare() {
  install -d -o postfix -g postfix -m 0700 /var/lib/postfix; postfix check
  install -d -o postfix -g postfix -m 0755 /run/lmtp/reinject
  ln -sfn /run/lmtp/reinject /var/spool/postfix/public/reinject
  chown -h postfix:postdrop /var/spool/postfix/public/reinject
  install -d -o root -g root -m 0755 /var/spool/postfix/pid/unix.reinject
  if [ -d /var/log/postfix-copy ]; then touch /var/log/postfix-copy/postfix.log; fi
}
# With monitoring.metrics (the volume postfix-log mounted): the log is also copied for the exporter.
service_start() {
  [ -d /var/log/postfix-copy ] && exec postfix start-fg > >(exec mawk -W interactive -f /usr/local/lib/mail/log-copy)
  exec postfix start-fg
}
service_reload() { postfix reload; }
service_stop() { postfix stop || true; }
# What `postfix status` checks (master holds its lock), without the log line it writes each time.
service_check() { ! /usr/lib/postfix/sbin/master -t 2>/dev/null; }
# A Dovecot reload (new dovecot.conf or certificate; it writes /run/lmtp/reloaded) can drop an LMTP
# connection that was just being opened ("lost connection while receiving the initial server
# greeting"), which Postfix would defer for its 5-minute backoff. For 20 s after each reload,
# every 2 s, mail deferred at the LMTP socket is retried at once (postqueue -i, nothing else).
lmtp_reload_seen=""
lmtp_retry_until=0
# tls.acme: a new certificate (the entrypoint watches /certs/current): a reload makes new smtpd
# processes read it while sessions in flight finish on the old one.
service_cert_changed() { echo "entrypoint[postfix]: reloading for the new certificate"; postfix reload; }
# With monitoring.metrics: every 15 s, when the oldest deferred message arrived (the exporter's
# age histogram has fixed buckets, too coarse for MailQueueDeferred's deferredFor), for the
# metrics container beside the log's counts (images/metrics/facts).
queue_facts_at=0
queue_facts() {
  local oldest tmp=/var/log/postfix-copy/.queue.prom.tmp
  oldest=$(postqueue -j 2>/dev/null | grep '"queue_name": "deferred"' \
    | sed -n 's/.*"arrival_time": \([0-9]*\).*/\1/p' | sort -n | head -n 1)
  printf '%s\n%s\nmailserver_postfix_deferred_oldest_arrival_timestamp_seconds %s\n' \
    "# HELP mailserver_postfix_deferred_oldest_arrival_timestamp_seconds When the oldest deferred message arrived (0: none)." \
    "# TYPE mailserver_postfix_deferred_oldest_arrival_timestamp_seconds gauge" "${oldest:-0}" > "$tmp" \
    && mv -f "$tmp" /var/log/postfix-copy/queue.prom
}
service_watch() {
  local stamp now id
  stamp=$(cat /run/lmtp/reloaded 2>/dev/null || true)
  now=$(date +%s)
  if [ -d /var/log/postfix-copy ] && [ "$now" -ge $((queue_facts_at + 15)) ]; then
    queue_facts_at=$now
    queue_facts || true
  fi
  if [ -n "$stamp" ] && [ "$stamp" != "$lmtp_reload_seen" ]; then
    [ -n "$lmtp_reload_seen" ] || [ $((now - stamp)) -lt 20 ] && lmtp_retry_until=$((now + 20))
    lmtp_reload_seen=$stamp
  fi
  [ "$now" -le "$lmtp_retry_until" ] || return 0
  postqueue -j 2>/dev/null | grep '"queue_name": "deferred"' | grep -F '/run/lmtp/lmtp' \
    | sed -n 's/.*"queue_id": "\([0-9A-Za-z]*\)".*/\1/p' | while read -r id; do
      postqueue -i "$id" && echo "entrypoint[postfix]: retrying $id at once after a Dovecot reload"
    done
}
