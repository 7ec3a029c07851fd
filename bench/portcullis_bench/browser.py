"""A minimal browser for login and consent pages (the end-user flows)."""

from __future__ import annotations

import html.parser
import re
import urllib.parse

from .common import FORM, HarnessError, LOOPBACK, http_request



class _FormParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(), "inputs": [],
                          "buttons": []}
            self.forms.append(self._form)
        elif self._form is not None and tag == "input" and a.get("name"):
            self._form["inputs"].append(a)
        elif self._form is not None and tag == "button" and a.get("name"):
            self._form["buttons"].append(a)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


class Browser:
    """Follows redirects and fills login and consent forms as a person would, keeping cookies.

    Generic on purpose: it drives Portcullis's pages and oidc-provider's development pages alike
    (a text input named username/login/email gets the user name, a password input the password,
    hidden inputs keep their values, a button decision=allow or similar is pressed). Loopback only.
    """

    def __init__(self, port: int, username: str, password: str) -> None:
        self.port = port
        self.username = username
        self.password = password
        self.cookies: dict[str, str] = {}

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _target(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme or parts.netloc:
            if parts.hostname != LOOPBACK or (parts.port or 80) != self.port:
                raise HarnessError(f"flow left the server under test: {url}")
        return (parts.path or "/") + ("?" + parts.query if parts.query else "")

    def call(self, method: str, url: str, body: str | None = None):
        headers = {"Cookie": self.cookie_header()} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = FORM
        status, rh, data = http_request(self.port, method, self._target(url), body, headers)
        for sc in rh.get("set-cookie", []):
            name, _, rest = sc.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in sc.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return status, rh, data

    def fill(self, page: bytes, base: str) -> tuple[str, str]:
        parser = _FormParser()
        parser.feed(page.decode("utf-8", "replace"))
        forms = [f for f in parser.forms if f["method"] == "post"]
        if not forms:
            raise HarnessError(f"expected a login or consent form, got: {page[:300]!r}")
        form = forms[0]
        fields = []
        for i in form["inputs"]:
            kind, name = i.get("type", "text").lower(), i["name"]
            if kind == "password":
                fields.append((name, self.password))
            elif kind in ("text", "email") and name.lower() in ("username", "login", "email", "user"):
                fields.append((name, self.username))
            elif kind in ("checkbox", "radio"):
                if "checked" in i:
                    fields.append((name, i.get("value", "on")))
            else:
                fields.append((name, i.get("value", "")))
        for b in form["buttons"]:
            if b.get("value", "").lower() in ("allow", "accept", "approve", "yes", "confirm", "continue"):
                fields.append((b["name"], b["value"]))
                break
        action = urllib.parse.urljoin(base, form["action"] or base)
        return action, urllib.parse.urlencode(fields)

    def authorize(self, url: str, redirect_uri: str, max_steps: int = 12) -> str:
        """Runs the flow from an authorization URL to the redirect; returns the code."""
        status, rh, data = self.call("GET", url)
        for _ in range(max_steps):
            if status in (301, 302, 303, 307):
                loc = urllib.parse.urljoin(url, rh["location"][0])
                if loc.startswith(redirect_uri):
                    m = re.search(r"[?&]code=([^&#]+)", loc)
                    if not m:
                        raise HarnessError(f"authorization ended without a code: {loc}")
                    return m.group(1)
                url = loc
                status, rh, data = self.call("GET", url)
            elif status == 200:
                action, body = self.fill(data, url)
                url = action
                status, rh, data = self.call("POST", action, body)
            else:
                text = re.sub(r"\s+", " ", re.sub(r"(?s)<(script|style).*?</\1>|<[^>]+>", " ", data.decode("utf-8", "replace")))
                raise HarnessError(f"authorization flow: {status} at {url.split('?')[0]}: {html.unescape(text).strip()[:300]}")
        raise HarnessError(f"authorization flow did not reach the redirect in {max_steps} steps")
