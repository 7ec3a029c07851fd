#!/usr/bin/env python3
"""Runs one fuzz target for a while and says whether its coverage reached a plateau.

    cargo fuzz build -O TARGET        # first (RUSTC_BOOTSTRAP=1 on a stable toolchain)
    python3 fuzz/plateau.py TARGET SECONDS [WORKDIR] [-- extra libFuzzer flags]

libFuzzer reports its edge coverage (`cov:`) and its execution count on every line; at
the end this prints the edges at the end, at half and at three quarters of the
executions (executions, not seconds: the machine is shared, so time is a poor measure of
work), and when the last new edge was found. A run whose edges did not grow in its last
half of executions is called a plateau. New inputs go to WORKDIR (default
/tmp/fuzz-<target>), with the committed corpus read as a second directory, so the
checkout is not written to until the corpus is minimised on purpose (README.md).
"""

import os
import re
import subprocess
import sys
import time

COV = re.compile(r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)")


def main() -> int:
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        extra = args[args.index("--") + 1 :]
        args = args[: args.index("--")]
    if len(args) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    target, seconds = args[0], int(args[1])
    workdir = args[2] if len(args) == 3 else f"/tmp/fuzz-{target}"
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(workdir, exist_ok=True)
    # The built binary itself, not `cargo fuzz run`, which would rebuild first whenever
    # the checkout changed: what runs is what `cargo fuzz build -O` built.
    binary = os.path.join(here, "target", "x86_64-unknown-linux-gnu", "release", target)
    if not os.access(binary, os.X_OK):
        print(f"no {binary}: run `cargo fuzz build -O {target}` in fuzz/ first", file=sys.stderr)
        return 2
    env = dict(os.environ)
    # Crashes and slow units go beside the new inputs, not into the checkout.
    command = [binary, workdir, os.path.join("corpus", target), f"-max_total_time={seconds}",
               "-print_final_stats=1", f"-artifact_prefix={workdir}-", *extra]
    started = time.monotonic()
    points = []  # (seconds since start, execs, edges, features)
    last_line = ""
    with subprocess.Popen(command, cwd=here, env=env, stderr=subprocess.STDOUT, stdout=subprocess.PIPE,
                          text=True, errors="replace") as fuzz:
        for line in fuzz.stdout:
            last_line = line.rstrip()
            m = COV.match(line)
            if m:
                points.append((time.monotonic() - started, int(m[1]), int(m[3]), int(m[4])))
            elif "ERROR" in line or "panicked" in line or "Test unit written" in line:
                print(line, end="")
    if fuzz.returncode != 0:
        print(f"{target}: the fuzzer exited with {fuzz.returncode}: {last_line}")
        return 1
    if not points:
        print(f"{target}: no coverage lines")
        return 1
    elapsed, execs, edges, features = points[-1]

    def edges_at(share):
        at = [p for p in points if p[1] <= execs * share]
        return at[-1][2] if at else 0

    grew = [p for i, p in enumerate(points) if i > 0 and p[2] > points[i - 1][2]]
    last_new = grew[-1] if grew else points[0]
    plateau = edges_at(0.5) == edges
    print(f"{target}: {elapsed:.0f} s, {execs:,} execs ({execs / max(elapsed, 1):,.0f}/s); edges {edges} "
          f"(at half the execs {edges_at(0.5)}, at three quarters {edges_at(0.75)}); features {features}; "
          f"last new edge at exec {last_new[1]:,} ({last_new[0]:.0f} s); {'plateau' if plateau else 'still rising'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
