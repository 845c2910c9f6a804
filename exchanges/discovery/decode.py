"""Entry-by-entry decoding of bulk answers: one bad entry is counted and skipped, never fatal.

A body that is not the expected JSON shape at all raises :class:`MalformedAnswer` (the caller
reports that endpoint as failed with the one-line reason).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from exchanges.discovery.types import EndpointFailure, VenueSnapshot

T = TypeVar("T")
#: what one bulk request produced: the body, or why there is none
Answer = bytes | EndpointFailure

_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])


class MalformedAnswer(ValueError):
    """The whole answer is unusable (not JSON, or not the expected shape); one line."""


class _Wrapped(msgspec.Struct):
    symbols: list[msgspec.Raw] = []


_SYMBOLS = msgspec.json.Decoder(_Wrapped)


def entries(body: bytes, decoder: msgspec.json.Decoder[T]) -> tuple[list[T], int]:
    """Decode a JSON array ``body`` entry by entry with ``decoder``.

    Returns ``(decoded entries, number of malformed entries skipped)``; raises
    MalformedAnswer when ``body`` is not a JSON array."""
    try:
        raws = _ARRAY.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedAnswer(f"not a JSON array ({_short(exc)})") from None
    return _each(raws, decoder)


def symbols_entries(body: bytes, decoder: msgspec.json.Decoder[T]) -> tuple[list[T], int]:
    """The same for an object whose ``symbols`` member is the array (MEXC ``exchangeInfo``)."""
    try:
        raws = _SYMBOLS.decode(body).symbols
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedAnswer(f"not an object with a symbols array ({_short(exc)})") from None
    return _each(raws, decoder)


def one(body: bytes, decoder: msgspec.json.Decoder[T]) -> T:
    """Decode a whole JSON object; MalformedAnswer when it does not fit."""
    try:
        return decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedAnswer(f"unexpected answer ({_short(exc)})") from None


def _each(raws: list[msgspec.Raw], decoder: msgspec.json.Decoder[T]) -> tuple[list[T], int]:
    out: list[T] = []
    bad = 0
    for raw in raws:
        try:
            out.append(decoder.decode(raw))
        except (msgspec.DecodeError, msgspec.ValidationError):
            bad += 1
    return out, bad


def _short(exc: Any) -> str:
    return " ".join(str(exc).split())[:120]


def collect(snap: VenueSnapshot, endpoint: str, answer: Answer,
            decode: Callable[[bytes], tuple[list[T], int]]) -> list[T] | None:
    """Entries of ``answer`` decoded by ``decode``; None when the request failed or the whole
    answer was malformed (recorded in ``snap.failures``). Malformed entries are counted in
    ``snap.malformed[endpoint]``."""
    if isinstance(answer, EndpointFailure):
        snap.failures.append(answer)
        return None
    try:
        found, bad = decode(answer)
    except MalformedAnswer as exc:
        snap.failures.append(EndpointFailure(snap.venue, endpoint, f"malformed answer: {exc}"))
        bad, found = 1, None
    if bad:
        snap.malformed[endpoint] = snap.malformed.get(endpoint, 0) + bad
    return found
