"""Recording format ``arb-recording/1``: timestamped order-book snapshots of one
symbol on the three venues, for replay by the simulator (SIM_CONTRACT.md).

File layout
-----------
A recording is a gzip-compressed JSON-lines file (``*.jsonl.gz``; an
uncompressed ``*.jsonl`` is also read, detected by the gzip magic bytes).

Line 1 is the header object::

    {"format": "arb-recording/1",
     "symbol": "NEIROETH",            # base asset, upper case
     "quote": "USDT",
     "start_ms": 1723161254000,       # epoch ms of event offset t=0 (UTC)
     "venues": {                      # rules per venue present in the file
        "gate_spot": {"price_tick": "0.000001", "size_step": "1", "min_size": "1",
                      "min_notional": "3", "contract_multiplier": "1",
                      "maker_fee_rate": "0.001", "taker_fee_rate": "0.001"},
        "gate_perp": {..., "contract_multiplier": "10",
                      "funding_interval_s": 28800,
                      "funding_rates": [[0, "0.0001"], [60000, "0.00012"]]},
        "mexc_spot": {...}},
     "source": "free text: where the data comes from",
     "notes": "free text: how it was derived"}

Every rule value is a decimal string except ``funding_interval_s`` (int
seconds, perp only). ``funding_rates`` (perp only, optional) is a list of
``[t_ms_offset, "rate"]``: from offset ``t_ms_offset`` on, the funding rate per
interval is ``rate`` (fraction, positive = longs pay shorts). Unknown header
keys are kept in :attr:`Recording.header` and ignored by this module.

Optional header key read by the simulator server (not by this module):
``"starting_balances": {"gate_spot": {"USDT": "1000000"}, "gate_perp": {...},
"mexc_spot": {...}}`` -- what a NEWLY created sim account is funded with
(:mod:`exchanges.sim.server`; ``sim --start-usdt`` overrides it).

Each following line is one event, ``t`` non-decreasing::

    {"t": 1250, "v": "gate_spot",
     "b": [["0.050123", "12000"], ...],   # bids, best first (descending)
     "a": [["0.050130", "8000"], ...]}    # asks, best first (ascending)

``t`` is milliseconds since ``start_ms``. ``b``/``a`` are a FULL snapshot of
the top N (N >= 1) levels of that venue's book at ``t`` (not a diff): replay
diffs consecutive snapshots of a venue to produce update deltas. Quantities
are in the venue's order unit (base on spot, contracts on the perp). A side
may be empty (``[]``) when that side of the book is empty.

Malformed event lines are skipped and counted in
:attr:`Recording.malformed_lines` (logged once per file read); a malformed or
missing header raises :class:`RecordingError`.
"""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from exchanges.models import MarketType, Symbol, SymbolInfo, VenueId

log = logging.getLogger(__name__)

FORMAT = "arb-recording/1"
_GZIP_MAGIC = b"\x1f\x8b"

Level = tuple[Decimal, Decimal]


class RecordingError(ValueError):
    """The file is not a readable ``arb-recording/1`` recording."""


class RecEvent(NamedTuple):
    """One full top-N snapshot of one venue's book at offset ``t_ms``.

    ``bids`` descending and ``asks`` ascending by price; each level is
    ``(price, qty)`` as Decimals, qty in the venue's order unit.
    """

    t_ms: int
    venue: VenueId
    bids: list[Level]
    asks: list[Level]


class _RawEvent(msgspec.Struct):
    t: int
    v: str
    b: list[tuple[str, str]] = []
    a: list[tuple[str, str]] = []


_event_decoder = msgspec.json.Decoder(_RawEvent)
_json_encoder = msgspec.json.Encoder()


def _venue_symbol(venue: VenueId, symbol: Symbol) -> str:
    return symbol.mexc if venue is VenueId.MEXC_SPOT else symbol.gate


def rules_to_symbol_info(venue: VenueId, symbol: Symbol, rules: Mapping[str, Any]) -> SymbolInfo:
    """Convert one header ``venues[v]`` rules object to a :class:`SymbolInfo`.

    Raises :class:`RecordingError` on a missing tick/step or a non-decimal value.
    """
    try:
        return SymbolInfo(
            venue=venue,
            symbol=symbol,
            venue_symbol=_venue_symbol(venue, symbol),
            market_type=MarketType.PERP if venue is VenueId.GATE_PERP else MarketType.SPOT,
            price_tick=Decimal(str(rules["price_tick"])),
            size_step=Decimal(str(rules["size_step"])),
            min_size=Decimal(str(rules.get("min_size", "0"))),
            min_notional=Decimal(str(rules.get("min_notional", "0"))),
            contract_multiplier=Decimal(str(rules.get("contract_multiplier", "1"))),
            maker_fee_rate=Decimal(str(rules.get("maker_fee_rate", "0.002"))),
            taker_fee_rate=Decimal(str(rules.get("taker_fee_rate", "0.002"))),
            funding_interval_s=int(rules.get("funding_interval_s", 0) or 0),
        )
    except (KeyError, InvalidOperation, TypeError, ValueError) as exc:
        raise RecordingError(f"bad rules for {venue.value}: {exc!r}") from exc


