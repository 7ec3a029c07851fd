"""The sustained-load mode (--sustained MINUTES): the mixed scenario at 80% of the capacity just measured,
for MINUTES, with the server's memory sampled every second and latency and errors taken per minute."""

from __future__ import annotations

import threading
import time

from .common import HarnessError, Skip, log
from .portcullis import PortcullisSide
from .procfs import proc_status_kb
from .runner import Runner, backend_groups, preflight
from .scenarios import SCENARIOS, Context

SCENARIO = "mixed"
SHARE = 0.8  # of the capacity: a load the server can hold, so that what changes over time is the server
MINUTE_S = 60
P99_FLAT = 1.5  # the last minute's p99 at most this many times the first minute's
RSS_FLAT = 0.10  # the RSS at the end within this share of the RSS after the first minute
RATE_HELD = 0.95  # a minute below this share of the target rate fell behind it


class RssSampler:
    """The resident memory (VmRSS) of the server's processes, summed, once a second, from a thread."""

    def __init__(self, pids: list[int], interval: float = 1.0) -> None:
        self.pids = pids
        self.interval = interval
        self.samples: list[tuple[float, int]] = []  # (seconds since start, kB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = 0.0

    def read(self) -> int | None:
        sizes = [proc_status_kb(p, "VmRSS") for p in self.pids]
        return sum(sizes) if all(s is not None for s in sizes) else None  # None: a process is gone

    def _run(self) -> None:
        while True:
            kb = self.read()
            if kb is not None:
                self.samples.append((round(time.monotonic() - self._t0, 1), kb))
            if self._stop.wait(self.interval):
                return

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def latest(self) -> int | None:
        return self.read() or (self.samples[-1][1] if self.samples else None)


def run_sustained(runner: Runner, binary: str | None) -> dict:
    """One phase per backend, one after the other (each has the machine to itself); no peer."""
    args = runner.args
    ctx = Context(args)
    phases: list[dict] = runner.phases  # filled as it goes: an interrupted run still reports its minutes
    for group in backend_groups(args):
        for backend, synchronous in group:
            phase: dict = {"backend": backend}
            if synchronous:
                phase["sqlite_synchronous"] = synchronous
            phases.append(phase)
            side, db_name = runner.open_backend(backend, synchronous, binary, phase)
            if side is None:
                continue
            try:
                log(f"{backend}: provisioning realms and clients through the CLI ({side.db_url})")
                runner.start_backend(phase, side, ctx, 0)
                phase["sustained"] = {}
                sustain(runner, side, ctx, args.sustained, phase["sustained"])
            except (Skip, HarnessError) as exc:
                phase["failed"] = str(exc)
                log(f"{backend}: sustained run FAILED: {exc}")
                runner.failures.append({"scenario": SCENARIO, "side": side.name, "backend": backend,
                                        "error": str(exc)})
            finally:
                runner.close_backend(phase, side, db_name)
    return {"phases": phases, "peer": {"enabled": False, "skipped": "--sustained measures Portcullis only"}}


def run_figures(res: dict) -> dict:
    """What the sustained report keeps of one wrk run."""
    socket_errors = res["errors_connect"] + res["errors_read"] + res["errors_write"] + res["errors_timeout"]
    return {"rps": round(res["rps"], 1), "target_rps": res.get("target_rps"), "requests": res["requests"],
            "p50_us": res["p50_us"], "p99_us": res["p99_us"], "p999_us": res["p999_us"],
            "errors": res["non2xx"] + res["wrong_answers"] + socket_errors, "non2xx": res["non2xx"],
            "wrong_answers": res["wrong_answers"], "socket_errors": socket_errors, "starved": res["starved"],
            "valid": res["valid"], "problems": res["problems"], "sample": res.get("sample"),
            "late_sends": res["late_sends"], "dropped_slots": res["dropped_slots"], "max_lag_ms": res["max_lag_ms"],
            "server_cores_busy": res["server_cores_busy"], "postgres_cores_busy": res["postgres_cores_busy"],
            "postgres_cpu": res["postgres_cpu"], "core_util": res["core_util"], "wall_s": res["wall_s"]}


