#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every fuzz target into fuzz/corpus/<target>/.

The committed corpora are these seeds plus what the fuzzer found, minimized with
`cargo fuzz cmin`; rerun this only to start a corpus afresh.
"""
import base64, hashlib, json, os, secrets, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def write(target, items):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for item in items:
        data = item.encode() if isinstance(item, str) else item
        with open(os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
            f.write(data)

def hexid():
    return secrets.token_hex(16)

def opaque(prefix):
    return f"{prefix}_{hexid()}_{b64u(secrets.token_bytes(32))}"

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

def api_key(mode):
    body = f"pcak_{mode}_{hexid()}_{b64u(secrets.token_bytes(32))}"
    n = zlib.crc32(body.encode())
    digits = ""
    for _ in range(6):
        digits = BASE62[n % 62] + digits
        n //= 62
    return f"{body}_{digits}"

write("form", [
    "grant_type=client_credentials&scope=read+write",
    "grant_type=authorization_code&code=pcac_x&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier=abc",
    "a=1&a=2", "a=%zz", "a=%", "a=%C3%A9&b=%FF", "&&=&x", "a=%00", "name%3D=va%26lue", "+=+",
])

basic = lambda i, s: "Basic " + base64.b64encode(f"{i}:{s}".encode()).decode()
write("basic_auth", [
    basic("client", "secret") + "\n",
    basic("my%20client", "s%3Ae") + "\nclient_id=my+client",
    basic("a", "b") + "\nclient_secret=x",
    basic("", "b") + "\n",
    "Basic YWJj\n", "Bearer x\n", "basic   " + base64.b64encode(b"a:b").decode().rstrip("=") + "  \n",
    "\nclient_id=a&client_secret=s", "\nclient_secret=s",
])

write("token_strings", [
    opaque("pcat"), opaque("pcrt"), opaque("pcak"), opaque("pcct"), opaque("pcac"),
    api_key("live"), api_key("test"),
    "Bearer " + opaque("pcadm")[:0] + f"pcadm_{hexid()}_{b64u(secrets.token_bytes(32))}",
    f"pcadm_{hexid()}_{b64u(secrets.token_bytes(32))}",
    "bearer  " + opaque("pcat"), "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", hexid(), hexid().upper(),
])

ISS = "https://fuzz.example/realms/fuzz"
NOW = 1_800_000_000
KIDS = ["fuzz-es256", "fuzz-rs256", "fuzz-eddsa", "fuzz-hs256", "fuzz-hs512", "fuzz-retired"]
ALGS = ["ES256", "RS256", "EdDSA", "HS256", "HS512", "HS256"]
claims = {"iss": ISS, "sub": "c1", "aud": ISS, "client_id": "c1", "exp": NOW + 60, "iat": NOW,
          "jti": "j", "scope": "read", "kind": "access"}
jwt = []
for i, (kid, alg) in enumerate(zip(KIDS, ALGS)):
    header = {"alg": alg, "typ": "at+jwt", "kid": kid}
    jwt.append(b"\x01" + bytes([i]) + json.dumps(header).encode() + b"\n" + json.dumps(claims).encode())
for variant in [{"exp": str(NOW + 60)}, {"nbf": NOW + 3600}, {"aud": [ISS]}, {"iss": "https://evil.example"},
                {"exp": NOW - 3600}, {"iat": NOW + 3600}]:
    c = dict(claims, **variant)
    jwt.append(b"\x01\x03" + json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": "fuzz-hs256"}).encode()
               + b"\n" + json.dumps(c).encode())
jwt.append(b"\x01\x00" + json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": "fuzz-es256"}).encode()
           + b"\n" + json.dumps(claims).encode())
jwt.append(b"\x01\x03" + json.dumps({"alg": "HS256", "typ": "JWT", "kid": "fuzz-hs256", "crit": ["x"]}).encode()
           + b"\n" + json.dumps(claims).encode())
for pick in range(8):
    jwt.append(b"\x02" + bytes([pick]) + json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": "fuzz-es256"}).encode()
               + b"\n" + json.dumps(claims).encode())
for alg in ["none", "None", "HS256"]:
    h = b64u(json.dumps({"alg": alg, "typ": "at+jwt", "kid": "fuzz-hs256"}).encode())
    jwt.append(b"\x00" + f"{h}.{b64u(json.dumps(claims).encode())}.".encode())
jwt.append(b"\x00eyJhbGciOiJIUzI1NiJ9.e30.c2ln")
write("jwt", jwt)

write("redirect_uri", [
    "https://app.example/cb\nhttps://app.example/cb",
    "https://app.example/cb\nhttps://app.example/cb/",
    "http://127.0.0.1/cb\nhttp://127.0.0.1:53412/cb",
    "http://[::1]/cb?x=1\nhttp://[::1]:8080/cb?x=1",
    "http://127.0.0.1:8080\nhttp://127.0.0.1:9/",
    "http://127.0.0.1/cb\nhttp://127.0.0.1:80@evil.example/cb",
    "http://localhost:8080/x?a=1\nhttp://localhost:9/x?a=1",
    "com.example.app:/cb\ncom.example.app:/cb#x",
    "javascript:alert(1)\n", "https://a@evil.example/cb\n", "https://*.example/cb\n", "data:text/html,x\n",
])

write("scope", [
    "read write\nread write admin", "read read write\nread", "a\"b\na", "\nread write",
    " ".join(f"s{i}" for i in range(101)) + "\ns1", "openid  profile \nopenid profile email",
])

def admin(route, ct, body):
    return bytes([route, ct]) + body.encode()
write("admin_json", [
    admin(0, 0, '{"name":"r2","token_format":"jwt","signing_alg":"EdDSA","refresh_ttl":null}'),
    admin(1, 0, '{"access_ttl":600,"refresh_policy":"reuse","refresh_grace":5,"require_pkce":true}'),
    admin(2, 0, '{"name":"c2","grant_types":["client_credentials"],"scopes":["read"],"auth_method":"client_secret_post"}'),
    admin(2, 0, '{"name":"c3","public":true,"grant_types":["authorization_code"],"redirect_uris":["http://127.0.0.1/cb"]}'),
    admin(3, 0, '{"redirect_uris":["https://app.example/cb","com.example.app:/cb"],"default_scopes":["read"]}'),
    admin(4, 0, '{"keep_tokens":true}'),
    admin(4, 2, ''),
    admin(5, 0, '{"username":"u2","roles":["r1"],"teams":["t1"],"kind":"customer"}'),
    admin(6, 0, '{"disabled":true,"roles":[]}'),
    admin(7, 0, '{"password":"correct horse"}'),
    admin(8, 0, '{"name":"a2"}'),
    admin(9, 0, '{"app":"a1","name":"k","scope":"read","permissions":["p1"],"test":true}'),
    admin(10, 0, '{"name":"p2"}'),
    admin(11, 3, '{"permissions":["p1","nope"]}'),
    admin(2, 0, '{"name":"x","unknown":1}'),
    admin(1, 0, '{"access_ttl":"600"}'),
    admin(0, 1, '{"name":"'),
    admin(0, 3, '[]'),
])
