"""The local PostgreSQL server as the harness sees it: its processes' CPU."""

from __future__ import annotations

import os

from .procfs import CLK_TCK



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
