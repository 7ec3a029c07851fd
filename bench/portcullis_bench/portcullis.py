"""Portcullis under test: provisioning through the CLI, starting and stopping `serve`, its requests."""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import subprocess
import threading
import time
import urllib.parse

from .bigtable import fill_postgres_tokens, fill_sqlite_tokens, postgres_table_bytes, sqlite_path
from .common import (
    ACTIVE, API_KEY_ACTIVE, BENCH_USER, CUSTOMER_TOKEN_ANSWER, CUSTOMER_USER, FORM, HarnessError, JWKS_ANSWER, JWT_REALMS, LOOPBACK, ORG_REALM, PASSWORD_USER, PKCE_CHALLENGE, PROCS,
    PUBLIC_URL_FLAG, PURGE_DEADLINE, PURGE_FLAG, REDIRECT_URI, SIGN_IN_FLAG, SYNCHRONOUS_FLAG, Skip, TOKEN_ANSWER,
    basic, free_port, http_request, log, run_cmd, wait_ready)
from .procfs import proc_status_kb, wait_idle
from .side import Side
from .wrk import Item, Load



class PortcullisSide(Side):
    name = "portcullis"

    def __init__(self, wrk, workdir, args, binary: str, backend: str, db_url: str, instances: int,
                 synchronous: str | None = None) -> None:
        super().__init__(wrk, workdir, args)
        self.binary = binary
        self.synchronous = synchronous  # SQLite only: passed as SYNCHRONOUS_FLAG when serve has it
        self.public_url = ""
        self.backend = backend
        self.db_url = db_url
        self.instances = instances
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self.creds: dict[str, tuple[str, str]] = {}  # realm -> (client_id, secret)
        self.logfile = os.path.join(workdir, f"portcullis-{backend}.log")
        self.startup: list[dict] = []
        self._grants: set[str] | None = None
        self.sample_token: str | None = None
        self.user_password = "bench-" + secrets.token_urlsafe(18)
        self.web_creds: tuple[str, str] | None = None
        self.user_flows_error: str | None = None
        self.password_users: list[str] = []
        self.password_users_error: str | None = None
        self.sign_in_flag = False  # whether this binary's `serve` has SIGN_IN_FLAG (read in start)
        self.purge_flag = False  # whether it has PURGE_FLAG (the background purge)
        self.purge_watch: threading.Thread | None = None  # purge_1m's watcher, joined after the scenario
        self.big_table: dict | None = None
        self.app_key: tuple[str, str] | None = None  # (app_id, API key) of ORG_REALM's app
        self.org_rs: tuple[str, str] | None = None  # ORG_REALM's resource server (introspects API keys)
        self.customers: list[str] = []
        self.org_error: str | None = None

    @property
    def postgres_db(self) -> str | None:
        return urllib.parse.urlsplit(self.db_url).path.lstrip("/") if self.backend.startswith("postgres") else None

    def cli(self, *argv: str) -> dict:
        res = run_cmd([self.binary, "--database", self.db_url, *argv, "--json"], timeout=60)
        return json.loads(res.stdout) if res.stdout.strip() else {}

    def provision(self, password_users: int = 0, customers: int = 0, org: bool = False) -> None:
        for _variant, (realm, alg) in JWT_REALMS.items():
            self.cli("realm", "create", realm, "--token-format", "jwt", "--signing-alg", alg)
        for realm in ["default"] + [r for r, _ in JWT_REALMS.values()]:
            c = self.cli("client", "create", "--realm", realm, "--name", "bench", "--grant-types",
                         "client_credentials", "--scope", "a b")
            self.creds[realm] = (c["client_id"], c["client_secret"])
        # End users (authorization code, refresh, password): a user and a client in `default`.
        # A binary without them fails here; the scenarios that need them then say why they skip.
        try:
            self.cli("realm", "update", "default", "--code-ttl", "600")  # codes outlive a minting run
            run_cmd([self.binary, "--database", self.db_url, "user", "create", "--realm", "default", "--username",
                     BENCH_USER, "--password-stdin", "--json"], timeout=60, input=self.user_password + "\n")
            c = self.cli("client", "create", "--realm", "default", "--name", "bench-web", "--grant-types",
                         "authorization_code,refresh_token,password", "--redirect-uri", REDIRECT_URI, "--scope", "a b")
            self.web_creds = (c["client_id"], c["client_secret"])
        except (HarnessError, KeyError, json.JSONDecodeError) as exc:
            self.user_flows_error = str(exc).splitlines()[0][:300]
        if password_users and self.web_creds is not None:
            self.provision_password_users(password_users)
        if org or customers:
            self.provision_org(customers)

    def provision_org(self, customers: int) -> None:
        """ORG_REALM as a storefront has it: a permission a role gives, an app with one API key, a resource
        server that introspects, and `customers` customers (argon2 each, hence only for customer_login).
        A binary without apps fails here; the two scenarios then say why they skip."""
        t0 = time.monotonic()
        try:
            self.cli("realm", "create", ORG_REALM)
            self.cli("permission", "create", "--realm", ORG_REALM, "orders.read")
            self.cli("role", "grant", "--realm", ORG_REALM, "buyer", "--permissions", "orders.read")
            app = self.cli("app", "create", "--realm", ORG_REALM, "--name", "shop")
            key = self.cli("apikey", "create", "--realm", ORG_REALM, "--app", "shop", "--scope", "a",
                           "--permissions", "orders.read")
            self.app_key = (app["app_id"], key["key"])
            rs = self.cli("client", "create", "--realm", ORG_REALM, "--name", "rs", "--grant-types",
                          "client_credentials", "--resource-server")
            self.org_rs = (rs["client_id"], rs["client_secret"])
            for i in range(customers):
                run_cmd([self.binary, "--database", self.db_url, "user", "create", "--realm", ORG_REALM,
                         "--username", CUSTOMER_USER.format(i), "--password-stdin", "--kind", "customer",
                         "--roles", "buyer", "--json"], timeout=60, input=self.user_password + "\n")
                self.customers.append(CUSTOMER_USER.format(i))
        except (HarnessError, KeyError, json.JSONDecodeError) as exc:
            self.org_error = str(exc).splitlines()[0][:300]
            return
        log(f"{self.backend}: {ORG_REALM}: an app, its API key and {customers} customers created in "
            f"{time.monotonic() - t0:.1f} s")

    def provision_password_users(self, n: int) -> None:
        """bench-user-0 … bench-user-{n-1}, one per wrk connection of the password scenario, all with
        the same password (each `user create` hashes it with argon2, hence only when it is selected)."""
        t0 = time.monotonic()
        try:
            for i in range(n):
                run_cmd([self.binary, "--database", self.db_url, "user", "create", "--realm", "default",
                         "--username", PASSWORD_USER.format(i), "--password-stdin", "--json"], timeout=60,
                        input=self.user_password + "\n")
                self.password_users.append(PASSWORD_USER.format(i))
        except HarnessError as exc:
            self.password_users_error = str(exc).splitlines()[0][:300]
            return
        log(f"{self.backend}: {n} users for the password scenario created in {time.monotonic() - t0:.1f} s")

    def start(self) -> None:
        # An older binary (--ref) lacks these flags and would refuse to start with them.
        serve_help = run_cmd([self.binary, "serve", "--help"], timeout=60, check=False).stdout
        self.sign_in_flag = SIGN_IN_FLAG in serve_help
        self.purge_flag = PURGE_FLAG in serve_help
        ports = [free_port() for _ in range(self.instances)]
        # One issuer for every instance, so that a token minted by one verifies at the other. Without the
        # flag each instance names its own address: the discovery check then finds the second one wrong.
        self.public_url = f"http://{LOOPBACK}:{ports[0]}"
        if self.synchronous and SYNCHRONOUS_FLAG not in serve_help:
            raise HarnessError(f"this binary's serve has no {SYNCHRONOUS_FLAG}: cannot run {self.backend}")
        for i, port in enumerate(ports):
            cmd = [self.binary, "--database", self.db_url, "serve", "--bind", f"{LOOPBACK}:{port}",
                   "--log-level", self.args.log_level]
            if self.sign_in_flag:  # the password scenario's load all comes from 127.0.0.1
                cmd += [SIGN_IN_FLAG, "0"]
            if self.purge_flag:  # a pass a second: a few index probes when there is nothing to delete
                cmd += [PURGE_FLAG, "1"]
            if PUBLIC_URL_FLAG in serve_help:
                cmd += [PUBLIC_URL_FLAG, self.public_url]
            if self.synchronous:
                cmd += [SYNCHRONOUS_FLAG, self.synchronous]
            cmd += self.args.portcullis_arg
            t0 = time.monotonic()
            proc = PROCS.start(f"portcullis-{self.backend}-{i}", cmd, self.args.server_cores, self.logfile)
            ready = wait_ready(port, "/readyz", proc, timeout=30)
            self.startup.append({"pid": proc.pid, "port": port, "ready_ms": round(ready * 1000, 1),
                                 "spawn_to_ready_ms": round((time.monotonic() - t0) * 1000, 1),
                                 "idle_rss_kb": proc_status_kb(proc.pid, "VmRSS")})
            self.procs.append(proc)
            self.ports.append(port)

    def cross_instance_check(self) -> str:
        """A JWT minted by the first instance must be active at every other one (one issuer, one key set);
        returns what was seen, raises HarnessError when it is not."""
        _, item = self.cc_item("es256")
        status, _, body = http_request(self.ports[0], item.method, item.path, item.body, item.headers)
        if status != 200:
            raise HarnessError(f"cross-instance check: minting an ES256 token answered {status}: {body[:200]!r}")
        token = json.loads(body)["access_token"]
        _, intro = self.introspect_item("es256", "", "cycle")
        for port in self.ports[1:]:
            status, _, answer = http_request(port, intro.method, intro.path, "token=" + token, intro.headers)
            if status != 200 or b'"active":true' not in answer:
                raise HarnessError(f"cross-instance check: a JWT of port {self.ports[0]} introspected at port {port} "
                                   f"answered {status} {answer[:200]!r}")
        return f"a JWT minted at port {self.ports[0]} is active at port(s) {self.ports[1:]} (issuer {self.public_url})"

    def stop(self) -> list[dict]:
        codes = []
        for proc in self.procs:
            codes.append({"pid": proc.pid, "exit_code": PROCS.stop(proc)})
        return codes

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def grants(self) -> set[str]:
        if self._grants is None:
            status, _, body = http_request(self.ports[0], "GET", "/realms/default/.well-known/oauth-authorization-server")
            if status != 200:
                raise HarnessError(f"portcullis metadata answered {status}")
            self._grants = set(json.loads(body).get("grant_types_supported", []))
        return self._grants

    def realm_for(self, variant: str) -> str:
        return "default" if variant == "opaque" else JWT_REALMS[variant][0]

    def auth(self, realm: str) -> dict:
        cid, sec = self.creds[realm]
        return {"Authorization": basic(cid, sec), "Content-Type": FORM}

    def healthz(self) -> Load:
        return Load(self.ports, [Item("GET", "/healthz", {}, expect=['"status":"ok"'])])

    def discovery(self) -> Load:
        # every instance must name the one issuer (one public URL for all of them)
        return Load(self.ports, [Item("GET", "/realms/default/.well-known/oauth-authorization-server", {},
                                      expect=[f'"issuer":"{self.public_url}/realms/default"'])])

    def jwks(self) -> Load:
        return Load(self.ports, [Item("GET", "/realms/jwt-es256/jwks.json", {}, expect=JWKS_ANSWER)])

    def cc_item(self, variant: str):
        realm = self.realm_for(variant)
        # opaque tokens are pcat_…, JWTs start with the base64 of '{"'
        shape = ['"access_token":"pcat_'] if variant == "opaque" else ['"access_token":"eyJ']
        return self.ports, Item("POST", f"/realms/{realm}/oauth/token", self.auth(realm),
                                body="grant_type=client_credentials&scope=a", label="client_credentials",
                                expect=shape)

    def introspect_item(self, variant: str, pool_file: str, mode: str):
        realm = self.realm_for(variant)
        return self.ports, Item("POST", f"/realms/{realm}/oauth/introspect", self.auth(realm), mode=mode,
                                pool_file=pool_file, body_prefix="token=", label="introspect", expect=ACTIVE)

    def revoke_item(self, pool_file: str):
        return self.ports, Item("POST", "/realms/default/oauth/revoke", self.auth("default"), mode="wrap",
                                pool_file=pool_file, body_prefix="token=", label="revoke", status=200)

    def unknown_token(self) -> str:
        # Same shape as a real opaque token (prefix_selector_verifier), unknown selector and verifier.
        if self.sample_token is None:
            _, item = self.cc_item("opaque")
            status, _, body = http_request(self.ports[0], item.method, item.path, item.body, item.headers)
            if status != 200:
                raise HarnessError(f"portcullis token endpoint answered {status}: {body[:200]!r}")
            self.sample_token = json.loads(body)["access_token"]
        parts = self.sample_token.split("_", 2)
        if len(parts) == 3:
            sel = secrets.token_hex(len(parts[1]) // 2 + 1)[: len(parts[1])]
            ver = secrets.token_urlsafe(len(parts[2]))[: len(parts[2])]
            return f"{parts[0]}_{sel}_{ver}"
        return "pcat_" + secrets.token_urlsafe(48)

    def require_user_flows(self, grant: str) -> None:
        self.require_grant(grant)
        if self.web_creds is None:
            raise Skip(f"{grant} is advertised, but provisioning a user and client failed: {self.user_flows_error}")

    def flow_port(self) -> int:
        return self.ports[0]  # log in and mint codes on the first instance; exchange on all

    def load_ports(self) -> list[int]:
        return self.ports

    def authorize_path(self) -> str:
        return "/realms/default/oauth/authorize?" + urllib.parse.urlencode({
            "client_id": self.web_creds[0], "response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "a b",
            "state": "bench", "code_challenge": PKCE_CHALLENGE, "code_challenge_method": "S256"})

    def web_token_path(self) -> str:
        return "/realms/default/oauth/token"

    def web_auth(self) -> dict:
        return {"Authorization": basic(*self.web_creds), "Content-Type": FORM}

    def user_credentials(self) -> tuple[str, str]:
        return BENCH_USER, self.user_password

    def password_login(self) -> Load:
        self.require_user_flows("password")
        if not self.password_users:
            raise Skip(f"password is advertised, but its users could not be created: {self.password_users_error}")
        pool = self.write_pool("password-users", [urllib.parse.quote_plus(u) for u in self.password_users])
        prefix = urllib.parse.urlencode({"grant_type": "password", "scope": "a", "password": self.user_password})
        item = Item("POST", "/realms/default/oauth/token", self.web_auth(), mode="cycle", pool_file=pool,
                    body_prefix=prefix + "&username=", label="password", expect=TOKEN_ANSWER)
        notes = [f"one user per connection ({PASSWORD_USER.format(0)} … {self.password_users[-1]}, one wrk thread "
                 "each); bounded by argon2id (m=19456, t=2, p=1) on every request"]
        if self.sign_in_flag:
            notes.append(f"served with {SIGN_IN_FLAG} 0 (the per-account limit stays; each success resets it)")
        else:
            notes.append(f"this binary has no {SIGN_IN_FLAG}: the per-address limit (100 per 15 min) applies, "
                         "so the answers after the first 100 are throttled")
        return Load(self.ports, [item], thread_per_connection=True, notes=notes)

    def require_org(self) -> None:
        if self.app_key is None or self.org_rs is None:
            raise Skip(f"this binary could not provision an app and API key: {self.org_error}")

    def customer_login(self) -> Load:
        self.require_org()
        if not self.customers:
            raise Skip(f"no customers could be created: {self.org_error}")
        pool = self.write_pool("customers", [urllib.parse.quote_plus(u) for u in self.customers])
        prefix = urllib.parse.urlencode({"grant_type": "password", "password": self.user_password})
        auth = {"Authorization": basic(*self.app_key), "Content-Type": FORM}
        item = Item("POST", f"/realms/{ORG_REALM}/oauth/token", auth, mode="cycle", pool_file=pool,
                    body_prefix=prefix + "&username=", label="customer login", expect=CUSTOMER_TOKEN_ANSWER)
        notes = [f"authenticated as app_id:API_KEY; one customer per connection ({CUSTOMER_USER.format(0)} … "
                 f"{self.customers[-1]}, one wrk thread each); bounded by argon2id like password"]
        return Load(self.ports, [item], thread_per_connection=True, notes=notes)

    def introspect_apikey_item(self) -> tuple[list[int], Item]:
        self.require_org()
        # The one key, once per connection: wrk's threads each take their own slice of a pool,
        # and a thread whose slice is empty sends `token=` (answered inactive).
        pool = self.write_pool("api-key", [self.app_key[1]] * max(1, self.args.connections))
        auth = {"Authorization": basic(*self.org_rs), "Content-Type": FORM}
        return self.ports, Item("POST", f"/realms/{ORG_REALM}/oauth/introspect", auth, mode="cycle",
                                pool_file=pool, body_prefix="token=", label="introspect API key",
                                expect=API_KEY_ACTIVE)

    def fill_token_table(self, rows: int) -> str:
        """Inserts `rows` synthetic live opaque tokens of the `bench` client of realm default straight
        into the database; returns the report's note."""
        if rows <= 0:
            raise Skip("--big-table-rows is 0")
        client_id = self.creds["default"][0]
        # e.g. sign-ins that the password scenario left queued: they would wait on the insert's lock
        if not wait_idle(self.pids(), timeout=30):
            log(f"{self.backend}: the server is still busy after 30 s; inserting anyway")
        now = int(time.time())
        log(f"{self.backend}: inserting {rows:,} synthetic live tokens into the tokens table")
        t0 = time.monotonic()
        if self.backend == "sqlite":
            path = sqlite_path(self.db_url)
            fill_sqlite_tokens(path, client_id, rows, now)
            took, analyze = time.monotonic() - t0, None
            size = sum(os.path.getsize(f) for f in (path, path + "-wal") if os.path.exists(f))
            what = "database file"
        else:
            fill_postgres_tokens(self.db_url, client_id, rows, now)
            took = time.monotonic() - t0
            t1 = time.monotonic()
            run_cmd(["psql", self.db_url, "-X", "-v", "ON_ERROR_STOP=1", "-qc", "ANALYZE tokens"], timeout=600)
            analyze = time.monotonic() - t1
            size = postgres_table_bytes(self.db_url)
            what = "tokens table with its indexes"
        self.big_table = {"rows": rows, "insert_s": round(took, 1), "analyze_s": analyze and round(analyze, 1),
                          "bytes": size, "measured": what}
        size_text = f"{size / 1e9:.2f} GB" if size is not None else "size unknown"
        log(f"{self.backend}: {rows:,} tokens inserted in {took:.1f} s ({rows / max(took, 1e-9):,.0f} rows/s)"
            + (f", ANALYZE {analyze:.1f} s" if analyze is not None else "") + f"; {what} {size_text}")
        return (f"{rows:,} synthetic live tokens inserted first ({took:.0f} s; {what} {size_text}), "
                "then a pool minted and measured as in introspect_opaque")

    def count_expired(self, before: int) -> int:
        sql = f"SELECT count(*) FROM tokens WHERE expires_at < {before}"
        if self.backend == "sqlite":
            conn = sqlite3.connect(sqlite_path(self.db_url), timeout=30)
            try:
                return conn.execute(sql).fetchone()[0]
            finally:
                conn.close()
        return int(run_cmd(["psql", self.db_url, "-XAtqc", sql], timeout=60).stdout.strip())

    def fill_expired_and_watch_purge(self, rows: int, notes: list[str]) -> None:
        """Inserts `rows` tokens that expired an hour ago, then watches, from a thread, the server's
        background purge delete them while the scenario's introspection load runs; the rate goes
        into `notes` (read when the report is written)."""
        if rows <= 0:
            raise Skip("--purge-rows is 0")
        if not self.purge_flag:
            raise Skip(f"this binary's serve has no {PURGE_FLAG}: no background purge")
        client_id = self.creds["default"][0]
        now = int(time.time())
        expired_at = now - 3600
        log(f"{self.backend}: inserting {rows:,} expired tokens for the purge to delete")
        t0 = time.monotonic()
        if self.backend == "sqlite":
            fill_sqlite_tokens(sqlite_path(self.db_url), client_id, rows, now, expires=expired_at)
        else:
            fill_postgres_tokens(self.db_url, client_id, rows, now, expires=expired_at)
        log(f"{self.backend}: {rows:,} expired tokens inserted in {time.monotonic() - t0:.1f} s")

        def watch() -> None:
            start, left = time.monotonic(), self.count_expired(now)
            first = left
            while left > 0 and time.monotonic() - start < PURGE_DEADLINE:
                time.sleep(0.25)
                left = self.count_expired(now)
            took = time.monotonic() - start
            if left > 0:
                notes.append(f"✗ the purge left {left:,} of {first:,} expired tokens after {PURGE_DEADLINE} s")
            else:
                notes.append(f"the background purge deleted {first:,} expired tokens (of {rows:,} inserted) in "
                             f"{took:.1f} s: {first / max(took, 1e-9):,.0f} rows/s, while serving the "
                             "introspection measured here")
            log(f"{self.backend}: purge: {notes[-1]}")

        self.purge_watch = threading.Thread(target=watch, daemon=True)
        self.purge_watch.start()

    def log_position(self) -> int:
        try:
            return os.path.getsize(self.logfile)
        except OSError:
            return 0

    def log_since(self, pos: int) -> dict:
        """WARN/ERROR/panic lines written since pos, grouped by message (numbers, ids and times blanked)."""
        groups: dict[str, int] = {}
        try:
            with open(self.logfile, "rb") as f:
                f.seek(pos)
                for raw in f:
                    line = raw.decode("utf-8", "replace")
                    if not re.search(r"\b(WARN|ERROR|panicked)\b", line):
                        continue
                    msg = re.sub(r"^\S+\s+", "", line.strip())  # the timestamp
                    msg = re.sub(r"\b[0-9a-f]{8}-[0-9a-f-]{27}\b|\b\d+(\.\d+)?\b", "N", msg)[:300]
                    groups[msg] = groups.get(msg, 0) + 1
        except OSError:
            pass
        return dict(sorted(groups.items(), key=lambda kv: -kv[1])[:10])

    def log_findings(self) -> dict:
        levels: dict[str, int] = {}
        samples: list[str] = []
        try:
            with open(self.logfile, errors="replace") as f:
                for line in f:
                    m = re.search(r"\b(WARN|ERROR|panicked)\b", line)
                    if m:
                        levels[m.group(1)] = levels.get(m.group(1), 0) + 1
                        if len(samples) < 10:
                            samples.append(line.strip()[:400])
        except OSError:
            pass
        return {"counts": levels, "samples": samples, "file": self.logfile}
