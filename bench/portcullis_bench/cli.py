"""The command line: flags, and one whole invocation from the build to the report files."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import tempfile
import traceback

from .build import build_portcullis, ensure_wrk
from .chart import write_svg
from .common import BENCH_DIR, PEER_NODE_VERSION, PROCS, log
from .procfs import parse_cpu_list
from .report import compare_with_baselines, machine_facts, write_markdown
from .postgres import postgres_settings
from .runner import Runner
from .scenarios import SCENARIOS
from .sustained import run_sustained
from .sustained_report import write_sustained_markdown, write_sustained_svg



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
    p.add_argument("--sustained", type=int, nargs="?", const=10, default=None, metavar="MINUTES",
                   help="sustained-load mode instead of the scenarios: the mixed scenario's capacity (one --duration "
                        "run after --warmup), then MINUTES (10 when no number is given) at 80%% of it, rate-limited, "
                        "on each of --backends in turn; RSS every second, p99 and errors per minute; no peer; writes "
                        "results/<date>-sustained.{json,md,svg}")
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
    if args.sustained is not None and args.sustained < 1:
        p.error("--sustained takes a whole number of minutes, 1 or more")
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
                                      "sqlite_synchronous", "check_every", "sustained")}}
    report["machine"] = machine_facts(binary, args.postgres_url)
    report["machine"]["postgres_settings"] = postgres_settings(args.postgres_url)
    report["machine"]["portcullis_source"] = args.source
    if args.source.get("commit"):
        report["machine"]["git_commit"] = args.source["commit"]
        report["machine"]["git_dirty"] = False
    report["scenarios"] = [{"id": s.id, "title": s.title, "description": s.description} for s in SCENARIOS]
    exit_code = 0
    try:
        report.update(run_sustained(runner, binary) if args.sustained else runner.run(binary))
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc}); stopping every process and writing what was measured")
        exit_code = 130
        report.setdefault("phases", runner.phases)
        report.setdefault("peer", {})
        report["interrupted"] = True
    except Exception:
        traceback.print_exc()
        exit_code = 1
        report.setdefault("phases", runner.phases)
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
    stem = os.path.join(args.out, started.strftime("%Y-%m-%d-%H%M") + ("-sustained" if args.sustained else ""))
    with open(stem + ".json", "w") as f:
        json.dump(report, f, indent=1, sort_keys=False)
    if args.sustained:
        table = write_sustained_markdown(report, stem + ".md")
        write_sustained_svg(report, stem + ".svg")
    else:
        table = write_markdown(report, stem + ".md")
        write_svg(report, stem + ".svg")
    print(table)
    log(f"wrote {stem}.json, {stem}.md, {stem}.svg")
    if args.keep_workdir:
        log(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return exit_code
