"""Readings of /proc: a process's CPU and memory, the cores' utilisation."""

from __future__ import annotations

import os
import time


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


def is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
