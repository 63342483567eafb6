#!/bin/sh
# Starts the peer stack's daemons the way their packages' service units would, Postfix last in the
# foreground (the container's main process). Nothing here changes their configuration.
set -e
install -d -o valkey -g valkey /run/valkey
install -d -o _rspamd -g _rspamd /run/rspamd
nxdomain "${RESOLVER_PORT}" &
valkey-server /etc/valkey/valkey.conf --supervised no &
rspamd -f -u _rspamd -g _rspamd &
dovecot -F &
exec postfix start-fg
