"""Driving wrk: the requests of a load (Item, Load), the Lua prelude of each run, one measured run."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from dataclasses import dataclass, field

from .common import HarnessError, LOOPBACK, LUA_SCRIPT
from .postgres import postgres_cpu, postgres_processes
from .procfs import is_zombie, core_times, core_util, parse_cpu_list, proc_cpu_seconds, proc_status_kb, reset_peak_rss



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
            collect: dict | None = None, check: bool | None = None, postgres_db: str | None = None,
            rate: float | None = None) -> dict:
        """One wrk run. postgres_db: the database the servers use, so that PostgreSQL's CPU can be told
        apart from other databases' (None: SQLite or no server). rate: requests per second in all, spread
        over wrk's threads (bench.lua's delay()); None: as fast as the connections go."""
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
            "rate": rate / threads if rate else None,
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
        pg0 = postgres_processes(postgres_db)
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
            except BaseException:  # Ctrl-C or SIGTERM: wrk is stopped with the rest
                proc.kill()
                proc.wait(timeout=10)
                raise
        wall = time.monotonic() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cores1 = core_times()
        cpu1 = {pid: proc_cpu_seconds(pid) for pid in pids}
        pg1 = postgres_processes(postgres_db)
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
        pg = postgres_cpu(pg0, pg1)
        res["postgres_cpu_s"] = pg["total_s"]
        res["postgres_cpu"] = pg
        # cores busy = CPU seconds per second of the run: what the run cost each program in whole cores
        res["server_cores_busy"] = round(res["server_cpu_s"] / wall, 3) if wall > 0 else None
        res["postgres_cores_busy"] = (round((pg["database_s"] + pg["server_s"]) / wall, 3)
                                      if postgres_db and wall > 0 else None)
        if rate:
            res["target_rps"] = round(rate, 1)
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
        dead = [p for p in pids if not os.path.exists(f"/proc/{p}") or is_zombie(p)]
        if dead:
            problems.append(f"server pid(s) {dead} died during the run")
        res["valid"] = not problems
        res["problems"] = problems
        return res
