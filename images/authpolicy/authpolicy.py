#!/usr/bin/python3
"""Brute-force policy for Dovecot's auth policy (the wforce protocol), on a unix socket.

Dovecot asks before every authentication (POST ?command=allow) whether the client address or the
login is banned, and reports each outcome afterwards (POST ?command=report). It reaches this
service as an HTTP proxy (auth_policy { http_client_proxy_socket_path }), so request lines come in
absolute form ("POST http://authpolicy/?command=allow HTTP/1.1"). The thresholds come with every
request, as attributes dovecot.conf sets, so a change of them needs no restart and keeps the bans:

  max_failures        failures from one address within find_seconds that ban the address
  max_login_failures  failures to one login within find_seconds that close the login to every
                      address that has not logged in to it successfully before
  find_seconds, ban_seconds
  exempt              space-separated networks never banned by address; "gateway" stands for
                      the address Dovecot's container found as its default gateway (bridge mode:
                      Docker's gateway may carry every client, so banning it would lock out all)

Answers: {"status": 0} (go on) or {"status": -1, "msg": ...} (refused, even with the right
password). State is in memory: a restart forgets bans and counts. Standard library only.
"""
import ipaddress
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
from collections import OrderedDict, deque
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

GATEWAY_FILE = "gateway"
# Bounds on memory: the oldest entries go first when a table is full.
MAX_TRACKED = 100_000
# How long a successful login makes its address "known" for that login.
KNOWN_SECONDS = 30 * 86400


def log(message):
    print(f"authpolicy: {message}", flush=True)


class Table(OrderedDict):
    """An OrderedDict that forgets its oldest entries beyond MAX_TRACKED."""

    def touch(self, key, value):
        self[key] = value
        self.move_to_end(key)
        while len(self) > MAX_TRACKED:
            self.popitem(last=False)


class Policy:
    def __init__(self, directory, clock=time.monotonic):
        self.directory = directory
        self.clock = clock
        self.lock = threading.Lock()
        self.failures_by_address = Table()  # address -> deque of failure times
        self.failures_by_login = Table()  # login -> deque of failure times
        self.banned_addresses = Table()  # address -> ban end
        self.banned_logins = Table()  # login -> ban end
        self.known = Table()  # (login, address) -> last successful login

    def gateway(self):
        try:
            with open(os.path.join(self.directory, GATEWAY_FILE)) as f:
                return f.read().strip()
        except OSError:
            return ""

    def exempt(self, address, networks):
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        for n in networks.split():
            if n == "gateway":
                n = self.gateway()
                if not n:
                    continue
            try:
                if ip in ipaddress.ip_network(n, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def allow(self, request):
        address, login, s = request["remote"], request["login"], request["settings"]
        now = self.clock()
        with self.lock:
            until = self.banned_addresses.get(address)
            if until is not None and until > now and not self.exempt(address, s["exempt"]):
                return {"status": -1, "msg": f"Too many failed logins from {address}; try again later"}
            until = self.banned_logins.get(login)
            if until is not None and until > now:
                seen = self.known.get((login, address))
                if seen is None or now - seen > KNOWN_SECONDS:
                    return {"status": -1, "msg": "Too many failed logins to this account; try again later"}
        return {"status": 0}

    def report(self, request):
        address, login, s = request["remote"], request["login"], request["settings"]
        now = self.clock()
        with self.lock:
            if request["success"]:
                self.known.touch((login, address), now)
                return
            # Refusals during a ban are not new failures: a ban ends when its time is up.
            if request["policy_reject"]:
                return
            if not self.exempt(address, s["exempt"]):
                if self.count(self.failures_by_address, address, now, s) >= s["max_failures"]:
                    self.ban(self.banned_addresses, self.failures_by_address, address, now, s, "address")
            if login and self.count(self.failures_by_login, login, now, s) >= s["max_login_failures"]:
                self.ban(self.banned_logins, self.failures_by_login, login, now, s, "login")

    @staticmethod
    def count(table, key, now, s):
        times = table.get(key) or deque()
        times.append(now)
        while times and times[0] <= now - s["find_seconds"]:
            times.popleft()
        table.touch(key, times)
        return len(times)

    @staticmethod
    def ban(bans, failures, key, now, s, kind):
        bans.touch(key, now + s["ban_seconds"])
        failures.pop(key, None)
        log(f"banned {kind} {key} for {s['ban_seconds']} s after {s['max_failures' if kind == 'address' else 'max_login_failures']} failed logins within {s['find_seconds']} s")


def parse(body):
    """The request Dovecot sends, with its settings; ValueError when it is not one."""
    data = json.loads(body or b"{}")
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")

    def number(key, default):
        value = int(str(data.get(key, default)))
        if value <= 0:
            raise ValueError(f"{key} must be > 0")
        return value

    return {
        "remote": str(data.get("remote", "")),
        "login": str(data.get("login", "")).lower(),
        "success": data.get("success") is True,
        "policy_reject": data.get("policy_reject") is True,
        "settings": {
            "max_failures": number("max_failures", 10),
            "max_login_failures": number("max_login_failures", 30),
            "find_seconds": number("find_seconds", 600),
            "ban_seconds": number("ban_seconds", 3600),
            "exempt": str(data.get("exempt", "")),
        },
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "authpolicy"
    sys_version = ""
    policy: Policy

    def reply(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        # The healthcheck.
        self.reply(200, {"status": 0})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        command = parse_qs(urlsplit(self.path).query).get("command", [""])[0]
        try:
            request = parse(body)
        except (ValueError, TypeError) as e:
            # Fail open, as Dovecot does when this service is down (auth_policy_reject_on_fail = no).
            log(f"bad request ({e}); allowed")
            self.reply(200, {"status": 0})
            return
        if command == "allow":
            self.reply(200, self.policy.allow(request))
        elif command == "report":
            self.policy.report(request)
            self.reply(200, {"status": 0})
        else:
            self.reply(404, {"status": 0, "msg": "unknown command"})

    def address_string(self):
        return "dovecot"

    def log_message(self, format, *args):
        # One line per authentication would bury the bans; errors still go to stderr.
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    # Dovecot's auth opens up to 100 connections at once, and it cannot bear a refused connect on a
    # unix socket (Dovecot 2.4.1's HTTP client asserts, and the auth process restarts): a deep backlog.
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # A client that hung up early (the healthcheck, Dovecot restarting) is no error worth a traceback.
        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError)):
            return
        log(f"error handling a request: {error!r}")


def check(path):
    """Healthcheck: the service answers on its socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: authpolicy\r\nConnection: close\r\n\r\n")
    # The whole answer, until the service closes: hanging up early would break its pipe.
    answer = b""
    while chunk := s.recv(4096):
        answer += chunk
    return answer.startswith(b"HTTP/1.1 200")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(0 if check(sys.argv[2]) else 1)
    path = sys.argv[1]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    Handler.policy = Policy(os.path.dirname(path))
    server = Server(path, Handler)
    # Dovecot's auth process (another user, in another container) connects.
    os.chmod(path, 0o666)
    log(f"listening on {path}")
    # PID 1 of its container: without a handler the kernel ignores SIGTERM, and `docker stop` (a
    # destroy, a replacement) would wait out its grace period before killing it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
