"""Issue 12 (8): inputs that used to answer 500 answer 4xx, over real HTTP (the app served
by werkzeug on 127.0.0.1): CR/LF in ``next=``, deeply nested JSON, integers Python cannot
convert, lone surrogates."""

from __future__ import annotations

import http.client
import json
from urllib.parse import quote, urlsplit

import pytest

from tests.web_support import CSRF_RE, LiveServer, token_for


class Raw:
    """One HTTP connection per request, bytes as given, a cookie jar of one host."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, body: bytes | None = None,
             headers: dict | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        out = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        conn.close()
        return out

    def login(self, name: str, password: str = "lotse-demo", nxt: str | None = None):
        _, _, page = self.send("GET", "/login")
        token = CSRF_RE.search(page.decode()).group(1)
        form = f"name={name}&password={password}&csrf_token={quote(token)}"
        if nxt is not None:
            form += "&next=" + quote(nxt, safe="")
        return self.send("POST", "/login", form.encode(),
                         {"Content-Type": "application/x-www-form-urlencoded"})


@pytest.fixture
def server(web_app):
    with LiveServer(web_app) as live:
        yield live


def test_cr_lf_in_next_goes_to_the_start_page(server):
    raw = Raw(server.url)
    evil = "/cases\r\nSet-Cookie: pwned=1"
    status, headers, _ = raw.login("cm.demo", nxt=evil)
    assert status == 302 and headers["location"] == "/"
    assert "pwned" not in raw.cookies
    # logged in already: GET /login?next=... redirects at once
    status, headers, _ = raw.send("GET", "/login?next=" + quote(evil, safe=""))
    assert status == 302 and headers["location"] == "/"
    status, headers, _ = raw.send("GET", "/login?next=%2Fcases%0aX")
    assert status == 302 and headers["location"] == "/"
    status, headers, _ = raw.send("GET", "/login?next=%2Fcases")  # a good one still works
    assert status == 302 and headers["location"] == "/cases"


def _post_json(raw, path, text: str, headers):
    return raw.send("POST", path, text.encode("utf-8"),
                    {**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["/api/process-instances", "/api/cases/X-1/consents",
                                  "/api/tasks/00000000-0000-0000-0000-000000000000/complete"])
def test_hostile_json_bodies_are_400_with_a_code(web_app, server, path):
    raw = Raw(server.url)
    h = token_for(web_app, "cm.demo")
    deep = '{"process_id": "kim_first_referral", "data": {"a": ' + "[" * 400 + "]" * 400 + "}}"
    cases = {
        deep: "JSON_TOO_DEEP",
        "[" * 100_000 + "]" * 100_000: "JSON_TOO_DEEP",
        '{"process_id": "kim_first_referral", "data": {"n": ' + "9" * 5000 + "}}":
            "JSON_NUMBER_TOO_LONG",
        '{"process_id": "kim_first_referral", "data": {"n": -' + "1" * 4301 + "}}":
            "JSON_NUMBER_TOO_LONG",
        '{"process_id": "kim_first_referral", "data": {"s": "\\ud800"}}': "JSON_BAD_TEXT",
        '{"process_id": "kim_first_referral", "data": {"\\udfff": 1}}': "JSON_BAD_TEXT",
    }
    for text, code in cases.items():
        status, headers, body = _post_json(raw, path, text, h)
        assert status == 400, (code, body[:200])
        doc = json.loads(body)
        assert doc["error"] == code and " / " in doc["message"]  # German / English
        assert headers["content-type"].startswith("application/json")


def test_hostile_json_changes_nothing_and_normal_json_still_works(web_app, server):
    eng = web_app.extensions["lotse"].engine
    raw = Raw(server.url)
    h = token_for(web_app, "cm.demo")
    before = len(eng.tasks())
    _post_json(raw, "/api/process-instances",
               '{"process_id": "kim_first_referral", "case_ref": "' + "\\ud800" + '"}', h)
    assert len(eng.tasks()) == before
    ok = '{"process_id": "kim_first_referral", "case_ref": "H-1", "data": {}}'
    status, _, body = _post_json(raw, "/api/process-instances", ok, h)
    assert status == 201, body
    # a valid big-but-convertible number and a paired surrogate (an emoji) pass the check
    status, _, body = _post_json(raw, "/api/process-instances",
                                 '{"process_id": "kim_first_referral", "case_ref": "H-2",'
                                 ' "data": {"n": ' + "9" * 50 + ', "e": "\\ud83d\\ude00"}}', h)
    assert status == 422 and set(json.loads(body)["errors"]) == {"n", "e"}  # unknown keys


def test_json_checks_also_guard_pages_that_take_json(server):
    raw = Raw(server.url)
    raw.login("designer.demo")
    _, _, page = raw.send("GET", "/")  # the logout form carries the token
    token = CSRF_RE.search(page.decode()).group(1)
    status, headers, body = raw.send(
        "POST", "/designer/form-preview", ("[" * 500 + "]" * 500).encode(),
        {"Content-Type": "application/json", "X-CSRF-Token": token})
    assert status == 400 and b"csrf" not in body.lower()