def symbol_info_to_rules(info: SymbolInfo, funding_rates: list[tuple[int, Decimal]] | None = None) -> dict:
    """Inverse of :func:`rules_to_symbol_info` (header ``venues[v]`` object)."""
    rules: dict[str, Any] = {
        "price_tick": str(info.price_tick),
        "size_step": str(info.size_step),
        "min_size": str(info.min_size),
        "min_notional": str(info.min_notional),
        "contract_multiplier": str(info.contract_multiplier),
        "maker_fee_rate": str(info.maker_fee_rate),
        "taker_fee_rate": str(info.taker_fee_rate),
    }
    if info.market_type is MarketType.PERP:
        rules["funding_interval_s"] = info.funding_interval_s
        if funding_rates:
            rules["funding_rates"] = [[int(t), str(r)] for t, r in funding_rates]
    return rules


def _open_text(path: Path) -> io.TextIOBase:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == _GZIP_MAGIC:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def _levels(raw: list[tuple[str, str]]) -> list[Level]:
    return [(Decimal(p), Decimal(q)) for p, q in raw]


class Recording:
    """A parsed recording header plus lazy access to its events.

    Attributes: ``path``, ``header`` (raw dict), ``symbol`` (:class:`Symbol`),
    ``start_ms`` (epoch ms), ``source``, ``notes``, ``rules``
    (``dict[VenueId, SymbolInfo]``), ``funding_rates``
    (``dict[VenueId, list[(t_ms_offset, Decimal rate)]]``, perp only),
    ``malformed_lines`` (count from the last full pass over the events).
    """

    def __init__(self, path: Path, header: dict) -> None:
        self.path = Path(path)
        self.header = header
        if header.get("format") != FORMAT:
            raise RecordingError(f"{path}: format {header.get('format')!r}, expected {FORMAT!r}")
        try:
            self.symbol = Symbol(str(header["symbol"]).upper(), str(header.get("quote", "USDT")).upper())
            self.start_ms = int(header["start_ms"])
            venues = header["venues"]
            if not isinstance(venues, dict) or not venues:
                raise RecordingError(f"{path}: header 'venues' must be a non-empty object")
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordingError(f"{path}: bad header: {exc!r}") from exc
        self.source: str = str(header.get("source", ""))
        self.notes: str = str(header.get("notes", ""))
        self.rules: dict[VenueId, SymbolInfo] = {}
        self.funding_rates: dict[VenueId, list[tuple[int, Decimal]]] = {}
        for name, rules in venues.items():
            try:
                venue = VenueId(name)
            except ValueError as exc:
                raise RecordingError(f"{path}: unknown venue {name!r} in header") from exc
            self.rules[venue] = rules_to_symbol_info(venue, self.symbol, rules)
            if "funding_rates" in rules:
                try:
                    self.funding_rates[venue] = [(int(t), Decimal(str(r))) for t, r in rules["funding_rates"]]
                except (InvalidOperation, TypeError, ValueError) as exc:
                    raise RecordingError(f"{path}: bad funding_rates for {name}: {exc!r}") from exc
        self.malformed_lines = 0
        self._cached: list[RecEvent] | None = None

    @property
    def venues(self) -> list[VenueId]:
        return list(self.rules)

    def symbol_info(self, venue: VenueId) -> SymbolInfo:
        """Rules of ``venue``; raises KeyError if the recording lacks it."""
        return self.rules[venue]

    def funding_rate_at(self, venue: VenueId, t_ms: int) -> Decimal | None:
        """Funding rate in force at offset ``t_ms`` (the last entry with
        offset <= t_ms), or None when the recording gives none."""
        rates = self.funding_rates.get(venue)
        if not rates:
            return None
        current = rates[0][1]
        for t, rate in rates:
            if t > t_ms:
                break
            current = rate
        return current

    def events(self) -> Iterator[RecEvent]:
        """Iterate the events from the start (re-reads the file each call, so
        replay can loop). Malformed lines are skipped and counted."""
        if self._cached is not None:
            yield from self._cached
            return
        bad = 0
        last_t = 0
        venues = {v.value: v for v in VenueId}
        with _open_text(self.path) as fh:
            fh.readline()  # header
            for line in fh:
                if not line.strip():
                    continue
                try:
                    raw = _event_decoder.decode(line)
                    venue = venues[raw.v]
                    if raw.t < last_t:
                        raise ValueError("t decreases")
                    event = RecEvent(raw.t, venue, _levels(raw.b), _levels(raw.a))
                except (msgspec.DecodeError, KeyError, InvalidOperation, ValueError, TypeError):
                    bad += 1
                    continue
                last_t = raw.t
                yield event
        if bad:
            log.warning("recording %s: skipped %d malformed event lines", self.path, bad)
        self.malformed_lines = bad

    def load(self) -> list[RecEvent]:
        """Read all events into memory once (cached) and return them."""
        if self._cached is None:
            self._cached = list(self.events())
        return self._cached

    def duration_ms(self) -> int:
        """Offset of the last event (loads the events)."""
        events = self.load()
        return events[-1].t_ms if events else 0


