"""Regression tests for simulator fidelity bugs found by the connector interop tests."""

from __future__ import annotations

from exchanges import clock
from tests.sim.conftest import gate, sim  # noqa: F401

PAIR = "currency_pair=NEIROETH_USDT"


async def test_bug1_gate_spot_text_resolves_only_while_open(gate):  # noqa: F811
    status, done = await gate.call("POST", "/spot/orders", body={
        "currency_pair": "NEIROETH_USDT", "side": "buy", "amount": "100", "price": "0.0501",
        "time_in_force": "ioc", "text": "t-done"})
    assert status == 201 and done["finish_as"] == "filled"
    status, err = await gate.call("GET", "/spot/orders/t-done", PAIR)
    assert status == 404 and err["label"] == "ORDER_NOT_FOUND"
    status, by_id = await gate.call("GET", f"/spot/orders/{done['id']}", PAIR)
    assert status == 200 and by_id["text"] == "t-done"
    status, finished = await gate.call("GET", "/spot/orders", PAIR + "&status=finished")
    assert "t-done" in [o["text"] for o in finished]
    # while open the text resolves (get and cancel); after the cancel it no longer does
    status, _ = await gate.call("POST", "/spot/orders", body={
        "currency_pair": "NEIROETH_USDT", "side": "buy", "amount": "100", "price": "0.0400", "text": "t-open"})
    assert (await gate.call("GET", "/spot/orders/t-open", PAIR))[0] == 200
    status, cancelled = await gate.call("DELETE", "/spot/orders/t-open", PAIR)
    assert status == 200 and cancelled["status"] == "cancelled"
    assert (await gate.call("GET", "/spot/orders/t-open", PAIR))[0] == 404
    assert (await gate.call("DELETE", "/spot/orders/t-open", PAIR))[0] == 404


async def test_bug2_gate_futures_zero_fill_cancels_expire(gate, monkeypatch):  # noqa: F811
    base = "/futures/usdt/orders"
    status, rest = await gate.call("POST", base, body={"contract": "NEIROETH_USDT", "size": 1, "price": "0.0400",
                                                       "tif": "gtc", "text": "t-zero"})
    assert status == 201, rest
    status, filled = await gate.call("POST", base, body={"contract": "NEIROETH_USDT", "size": 1, "price": "0.0501",
                                                         "tif": "ioc", "text": "t-fill"})
    assert status == 201 and filled["finish_as"] == "filled"
    assert (await gate.call("DELETE", f"{base}/t-zero"))[0] == 200
    assert (await gate.call("GET", f"{base}/t-zero"))[0] == 200  # within 60 s: by text too
    real_now_ms = clock.now_ms

    def later(seconds: float):
        monkeypatch.setattr(clock, "now_ms", lambda: real_now_ms() + int(seconds * 1000))

    later(61)
    status, err = await gate.call("GET", f"{base}/t-zero")
    assert status == 404 and err["label"] == "ORDER_NOT_FOUND"
    assert (await gate.call("GET", f"{base}/{rest['id']}"))[0] == 200  # by id still
    assert (await gate.call("GET", f"{base}/t-fill"))[0] == 200  # a filled order is not dropped
    status, finished = await gate.call("GET", base, "contract=NEIROETH_USDT&status=finished")
    assert {o["text"] for o in finished} >= {"t-zero", "t-fill"}
    later(601)
    assert (await gate.call("GET", f"{base}/{rest['id']}"))[0] == 404
    status, finished = await gate.call("GET", base, "contract=NEIROETH_USDT&status=finished")
    assert [o["text"] for o in finished] == ["t-fill"]
