"""Ledger: a scripted sequence of fills against a hand-computed PnL."""

from decimal import Decimal as D

from exchanges.models import Fill, Side
from strategies.delta_neutral.ledger import Ledger, VenuePosition, fee_in_usdt

from .conftest import GP, GS, MS, SYM


def F(v, tid, side, price, qty_base, fee="0", asset="USDT", qty=None):
    return Fill(v, SYM, "arbX", tid, side, D(price), D(qty if qty is not None else qty_base), D(qty_base),
                D(fee), asset)


def test_hand_computed_sequence():
    led = Ledger(base="NEIROETH")
    # Gate spot: buy 1000 @ 0.050 fee 0.05 USDT; buy 1000 @ 0.052 fee 1 NEIROETH (base fee)
    led.apply_fill(F(GS, "1", Side.BUY, "0.050", "1000", "0.05"))
    led.apply_fill(F(GS, "2", Side.BUY, "0.052", "1000", "1", "NEIROETH"))
    # avg = (50 + 52) / 2000 = 0.051; the base fee removes 1 coin at cost: 1999 left
    assert led.inventory_base(GS) == D(1999)
    assert led.position(GS).avg_price == D("0.051")
    # sell 999 @ 0.055 fee 0.054945 USDT -> realized (0.055-0.051)*999 = 3.996
    led.apply_fill(F(GS, "3", Side.SELL, "0.055", "999", "0.054945"))
    assert led.position(GS).realized_pnl_usdt == D("3.996")
    assert led.inventory_base(GS) == D(1000)
    # MEXC: buy 500 @ 0.049 fee in MX (unconverted)
    led.apply_fill(F(MS, "1", Side.BUY, "0.049", "500", "0.01", "MX"))
    # perp: short 150 contracts x 10 = 1500 base @ 0.050, fee 0.0375; cover 50 contracts (500 base) @ 0.048
    led.apply_fill(F(GP, "1", Side.SELL, "0.050", "1500", "0.0375", qty="150"))
    led.apply_fill(F(GP, "2", Side.BUY, "0.048", "500", "0.012", qty="50"))
    assert led.position(GP).realized_pnl_usdt == D("1.000")  # (0.050-0.048)*500
    assert led.inventory_base(GP) == D(-1000)
    led.apply_funding(D("0.25"))
    led.apply_funding(D("-0.05"))
    # duplicate trade id: ignored
    assert led.apply_fill(F(GS, "3", Side.SELL, "0.055", "999", "0.054945")) is False

    # the base fee is worth what left the position: 1 coin at the average cost 0.051
    fees = D("0.05") + D("1") * D("0.051") + D("0.054945") + D("0.0375") + D("0.012")
    assert led.fees_usdt == fees
    assert led.fees_other == {"MX": D("0.01")}
    assert led.funding_usdt == D("0.20")
    assert led.net_delta_base() == D(1000) + D(500) - D(1000)
    mids = {GS: D("0.053"), MS: D("0.050"), GP: D("0.049")}
    unreal = (D("0.053") - D("0.051")) * 1000 + (D("0.050") - D("0.049")) * 500 + (D("0.049") - D("0.050")) * -1000
    assert led.unrealized_pnl_usdt(mids) == unreal == D("3.5")
    t = led.totals(mids)
    assert t["realized_pnl_usdt"] == str(D("4.996"))
    assert D(t["net_pnl_usdt"]) == D("4.996") + D("3.5") - fees + D("0.20")
    assert t["trades"] == "6"
    vol = D(50) + D(52) + D("54.945") + D("24.5") + D(75) + D(24)
    assert D(t["volume_usdt"]) == vol
    assert t["fees_mx"] == "0.01" and t["inventory_gate_spot_base"] == "1000"
    assert t["net_delta_base"] == "500"


def test_fills_booked_at_execution_price_not_limit():
    """seed 7.2 #12: the ledger reads the fill's execution price only."""
    led = Ledger(base="NEIROETH")
    led.apply_fill(F(GS, "1", Side.BUY, "0.0499", "100"))
    assert led.position(GS).avg_price == D("0.0499")


def test_weighted_average_and_reversal():
    """seed 7.2 #14: weighted average with the arguments the right way round."""
    p = VenuePosition()
    p.trade(D(100), D(1))
    p.trade(D(300), D(2))
    assert p.avg_price == D("1.75")
    assert p.trade(D(-500), D(3)) == D(500)  # closes 400 at +1.25 each
    assert p.qty_base == D(-100) and p.avg_price == D(3)


def test_rebuild_equals_incremental():
    fills = [F(GS, "1", Side.BUY, "0.05", "100", "0.005"), F(MS, "1", Side.SELL, "0.051", "40", "0.001"),
             F(GP, "1", Side.SELL, "0.05", "60", qty="6")]
    a = Ledger(base="NEIROETH")
    for f in fills:
        a.apply_fill(f)
    a.apply_funding(D("0.1"))
    b = Ledger.rebuild("NEIROETH", fills + fills, [D("0.1")])
    assert a.totals({}) == b.totals({})


def test_fee_conversion():
    assert fee_in_usdt(D("2"), "NEIROETH", D("0.05"), "NEIROETH") == D("0.10")
    assert fee_in_usdt(D("2"), "usdt", D("0.05"), "NEIROETH") == D("2")
    assert fee_in_usdt(D("2"), "GT", D("0.05"), "NEIROETH") is None