def read_header(path: str | Path) -> dict:
    """Return the raw header dict of a recording; raises RecordingError."""
    path = Path(path)
    try:
        with _open_text(path) as fh:
            first = fh.readline()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise RecordingError(f"{path}: cannot read: {exc}") from exc
    try:
        header = msgspec.json.decode(first)
    except msgspec.DecodeError as exc:
        raise RecordingError(f"{path}: header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise RecordingError(f"{path}: header is not a JSON object")
    return header


def read_recording(path: str | Path) -> Recording:
    """Open a recording: parse and validate its header; events stay on disk
    until :meth:`Recording.events` / :meth:`Recording.load`.
    Raises :class:`RecordingError` (a ValueError) for a bad file."""
    return Recording(Path(path), read_header(path))


def make_header(
    symbol: Symbol | str,
    start_ms: int,
    rules: Mapping[VenueId | str, SymbolInfo | Mapping[str, Any]],
    source: str = "",
    notes: str = "",
    funding_rates: Mapping[VenueId | str, list[tuple[int, Decimal]]] | None = None,
) -> dict:
    """Build a header dict; ``rules`` values may be SymbolInfo or rule dicts."""
    sym = symbol if isinstance(symbol, Symbol) else Symbol.parse(symbol)
    venues: dict[str, Any] = {}
    for venue, value in rules.items():
        venue = VenueId(venue)
        fr = (funding_rates or {}).get(venue) or (funding_rates or {}).get(venue.value)
        if isinstance(value, SymbolInfo):
            venues[venue.value] = symbol_info_to_rules(value, fr)
        else:
            venues[venue.value] = dict(value)
            if fr:
                venues[venue.value]["funding_rates"] = [[int(t), str(r)] for t, r in fr]
    return {
        "format": FORMAT,
        "symbol": sym.base,
        "quote": sym.quote,
        "start_ms": int(start_ms),
        "venues": venues,
        "source": source,
        "notes": notes,
    }


def _fmt(value: Decimal) -> str:
    text = format(value, "f")
    return text


class RecordingWriter:
    """Write a recording: ``RecordingWriter(path, header)`` then ``write(event)``
    per event and ``close()`` (also a context manager).

    ``header`` is a dict as produced by :func:`make_header` (its ``format`` is
    forced to ``arb-recording/1``). Events must have non-decreasing ``t_ms``
    (ValueError otherwise) and a venue present in the header. The file is
    gzip-compressed unless ``path`` does not end in ``.gz``.
    """

    def __init__(self, path: str | Path, header: Mapping[str, Any], compresslevel: int = 9) -> None:
        self.path = Path(path)
        header = dict(header)
        header["format"] = FORMAT
        Recording(self.path, header)  # validate before creating the file
        self._venues = set(header["venues"])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = open(self.path, "wb")
        if self.path.suffix == ".gz":
            # mtime=0 keeps the bytes reproducible (scenario_build output is committed)
            self._fh: Any = gzip.GzipFile(filename="", mode="wb", compresslevel=compresslevel,
                                          fileobj=self._raw, mtime=0)
        else:
            self._fh = self._raw
        self._fh.write(_json_encoder.encode(header) + b"\n")
        self._last_t = 0
        self.count = 0

    def write(self, event: RecEvent) -> None:
        """Append one snapshot event. Raises ValueError on a decreasing time or
        a venue missing from the header."""
        venue = VenueId(event.venue).value
        if venue not in self._venues:
            raise ValueError(f"venue {venue} not in recording header")
        if event.t_ms < self._last_t:
            raise ValueError(f"event t={event.t_ms} before previous t={self._last_t}")
        self._last_t = event.t_ms
        obj = {
            "t": int(event.t_ms),
            "v": venue,
            "b": [[_fmt(p), _fmt(q)] for p, q in event.bids],
            "a": [[_fmt(p), _fmt(q)] for p, q in event.asks],
        }
        self._fh.write(_json_encoder.encode(obj) + b"\n")
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._raw.close()
            self._fh = None

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
