"""Signature tests against every MEXC vector in tests/fixtures/mexc/signature_vectors.json."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.mexc.auth import encode_query, hmac_sha256_hex, signed_query

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mexc"
_ALL = json.loads((FIXTURES / "signature_vectors.json").read_text())["vectors"]
CCXT_VECTORS = [v for v in _ALL if v.get("venue") == "mexc" and "ccxt_call" in v]
DOC_VECTORS = [v for v in _ALL if v.get("venue") == "mexc" and "cases" in v]


def test_fixture_has_all_mexc_vectors() -> None:
    names = {v["name"] for v in CCXT_VECTORS}
    assert {"mexc_create_order", "mexc_cancel_order", "mexc_open_orders", "mexc_account", "mexc_listen_key_create"} <= names
    assert len(DOC_VECTORS) == 1 and len(DOC_VECTORS[0]["cases"]) == 2


@pytest.mark.parametrize("vector", CCXT_VECTORS, ids=[v["name"] for v in CCXT_VECTORS])
def test_ccxt_vector_exact_query_and_signature(vector: dict) -> None:
    secret = "testsecret"  # the vectors' documented test secret
    params = [(k, str(v)) for k, v in vector["ccxt_call"]["params"].items()]
    query, payload = signed_query(params, api_secret=secret, timestamp_ms=1700000000000, recv_window_ms=5000)
    assert payload == vector["signature_payload"]
    assert query == urlsplit(vector["url"]).query
    expected_sig = urlsplit(vector["url"]).query.rsplit("signature=", 1)[1]
    assert hmac_sha256_hex(secret, payload) == expected_sig


@pytest.mark.parametrize("case", DOC_VECTORS[0]["cases"], ids=["query_only", "query_plus_body"])
def test_official_doc_example(case: dict) -> None:
    secret = DOC_VECTORS[0]["secretKey"]
    assert hmac_sha256_hex(secret, case["totalParams"]) == case["signature"]


def test_doc_example_via_signed_query_with_body() -> None:
    """Mixed query + body: the body is appended to the signed payload with no separator."""
    case = DOC_VECTORS[0]["cases"][1]
    secret = DOC_VECTORS[0]["secretKey"]
    # Reproduce the doc's exact string: query "symbol..type=LIMIT", body "quantity=...&timestamp=..."
    query_part, body_part = case["totalParams"].split("LIMIT", 1)
    assert hmac_sha256_hex(secret, query_part + "LIMIT" + body_part) == case["signature"]
    q, payload = signed_query(
        [("symbol", "BTCUSDT")], api_secret=secret, timestamp_ms=1, recv_window_ms=5000, body="quantity=1"
    )
    assert payload.endswith("recvWindow=5000quantity=1")
    assert q.endswith("&signature=" + hmac_sha256_hex(secret, payload))


def test_encode_query_escapes_specials_uppercase() -> None:
    assert encode_query([("symbols", "A,B"), ("x", "a b/c")]) == "symbols=A%2CB&x=a%20b%2Fc"
    assert encode_query([("newClientOrderId", "t1-abc_2.3~")]) == "newClientOrderId=t1-abc_2.3~"


def test_different_secret_changes_signature() -> None:
    a, _ = signed_query([], api_secret="s1", timestamp_ms=1, recv_window_ms=5000)
    b, _ = signed_query([], api_secret="s2", timestamp_ms=1, recv_window_ms=5000)
    assert a != b


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=24)), max_size=6))
def test_encode_query_equals_percent_encoding_of_every_value(params) -> None:
    """The fast path for plain values gives exactly what RFC 3986 percent-encoding gives."""
    expected = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in params)
    assert encode_query(params) == expected
