"""The big token table (introspect_10m, purge_1m): synthetic rows inserted straight into the database."""

from __future__ import annotations

import os
import sqlite3
import struct
import time

from .common import HarnessError, run_cmd


# The big token table (introspect_10m): synthetic live rows inserted straight into the database.
BIG_TABLE_BATCH = 200_000  # rows per SQLite transaction
DAY_MS = 86_400_000
UUID7_VERSION = bytes(0x70 | (b & 0x0F) for b in range(256))  # byte 6: version nibble 7
UUID7_VARIANT = bytes(0x80 | (b & 0x3F) for b in range(256))  # byte 8: variant bits 10


def big_table_deadline(rows: int) -> float:
    """Seconds the insert of `rows` synthetic tokens may take (about 10x what it takes here)."""
    return 60 + rows / 10_000


def synthetic_token_ids(first: int, count: int, total: int, start_ms: int) -> tuple[list[bytes], list[int]]:
    """UUIDv7-shaped ids for rows first..first+count of total, their times spread evenly from
    start_ms over one day in ascending order (so each batch appends to the primary key), and
    each row's issued_at (Unix seconds). Built with slice assignments and translate, not per row."""
    ms = [start_ms + k * DAY_MS // total for k in range(first, first + count)]
    packed = struct.pack(f">{count}Q", *ms)  # 8 big-endian bytes per row; the id takes the low 6
    buf = bytearray(os.urandom(16 * count))
    for j in range(6):
        buf[j::16] = packed[j + 2::8]
    buf[6::16] = buf[6::16].translate(UUID7_VERSION)
    buf[8::16] = buf[8::16].translate(UUID7_VARIANT)
    return [bytes(buf[i:i + 16]) for i in range(0, 16 * count, 16)], [t // 1000 for t in ms]


def sqlite_path(db_url: str) -> str:
    return db_url[len("sqlite://"):]


def fill_sqlite_tokens(path: str, client_id: str, rows: int, now: int, expires: int | None = None) -> None:
    """Inserts rows access tokens of `client_id` in realm default, live for a day unless `expires`
    is given, one transaction per BIG_TABLE_BATCH rows, on a connection of our own beside the
    running server (WAL mode)."""
    deadline = time.monotonic() + big_table_deadline(rows)
    sql = ("INSERT INTO tokens (id, realm, kind, verifier_hash, client_id, subject, username, scope, grant_id, "
           "permissions, test, issued_at, expires_at, revoked_at, used_at) "
           "VALUES (?, 'default', 'access', ?, ?, ?, NULL, 'a', NULL, '', 0, ?, ?, NULL, NULL)")
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)  # timeout: the busy timeout, seconds
    try:
        conn.execute("PRAGMA synchronous=OFF")  # this connection only; the server keeps its own setting
        found = conn.execute("SELECT 1 FROM clients WHERE realm = 'default' AND client_id = ?", (client_id,))
        if found.fetchone() is None:
            raise HarnessError(f"{path}: no client {client_id} in realm default")
        expires = now + 86_400 if expires is None else expires
        for first in range(0, rows, BIG_TABLE_BATCH):
            if time.monotonic() > deadline:
                raise HarnessError(f"inserting {rows:,} tokens took longer than {big_table_deadline(rows):.0f} s "
                                   f"({first:,} done)")
            count = min(BIG_TABLE_BATCH, rows - first)
            ids, issued = synthetic_token_ids(first, count, rows, (now - 86_400) * 1000)
            hashes = os.urandom(32 * count)
            batch = [(ids[i], hashes[32 * i:32 * i + 32], client_id, client_id, issued[i], expires)
                     for i in range(count)]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, batch)
            conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # leave the rows in the database file
    except sqlite3.Error as exc:
        raise HarnessError(f"inserting tokens into {path}: {exc}") from exc
    finally:
        conn.close()


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def pg_random_bytes(n: int) -> str:
    """SQL for n random bytes (n a multiple of 4) from random(): 32 bits per call, each fully
    random (a double has 52). Several times cheaper than gen_random_uuid() per row."""
    return " || ".join(["int4send(floor(random() * 4294967296 - 2147483648)::int)"] * (n // 4))


def fill_postgres_tokens(db_url: str, client_id: str, rows: int, now: int, expires: int | None = None) -> None:
    """The same rows with one INSERT … SELECT over generate_series: 16 random bytes per id, the
    first 6 replaced by the time (the low 6 bytes of the big-endian bigint), then the version
    nibble set to 7 and the variant bits to 10."""
    cid = sql_literal(client_id)
    start_ms = (now - 86_400) * 1000
    expires = now + 86_400 if expires is None else expires
    sql = (
        "INSERT INTO tokens (id, realm, kind, verifier_hash, client_id, subject, username, scope, grant_id, "
        "permissions, test, issued_at, expires_at, revoked_at, used_at) "
        "SELECT set_byte(set_byte(overlay(r PLACING substring(int8send(ms) FROM 3) FROM 1 FOR 6), "
        "6, 112 | (get_byte(r, 6) & 15)), 8, 128 | (get_byte(r, 8) & 63)), 'default', 'access', "
        f"{pg_random_bytes(32)}, {cid}, {cid}, NULL, 'a', NULL, '', false, ms / 1000, {expires}, NULL, NULL "
        f"FROM (SELECT {start_ms}::bigint + g * {DAY_MS}::bigint / {rows} AS ms, {pg_random_bytes(16)} AS r "
        f"FROM generate_series(0, {rows - 1}) AS g) AS s"
    )
    run_cmd(["psql", db_url, "-X", "-v", "ON_ERROR_STOP=1", "-qc", sql], timeout=big_table_deadline(rows))


def postgres_table_bytes(db_url: str) -> int | None:
    res = run_cmd(["psql", db_url, "-XAtqc", "SELECT pg_total_relation_size('tokens')"], timeout=60, check=False)
    return int(res.stdout.strip()) if res.returncode == 0 and res.stdout.strip().isdigit() else None
