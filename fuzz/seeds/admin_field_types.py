#!/usr/bin/env python3
"""Writes `admin_json` inputs that give every field of every admin body each kind of
JSON value, and the values its validation compares against, into DIR (default
/tmp/admin-field-types):

    python3 seeds/admin_field_types.py [DIR]

Each body type's deserializer has a path per field and per kind of value it refuses
(serde's derive writes one visitor per type), and the fuzzer reaches each only by
mutating that field into that kind: in the runs of 2026-12-07 these were most of the
new edges in the project's crates. Run the fuzzer with DIR as a second corpus
directory (or `plateau.py` with DIR appended to the corpus, fuzz/README.md), then merge;
the merge keeps the inputs that add edges.

The route numbers and fields follow `portcullis_server::fuzzing::ROUTES` and the body
types in `crates/server/src/routes/admin/`.
"""
import hashlib, itertools, json, os, sys

REALM = ["access_ttl", "refresh_ttl", "token_format", "signing_alg", "refresh_policy", "refresh_grace",
         "allow_implicit", "require_pkce", "allow_plain_pkce", "code_ttl", "customer_ttl"]
CLIENT = ["name", "grant_types", "redirect_uris", "scopes", "default_scopes", "public", "auth_method",
          "access_ttl", "refresh_ttl", "resource_server", "disabled"]
USER = ["username", "password", "roles", "teams", "kind", "disabled"]

# route: (fields, the required fields with a valid value, so that the others are read)
BODIES = {
    0: (["name"] + REALM, {"name": "ft"}),
    1: (REALM, {}),
    2: (CLIENT, {}),
    3: (CLIENT, {}),
    4: (["keep_tokens"], {}),
    5: (USER, {"username": "ft"}),
    6: (USER, {}),
    7: (["password"], {}),
    8: (["name"], {}),
    9: (["app", "name", "scope", "permissions", "test"], {"app": "a1"}),
    10: (["name"], {}),
    11: (["permissions"], {}),
}

VALUES = [None, True, False, 0, -1, 1.5, 2**63, -(2**63) - 1, 1e308, "", "x", "é", [], ["x"], [1], [None],
          {}, {"x": 1}]

# Values the validators behind the deserializers compare against: every enum name (and a
# case variant), names at and past their limits and with each kind of refused character,
# and lists with a repeat. Given to every string field and, as one-item or repeated
# lists, to every list field.
NAMES = ["opaque", "jwt", "ES256", "RS256", "EdDSA", "HS256", "HS512", "authorization_code",
         "client_credentials", "password", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code",
         "urn:ietf:params:oauth:grant-type:token-exchange", "implicit", "client_secret_basic",
         "client_secret_post", "none", "rotate", "reuse", "staff", "customer", "p1", "r1", "a1", "read"]
STRINGS = NAMES + [n.upper() for n in NAMES] + [
    " x", "x ", "a\u0001b", "a\u007fb", "-a", "a-", "a_b", "a.b", "a b", "a" * 63, "a" * 64, "a" * 200,
    "a" * 1025, "é" * 100, "https://app.example/cb", "http://127.0.0.1:8080/cb", "com.example.app:/cb",
    "https://app.example/cb#f", "a" * 7, "a" * 8]
# Characters `OAuthError`'s description sanitizer keeps or replaces (`core/src/error.rs`):
# quote, backslash, the ASCII edges, a control character, non-ASCII; and lengths around its cut.
ESCAPED = ['a"b', "a\\b", "~", " ", "!", "#", "[", "]", "a\u0000b", "a\tb", "\u00e9", "\u2028", "\U0001F600"]
STRINGS += ESCAPED + ["a" * 299, "a" * 300, "a" * 301, "a" * 299 + '"', "é" * 151]
UNKNOWN_NAMES = ESCAPED + ["u" * 300, "u" * 301, "u" * 400 + '"']
LISTS = [[n] for n in NAMES] + [[n, n] for n in NAMES] + [["read", "write", "read"], ["a" * 200], [" x"]]


