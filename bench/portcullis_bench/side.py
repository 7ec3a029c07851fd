"""What a scenario needs from a server under test, and what both servers share (the end-user flows)."""

from __future__ import annotations

import json
import os
import urllib.parse

from .browser import Browser
from .common import CODE_ANSWER, HarnessError, PKCE_VERIFIER, REDIRECT_URI, Skip, http_request
from .wrk import Item, Load, Wrk



class Side:
    """What a scenario needs from a server under test; Portcullis and the peer implement it."""

    name = ""
    backend = ""
    postgres_db: str | None = None  # the PostgreSQL database it uses, if any (its CPU is measured per run)

    def __init__(self, wrk: Wrk, workdir: str, args) -> None:
        self.wrk = wrk
        self.workdir = workdir
        self.args = args
        self._pool_counter = 0

    # to implement
    def pids(self) -> list[int]: raise NotImplementedError
    def grants(self) -> set[str]: raise NotImplementedError
    def healthz(self) -> Load: raise NotImplementedError
    def discovery(self) -> Load: raise NotImplementedError
    def jwks(self) -> Load: raise NotImplementedError
    def cc_item(self, variant: str) -> tuple[list[int], Item]: raise NotImplementedError
    def introspect_item(self, variant: str, pool_file: str, mode: str) -> tuple[list[int], Item]: raise NotImplementedError
    def revoke_item(self, pool_file: str) -> tuple[list[int], Item]: raise NotImplementedError
    def unknown_token(self) -> str: raise NotImplementedError
    def password_login(self) -> Load: raise NotImplementedError
    def customer_login(self) -> Load: raise NotImplementedError
    def introspect_apikey_item(self) -> tuple[list[int], Item]: raise NotImplementedError
    def fill_token_table(self, rows: int) -> str: raise NotImplementedError
    def fill_expired_and_watch_purge(self, rows: int, notes: list[str]) -> None: raise NotImplementedError
    # for the end-user flows (authorization code, refresh)
    def require_user_flows(self, grant: str) -> None: raise NotImplementedError
    def flow_port(self) -> int: raise NotImplementedError
    def load_ports(self) -> list[int]: raise NotImplementedError
    def authorize_path(self) -> str: raise NotImplementedError
    def web_token_path(self) -> str: raise NotImplementedError
    def web_auth(self) -> dict: raise NotImplementedError
    def user_credentials(self) -> tuple[str, str]: raise NotImplementedError

    def require_grant(self, grant: str) -> None:
        if grant not in self.grants():
            raise Skip(f"not available yet: {self.name}'s metadata grant_types_supported lacks {grant}")

    def new_pool_file(self, kind: str) -> str:
        self._pool_counter += 1
        return os.path.join(self.workdir, f"pool-{self.name}-{self.backend}-{kind}-{self._pool_counter}.txt")

    def mint_tokens(self, variant: str, seconds: float, max_tokens: int) -> str:
        """Issue tokens with wrk (client_credentials), keep them in a pool file."""
        ports, item = self.cc_item(variant)
        path = self.new_pool_file(f"tokens-{variant}")
        res = self.wrk.run(Load(ports, [item]), seconds, self.args.connections, self.pids(),
                           collect={"kind": "json", "field": "access_token", "file": path, "max": max_tokens})
        if not os.path.exists(path) or res["collected"] == 0:
            raise HarnessError(f"{self.name}: minting {variant} tokens gave none ({res.get('sample')})")
        if res["non2xx"]:
            raise HarnessError(f"{self.name}: minting {variant} tokens failed: {res.get('sample')}")
        return path

    def write_pool(self, kind: str, values: list[str]) -> str:
        path = self.new_pool_file(kind)
        with open(path, "w") as f:
            f.write("\n".join(values) + "\n")
        return path

    # ---- end-user flows, the same for both sides: log in once through the real pages, then
    # mint codes on that session (no more interaction) and exchange them.

    _browser: "Browser | None" = None

    def browser(self) -> "Browser":
        if self._browser is None:
            user, password = self.user_credentials()
            b = Browser(self.flow_port(), user, password)
            b.authorize(self.authorize_path(), REDIRECT_URI)  # logs in and consents; the code is dropped
            self._browser = b
        return self._browser

    def one_code(self) -> str:
        return self.browser().authorize(self.authorize_path(), REDIRECT_URI, max_steps=1)

    def exchange_prefix(self) -> str:
        return ("grant_type=authorization_code&redirect_uri=" + urllib.parse.quote(REDIRECT_URI, safe="")
                + "&code_verifier=" + PKCE_VERIFIER + "&code=")

    def refresh_pool(self, n: int) -> tuple[list[int], Item]:
        self.require_user_flows("refresh_token")
        self.require_user_flows("authorization_code")
        tokens = []
        for _ in range(n):
            code = self.one_code()
            status, _, body = http_request(self.flow_port(), "POST", self.web_token_path(),
                                           self.exchange_prefix() + code, self.web_auth())
            if status != 200 or b"refresh_token" not in body:
                raise HarnessError(f"{self.name}: code exchange gave no refresh token: {status} {body[:300]!r}")
            tokens.append(json.loads(body)["refresh_token"])
        pool = self.write_pool("refresh", tokens)
        return self.load_ports(), Item("POST", self.web_token_path(), self.web_auth(), mode="chain", pool_file=pool,
                                        body_prefix="grant_type=refresh_token&refresh_token=", label="refresh",
                                        expect=CODE_ANSWER)

    def code_exchange(self, seconds: float) -> Load:
        self.require_user_flows("authorization_code")
        b = self.browser()
        path = self.new_pool_file("codes")
        mint = Load([self.flow_port()], [Item("GET", self.authorize_path(), {"Cookie": b.cookie_header()})],
                    redirect_ok=True)
        res = self.wrk.run(mint, seconds, self.args.connections, self.pids(),
                           collect={"kind": "location", "param": "code", "file": path, "max": 5_000_000})
        if res["collected"] == 0:
            raise HarnessError(f"{self.name}: minting codes gave none ({res.get('sample')})")
        item = Item("POST", self.web_token_path(), self.web_auth(), mode="once", pool_file=path,
                    body_prefix=self.exchange_prefix(), label="code exchange", expect=CODE_ANSWER)
        return Load(self.load_ports(), [item], consuming=True,
                    notes=[f"{res['collected']:,} codes minted in {seconds:g} s by GET authorize on a logged-in session"])
