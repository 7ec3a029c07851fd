"""The run loop: phases per backend, scenarios measured repeat by repeat, sides taking turns."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import urllib.parse
from typing import Callable

from .common import HarnessError, ORG_SCENARIOS, PURGE_DEADLINE, SIGN_IN_FLAG, SYNCHRONOUS_FLAG, Skip, http_request, log, run_cmd
from .peer import PeerSide
from .portcullis import PortcullisSide
from .postgres import postgres_settings, settings_text
from .procfs import is_zombie
from .scenarios import Context, SCENARIOS, Scenario
from .side import Side
from .wrk import Load, Wrk



def median_or_none(values: list) -> float | None:
    """The median of the values that were measured (postgres_cores_busy is None on SQLite)."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def median_summary(runs: list[dict]) -> dict:
    valid = [r for r in runs if r["valid"]]
    use = valid or runs
    keys = ["rps", "p50_us", "p99_us", "p999_us", "server_cpu_s", "server_cpu_per_request_us", "loadgen_cpu_s",
            "postgres_cpu_s", "server_cores_busy", "postgres_cores_busy"]
    out = {k: median_or_none([r.get(k) for r in use]) for k in keys}
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
        res = wrk.run(load, args.duration, args.connections, side.pids(), postgres_db=side.postgres_db)
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
        self.phases: list[dict] = []  # the --sustained mode's, kept here as they run (see cli.main)

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
            if any(not os.path.exists(f"/proc/{p}") or is_zombie(p) for p in side.pids()):
                return
            load = side.healthz()
            try:
                for rep in range(self.args.repeats):
                    res = self.wrk.run(load, self.args.duration, self.args.connections, side.pids(),
                                       postgres_db=side.postgres_db)
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
            phase["postgres_settings"] = postgres_settings(db_url)
            log(f"{backend}: PostgreSQL {settings_text(phase['postgres_settings'])}")
        else:
            raise SystemExit(f"unknown backend {backend} (sqlite, postgres, postgres-2)")
        return PortcullisSide(self.wrk, self.workdir, args, binary, backend, db_url, instances, synchronous), db_name

    def start_backend(self, phase: dict, side: PortcullisSide, ctx: Context, password_users: int,
                      customers: int = 0, org: bool = False) -> None:
        """Provisions the opened database through the CLI, starts the server(s) and records them in the phase."""
        backend, synchronous = side.backend, side.synchronous
        side.provision(password_users, customers, org)
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

    def close_backend(self, phase: dict, side: PortcullisSide, db_name: str | None) -> None:
        """Stops the server(s), records what their log showed, drops the PostgreSQL database."""
        args = self.args
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
                per_connection = -(-args.connections // side.instances) * side.instances
                password_users = per_connection if "password" in selected else 0
                customers = per_connection if "customer_login" in selected else 0
                self.start_backend(phase, side, ctx, password_users, customers, bool(selected & ORG_SCENARIOS))
            if not opened:
                return phases
            if len(opened) > 1:
                log(f"{', '.join(p['backend'] for p, _, _ in opened)}: side by side, taking turns in every repeat")
            if peer is not None:
                log(f"peer: oidc-provider {peer.version} on ports {peer.ports}; measured in this phase")
            for sc in self.scenarios():
                live = []
                for phase, side, _ in opened:
                    if any(not os.path.exists(f"/proc/{p}") or is_zombie(p) for p in side.pids()):
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
                self.close_backend(phase, side, db_name)
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
