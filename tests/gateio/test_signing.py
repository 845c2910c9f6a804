"""Gate REST and WS signatures against every Gate vector in signature_vectors.json."""

from __future__ import annotations

import hashlib
from urllib.parse import urlparse

import pytest

from exchanges.gateio.auth import rest_payload, sign_rest, sign_ws, sign_ws_api
from tests.gateio.captures import signature_vectors

VECTORS = signature_vectors()
REST = [v for v in VECTORS if "url" in v]
WS_SUB = [v for v in VECTORS if v["name"].startswith("gate_ws_subscribe_auth_")]
WS_API = [v for v in VECTORS if v["name"].startswith("gate_ws_login")]


def test_every_gate_vector_is_covered() -> None:
    assert len(VECTORS) == len(REST) + len(WS_SUB) + len(WS_API)
    assert len(REST) >= 7 and len(WS_SUB) >= 5 and len(WS_API) >= 1


@pytest.mark.parametrize("vec", REST, ids=[v["name"] for v in REST])
def test_rest_vectors(vec: dict) -> None:
    url = urlparse(vec["url"])
    body = (vec["body"] or "").encode()
    headers = vec["headers"]
    payload = rest_payload(vec["ccxt_call"]["method"], url.path, url.query, body, headers["Timestamp"])
    assert payload == vec["signature_payload"]
    assert hashlib.sha512(body).hexdigest() == vec["body_sha512_hex"]
    assert sign_rest("testsecret", vec["ccxt_call"]["method"], url.path, url.query, body, headers["Timestamp"]) == headers["SIGN"]


@pytest.mark.parametrize("vec", WS_SUB, ids=[v["name"] for v in WS_SUB])
def test_ws_subscribe_vectors(vec: dict) -> None:
    parts = dict(p.split("=", 1) for p in vec["signature_payload"].split("&"))
    assert sign_ws(vec["secret"], parts["channel"], parts["event"], int(parts["time"])) == vec["SIGN"]


@pytest.mark.parametrize("vec", WS_API, ids=[v["name"] for v in WS_API])
def test_ws_api_vectors(vec: dict) -> None:
    _, channel, req, t = vec["signature_payload"].split("\n")
    assert sign_ws_api(vec["secret"], channel, req, int(t)) == vec["signature"]


def test_wrong_secret_differs() -> None:
    vec = REST[0]
    url = urlparse(vec["url"])
    assert sign_rest("other", "POST", url.path, "", vec["body"].encode(), "1700000000") != vec["headers"]["SIGN"]
