# nginx hooks for the common entrypoint, healthcheck and config job. The master runs as root (it
# reads the key, root's alone) and its workers as www-data; -e stderr keeps nginx from opening
# Debian's log file on the read-only root filesystem.
NGINX=(nginx -e stderr -c /config/current/nginx.conf)
service_prepare() {
  install -d -m 0755 /run/nginx
}
service_start() { exec "${NGINX[@]}" -g 'daemon off;'; }
# nginx re-reads /config/current/nginx.conf (the new generation) and the certificate; workers
# finish their requests on the old configuration.
service_reload() { "${NGINX[@]}" -s reload; }
service_stop() { "${NGINX[@]}" -s quit || true; }
# Healthy = nginx answers an HTTPS request (with the default server's 404) where it listens.
service_check() {
  local address="" port="" key value
  while IFS='=' read -r key value; do
    case "$key" in address) address=$value ;; port) port=$value ;; esac
  done < /config/current/https-probe
  case "$address" in *:*) address="[$address]" ;; esac
  local response
  response=$(printf 'GET / HTTP/1.0\r\nHost: healthcheck.invalid\r\n\r\n' \
    | timeout 5 openssl s_client -quiet -connect "$address:$port" -servername healthcheck.invalid 2>/dev/null || true)
  case "$response" in "HTTP/1."?" 404 "*) ;; *) echo "no 404 from https://$address:$port/"; return 1 ;; esac
}
# tls.acme: a new certificate (the entrypoint watches /certs/current); a reload makes new
# connections use it.
service_cert_changed() { echo "entrypoint[web]: reloading for the new certificate"; "${NGINX[@]}" -s reload; }