def inputs():
    for route, (fields, required) in BODIES.items():
        for field in fields:
            for value in VALUES:
                for base in ({}, required):
                    body = dict(base)
                    body[field] = value
                    yield bytes([route, 0]) + json.dumps(body).encode()
            for value in STRINGS + LISTS:
                body = dict(required)
                body[field] = value
                yield bytes([route, 0]) + json.dumps(body).encode()
        # A field twice, and one the type does not have.
        first = fields[0]
        yield bytes([route, 0]) + f'{{"{first}":"a","{first}":"b"}}'.encode()
        yield bytes([route, 0]) + json.dumps({**required, "unknown": 1}).encode()
        # Unknown fields whose names the error description echoes: each kind of character
        # the description's sanitizer replaces, and a name past its 300-byte cut.
        for name in UNKNOWN_NAMES:
            yield bytes([route, 0]) + json.dumps({**required, name: 1}, ensure_ascii=False).encode()


# Values that make the validators' checks across fields meet (`ClientSpec::apply`: public
# against auth_method and client_credentials, grants against redirect URIs, default scopes
# against scopes; the realm's settings parsed one after another): each pair of fields of a
# body, and each triple of the client's coupled fields, takes every combination of these.
# The single-field inputs above cannot reach a check that needs two fields set at once; in
# the runs of 2026-12-07 such checks were the last edges found in second halves.
CLIENT_VALUES = {
    "name": ["c2", " c2 ", ""],
    "grant_types": [["client_credentials"], ["authorization_code", "refresh_token"], ["implicit"], [], ["bogus"]],
    "redirect_uris": [[], ["https://app.example/cb"], ["https://app.example/cb", "https://app.example/cb"],
                      ["http://evil.example/cb"]],
    "scopes": [["read"], ["read", "write"], [], ["read", "read"], ["a\"b"]],
    "default_scopes": [["read"], ["write"], [], ["zzz"]],
    "public": [True, False],
    "auth_method": ["none", "client_secret_basic", "client_secret_post", "bogus"],
    "access_ttl": [60, 0],
    "refresh_ttl": [60, 0],
    "resource_server": [True, False],
    "disabled": [True, False],
}
COUPLED = ["public", "auth_method", "grant_types", "redirect_uris", "scopes", "default_scopes"]
REALM_VALUES = {
    "access_ttl": [60, 0], "refresh_ttl": [None, 60, 0], "token_format": ["jwt", "opaque", "x"],
    "signing_alg": ["ES256", "HS256", "x"], "refresh_policy": ["rotate", "reuse", "x"], "refresh_grace": [0, 301],
    "allow_implicit": [True, False], "require_pkce": [False], "allow_plain_pkce": [True], "code_ttl": [1, 601],
    "customer_ttl": [60, 0],
}
USER_VALUES = {
    "username": ["u2", " u2", "", "u1"], "password": ["short", "long enough"], "roles": [["r1"], ["r1", "r1"], [""], ["a,b"]],
    "teams": [["t1"], ["t1", "t1"], ["a,b"]], "kind": ["staff", "customer", "x"], "disabled": [True, False],
}
API_KEY_VALUES = {
    "app": ["a1", "nope"], "name": ["k", ""], "scope": ["read", "a\"b", ""], "permissions": [["p1"], ["nope"], []],
    "test": [True, False],
}
# route: (values per field, the fields every body carries)
COMBINED = {
    0: (REALM_VALUES, {"name": "ft"}),
    1: (REALM_VALUES, {}),
    2: (CLIENT_VALUES, {"name": "c2"}),
    3: (CLIENT_VALUES, {}),
    5: (USER_VALUES, {"username": "u2"}),
    6: (USER_VALUES, {}),
    9: (API_KEY_VALUES, {}),
}


def combinations():
    for route, (values, required) in COMBINED.items():
        groups = list(itertools.combinations(values, 2))
        if values is CLIENT_VALUES:
            groups += list(itertools.combinations(COUPLED, 3))
        for fields in groups:
            for chosen in itertools.product(*(values[f] for f in fields)):
                body = {**required, **dict(zip(fields, chosen))}
                yield bytes([route, 0]) + json.dumps(body).encode()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/admin-field-types"
    os.makedirs(out, exist_ok=True)
    written = set()
    for data in itertools.chain(inputs(), combinations()):
        name = "fields-" + hashlib.sha1(data).hexdigest()[:16]
        if name not in written:
            written.add(name)
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
    print(f"{len(written)} inputs in {out}")


if __name__ == "__main__":
    main()
