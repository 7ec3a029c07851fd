"""The report: machine facts, comparisons with baselines, the Markdown file."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess

from .common import REPO_DIR, log
from .postgres import settings_text
from .scenarios import SCENARIOS



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


def machine_facts(binary: str | None, postgres_url: str) -> dict:
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
        "postgres_server": out(["psql", "-XAtqc", "show server_version", postgres_url]),
    }
    return facts


def fmt_rps(x) -> str:
    return "—" if x is None else f"{x:,.0f}"


def fmt_ms(us) -> str:
    return "—" if us is None else f"{us / 1000:.2f} ms"


def fmt_cores(x) -> str:
    return "—" if x is None else f"{x:.2f}"


def postgres_line(report: dict) -> str:
    """The PostgreSQL server's version and durability settings, as the machine section's last line: a
    report measured with synchronous_commit or fsync off is not comparable with one measured with them on."""
    m = report["machine"]
    phases = [p for p in report.get("phases", []) if p.get("postgres_settings")]
    text = (f"PostgreSQL {m.get('postgres_server') or '(version not read)'} at the --postgres-url: "
            f"{settings_text(m.get('postgres_settings'))}.")
    for p in phases:
        if p["postgres_settings"] != m.get("postgres_settings"):
            text += f" In phase {p['backend']}'s database: {settings_text(p['postgres_settings'])}."
    return text


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
        postgres_line(report),
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
              "Server cores and postgres cores: CPU seconds per second of the run (1.0 = one core kept busy); "
              "postgres cores counts the phase's own database's backends and the server's shared processes (WAL "
              "writer, checkpointer…), not other databases' backends; postgres CPU s is every process named "
              "postgres.", "",
              "| scenario | side | backend | req/s | p50 | p99 | p99.9 | server CPU s | server cores | CPU µs/req | "
              "peak RSS | wrk CPU s | postgres CPU s | postgres cores | valid |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in report["results"]:
        s = r["summary"]
        lines.append(f"| {r['scenario']} | {r['side']} | {r['backend']} | {fmt_rps(s['rps'])} | {fmt_ms(s['p50_us'])} | "
                     f"{fmt_ms(s['p99_us'])} | {fmt_ms(s['p999_us'])} | {s['server_cpu_s']:.1f} | "
                     f"{fmt_cores(s.get('server_cores_busy'))} | "
                     f"{round(s['server_cpu_per_request_us'], 2) if s['server_cpu_per_request_us'] is not None else '—'} | "
                     f"{(s['peak_rss_kb'] or 0) / 1024:.1f} MB | {s['loadgen_cpu_s']:.1f} | "
                     f"{s['postgres_cpu_s']:.1f} | {fmt_cores(s.get('postgres_cores_busy'))} | "
                     f"{s['valid_repeats']}/{s['repeats']} |")
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
