"""The scenarios: what load each one puts on a side (SCENARIOS, in the order they run)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable

from .common import INACTIVE
from .side import Side
from .wrk import Load



@dataclass
class Scenario:
    id: str
    title: str
    description: str
    build: Callable[[Side, "Context"], Callable[[int], Load]]
    floor: bool = False
    baseline: str | None = None  # another scenario whose p99 on the same backend this one is held to
    p99_target: float | None = None  # the most this one's p99 may be, as a multiple of the baseline's


@dataclass
class Context:
    args: argparse.Namespace
    portcullis_grants: set[str] | None = None
    peer_grants: set[str] | None = None

    def both_have(self, grant: str) -> bool:
        return (self.portcullis_grants is not None and grant in self.portcullis_grants
                and (self.peer_grants is None or grant in self.peer_grants))


def fixed(load: Load) -> Callable[[int], Load]:
    return lambda _rep: load


def s_static(method_name: str):
    return lambda side, ctx: fixed(getattr(side, method_name)())


def s_cc(variant: str):
    def build(side: Side, ctx: Context):
        ports, item = side.cc_item(variant)
        return fixed(Load(ports, [item]))
    return build


def s_introspect(variant: str):
    def build(side: Side, ctx: Context):
        side.introspect_item(variant, "", "cycle")  # raises Skip before any minting if unsupported
        pool = side.mint_tokens(variant, ctx.args.mint_seconds, ctx.args.intro_pool)
        ports, item = side.introspect_item(variant, pool, "cycle")
        return fixed(Load(ports, [item]))
    return build


def s_introspect_unknown(side: Side, ctx: Context):
    pool = side.write_pool("unknown", [side.unknown_token() for _ in range(ctx.args.intro_pool)])
    ports, item = side.introspect_item("opaque", pool, "cycle")
    item.expect = INACTIVE
    return fixed(Load(ports, [item]))


def s_revoke(side: Side, ctx: Context):
    def make(_rep: int) -> Load:
        # a fresh pool for every repeat: each token is revoked once (wrapping around is counted)
        pool = side.mint_tokens("opaque", -(-ctx.args.duration * 5 // 4), 50_000_000)  # 1.25 × duration
        ports, item = side.revoke_item(pool)
        return Load(ports, [item], consuming=True)
    side.revoke_item("")
    return make


def s_refresh(side: Side, ctx: Context):
    conns = ctx.args.connections

    def make(_rep: int) -> Load:
        ports, item = side.refresh_pool(2 * conns)
        return Load(ports, [item], consuming=True,
                    notes=["each connection rotates its own refresh token: every answer's new token is the next "
                           "request's"])
    side.require_user_flows("refresh_token")
    side.require_user_flows("authorization_code")  # the refresh tokens come from code exchanges
    return make


def s_code(side: Side, ctx: Context):
    side.require_user_flows("authorization_code")
    # Minting (GET authorize) is slower than exchanging: on PostgreSQL ~800 codes/s
    # against ~4.7k exchanges/s, which used up 6× the run's length to within 2%
    # (2026-12-07), so mint for 8×. (SQLite mints ~5.7k/s since its browser flow runs on
    # the hot path; before, at ~1k/s, it ran out even at 6×: bench/README.md.)
    return lambda _rep: side.code_exchange(ctx.args.duration * 8)


def s_introspect_big(side: Side, ctx: Context):
    side.introspect_item("opaque", "", "cycle")
    note = side.fill_token_table(ctx.args.big_table_rows)  # the peer: Skip, before anything is done
    pool = side.mint_tokens("opaque", ctx.args.mint_seconds, ctx.args.intro_pool)
    ports, item = side.introspect_item("opaque", pool, "cycle")
    return fixed(Load(ports, [item], notes=[note]))


def s_purge_big(side: Side, ctx: Context):
    side.introspect_item("opaque", "", "cycle")
    pool = side.mint_tokens("opaque", ctx.args.mint_seconds, ctx.args.intro_pool)
    ports, item = side.introspect_item("opaque", pool, "cycle")
    notes: list[str] = []
    side.fill_expired_and_watch_purge(ctx.args.purge_rows, notes)  # the peer: Skip
    return fixed(Load(ports, [item], notes=notes))


def s_password(side: Side, ctx: Context):
    load = side.password_login()
    return fixed(load)


def s_customer_login(side: Side, ctx: Context):
    return fixed(side.customer_login())


def s_introspect_apikey(side: Side, ctx: Context):
    ports, item = side.introspect_apikey_item()
    return fixed(Load(ports, [item]))


def s_mixed(side: Side, ctx: Context):
    ports, cc = side.cc_item("opaque")
    pool = side.mint_tokens("opaque", ctx.args.mint_seconds, ctx.args.intro_pool)
    _, intro = side.introspect_item("opaque", pool, "cycle")
    intro.weight, cc.weight = 7, 2
    with_refresh = ctx.both_have("refresh_token") and ctx.both_have("authorization_code")
    notes = []
    if not with_refresh:
        notes.append("refresh part skipped (not available yet on Portcullis): 70:20 introspection:client_credentials")

    def make(_rep: int) -> Load:
        items = [intro, cc]
        if with_refresh:
            _, rt = side.refresh_pool(2 * ctx.args.connections)
            rt.weight = 1
            items.append(rt)
        return Load(ports, items, consuming=with_refresh, notes=notes)
    return make


SCENARIOS: list[Scenario] = [
    Scenario("healthz", "GET /healthz (HTTP floor)",
             "A trivial GET on the same server: the ceiling every other scenario is a fraction of.",
             s_static("healthz"), floor=True),
    Scenario("cc_opaque", "client_credentials, opaque",
             "POST token with Basic auth, grant_type=client_credentials&scope=a; opaque token, row stored.",
             s_cc("opaque")),
    Scenario("cc_jwt_es256", "client_credentials, JWT ES256", "As above in a JWT realm signing with ES256.",
             s_cc("es256")),
    Scenario("cc_jwt_hs256", "client_credentials, JWT HS256", "As above with HS256.", s_cc("hs256")),
    Scenario("cc_jwt_eddsa", "client_credentials, JWT EdDSA", "As above with EdDSA (Ed25519).", s_cc("eddsa")),
    Scenario("introspect_opaque", "introspection, valid opaque",
             "POST introspect of live opaque tokens, cycling through a pool minted just before.",
             s_introspect("opaque")),
    Scenario("introspect_jwt", "introspection, valid JWT (ES256)",
             "POST introspect of live ES256 JWTs (signature, then the jti row).", s_introspect("es256")),
    Scenario("introspect_unknown", "introspection, unknown token",
             "POST introspect of well-formed tokens that were never issued (answer: active false).",
             s_introspect_unknown),
    Scenario("revoke", "revocation",
             "POST revoke of live opaque tokens, each once (a pool minted right before each repeat).", s_revoke),
    Scenario("discovery", "discovery (RFC 8414 metadata)", "GET the realm's metadata document.",
             s_static("discovery")),
    Scenario("jwks", "JWKS", "GET the realm's public keys.", s_static("jwks")),
    Scenario("refresh", "refresh with rotation",
             "POST token grant_type=refresh_token; each answer's new refresh token is used next.", s_refresh),
    Scenario("authcode", "authorization code exchange",
             "POST token grant_type=authorization_code with PKCE; codes pre-minted through the real flow.", s_code),
    Scenario("mixed", "mixed 70/20/10",
             "70% introspection (opaque), 20% client_credentials, 10% refresh, interleaved on every connection.",
             s_mixed),
    Scenario("password", "password grant",
             "POST token grant_type=password, one user per connection (bounded by argon2id by design).",
             s_password),
    Scenario("customer_login", "customer login through an app's API key",
             "POST token grant_type=password authenticated as app_id:API_KEY (Basic), one customer per "
             "connection; the answer is a customer token (pcct_); bounded by argon2id like password; "
             "Portcullis only.", s_customer_login),
    Scenario("introspect_apikey", "introspection, API key",
             "POST introspect of an app's API key by a resource-server client (answer: active, kind api); "
             "Portcullis only.", s_introspect_apikey),
    Scenario("purge_1m", "introspection during the purge of 1 million expired rows",
             "As introspect_opaque while the background purge (serve --purge-interval-secs 1) deletes "
             "--purge-rows (1 million) expired tokens inserted straight into the database just before; the "
             "notes give the purge's rows/s; Portcullis only.", s_purge_big,
             baseline="introspect_opaque"),
    # Last: it grows the database, and no other scenario may run on the big table.
    Scenario("introspect_10m", "introspection, 10 million live tokens",
             "As introspect_opaque after --big-table-rows (10 million) synthetic live tokens were inserted "
             "straight into the database; Portcullis only.", s_introspect_big,
             baseline="introspect_opaque", p99_target=1.5),
]
