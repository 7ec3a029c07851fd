"""The local PostgreSQL server as the harness sees it: its settings, and its processes' CPU."""

from __future__ import annotations

import os
import re

from .common import HarnessError, run_cmd
from .procfs import CLK_TCK

# What a commit costs and survives: synchronous_commit off or fsync off make commits cheap and losable, and a
# report measured so would not be comparable with one measured on a durable server.
DURABILITY_SETTINGS = ("synchronous_commit", "fsync", "full_page_writes", "wal_sync_method", "commit_delay",
                       "shared_buffers")

# A backend's process title names its client: "postgres: [cluster: ]user database 127.0.0.1(port) state".
CLIENT_ADDRESS = re.compile(r" (\S+\(\d+\)|\[local\]) ")


def postgres_settings(db_url: str) -> dict:
    """The durability settings as this database sees them (ALTER DATABASE can set them per database);
    {"error": …} when the server cannot be asked."""
    names = ", ".join(f"'{n}'" for n in DURABILITY_SETTINGS)
    sql = f"SELECT name, current_setting(name) FROM unnest(ARRAY[{names}]) AS name"
    try:
        res = run_cmd(["psql", db_url, "-XAtqF", "\t", "-c", sql], timeout=60, check=False)
    except (OSError, HarnessError) as exc:  # psql missing, or it hung
        return {"error": str(exc)[:300]}
    if res.returncode != 0:
        return {"error": res.stderr.strip()[:300]}
    return dict(line.split("\t", 1) for line in res.stdout.splitlines() if "\t" in line)


def settings_text(settings: dict | None) -> str:
    if not settings:
        return "not read"
    if "error" in settings:
        return "could not be read: " + settings["error"]
    return ", ".join(f"{k} {v}" for k, v in settings.items())


def postgres_processes(db_name: str | None) -> dict[int, tuple[str, float]]:
    """Every process named postgres, by pid: what it is and its CPU seconds (utime + stime) so far.
    What it is: "database" (a backend of db_name, the phase's own database), "other" (a backend of another
    database: other users of the machine's server) or "server" (the postmaster and its background
    processes: checkpointer, WAL writer, autovacuum…, which work for every database)."""
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        name = raw[raw.find("(") + 1:raw.rfind(")")]
        if name == "postgres" or name.startswith("postgres:"):
            fields = raw.rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
            if db_name and f" {db_name} " in title:
                kind = "database"
            elif CLIENT_ADDRESS.search(title):
                kind = "other"
            else:
                kind = "server"
            procs[int(entry)] = (kind, cpu)
    return procs


def postgres_cpu(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict:
    """CPU seconds between two readings of postgres_processes, by kind. A process started in between counts
    whole; one that ended in between is lost (its CPU can no longer be read)."""
    used = {"database": 0.0, "server": 0.0, "other": 0.0}
    for pid, (kind, cpu) in after.items():
        old = before.get(pid)
        used[kind] += cpu - (old[1] if old and old[0] == kind else 0.0)
    return {"total_s": round(sum(used.values()), 3), "database_s": round(used["database"], 3),
            "server_s": round(used["server"], 3), "other_databases_s": round(used["other"], 3)}
