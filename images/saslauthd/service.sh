# saslauthd hooks. PAM reads the service file and pam_pwdfile the hashes on every
# authentication, so a new generation needs no reload.
service_prepare() { mkdir -p /run/saslauthd && chmod 0755 /run/saslauthd; }
service_start() { exec saslauthd -d -a pam -r -m /run/saslauthd -n 4; }
service_reload() { true; }
# $1 is the daemon's pid (the image has no pkill). saslauthd's master stops its workers on TERM.
service_stop() { kill -TERM "$1" 2>/dev/null || true; }
service_check() { [ -S /run/saslauthd/mux ]; }
