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

Where the edges of the second half were found: WORKDIR is copied every tenth of the
run; at the end the copy taken nearest half the executions and the final WORKDIR are
each replayed (with the committed corpus) under `-print_coverage=1`, and the covered
edges are printed per crate for both, so growth in the project's own code can be told
from growth inside a dependency (a JSON number parser, say).
The project's functions whose covered edges moved between the two replays follow.
"""

import collections
import os
import re
import shutil
import subprocess
import sys
import time

COV = re.compile(r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)")
FUNC = re.compile(r"^(UN)?COVERED_FUNC: hits: (\d+) edges: (\d+)/(\d+) (.*) (\S+):\d+\s*$")
REGISTRY = re.compile(r"/registry/src/[^/]+/([^/]+)/")
SNAPSHOTS = 10


def crate_of(path: str) -> str:
    """Which crate a source path belongs to: the project's crates by directory, a
    dependency by its registry directory (name-version), the standard library as std."""
    m = REGISTRY.search(path)
    if m:
        return m[1]
    m = re.search(r"/crates/([^/]+)/", path)
    if m and "/registry/" not in path:
        return f"portcullis-{m[1]}"
    if path.startswith("/rustc/") or "/library/" in path:
        return "std"
    if "/fuzz/fuzz_targets/" in path:
        return "fuzz target"
    return "other"


def snapshot(workdir: str, copy: str) -> None:
    """Copies WORKDIR while libFuzzer writes to it: an input it replaces by a smaller
    one between the listing and the copy is skipped (its successor is in the listing
    of the next snapshot)."""
    shutil.rmtree(copy, ignore_errors=True)
    os.makedirs(copy)
    for name in os.listdir(workdir):
        try:
            shutil.copy2(os.path.join(workdir, name), copy)
        except FileNotFoundError:
            pass


def edges_by_crate(binary: str, here: str, dirs: list[str], extra: list[str]) -> tuple[collections.Counter, collections.Counter]:
    """Covered edges per crate, and per function of the project's crates, after replaying
    `dirs` once (`-runs=0`)."""
    command = [binary, *dirs, "-runs=0", "-print_coverage=1", *extra]
    out = subprocess.run(command, cwd=here, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         errors="replace", env={**os.environ, "ASAN_OPTIONS": "symbolize=1"}).stdout
    covered = collections.Counter()
    functions = collections.Counter()
    for line in out.splitlines():
        m = FUNC.match(line)
        if m and not m[1]:
            crate = crate_of(m[6])
            covered[crate] += int(m[3])
            if crate.startswith("portcullis-"):
                functions[f"{crate} {m[5]}"] += int(m[3])
    if not covered:
        print(f"no COVERED_FUNC lines from {' '.join(command)}; last lines:\n{out[-2000:]}", file=sys.stderr)
    return covered, functions


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
    corpus = os.path.join("corpus", target)
    # Crashes and slow units go beside the new inputs, not into the checkout.
    command = [binary, workdir, corpus, f"-max_total_time={seconds}",
               "-print_final_stats=1", f"-artifact_prefix={workdir}-", *extra]
    started = time.monotonic()
    points = []  # (seconds since start, execs, edges, features)
    snapshots = []  # (execs when taken, directory)
    tail = collections.deque(maxlen=40)  # lines other than coverage, for a crash's report
    # Everything but the coverage lines also goes to WORKDIR.log: a crash's panic message
    # and stack, in full.
    with subprocess.Popen(command, cwd=here, stderr=subprocess.STDOUT, stdout=subprocess.PIPE,
                          text=True, errors="replace") as fuzz, open(f"{workdir}.log", "w") as log:
        for line in fuzz.stdout:
            m = COV.match(line)
            if m:
                elapsed = time.monotonic() - started
                points.append((elapsed, int(m[1]), int(m[3]), int(m[4])))
                if elapsed >= seconds * (len(snapshots) + 1) / SNAPSHOTS and len(snapshots) < SNAPSHOTS - 1:
                    copy = f"{workdir}-at-{len(snapshots) + 1}"
                    snapshot(workdir, copy)
                    snapshots.append((int(m[1]), copy))
            else:
                after_panic = bool(tail) and "panicked" in tail[-1]  # the next line is its message
                tail.append(line)
                log.write(line)
                log.flush()
                if "ERROR" in line or "panicked" in line or "Test unit written" in line or after_panic:
                    print(line, end="", flush=True)
    if fuzz.returncode != 0:
        print(f"{target}: the fuzzer exited with {fuzz.returncode}; its last lines:\n{''.join(tail)}")
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
    if snapshots:
        half_execs, half_dir = min(snapshots, key=lambda s: abs(s[0] - execs / 2))
        replay_flags = [f for f in extra if f.startswith("-rss_limit_mb")]
        before, before_functions = edges_by_crate(binary, here, [half_dir, corpus], replay_flags)
        after, after_functions = edges_by_crate(binary, here, [workdir, corpus], replay_flags)
        print(f"covered edges per crate, replayed: at exec {half_execs:,} -> at the end")
        for crate in sorted(after.keys() | before.keys(), key=lambda c: (-(after[c] - before[c]), c)):
            if after[crate] or before[crate]:
                gain = after[crate] - before[crate]
                print(f"  {crate:40} {before[crate]:6} -> {after[crate]:6}  {'+' if gain >= 0 else ''}{gain}")
        # Which of the project's functions moved: a gain that is the replay's order (an
        # input reaching a path first in one replay and second in the other) shows up
        # as the same function losing elsewhere, a new path as a gain alone.
        moved = [(f, after_functions[f] - before_functions[f])
                 for f in after_functions.keys() | before_functions.keys()
                 if after_functions[f] != before_functions[f]]
        # The final set replayed once more: a function whose edges differ between two
        # replays of the same inputs depends on something other than them (random keys
        # and tokens, thread timing), so its movement says nothing about the run.
        _, again_functions = edges_by_crate(binary, here, [workdir, corpus], replay_flags)
        noise = {f for f in after_functions.keys() | again_functions.keys()
                 if after_functions[f] != again_functions[f]}
        if moved:
            print("the project's functions whose covered edges moved (*: differs between two replays of the end):")
            for function, gain in sorted(moved, key=lambda m: (-m[1], m[0])):
                print(f"  {'+' if gain >= 0 else ''}{gain:<4} {'*' if function in noise else ' '} {function}")
        gained = sum(max(gain, 0) for f, gain in moved if f not in noise)
        print(f"the project's crates, second half, in functions that replay alike: +{gained} edges"
              f"{' (plateau)' if gained == 0 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
