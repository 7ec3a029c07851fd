"""What a run needs before it starts: wrk, and the Portcullis release binary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

from .common import REPO_DIR, log, run_cmd



def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit("wrk is not installed; install it (Debian: apt-get install -y wrk) and run again")
    log("wrk missing: apt-get update && apt-get install -y wrk")
    run_cmd(["apt-get", "update", "-qq"], timeout=600)
    run_cmd(["apt-get", "install", "-y", "-qq", "wrk"], timeout=600,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if not shutil.which("wrk"):
        raise SystemExit("wrk is still missing after apt-get install")


def build_portcullis(args) -> str:
    """Returns the binary to run; records where it came from in args.source."""
    if args.binary:
        args.source = {"kind": "binary", "path": os.path.abspath(args.binary)}
        return os.path.abspath(args.binary)
    cwd, env, src = REPO_DIR, None, None
    if args.ref:
        commit = run_cmd(["git", "rev-parse", "--verify", args.ref + "^{commit}"], timeout=30, cwd=REPO_DIR).stdout.strip()
        src = tempfile.mkdtemp(prefix="portcullis-src-")
        log(f"exporting {args.ref} ({commit[:12]}) to {src}")
        archive = subprocess.run(["git", "archive", commit], cwd=REPO_DIR, capture_output=True, timeout=120)
        if archive.returncode != 0:
            raise SystemExit(f"git archive {commit} failed: {archive.stderr.decode()[-500:]}")
        # -m: files get the time of extraction, not the commit's, so cargo's mtime fingerprints in the
        # shared target directory never take an older ref's artifacts for up to date
        subprocess.run(["tar", "-x", "-m", "-C", src], input=archive.stdout, check=True, timeout=120)
        cwd = src
        # its own target directory, kept between runs so later builds of other refs are incremental
        env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(REPO_DIR, "target", "bench-ref"))
        args.source = {"kind": "git ref", "ref": args.ref, "commit": commit}
    else:
        args.source = {"kind": "work tree", "path": REPO_DIR}
    log(f"cargo build --release -p portcullis (in {cwd})")
    cmd = ["cargo", "build", "--release", "-p", "portcullis", "--message-format=json-render-diagnostics"]
    try:
        res = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=None, text=True,
                             timeout=args.build_timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"cargo build took longer than {args.build_timeout} s")
    if src:
        shutil.rmtree(src, ignore_errors=True)
    if res.returncode != 0:
        raise SystemExit("cargo build --release -p portcullis failed (see above)")
    exe = None
    for line in res.stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and \
                msg.get("target", {}).get("name") == "portcullis":
            exe = msg["executable"]
    if not exe:
        raise SystemExit("cargo build did not report the portcullis executable")
    return exe
