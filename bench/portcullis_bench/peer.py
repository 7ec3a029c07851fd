"""The peer under test, node-oidc-provider (bench/peers/oidc-provider), on the node it is pinned to."""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import subprocess
import time
import urllib.parse

from .common import (
    ACTIVE, BENCH_USER, FORM, HarnessError, JWKS_ANSWER, LOOPBACK, NODE_DIR, PEER_CLIENT_ID, PEER_DIR,
    PEER_NODE_VERSION, PKCE_CHALLENGE, PROCS, REDIRECT_URI, Skip, TOKEN_ANSWER, basic, free_port, http_request, log,
    run_cmd, wait_ready)
from .procfs import proc_status_kb
from .side import Side
from .wrk import Item, Load



class PeerSide(Side):
    name = "peer"
    backend = "memory"

    def __init__(self, wrk, workdir, args) -> None:
        super().__init__(wrk, workdir, args)
        self.secret = "bench-peer-" + secrets.token_urlsafe(24)
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        self.startup: list[dict] = []
        self.logfile = os.path.join(workdir, "peer.log")
        self._grants: set[str] | None = None
        self.version = None
        self.node: str | None = None
        self.node_version: str | None = None

    def start(self) -> None:
        node = self.args.node or ensure_peer_node()
        # npm runs on the same node (its script starts with `#!/usr/bin/env node`)
        node_env = dict(os.environ, PATH=os.path.dirname(node) + os.pathsep + os.environ.get("PATH", ""))
        if not os.path.isdir(os.path.join(PEER_DIR, "node_modules", "oidc-provider")):
            log("peer: npm ci (node_modules missing)")
            run_cmd(["npm", "ci", "--no-audit", "--no-fund"], timeout=600, cwd=PEER_DIR, env=node_env)
        with open(os.path.join(PEER_DIR, "node_modules", "oidc-provider", "package.json")) as f:
            self.version = json.load(f)["version"]
        self.node = node
        self.node_version = run_cmd([node, "-p", "process.version + ' ' + (process.release.lts || 'not LTS')"],
                                    timeout=60).stdout.strip()
        env = dict(node_env, NODE_ENV="production", BENCH_PEER_CLIENT_SECRET=self.secret)
        for fmt in ("opaque", "jwt"):
            port = free_port()
            t0 = time.monotonic()
            proc = PROCS.start(f"peer-{fmt}", [node, "server.js", "--port", str(port), "--format", fmt],
                               self.args.server_cores, self.logfile, cwd=PEER_DIR, env=env)
            ready = wait_ready(port, "/healthz", proc, timeout=60, interval=0.02)
            self.startup.append({"format": fmt, "pid": proc.pid, "port": port, "ready_ms": round(ready * 1000, 1),
                                 "spawn_to_ready_ms": round((time.monotonic() - t0) * 1000, 1),
                                 "idle_rss_kb": proc_status_kb(proc.pid, "VmRSS")})
            self.procs[fmt] = proc
            self.ports[fmt] = port

    def stop(self) -> list[dict]:
        return [{"pid": p.pid, "exit_code": PROCS.stop(p)} for p in self.procs.values()]

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def grants(self) -> set[str]:
        if self._grants is None:
            status, _, body = http_request(self.ports["opaque"], "GET", "/.well-known/openid-configuration")
            if status != 200:
                raise HarnessError(f"peer metadata answered {status}")
            self._grants = set(json.loads(body).get("grant_types_supported", []))
        return self._grants

    def auth(self) -> dict:
        return {"Authorization": basic(PEER_CLIENT_ID, self.secret), "Content-Type": FORM}

    def healthz(self) -> Load:
        return Load([self.ports["opaque"]], [Item("GET", "/healthz", {}, expect=["ok"])])

    def discovery(self) -> Load:
        issuer = f"http://{LOOPBACK}:{self.ports['opaque']}"  # server.js: its own address
        return Load([self.ports["opaque"]], [Item("GET", "/.well-known/openid-configuration", {},
                                                  expect=[f'"issuer":"{issuer}"'])])

    def jwks(self) -> Load:
        return Load([self.ports["opaque"]], [Item("GET", "/jwks", {}, expect=JWKS_ANSWER)])

    def cc_item(self, variant: str):
        body = "grant_type=client_credentials&scope=a"
        if variant == "opaque":
            port = self.ports["opaque"]
        else:
            port = self.ports["jwt"]
            body += "&resource=" + urllib.parse.quote(f"urn:bench:{variant}", safe="")
        shape = TOKEN_ANSWER if variant == "opaque" else ['"access_token":"eyJ']
        return [port], Item("POST", "/token", self.auth(), body=body, label="client_credentials", expect=shape)

    def introspect_item(self, variant: str, pool_file: str, mode: str):
        if variant != "opaque":
            raise Skip("oidc-provider refuses to introspect JWT access tokens (400 unsupported_token_type: "
                       "'Structured JWT Tokens cannot be introspected')")
        return [self.ports["opaque"]], Item("POST", "/token/introspection", self.auth(), mode=mode,
                                            pool_file=pool_file, body_prefix="token=", label="introspect",
                                            expect=ACTIVE)

    def revoke_item(self, pool_file: str):
        return [self.ports["opaque"]], Item("POST", "/token/revocation", self.auth(), mode="wrap",
                                            pool_file=pool_file, body_prefix="token=", label="revoke", status=200)

    def unknown_token(self) -> str:
        return secrets.token_urlsafe(32)[:43]

    def require_user_flows(self, grant: str) -> None:
        self.require_grant(grant)

    def flow_port(self) -> int:
        return self.ports["opaque"]

    def load_ports(self) -> list[int]:
        return [self.ports["opaque"]]

    def authorize_path(self) -> str:
        return "/auth?" + urllib.parse.urlencode({
            "client_id": PEER_CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "a b",
            "state": "bench", "code_challenge": PKCE_CHALLENGE, "code_challenge_method": "S256"})

    def web_token_path(self) -> str:
        return "/token"

    def web_auth(self) -> dict:
        return self.auth()

    def user_credentials(self) -> tuple[str, str]:
        return BENCH_USER, "any password (development login pages)"

    def password_login(self) -> Load:
        raise Skip("oidc-provider does not implement the resource-owner password grant")

    def customer_login(self) -> Load:
        raise Skip("not applicable: oidc-provider has no apps, API keys or customers (Portcullis only)")

    def introspect_apikey_item(self):
        raise Skip("not applicable: oidc-provider has no API keys (Portcullis only)")

    def fill_token_table(self, rows: int) -> str:
        raise Skip("not applicable: oidc-provider keeps its tokens in memory (no table to grow); "
                   "its ordinary introspection is the introspect_opaque row")

    def fill_expired_and_watch_purge(self, rows: int, notes: list[str]) -> None:
        raise Skip("not applicable: oidc-provider keeps its tokens in memory (nothing to purge)")


def ensure_peer_node() -> str:
    """The node binary of PEER_NODE_VERSION under bench/work/, installed with npm when missing."""
    arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())
    if arch is None:
        raise Skip(f"no node-linux package for {platform.machine()}; pass --node PATH")
    package = f"node-linux-{arch}"
    node = os.path.join(NODE_DIR, "node_modules", package, "bin", "node")
    if os.access(node, os.X_OK):
        return node
    if not shutil.which("npm"):
        raise Skip(f"npm is missing: cannot install node {PEER_NODE_VERSION} ({package}); pass --node PATH")
    log(f"peer: installing node {PEER_NODE_VERSION} ({package} from the npm registry) into {NODE_DIR}")
    run_cmd(["npm", "install", "--prefix", NODE_DIR, "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
             f"{package}@{PEER_NODE_VERSION}"], timeout=600)
    if not os.access(node, os.X_OK):
        raise Skip(f"npm install {package}@{PEER_NODE_VERSION} left no {node}")
    return node
