"""Protobuf decoding over the MEXC vectors and samples (tests/fixtures/mexc)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict, ParseDict

from exchanges.mexc.proto import mexc_push_pb2 as pb
from exchanges.mexc.push import (
    balance_from_push,
    book_ticker_from,
    decode_wrapper,
    depth_diff_from,
    fill_from_push,
    order_from_push,
)
from exchanges.models import OrderStatus, Side, Symbol, TimeInForce

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mexc"
VECTORS = json.loads((FIXTURES / "mexc_ws_protobuf_vectors.json").read_text())["vectors"]
SAMPLES = [json.loads(line) for line in (FIXTURES / "mexc_ws_samples.jsonl").read_text().splitlines() if line.strip()]
NEIRO = Symbol("NEIROETH")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_decodes_to_documented_json_and_reencodes_byte_exact(vector: dict) -> None:
    raw = bytes.fromhex(vector["hex"])
    assert base64.b64decode(vector["base64"]) == raw
    msg = decode_wrapper(raw)
    assert msg is not None
    assert MessageToDict(msg) == vector["decoded"]
    assert msg.SerializeToString() == raw


def test_all_six_vectors_present() -> None:
    assert len(VECTORS) == 6


def _vec(name: str) -> pb.PushDataV3ApiWrapper:
    msg = decode_wrapper(bytes.fromhex(next(v for v in VECTORS if v["name"] == name)["hex"]))
    assert msg is not None
    return msg


def test_depth_vector_to_diff() -> None:
    diff = depth_diff_from(_vec("aggre_depth_delta"))
    assert diff is not None
    assert (diff.venue_symbol, diff.from_version, diff.to_version) == ("NEIROETHUSDT", 10589632359, 10589632361)
    assert diff.asks == [(Decimal("0.05125"), Decimal(0))]
    assert diff.bids == [(Decimal("0.05123"), Decimal("1500.25")), (Decimal("0.05120"), Decimal(300))]
    assert diff.exch_ts_ms == 1736411507002


def test_book_ticker_vectors() -> None:
    for name in ("aggre_bookticker_basic", "aggre_bookticker_with_version"):
        assert book_ticker_from(_vec(name)) == (
            "NEIROETHUSDT", Decimal("0.05123"), Decimal("1200.5"), Decimal("0.05125"), Decimal(800))


def test_private_order_vector() -> None:
    order = order_from_push(_vec("private_order_partial"), NEIRO)
    assert order is not None
    assert order.client_order_id == "myid-001" and order.venue_order_id == "C02__505979017439002624115"
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.side is Side.BUY
    assert order.filled_qty == Decimal(100) and order.qty == Decimal(200)
    assert order.avg_price == Decimal("0.05100") and order.tif is TimeInForce.GTC


def test_private_deal_vector_carries_real_fee() -> None:
    fill = fill_from_push(_vec("private_deal"), Symbol("MX"))
    assert fill is not None
    assert fill.side is Side.SELL and fill.price == Decimal("3.6962") and fill.qty == Decimal(1)
    assert fill.fee == Decimal("0.0003998377369698171") and fill.fee_asset == "MX"
    assert fill.trade_id == "505979017439002624X1" and fill.ts_ms == 1736417034280


def test_private_account_vector() -> None:
    bal = balance_from_push(_vec("private_account"))
    assert bal is not None
    assert bal.asset == "USDT" and bal.free == Decimal("21.94210356004384") and bal.locked == 0


def test_samples_decoded_frames_round_trip_through_schema() -> None:
    """Decoded examples in the samples file parse into our schema (names/types match the venue's)."""
    decoded = [s for s in SAMPLES if "binary protobuf" in s["direction"]]
    assert len(decoded) >= 2
    for sample in decoded:
        body = sample["message"]
        if "channel" in body:
            msg = ParseDict(body, pb.PushDataV3ApiWrapper())
            again = decode_wrapper(msg.SerializeToString())
            assert again is not None and MessageToDict(again) == body
        else:
            msg = ParseDict(body, pb.PrivateOrdersV3Api())
            wrapper = pb.PushDataV3ApiWrapper(channel="spot@private.orders.v3.api.pb", symbol="XUSDT")
            wrapper.privateOrders.CopyFrom(msg)
            order = order_from_push(decode_wrapper(wrapper.SerializeToString()), Symbol("X"))
            assert order is not None and order.status is OrderStatus.FILLED
            assert order.avg_price == Decimal("0.001007") and order.filled_qty == Decimal(2000)


def test_unknown_fields_are_skipped() -> None:
    """A newer venue schema adds fields: they must not break decoding."""
    raw = bytes.fromhex(next(v for v in VECTORS if v["name"] == "aggre_depth_delta")["hex"])
    extra = bytes([0xF8, 0x3E, 0x07])  # field 999 varint 7
    msg = decode_wrapper(raw + extra)
    assert msg is not None and depth_diff_from(msg) is not None


def test_garbage_is_none_not_exception() -> None:
    assert decode_wrapper(b"\xff\xff\xff") is None
    raw = bytes.fromhex(VECTORS[2]["hex"])
    assert decode_wrapper(raw[: len(raw) // 2]) is None
