#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine: the Docker engine, debootstrap
# (for the offline base image), the real mail clients and scanners, and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
# pebble: the ACME test server (and its DNS, pebble-challtestsrv) of test/live/acme.test.ts; knot:
# the authoritative DNS server that lego updates (RFC 2136) in test/live/acme-dns.test.ts.
# libseccomp-dev, pkg-config, gcc: engine/k8s/build.sh compiles runc (cgo, seccomp) and the pause
# binary; iptables: the Kubernetes test cluster's CNI plugins (engine/k8s/cluster.sh).
# python3-venv: test/live/sdks.test.ts installs the generated Python SDK into a venv, and
# test/tools/setup-venv.sh dkimpy (the independent DKIM verifier of test/live/sender.test.ts) and
# moto (the S3 store of test/live/backup-stores.test.ts). openssh-server: that suite's SFTP store,
# an sshd of its own on loopback (the package's service is never started here: policy-rc.d).
# knot-dnsutils (kdig), unbound-host: test/live/outbound-world.ts waits for signed answers with kdig,
# and its self-check validates them with unbound-host. haproxy: the load balancer in front of
# test/live/proxy-protocol.test.ts (its own process, started by the test; the service is never started).
PACKAGES=(docker.io debootstrap swaks curl openssl ca-certificates nmap testssl.sh sieve-connect mawk whois pebble knot
  knot-dnsutils unbound-host libseccomp-dev pkg-config gcc iptables python3 python3-venv rclone
  openssh-server libxml2-utils haproxy)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg -s "$p" >/dev/null 2>&1; then missing+=("$p"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  # Several set-ups may run at once (parallel worktrees): wait for dpkg's lock instead of failing.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash test/tools/setup-venv.sh