def sustain(runner: Runner, side: PortcullisSide, ctx: Context, minutes: int, out: dict) -> None:
    """Measures into `out` as it goes, so that what was measured before an interruption is kept."""
    args, wrk, db = runner.args, runner.wrk, side.postgres_db
    sc = next(s for s in SCENARIOS if s.id == SCENARIO)
    make = sc.build(side, ctx)
    # Capacity: one unthrottled run after a warm-up, each on pools of its own (the refresh part uses them up).
    load = make(0)
    preflight(load)
    if args.warmup > 0:
        wrk.run(load, args.warmup, args.connections, side.pids(), postgres_db=db)
        load = make(1)
    cap = wrk.run(load, args.duration, args.connections, side.pids(), postgres_db=db)
    out.update({"scenario": SCENARIO, "minutes": minutes, "share": SHARE, "notes": load.notes,
                "capacity": run_figures(cap)})
    log(f"{side.backend}: capacity of {SCENARIO}: {cap['rps']:,.0f} req/s, p99 {cap['p99_us'] / 1000:.2f} ms"
        + ("" if cap["valid"] else " (INVALID: " + "; ".join(cap["problems"]) + ")"))
    if not cap["valid"] or cap["rps"] <= 0:
        raise HarnessError(f"the capacity run of {SCENARIO} was invalid ({'; '.join(cap['problems'])}): "
                           "no rate to sustain")
    target = SHARE * cap["rps"]
    out["target_rps"] = round(target, 1)
    # Every minute's pools are minted first, so that the minutes follow one another with no pause but
    # wrk's own start (it reconnects each minute).
    loads = [make(2 + i) for i in range(minutes)]
    sampler = RssSampler(side.pids())
    out["rss_start_kb"] = sampler.read()
    sampler.start()
    per_minute: list[dict] = []
    out["per_minute"] = per_minute
    out["rss_samples"] = sampler.samples
    try:
        for i, load in enumerate(loads):
            res = wrk.run(load, MINUTE_S, args.connections, side.pids(), postgres_db=db, rate=target)
            entry = dict(run_figures(res), minute=i + 1, rss_kb=sampler.latest())
            per_minute.append(entry)
            log(f"{side.backend}: minute {i + 1}/{minutes}: {res['rps']:,.0f} req/s of {target:,.0f}, "
                f"p99 {res['p99_us'] / 1000:.2f} ms, {entry['errors']} errors, "
                f"RSS {(entry['rss_kb'] or 0) / 1024:.1f} MB")
            if any("died" in p for p in res["problems"]):
                runner.crashes.append({"scenario": SCENARIO, "backend": side.backend, "problems": res["problems"]})
                break
    finally:
        sampler.stop()
        out.update(verdicts(per_minute, sampler.samples, out["rss_start_kb"], target))


def verdicts(per_minute: list[dict], samples: list[tuple[float, int]], rss_start: int | None,
             target: float) -> dict:
    """RSS at start, after the first minute, at its peak and at the end; whether RSS and p99 stayed flat."""
    out: dict = {"total_errors": sum(m["errors"] for m in per_minute), "total_requests":
                 sum(m["requests"] for m in per_minute), "late_sends": sum(m["late_sends"] for m in per_minute),
                 "dropped_slots": sum(m["dropped_slots"] for m in per_minute),
                 "max_lag_ms": max([m["max_lag_ms"] for m in per_minute] + [0])}
    if not per_minute:
        return out
    first, last = per_minute[0], per_minute[-1]
    out["rss_after_first_minute_kb"] = first["rss_kb"]
    readings = [kb for _, kb in samples] + [m["rss_kb"] for m in per_minute if m["rss_kb"]] + [rss_start or 0]
    out["rss_peak_kb"] = max(readings) or None
    out["rss_end_kb"] = last["rss_kb"]
    out["slowest_minute_share_of_target"] = round(min(m["rps"] for m in per_minute) / target, 3)
    out["rate_held"] = out["slowest_minute_share_of_target"] >= RATE_HELD
    if len(per_minute) < 2:
        why = "one minute: no later minute to compare with the first"
        out.update(p99_flat=None, rss_flat=None, p99_flat_why=why, rss_flat_why=why)
        return out
    out["p99_last_over_first"] = round(last["p99_us"] / first["p99_us"], 3) if first["p99_us"] else None
    out["p99_flat"] = out["p99_last_over_first"] is not None and out["p99_last_over_first"] <= P99_FLAT
    base, end = first["rss_kb"], last["rss_kb"]
    out["rss_change_after_first_minute"] = round((end - base) / base, 4) if base and end else None
    out["rss_flat"] = (out["rss_change_after_first_minute"] is not None
                       and abs(out["rss_change_after_first_minute"]) <= RSS_FLAT)
    return out
