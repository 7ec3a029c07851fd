"""The sustained run's report: the Markdown file and an SVG of memory and p99 over time."""

from __future__ import annotations

from .report import describe_source, fmt_cores, fmt_ms, fmt_rps, postgres_line
from .sustained import MINUTE_S, P99_FLAT, RATE_HELD, RSS_FLAT, SHARE


def mb(kb) -> str:
    return "—" if kb is None else f"{kb / 1024:.1f} MB"


def verdict(flag, yes: str, no: str, why: str | None) -> str:
    if flag is None:
        return f"not judged ({why})"
    return yes if flag else no


def write_sustained_markdown(report: dict, path: str) -> str:
    m, a = report["machine"], report["settings"]
    lines = [
        f"# Portcullis sustained load, {report['started_at']}",
        "",
        f"Machine: {m['cpu_model']}, {m['nproc']} cores, kernel {m['kernel']}; Portcullis {describe_source(m)}. "
        f"Server on core(s) {a['server_cores']}, wrk on {a['loadgen_cores']}; {a['connections']} connections. "
        f"Load average at start: {m['loadavg_at_start']}.",
        "",
        postgres_line(report),
        "",
        f"Method: the `mixed` scenario (70% introspection, 20% client_credentials, 10% refresh with rotation) is "
        f"measured unthrottled for {a['duration']} s after a {a['warmup']} s warm-up (its capacity), then run at "
        f"{SHARE:.0%} of that rate for {a['sustained']} minute(s): one wrk run per minute, back to back, each "
        "rate-limited in bench/wrk/bench.lua (`delay()` books evenly spaced send slots; a request whose slot "
        "passed while every connection was waiting goes at once, counted as a late send with its lag; latency "
        "is timed from the actual send, so the lag is not in it: coordinated omission is not corrected, and the "
        "late sends and worst lag are shown beside it). The server's RSS (VmRSS, all its processes) is read every "
        "second. Flat: the last minute's p99 at most "
        f"{P99_FLAT:g}× the first minute's; the RSS at the end within {RSS_FLAT:.0%} of the RSS after the first "
        f"minute. A minute under {RATE_HELD:.0%} of the target rate did not hold it.",
    ]
    if report.get("interrupted") or report.get("error"):
        lines += ["", "**The run did not finish** (" + ("interrupted" if report.get("interrupted") else
                                                       "harness error, in the JSON") + "): only the minutes "
                  "below were measured."]
    for p in report["phases"]:
        lines += ["", f"## {p['backend']}", ""]
        if p.get("skipped"):
            lines.append(f"Skipped: {p['skipped']}")
            continue
        s = p.get("sustained")
        if p.get("failed"):
            lines.append(f"Failed: {p['failed']}")
        if not s:
            continue
        cap = s["capacity"]
        lines.append(f"Capacity: {fmt_rps(cap['rps'])} req/s, p99 {fmt_ms(cap['p99_us'])} (server cores "
                     f"{fmt_cores(cap['server_cores_busy'])}, postgres cores {fmt_cores(cap['postgres_cores_busy'])})"
                     f"; target {fmt_rps(s.get('target_rps'))} req/s." + (" " + "; ".join(s["notes"]) if s["notes"]
                                                                          else ""))
        lines += ["", "| minute | req/s | of target | p50 | p99 | p99.9 | errors | late sends | worst lag | "
                  "RSS at its end | server cores | postgres cores |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for mi in s["per_minute"]:
            share = f"{mi['rps'] / s['target_rps']:.1%}" if s.get("target_rps") else "—"
            late = f"{mi['late_sends'] / mi['requests']:.2%}" if mi["requests"] else "—"
            lines.append(f"| {mi['minute']} | {fmt_rps(mi['rps'])} | {share} | {fmt_ms(mi['p50_us'])} | "
                         f"{fmt_ms(mi['p99_us'])} | {fmt_ms(mi['p999_us'])} | {mi['errors']:,} | {late} | "
                         f"{mi['max_lag_ms']:.1f} ms | {mb(mi['rss_kb'])} | "
                         f"{fmt_cores(mi['server_cores_busy'])} | {fmt_cores(mi['postgres_cores_busy'])} |")
        if not s["per_minute"]:
            continue
        first, last = s["per_minute"][0], s["per_minute"][-1]
        change = s.get("rss_change_after_first_minute")
        lines += [
            "",
            f"- **RSS**: {mb(s['rss_start_kb'])} at the start, {mb(s['rss_after_first_minute_kb'])} after the "
            f"first minute, {mb(s['rss_peak_kb'])} at its peak, {mb(s['rss_end_kb'])} at the end"
            + (f" ({change:+.1%} since the first minute)" if change is not None else "") + ": "
            + verdict(s["rss_flat"], "flat", "NOT flat", s.get("rss_flat_why")) + ".",
            f"- **p99**: {fmt_ms(first['p99_us'])} in the first minute, {fmt_ms(last['p99_us'])} in the last"
            + (f" ({s['p99_last_over_first']:.2f}×)" if s.get("p99_last_over_first") is not None else "") + ": "
            + verdict(s["p99_flat"], "flat", "NOT flat", s.get("p99_flat_why")) + ".",
            f"- **Errors**: {s['total_errors']:,} in {s['total_requests']:,} requests"
            + (" (non-2xx, wrong answers, socket errors and timeouts)" if s["total_errors"] else "") + ".",
            f"- **Rate**: the slowest minute ran at {s['slowest_minute_share_of_target']:.1%} of the target: "
            + ("held" if s["rate_held"] else "NOT held (the p99 of such a minute understates the wait)")
            + f"; {s['late_sends']:,} requests were sent more than 1 ms after their slot (worst lag "
            f"{s['max_lag_ms']:.1f} ms)" + (f", {s['dropped_slots']:,} slots dropped (over 1 s behind)"
                                            if s["dropped_slots"] else "") + ".",
        ]
        samples = [mi["sample"] for mi in s["per_minute"] if mi.get("sample")]
        if samples:
            lines.append("- First bad answer: `" + samples[0][:200].replace("`", "'") + "`")
        if p.get("log") and p["log"]["counts"]:
            lines.append(f"- Server log: {p['log']['counts']} WARN/ERROR/panic lines; first: `"
                         + p["log"]["samples"][0][:200].replace("`", "'") + "`")
    if report.get("crashes"):
        lines += ["", "## Server problems seen", ""] + [f"- crash: {c}" for c in report["crashes"]]
    text = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(text)
    return text


def write_sustained_svg(report: dict, path: str) -> None:
    """RSS over time (a line per backend) above p99 per minute (a point per minute and backend)."""
    colors = {"sqlite": "#1f6feb", "postgres": "#2da44e", "postgres-2": "#8250df"}
    runs = [(p["backend"], p["sustained"]) for p in report["phases"] if p.get("sustained", {}).get("per_minute")]
    width, left, plot_w, plot_h, gap = 900, 70, 780, 180, 60
    height = 70 + 2 * plot_h + gap + 40
    span = max([s["rss_samples"][-1][0] for _, s in runs if s["rss_samples"]]
               + [len(s["per_minute"]) * MINUTE_S for _, s in runs] + [MINUTE_S])
    max_mb = max([kb / 1024 for _, s in runs for _, kb in s["rss_samples"]] + [1]) * 1.1
    max_p99 = max([m["p99_us"] / 1000 for _, s in runs for m in s["per_minute"]] + [1]) * 1.1
    top1, top2 = 60, 60 + plot_h + gap
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="20" font-size="15" font-weight="bold">Portcullis sustained load (mixed at '
           f'{SHARE:.0%} of capacity) — {report["started_at"]}</text>']
    lx = 10
    for backend, _ in runs:
        out.append(f'<rect x="{lx}" y="30" width="10" height="10" fill="{colors.get(backend, "#888")}"/>'
                   f'<text x="{lx + 14}" y="39">{backend}</text>')
        lx += 100
    for top, label, vmax in ((top1, "server RSS, MB", max_mb), (top2, "p99 per minute, ms", max_p99)):
        out.append(f'<text x="{left}" y="{top - 6}" font-weight="bold">{label}</text>')
        out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>')
        out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>')
        for k in range(5):
            v = vmax * k / 4
            y = top + plot_h - plot_h * k / 4
            out.append(f'<text x="{left - 6}" y="{y + 3:.1f}" text-anchor="end" font-size="9">{v:.1f}</text>')
        for minute in range(0, int(span // MINUTE_S) + 1):
            x = left + plot_w * minute * MINUTE_S / span
            out.append(f'<text x="{x:.1f}" y="{top + plot_h + 12}" text-anchor="middle" font-size="9">'
                       f'{minute} min</text>')
    for backend, s in runs:
        color = colors.get(backend, "#888")
        pts = " ".join(f"{left + plot_w * t / span:.1f},{top1 + plot_h - plot_h * kb / 1024 / max_mb:.1f}"
                       for t, kb in s["rss_samples"])
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        for m in s["per_minute"]:
            x = left + plot_w * (m["minute"] - 0.5) * MINUTE_S / span
            y = top2 + plot_h - plot_h * m["p99_us"] / 1000 / max_p99
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
