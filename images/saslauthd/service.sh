# saslauthd hooks. PAM reads the service file and pam_pwdfile the hashes on every
# authentication, so a new generation needs no reload.
service_prepare() { mkdir -p /run/saslauthd && chmod 0755 /run/saslauthd; }
service_start() { exec saslauthd -d -a pam -r -m /run/saslauthd -n 4; }
service_reload() { true; }
service_stop() { pkill -TERM saslauthd || true; }
service_check() { [ -S /run/saslauthd/mux ]; }
