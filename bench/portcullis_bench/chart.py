"""The report's SVG chart: req/s and p99 per scenario, one bar per server."""

from __future__ import annotations

import math

from .report import index_results
from .scenarios import SCENARIOS



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
