"""Recording format round-trip (exchanges/sim/recording/format.py)."""

from __future__ import annotations

import gzip
from decimal import Decimal as D

import pytest

from exchanges.models import MarketType, VenueId
from exchanges.sim.recording.format import (
    RecEvent,
    RecordingError,
    RecordingWriter,
    make_header,
    read_recording,
)

RULES = {
    "gate_spot": {"price_tick": "0.000001", "size_step": "1", "min_size": "1", "min_notional": "3",
                  "maker_fee_rate": "0.001", "taker_fee_rate": "0.001"},
    "gate_perp": {"price_tick": "0.000001", "size_step": "1", "min_size": "1", "contract_multiplier": "10",
                  "maker_fee_rate": "0.0002", "taker_fee_rate": "0.0005", "funding_interval_s": 60},
    "mexc_spot": {"price_tick": "0.000001", "size_step": "0.01", "min_size": "1", "min_notional": "5",
                  "maker_fee_rate": "0", "taker_fee_rate": "0.0005"},
}


def _header():
    return make_header("NEIROETH", 1_700_000_000_000, RULES, source="test", notes="n",
                       funding_rates={"gate_perp": [(0, D("0.0001")), (60_000, D("-0.0002"))]})


def test_round_trip_gz(tmp_path):
    path = tmp_path / "r.jsonl.gz"
    events = [
        RecEvent(0, VenueId.GATE_SPOT, [(D("0.050100"), D("1000"))], [(D("0.050200"), D("900"))]),
        RecEvent(5, VenueId.MEXC_SPOT, [(D("0.0501"), D("10.5")), (D("0.05"), D("3"))], []),
        RecEvent(5, VenueId.GATE_PERP, [], [(D("0.0503"), D("7"))]),
    ]
    with RecordingWriter(path, _header()) as w:
        for e in events:
            w.write(e)
    assert gzip.open(path).read(1) == b"{"
    rec = read_recording(path)
    assert rec.symbol.base == "NEIROETH" and rec.symbol.quote == "USDT"
    assert rec.start_ms == 1_700_000_000_000
    assert list(rec.events()) == events
    assert list(rec.events()) == events  # re-iterable
    perp = rec.symbol_info(VenueId.GATE_PERP)
    assert perp.market_type is MarketType.PERP and perp.contract_multiplier == D(10)
    assert perp.venue_symbol == "NEIROETH_USDT" and perp.funding_interval_s == 60
    assert rec.symbol_info(VenueId.MEXC_SPOT).venue_symbol == "NEIROETHUSDT"
    assert rec.symbol_info(VenueId.MEXC_SPOT).maker_fee_rate == D(0)
    assert rec.funding_rate_at(VenueId.GATE_PERP, 59_999) == D("0.0001")
    assert rec.funding_rate_at(VenueId.GATE_PERP, 60_000) == D("-0.0002")
    assert rec.funding_rate_at(VenueId.GATE_SPOT, 0) is None
    assert rec.duration_ms() == 5


def test_writer_refuses_decreasing_time_and_unknown_venue(tmp_path):
    header = _header()
    del header["venues"]["mexc_spot"]
    with RecordingWriter(tmp_path / "r.jsonl.gz", header) as w:
        w.write(RecEvent(10, VenueId.GATE_SPOT, [], []))
        with pytest.raises(ValueError):
            w.write(RecEvent(9, VenueId.GATE_SPOT, [], []))
        with pytest.raises(ValueError):
            w.write(RecEvent(11, VenueId.MEXC_SPOT, [], []))


def test_malformed_lines_skipped_and_counted(tmp_path):
    path = tmp_path / "r.jsonl"
    with RecordingWriter(path, _header()) as w:
        w.write(RecEvent(1, VenueId.GATE_SPOT, [(D("1"), D("2"))], []))
    with open(path, "a") as fh:
        fh.write('{"t": 2, "v": "nowhere", "b": [], "a": []}\n')
        fh.write("not json\n")
        fh.write('{"t": 3, "v": "gate_spot", "b": [["x", "1"]], "a": []}\n')
        fh.write('{"t": 4, "v": "gate_spot", "b": [], "a": [["1.5", "2"]]}\n')
    rec = read_recording(path)
    events = list(rec.events())
    assert [e.t_ms for e in events] == [1, 4]
    assert rec.malformed_lines == 3


def test_bad_header_raises(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"format": "other/1"}\n')
    with pytest.raises(RecordingError):
        read_recording(path)
    path.write_text("garbage\n")
    with pytest.raises(RecordingError):
        read_recording(path)
